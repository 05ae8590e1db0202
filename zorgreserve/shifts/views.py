"""Reservist pages (my shifts, cancelling, calendar feed, hours) and the institution's roster.

Every page reaches only the signed-in reservist's own bookings: another
reservist's booking id answers 404, like one that does not exist. The feed URL
is public (calendar apps cannot sign in); its secret token is the credential,
and an unknown, stale or revoked token answers 404.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from zorgreserve import db
from zorgreserve.accounts.roles import Role, public, roles
from zorgreserve.audit.services import log_access, record
from zorgreserve.coordination.filters import LOCAL
from zorgreserve.db import utcnow
from zorgreserve.reservists.services import reservist_for_user
from zorgreserve.shifts import calendar, roster, services
from zorgreserve.shifts.forms import CancelForm, CheckInForm, CheckOutForm, ConfirmForm, PeriodForm

bp = Blueprint("shifts", __name__)


def _mine(booking_id: int) -> services.MyShift:
    try:
        return services.my_shift(reservist_for_user(current_user), booking_id)
    except services.NotYours:
        abort(404)


@bp.route("/me/shifts/")
@roles(Role.RESERVIST)
def mine() -> Any:
    reservist = reservist_for_user(current_user)
    upcoming, past = services.my_shifts(reservist)
    return render_template(
        "shifts/mine.html",
        upcoming=upcoming,
        past=past[:20],
        now=utcnow(),
        has_feed=calendar.active_feed(reservist),
    )


@bp.route("/me/shifts/<int:booking_id>")
@roles(Role.RESERVIST)
def detail(booking_id: int) -> Any:
    item = _mine(booking_id)
    return render_template(
        "shifts/detail.html",
        item=item,
        can_cancel=services.can_cancel(item),
        deadline=services.cancel_deadline(item),
        now=utcnow(),
    )


@bp.route("/me/shifts/<int:booking_id>/cancel", methods=["GET", "POST"])
@roles(Role.RESERVIST)
def cancel(booking_id: int) -> Any:
    item = _mine(booking_id)
    form = CancelForm()
    allowed = services.can_cancel(item)
    error = None
    if allowed and form.validate_on_submit():
        try:
            services.cancel(reservist_for_user(current_user), item, form.reason.data)
        except services.ShiftError as exc:
            db.session.rollback()
            error = exc.message
        else:
            db.session.commit()
            flash(_("Your shift is cancelled. Thank you for letting us know in time."), "success")
            return redirect(url_for("shifts.mine"))
    refused = request.method == "POST" and not allowed
    return (
        render_template(
            "shifts/cancel.html",
            item=item,
            form=form,
            allowed=allowed,
            error=error,
            deadline=services.cancel_deadline(item),
            min_hours=services.cancel_min_hours(),
            now=utcnow(),
        ),
        409 if refused else 200,
    )


# Calendar feed -----------------------------------------------------------------------------------


@bp.route("/me/shifts/calendar", methods=["GET", "POST"])
@roles(Role.RESERVIST)
def feed_settings() -> Any:
    """GET: whether a feed exists. POST: make a new secret URL (any earlier one stops working)."""
    g.no_store = True
    reservist = reservist_for_user(current_user)
    form = ConfirmForm()
    url = None
    if form.validate_on_submit():
        token = calendar.renew(reservist)
        db.session.commit()
        url = url_for("shifts.feed", token=token, _external=True)
    return render_template(
        "shifts/calendar.html",
        form=form,
        url=url,
        feed=calendar.active_feed(reservist),
        revoke_form=ConfirmForm(),
    )


@bp.route("/me/shifts/calendar/revoke", methods=["POST"])
@roles(Role.RESERVIST)
def feed_revoke() -> Any:
    if ConfirmForm().validate_on_submit() and calendar.revoke(reservist_for_user(current_user)):
        db.session.commit()
        flash(_("Your calendar link no longer works."), "success")
    return redirect(url_for("shifts.feed_settings"))


@bp.route("/calendar/<token>.ics")
@public
def feed(token: str) -> Any:
    g.no_store = True
    g.referrer_policy = "no-referrer"
    subscription = calendar.feed_for_token(token)
    if subscription is None:
        abort(404)
    body = calendar.feed_ics(subscription)
    db.session.commit()
    return Response(
        body, mimetype="text/calendar", headers={"Content-Disposition": "inline; filename=zorgreserve.ics"}
    )


# Hours and certificate ---------------------------------------------------------------------------


@bp.route("/me/shifts/hours")
@roles(Role.RESERVIST)
def hours() -> Any:
    summary = services.hours_worked(reservist_for_user(current_user))
    return render_template("shifts/hours.html", summary=summary)


@bp.route("/me/shifts/certificate")
@roles(Role.RESERVIST)
def certificate() -> Any:
    summary = services.hours_worked(reservist_for_user(current_user))
    return render_template("shifts/certificate.html", summary=summary, user=current_user, today=utcnow())


# Institution roster ------------------------------------------------------------------------------


def _roster_request(request_id: int) -> Any:
    try:
        return roster.request_for_roster(current_user, request_id)
    except services.NotYours:
        abort(404)


def _local_to_utc(value: datetime | None) -> datetime | None:
    """A local (Europe/Amsterdam) time from a form as UTC."""
    return value.replace(tzinfo=LOCAL).astimezone(UTC) if value else None


@bp.route("/requests/<int:request_id>/roster")
@roles(Role.INSTITUTION_STAFF, Role.REGIONAL_COORDINATOR)
def roster_page(request_id: int) -> Any:
    g.no_store = True
    req = _roster_request(request_id)
    now = utcnow()
    shifts = roster.roster(req, now)
    for item in shifts:
        for line in item.lines:
            log_access("view", line.reservist.id, "roster", request_id=req.id)
    db.session.commit()
    return render_template(
        "shifts/roster.html",
        req=req,
        shifts=shifts,
        now=now,
        can_record=roster.can_record(current_user, req),
        check_in_form=CheckInForm(),
        check_out_form=CheckOutForm(),
        confirm_form=ConfirmForm(),
        period_form=PeriodForm(request.args),
    )


def _record(request_id: int, booking_id: int, action: Any) -> Any:
    """Look up the booking on the request's roster (404 outside it), run ``action``, show the outcome."""
    req = _roster_request(request_id)
    if not roster.can_record(current_user, req):
        abort(404)
    try:
        booking, shift = roster.booking_on_roster(req, booking_id)
    except services.NotYours:
        abort(404)
    try:
        message = action(booking, shift)
    except services.ShiftError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(url_for("shifts.roster_page", request_id=req.id)), 303
    if message is None:
        return redirect(url_for("shifts.roster_page", request_id=req.id)), 303
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("shifts.roster_page", request_id=req.id))


def _form_error(form: Any) -> None:
    messages = [str(m) for errors in form.errors.values() for m in errors]
    raise services.ShiftError(messages[0] if messages else _("Please check the form."))


@bp.route("/requests/<int:request_id>/roster/<int:booking_id>/check-in", methods=["POST"])
@roles(Role.INSTITUTION_STAFF)
def roster_check_in(request_id: int, booking_id: int) -> Any:
    def action(booking: Any, shift: Any) -> str:
        form = CheckInForm()
        if not form.validate_on_submit():
            _form_error(form)
        roster.check_in(current_user, booking, shift, _local_to_utc(form.start.data))
        return _("Checked in.")

    return _record(request_id, booking_id, action)


@bp.route("/requests/<int:request_id>/roster/<int:booking_id>/check-out", methods=["POST"])
@roles(Role.INSTITUTION_STAFF)
def roster_check_out(request_id: int, booking_id: int) -> Any:
    def action(booking: Any, shift: Any) -> str:
        form = CheckOutForm()
        if not form.validate_on_submit():
            _form_error(form)
        roster.check_out(current_user, booking, shift, _local_to_utc(form.end.data), form.break_minutes.data)
        return _("Checked out; hours recorded.")

    return _record(request_id, booking_id, action)


@bp.route("/requests/<int:request_id>/roster/<int:booking_id>/no-show", methods=["POST"])
@roles(Role.INSTITUTION_STAFF)
def roster_no_show(request_id: int, booking_id: int) -> Any:
    def action(booking: Any, shift: Any) -> str:
        if not ConfirmForm().validate_on_submit():
            _form_error(ConfirmForm())
        roster.no_show(current_user, booking, shift)
        return _("Recorded as a no-show.")

    return _record(request_id, booking_id, action)


@bp.route("/requests/<int:request_id>/timesheet.csv")
@roles(Role.INSTITUTION_STAFF, Role.REGIONAL_COORDINATOR)
def timesheet_csv(request_id: int) -> Any:
    req = _roster_request(request_id)
    form = PeriodForm(request.args)
    if not form.validate() or (form.start.data and form.end.data and form.end.data < form.start.data):
        flash(_("Choose a valid period: the end on or after the start."), "error")
        return redirect(url_for("shifts.roster_page", request_id=req.id))
    text, reservist_ids = roster.timesheet(req, form.start.data, form.end.data)
    for reservist_id in reservist_ids:
        log_access("export", reservist_id, "timesheet", request_id=req.id)
    record(
        "timesheet.exported", subject_type="deployment_request", subject_id=req.id, rows=len(reservist_ids)
    )
    db.session.commit()
    g.no_store = True
    return Response(
        "\ufeff" + text,
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=timesheet-{req.id}.csv"},
    )
