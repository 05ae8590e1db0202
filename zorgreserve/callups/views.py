"""Call-up pages: the reservist's answer link, the SMS webhooks, and the per-request call-up view.

The answer page needs no sign-in: the signed link is the credential, and it
grants nothing but answering that one offer (no session is created). Tampered
or mixed-up tokens answer 404 and are recorded as a security event. The SMS
webhooks are public and CSRF-exempt; the provider's signature is their check.
Vonage's webhooks (``/sms/vonage/...``) call the same services as the generic
ones, after checking Vonage's own signature and the age of its timestamp.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.accounts.roles import Role, public, roles
from zorgreserve.audit.services import log_access, record
from zorgreserve.callups import booking, delivery, escalation, inbound, links, waves
from zorgreserve.callups.forms import AnswerForm, ControlForm
from zorgreserve.callups.models import (
    OPEN_OFFER,
    Booking,
    BookingStatus,
    CallupState,
    Message,
    MessageStatus,
    Offer,
    OfferShift,
    Wave,
)
from zorgreserve.db import utcnow
from zorgreserve.deployments import services as requests_services
from zorgreserve.deployments.models import DeploymentRequest, Shift
from zorgreserve.extensions import csrf, limiter
from zorgreserve.notifications import vonage
from zorgreserve.reservists.models import Reservist

bp = Blueprint("callups", __name__)

STAFF = Role.INSTITUTION_STAFF
COORDINATORS = (Role.REGIONAL_COORDINATOR, Role.NATIONAL_COORDINATOR)
#: Rows shown per wave on the request's call-up page (the counts cover all).
OFFERS_SHOWN = 500


def offer_labels() -> dict[str, str]:
    return {
        "pending": _("not sent yet"),
        "sent": _("waiting for an answer"),
        "accepted": _("accepted"),
        "partially_accepted": _("partly accepted"),
        "declined": _("declined"),
        "expired": _("no answer in time"),
        "withdrawn": _("withdrawn"),
    }


def message_labels() -> dict[str, str]:
    return {
        "sms": _("SMS"),
        "email": _("e-mail"),
        "queued": _("queued"),
        "sent": _("sent"),
        "delivered": _("delivered"),
        "failed": _("failed"),
    }


def refusal_labels() -> dict[str, str]:
    return {
        booking.OVERLAP: _("you have another shift at that time"),
        booking.WORKTIME: _("it would break the working-time rules (rest or weekly hours)"),
        booking.CANCELLED: _("the institution cancelled this shift"),
        booking.STARTED: _("this shift has started already"),
        booking.NOT_OFFERED: _("this shift is no longer part of your call-up"),
    }


# The answer link --------------------------------------------------------------------------


def _private_page() -> None:
    """No caching and no Referer: the URL holds the token."""
    g.no_store = True
    g.referrer_policy = "no-referrer"


def _offer_or_404(token: str) -> Offer | None:
    try:
        return links.offer_for_token(token)
    except links.LinkTooOld:
        return None
    except links.LinkInvalid:
        record("security.bad_offer_link", subject_type="callup_offer", ip=request.remote_addr)
        db.session.commit()
        abort(404)


def _page(offer: Offer, form: AnswerForm | None = None, status: int = 200, **extra: Any) -> Any:
    req = db.session.get(DeploymentRequest, offer.request_id)
    rows = list(db.session.scalars(select(OfferShift).where(OfferShift.offer_id == offer.id)))
    shifts = {
        s.id: s for s in db.session.scalars(select(Shift).where(Shift.id.in_([r.shift_id for r in rows])))
    }
    items = sorted(((shifts[r.shift_id], r) for r in rows), key=lambda pair: (pair[0].start_at, pair[0].id))
    now = utcnow()
    state = "open" if offer.status in OPEN_OFFER and offer.expires_at > now else offer.status
    if offer.status in OPEN_OFFER and offer.expires_at <= now:
        state = "expired"
    if form is None and state == "open":
        form = AnswerForm()
        form.shifts.choices = [(s.id, "") for s, r in items if r.status == "offered"]
        form.shifts.data = [s.id for s, r in items if r.status == "offered"]
    elif form is not None:
        form.shifts.choices = [(s.id, "") for s, r in items if r.status == "offered"]
    return (
        render_template(
            "callups/answer.html",
            offer=offer,
            req=req,
            items=items,
            state=state,
            form=form,
            refusals=refusal_labels(),
            **extra,
        ),
        status,
    )


@bp.route("/o/<token>", methods=["GET", "POST"])
@public
def answer(token: str) -> Any:
    _private_page()
    offer = _offer_or_404(token)
    if offer is None:
        return render_template("callups/expired.html"), 410
    if request.method == "GET":
        return _page(offer)
    form = AnswerForm()
    _page_choices = [
        r.shift_id for r in db.session.scalars(select(OfferShift).where(OfferShift.offer_id == offer.id))
    ]
    form.shifts.choices = [(shift_id, "") for shift_id in _page_choices]
    if not form.validate_on_submit():
        return _page(offer, form, 400)
    now = utcnow()
    try:
        if form.decline.data:
            booking.decline(db.session, offer.id, reason=form.reason.data, channel="web", now=now)
            db.session.commit()
            flash(_("Thank you. You declined this call-up."), "success")
        else:
            result = booking.accept(db.session, offer.id, form.shifts.data or [], channel="web", now=now)
            db.session.commit()
            if result.repeated:
                flash(_("You had answered this call-up already; your answer stands."), "info")
            elif result.booked:
                flash(_("Thank you! Your answer is recorded."), "success")
            elif result.standby:
                flash(
                    _("These shifts filled up just before your answer; you are on the stand-by list."), "info"
                )
    except booking.NothingChosen:
        db.session.rollback()
        form.shifts.errors = [_("Choose at least one shift, or decline the call-up.")]
        return _page(offer, form, 400)
    except booking.OfferClosed:
        db.session.rollback()
    except booking.TryAgain:
        db.session.rollback()
        return _page(offer, form, 409, try_again=True)
    return redirect(url_for("callups.answer", token=token), 303)


# SMS webhooks -------------------------------------------------------------------------------


def _payload() -> dict[str, Any]:
    if request.is_json:
        data = request.get_json(silent=True)
        return data if isinstance(data, dict) else {}
    return request.form.to_dict()


@bp.route("/sms/inbound", methods=["POST"])
@public
@csrf.exempt
def sms_inbound() -> Any:
    """The provider delivers a text message sent to our number (signed; repeated deliveries ignored)."""
    if not inbound.signature_valid(
        request.get_data(cache=True), request.headers.get(inbound.SIGNATURE_HEADER)
    ):
        abort(403)
    data = _payload()
    message_id, sender, body = (str(data.get(k) or "") for k in ("id", "from", "body"))
    if not message_id or not sender:
        return {"ok": False, "error": "id and from are required"}, 400
    row = inbound.receive(inbound.Inbound(message_id, sender, body), now=utcnow())
    db.session.commit()
    return {"ok": True, "duplicate": row is None}


@bp.route("/sms/status", methods=["POST"])
@public
@csrf.exempt
def sms_status() -> Any:
    """Delivery reports: ``sent`` → ``delivered`` or ``failed``; a delivered message never goes back."""
    if not inbound.signature_valid(
        request.get_data(cache=True), request.headers.get(inbound.SIGNATURE_HEADER)
    ):
        abort(403)
    data = _payload()
    provider_id, status = str(data.get("id") or ""), str(data.get("status") or "")
    if not provider_id or status not in ("delivered", "failed"):
        return {"ok": False}, 400
    delivery.record_delivery(
        provider_id=provider_id, state=status, error=str(data.get("error") or "") or None, now=utcnow()
    )
    db.session.commit()
    return {"ok": True}


# Vonage (SMS API) webhooks: the same services behind Vonage's field names and signature ------


def _refused_webhook(response: Any) -> bool:
    return response.status_code == 403


#: Refused deliveries per address: each writes a security audit event, so their number is bounded.
WEBHOOK_REFUSALS = "30 per minute"


def _vonage_params(webhook: str) -> dict[str, Any]:
    """The delivery's parameters (query string, form or JSON) once its signature is checked; else 403."""
    if request.method == "GET":
        params: dict[str, Any] = request.args.to_dict()
    else:
        params = _payload()
    problem = vonage.webhook_problem(params, current_app.config, now=time.time())
    if problem is not None:
        record(
            "security.bad_webhook_signature",
            subject_type="sms_webhook",
            provider="vonage",
            webhook=webhook,
            reason=problem,
            ip=request.remote_addr,
        )
        db.session.commit()
        abort(403)
    return params


@bp.route("/sms/vonage/inbound", methods=["GET", "POST"])
@public
@csrf.exempt
@limiter.limit(WEBHOOK_REFUSALS, deduct_when=_refused_webhook)
def vonage_inbound() -> Any:
    """Vonage delivers a text message sent to our number (signed, fresh; repeated deliveries ignored)."""
    text = vonage.inbound_of(_vonage_params("inbound"))
    if text is None:
        return {"ok": False, "error": "messageId and msisdn are required"}, 400
    row = inbound.receive(inbound.Inbound(text.message_id, text.sender, text.text), now=utcnow())
    db.session.commit()
    return {"ok": True, "duplicate": row is None}


@bp.route("/sms/vonage/status", methods=["GET", "POST"])
@public
@csrf.exempt
@limiter.limit(WEBHOOK_REFUSALS, deduct_when=_refused_webhook)
def vonage_status() -> Any:
    """Vonage's delivery receipts, mapped to our states; they only ever move a message forward."""
    receipt = vonage.receipt_of(_vonage_params("status"))
    if receipt is None:
        return {"ok": False, "error": "messageId is required"}, 400
    if receipt.state is not None:
        delivery.record_delivery(
            provider_id=receipt.message_id,
            state=receipt.state,
            dedupe_key=receipt.client_ref,
            error=receipt.error,
            now=utcnow(),
        )
        db.session.commit()
    return {"ok": True}


# The request's call-ups (coordinators and the institution) -------------------------------


def _request_or_404(request_id: int) -> DeploymentRequest:
    try:
        return requests_services.request_in_scope(current_user, request_id)
    except requests_services.NotInScope:
        abort(404)


def _names(req: DeploymentRequest, reservist_ids: set[int], coordinator: bool) -> dict[int, str]:
    """Names shown: to coordinators all; to the institution booked people (first names until approved)."""
    if not reservist_ids:
        return {}
    users = dict(
        db.session.execute(
            select(Reservist.id, User)
            .join(User, User.id == Reservist.user_id)
            .where(Reservist.id.in_(reservist_ids))
        ).all()
    )
    if coordinator:
        for reservist_id in users:
            log_access("callups.view", reservist_id, f"call-ups of request {req.id}")
        return {rid: user.full_name for rid, user in users.items()}
    bookings = db.session.execute(
        select(Booking.reservist_id, Booking.status)
        .join(Shift, Shift.id == Booking.shift_id)
        .where(Shift.request_id == req.id, Booking.reservist_id.in_(reservist_ids))
    ).all()
    approved = {
        rid for rid, status in bookings if status in (BookingStatus.APPROVED, "checked_in", "completed")
    }
    accepted = {rid for rid, status in bookings if status == BookingStatus.ACCEPTED.value}
    names: dict[int, str] = {}
    for rid, user in users.items():
        if rid in approved:
            names[rid] = user.full_name
            log_access("callups.view", rid, f"call-ups of request {req.id}")
        elif rid in accepted:
            names[rid] = user.first_name
    return names


@bp.route("/requests/<int:request_id>/callups")
@roles(STAFF, *COORDINATORS)
def request_callups(request_id: int) -> Any:
    req = _request_or_404(request_id)
    g.no_store = True
    coordinator = current_user.role_enum in COORDINATORS
    wave_rows = list(db.session.scalars(select(Wave).where(Wave.request_id == req.id).order_by(Wave.number)))
    per_wave: list[dict[str, Any]] = []
    shown: set[int] = set()
    for wave in wave_rows:
        counts = dict(
            db.session.execute(
                select(Offer.status, func.count()).where(Offer.wave_id == wave.id).group_by(Offer.status)
            ).all()
        )
        offers = list(
            db.session.scalars(
                select(Offer).where(Offer.wave_id == wave.id).order_by(Offer.id).limit(OFFERS_SHOWN)
            )
        )
        messages: dict[int, list[Message]] = {}
        for message in db.session.scalars(
            select(Message).where(Message.offer_id.in_([o.id for o in offers])).order_by(Message.id)
        ):
            messages.setdefault(message.offer_id, []).append(message)
        shown |= {o.reservist_id for o in offers}
        per_wave.append({"wave": wave, "counts": counts, "offers": offers, "messages": messages})
    failed = db.session.scalar(
        select(func.count()).where(Message.request_id == req.id, Message.status == MessageStatus.FAILED.value)
    )
    control = db.session.get(waves.CallupControl, req.id)
    return render_template(
        "callups/request.html",
        req=req,
        waves=per_wave,
        names=_names(req, shown, coordinator),
        coordinator=coordinator,
        decider=requests_services.can_decide(current_user, req),
        control=control,
        failed=failed or 0,
        form=ControlForm(),
        shown_limit=OFFERS_SHOWN,
        offer_labels=offer_labels(),
        message_labels=message_labels(),
    )


def _control(request_id: int, action: str) -> Any:
    req = _request_or_404(request_id)
    if not requests_services.can_decide(current_user, req):
        abort(404)
    form = ControlForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        message = _apply_control(req, action, utcnow())
        db.session.commit()
    except OperationalError:
        # The call-up clock (or another coordinator) held this request's call-ups longer than
        # the lock timeout, e.g. while choosing a wave: nothing changed.
        db.session.rollback()
        flash(
            _(
                "Someone else was changing this request at the same moment. "
                "Nothing changed; please try again."
            ),
            "error",
        )
    else:
        flash(message, "success")
    return redirect(url_for("callups.request_callups", request_id=req.id), 303)


def _apply_control(req: DeploymentRequest, action: str, now: Any) -> str:
    if action == "next":
        wave = escalation.send_next_wave_now(req, current_user, now)
        return (
            _("Wave %(number)s is being sent.", number=wave.number)
            if wave
            else _("No new wave now: a wave is still out, call-ups are paused, or nobody else qualifies.")
        )
    state = {"pause": CallupState.PAUSED, "resume": CallupState.RUNNING, "stop": CallupState.STOPPED}[action]
    changed = escalation.set_state(req, state, current_user, now)
    if not changed:
        return _("Nothing changed.")
    return {
        "pause": _("Call-ups for this request are paused."),
        "resume": _("Call-ups for this request run again."),
        "stop": _("Call-ups for this request are stopped; open offers were withdrawn."),
    }[action]


@bp.route("/requests/<int:request_id>/callups/pause", methods=["POST"])
@roles(*COORDINATORS)
def pause(request_id: int) -> Any:
    return _control(request_id, "pause")


@bp.route("/requests/<int:request_id>/callups/resume", methods=["POST"])
@roles(*COORDINATORS)
def resume(request_id: int) -> Any:
    return _control(request_id, "resume")


@bp.route("/requests/<int:request_id>/callups/stop", methods=["POST"])
@roles(*COORDINATORS)
def stop(request_id: int) -> Any:
    return _control(request_id, "stop")


@bp.route("/requests/<int:request_id>/callups/next", methods=["POST"])
@roles(*COORDINATORS)
def next_wave(request_id: int) -> Any:
    return _control(request_id, "next")
