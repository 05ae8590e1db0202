"""Deployment request pages: institutions make and follow requests, coordinators decide.

Every request id is looked up through the user's scope: staff of another
institution and coordinators of another region get 404, as for an id that does
not exist. Views parse input, call one service, and commit once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError

from zorgreserve import db
from zorgreserve.accounts.roles import Role, roles
from zorgreserve.db import utcnow
from zorgreserve.deployments import services
from zorgreserve.deployments.forms import (
    PRESET_LABELS,
    URGENCY_LABELS,
    URGENCY_SHORT,
    AddShiftsForm,
    ApproveForm,
    EditRequestForm,
    HeadcountForm,
    NewRequestForm,
    OptionalReasonForm,
    ReasonForm,
    RequestDetailsForm,
    ShiftPlacesForm,
)
from zorgreserve.deployments.models import EDITABLE, FINAL, RUNNING, DeploymentRequest, RequestStatus
from zorgreserve.deployments.patterns import PlannedShift
from zorgreserve.institutions.services import active_locations
from zorgreserve.phones import display_phone
from zorgreserve.reference.models import Qualification, Skill

bp = Blueprint("deployments", __name__, url_prefix="/requests")

STAFF = Role.INSTITUTION_STAFF
COORDINATORS = (Role.REGIONAL_COORDINATOR, Role.NATIONAL_COORDINATOR)


@bp.app_template_filter("request_status")
def request_status_label(value: str) -> str:
    labels = {
        RequestStatus.DRAFT: _("Draft"),
        RequestStatus.SUBMITTED: _("Waiting for approval"),
        RequestStatus.APPROVED: _("Approved"),
        RequestStatus.REJECTED: _("Rejected"),
        RequestStatus.OPEN: _("Open"),
        RequestStatus.PARTIALLY_FILLED: _("Partially filled"),
        RequestStatus.FILLED: _("Filled"),
        RequestStatus.CLOSED: _("Closed"),
        RequestStatus.CANCELLED: _("Cancelled"),
    }
    return labels[RequestStatus(value)]


@bp.app_template_filter("urgency")
def urgency_label(value: str) -> str:
    return str(URGENCY_SHORT.get(value, value))


def _request_or_404(request_id: int) -> DeploymentRequest:
    try:
        return services.request_in_scope(current_user, request_id)
    except services.NotInScope:
        abort(404)


def _member_request_or_404(request_id: int) -> DeploymentRequest:
    """A request of the user's own institution (coordinators cannot edit what institutions ask)."""
    deployment_request = _request_or_404(request_id)
    if not services.is_member(current_user, deployment_request):
        abort(404)
    return deployment_request


def _fill_choices(form: RequestDetailsForm, current_location_id: int | None = None) -> None:
    qualifications = db.session.scalars(select(Qualification).order_by(Qualification.name))
    form.qualification_id.choices = [(q.id, q.name) for q in qualifications]
    form.skill_ids.choices = [(s.id, s.name) for s in db.session.scalars(select(Skill).order_by(Skill.name))]
    locations = active_locations(current_user.institution_id)
    form.location_id.choices = [(loc.id, f"{loc.name} — {loc.city}") for loc in locations]


def _show_error(form: Any, exc: services.RequestError) -> None:
    """Put a service's refusal next to the field it concerns, or above the form."""
    target = getattr(form, exc.field, None) if exc.field else None
    if target is not None and hasattr(target, "errors"):
        if not isinstance(target.errors, list):
            target.errors = list(target.errors)
        target.errors.append(str(exc.message))
    else:
        flash(str(exc.message), "error")


def _stale() -> Any:
    db.session.rollback()
    flash(_("This request was changed in the meantime. Check it and try again."), "error")


def _busy() -> Any:
    """Another change held the same rows too long (or crossed this one): nothing changed, try again."""
    db.session.rollback()
    flash(
        _("Someone else was changing this request at the same moment. Nothing changed; please try again."),
        "error",
    )


def _told(count: int) -> str:
    return ngettext(
        "%(num)d booked person is told at once.", "%(num)d booked people are told at once.", count
    )


# Institution pages -----------------------------------------------------------------


@bp.route("/")
@roles(STAFF)
def index() -> Any:
    show_all = request.args.get("all") == "1"
    return render_template(
        "deployments/index.html",
        summaries=services.institution_requests(current_user, current=not show_all),
        show_all=show_all,
    )


@bp.route("/new", methods=["GET", "POST"])
@roles(STAFF)
def create() -> Any:
    form = NewRequestForm()
    _fill_choices(form)
    if request.method == "GET":
        form.idempotency_key.data = uuid.uuid4().hex
    planned: list[PlannedShift] | None = None
    if form.validate_on_submit():
        if form.preview.data:
            try:
                planned = services.plan_shifts(form.pattern())
            except services.RequestError as exc:
                _show_error(form, exc)
        else:
            try:
                created_request, created = services.create_request(
                    current_user,
                    form.details(),
                    form.pattern(),
                    idempotency_key=form.idempotency_key.data,
                    submit=bool(form.submit_request.data),
                )
            except services.RequestError as exc:
                db.session.rollback()
                _show_error(form, exc)
            else:
                db.session.commit()
                if created:
                    flash(_status_message(created_request), "success")
                return redirect(url_for("deployments.detail", request_id=created_request.id))
    status = 400 if form.errors or (request.method == "POST" and planned is None) else 200
    return (
        render_template(
            "deployments/create.html",
            form=form,
            planned=planned,
            has_locations=bool(form.location_id.choices),
            preset_labels=PRESET_LABELS,
        ),
        status,
    )


def _status_message(deployment_request: DeploymentRequest) -> str:
    status = deployment_request.status_enum
    if status is RequestStatus.DRAFT:
        return _("The request has been saved as a draft.")
    if status is RequestStatus.SUBMITTED:
        return _("The request has been submitted. The coordinator of the region decides on it.")
    return _("The request has been approved automatically under the current surge phase and is open.")


@bp.route("/<int:request_id>")
@roles(STAFF, *COORDINATORS)
def detail(request_id: int) -> Any:
    deployment_request = _request_or_404(request_id)
    return _render_detail(deployment_request)


def _render_detail(deployment_request: DeploymentRequest, status: int = 200, **forms: Any) -> Any:
    from zorgreserve.surge.services import effective_phase

    member = services.is_member(current_user, deployment_request)
    decider = services.can_decide(current_user, deployment_request)
    headcount = forms.get("headcount_form") or HeadcountForm(
        places=max((s.places for s in deployment_request.active_shifts), default=1)
    )
    from zorgreserve.callups.followup import at_risk

    return (
        render_template(
            "deployments/detail.html",
            req=deployment_request,
            at_risk=at_risk([deployment_request.id], utcnow()).get(deployment_request.id, {}),
            max_places=services.max_places(),
            member=member,
            decider=decider,
            editable=deployment_request.status_enum in EDITABLE,
            final=deployment_request.status_enum in FINAL,
            running=deployment_request.status_enum in RUNNING,
            approve_form=forms.get("approve_form") or ApproveForm(),
            reject_form=forms.get("reject_form") or ReasonForm(),
            headcount_form=headcount,
            phase=effective_phase(deployment_request.region_id),
            urgency_labels=URGENCY_LABELS,
            now=utcnow(),
        ),
        status,
    )


@bp.route("/<int:request_id>/edit", methods=["GET", "POST"])
@roles(STAFF)
def edit(request_id: int) -> Any:
    deployment_request = _member_request_or_404(request_id)
    if deployment_request.status_enum not in EDITABLE:
        flash(_("After the decision only the headcount can go up and shifts can change."), "error")
        return redirect(url_for("deployments.detail", request_id=deployment_request.id))
    form = EditRequestForm(obj=deployment_request)
    _fill_choices(form)
    if request.method == "GET":
        form.skill_ids.data = [s.id for s in deployment_request.skills]
        form.contact_phone.data = display_phone(deployment_request.contact_phone)
        form.version.data = str(deployment_request.version)
    if form.validate_on_submit():
        try:
            services.update_request(
                current_user,
                deployment_request,
                form.details(),
                version=int(form.version.data) if (form.version.data or "").isdigit() else -1,
            )
            db.session.commit()
        except services.RequestError as exc:
            db.session.rollback()
            _show_error(form, exc)
        except StaleDataError:
            _stale()
        else:
            flash(_("The request has been saved."), "success")
            return redirect(url_for("deployments.detail", request_id=deployment_request.id))
    return (
        render_template("deployments/edit.html", form=form, req=deployment_request),
        400 if request.method == "POST" else 200,
    )


def _act(
    deployment_request: DeploymentRequest, action: Callable[[], None], success: Callable[[], str]
) -> Any:
    """Run one service step, commit, and go back to the request; a refusal is shown there."""
    try:
        action()
        db.session.commit()
    except services.RequestError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
    except StaleDataError:
        _stale()
    else:
        flash(success(), "success")
    return redirect(url_for("deployments.detail", request_id=deployment_request.id))


@bp.route("/<int:request_id>/submit", methods=["POST"])
@roles(STAFF)
def submit(request_id: int) -> Any:
    deployment_request = _member_request_or_404(request_id)
    return _act(
        deployment_request,
        lambda: services.submit_request(current_user, deployment_request),
        lambda: _status_message(deployment_request),
    )


@bp.route("/<int:request_id>/headcount", methods=["POST"])
@roles(STAFF)
def headcount(request_id: int) -> Any:
    deployment_request = _member_request_or_404(request_id)
    form = HeadcountForm()
    if not form.validate_on_submit():
        return _render_detail(deployment_request, 400, headcount_form=form)
    try:
        changed = services.set_headcount(current_user, deployment_request, form.places.data)
        db.session.commit()
    except services.RequestError as exc:
        db.session.rollback()
        _show_error(form, exc)
        return _render_detail(deployment_request, 400, headcount_form=form)
    except StaleDataError:
        _stale()
    else:
        if changed:
            flash(_("The headcount has been changed on %(count)s shifts.", count=changed), "success")
        else:
            flash(_("Nothing changed: every shift ahead already has this headcount."), "success")
    return redirect(url_for("deployments.detail", request_id=deployment_request.id))


@bp.route("/<int:request_id>/shifts/new", methods=["GET", "POST"])
@roles(STAFF)
def add_shifts(request_id: int) -> Any:
    deployment_request = _member_request_or_404(request_id)
    if deployment_request.status_enum in FINAL:
        abort(404)
    form = AddShiftsForm()
    planned: list[PlannedShift] | None = None
    if form.validate_on_submit():
        try:
            if form.preview.data:
                planned = services.plan_shifts(form.pattern(), existing=deployment_request.active_shifts)
            else:
                added = services.add_shifts(current_user, deployment_request, form.pattern())
                db.session.commit()
                flash(_("%(count)s shifts have been added.", count=len(added)), "success")
                return redirect(url_for("deployments.detail", request_id=deployment_request.id))
        except services.RequestError as exc:
            db.session.rollback()
            _show_error(form, exc)
        except StaleDataError:
            _stale()
    status = 400 if form.errors or (request.method == "POST" and planned is None) else 200
    return render_template(
        "deployments/add_shifts.html", form=form, req=deployment_request, planned=planned
    ), status


@bp.route("/<int:request_id>/shifts/<int:shift_id>/cancel", methods=["GET", "POST"])
@roles(STAFF)
def cancel_shift(request_id: int, shift_id: int) -> Any:
    deployment_request = _member_request_or_404(request_id)
    try:
        shift = services.shift_of(deployment_request, shift_id)
    except services.NotInScope:
        abort(404)
    form = OptionalReasonForm() if deployment_request.status_enum in EDITABLE else ReasonForm()
    if form.validate_on_submit():
        try:
            told = services.cancel_shift(current_user, deployment_request, shift, form.reason.data)
            db.session.commit()
        except services.RequestError as exc:
            db.session.rollback()
            _show_error(form, exc)
        except StaleDataError:
            _stale()
        except OperationalError:
            _busy()
        else:
            flash(_("The shift has been cancelled.") + (" " + _told(told) if told else ""), "success")
            return redirect(url_for("deployments.detail", request_id=deployment_request.id))
    return (
        render_template("deployments/cancel_shift.html", form=form, req=deployment_request, shift=shift),
        400 if request.method == "POST" else 200,
    )


@bp.route("/<int:request_id>/shifts/<int:shift_id>/places", methods=["POST"])
@roles(STAFF)
def shift_places(request_id: int, shift_id: int) -> Any:
    """Raise or lower one shift's places; fewer than booked asks to confirm who goes (the latest booked)."""
    deployment_request = _member_request_or_404(request_id)
    try:
        shift = services.shift_of(deployment_request, shift_id)
    except services.NotInScope:
        abort(404)
    form = ShiftPlacesForm()
    if not form.validate_on_submit():
        for error in form.places.errors or form.release.errors or form.reason.errors:
            flash(str(error), "error")
        return _render_detail(deployment_request, 400)
    try:
        change = services.set_shift_places(
            current_user,
            deployment_request,
            shift,
            form.places.data,
            release=form.release.data,
            reason=form.reason.data,
        )
        db.session.commit()
    except services.ReleaseNeeded as exc:
        db.session.rollback()
        form.release.data = exc.count
        return render_template(
            "deployments/shift_places.html", form=form, req=deployment_request, shift=shift, need=exc
        )
    except services.RequestError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return _render_detail(deployment_request, 400)
    except StaleDataError:
        _stale()
    except OperationalError:
        _busy()
    else:
        if change.before == change.after:
            flash(_("Nothing changed: the shift already needs this many people."), "success")
        else:
            message = _(
                "The shift now needs %(places)s people (was %(before)s).",
                places=change.after,
                before=change.before,
            )
            flash(message + (" " + _told(len(change.released)) if change.released else ""), "success")
    return redirect(url_for("deployments.detail", request_id=deployment_request.id))


@bp.route("/<int:request_id>/cancel", methods=["GET", "POST"])
@roles(STAFF, *COORDINATORS)
def cancel(request_id: int) -> Any:
    deployment_request = _request_or_404(request_id)
    if not (
        services.is_member(current_user, deployment_request)
        or services.can_decide(current_user, deployment_request)
    ):
        abort(404)
    form = ReasonForm()
    if form.validate_on_submit():
        try:
            told = services.cancel(current_user, deployment_request, form.reason.data)
            db.session.commit()
        except services.RequestError as exc:
            db.session.rollback()
            _show_error(form, exc)
        except StaleDataError:
            _stale()
        except OperationalError:
            _busy()
        else:
            flash(_("The request has been cancelled.") + (" " + _told(told) if told else ""), "success")
            return redirect(url_for("deployments.detail", request_id=deployment_request.id))
    return (
        render_template("deployments/cancel.html", form=form, req=deployment_request),
        400 if request.method == "POST" else 200,
    )


@bp.route("/<int:request_id>/close", methods=["POST"])
@roles(STAFF, *COORDINATORS)
def close(request_id: int) -> Any:
    deployment_request = _request_or_404(request_id)
    if not (
        services.is_member(current_user, deployment_request)
        or services.can_decide(current_user, deployment_request)
    ):
        abort(404)
    form = OptionalReasonForm()
    form.validate_on_submit()
    return _act(
        deployment_request,
        lambda: services.close(current_user, deployment_request, form.reason.data),
        lambda: _("The request has been closed: no more reservists are asked."),
    )


# Coordinator pages -----------------------------------------------------------------


@bp.route("/overview")
@roles(*COORDINATORS)
def overview() -> Any:
    from zorgreserve.reference.services import active_regions

    region_id = request.args.get("region", type=int)
    regions = active_regions() if current_user.role_enum is Role.NATIONAL_COORDINATOR else []
    if region_id is not None and all(r.id != region_id for r in regions):
        region_id = None
    lists = services.coordinator_overview(current_user, region_id)
    # Requests whose call-ups stopped on their own (first shift too near, nobody left to ask):
    # a coordinator has to act, so they lead the page.
    from zorgreserve.callups.escalation import alerts_for

    alerts = alerts_for([summary.request.id for summary in lists["running"]])
    return render_template(
        "deployments/overview.html",
        waiting=lists["waiting"],
        running=lists["running"],
        attention=[
            (summary, alerts[summary.request.id])
            for summary in lists["running"]
            if summary.request.id in alerts
        ],
        regions=regions,
        region_id=region_id,
    )


@bp.route("/<int:request_id>/approve", methods=["POST"])
@roles(*COORDINATORS)
def approve(request_id: int) -> Any:
    deployment_request = _request_or_404(request_id)
    if not services.can_decide(current_user, deployment_request):
        abort(404)
    form = ApproveForm()
    if not form.validate_on_submit():
        return _render_detail(deployment_request, 400, approve_form=form)

    return _act(
        deployment_request,
        lambda: services.approve(current_user, deployment_request, form.note.data),
        lambda: _("The request has been approved and is open."),
    )


@bp.route("/<int:request_id>/reject", methods=["POST"])
@roles(*COORDINATORS)
def reject(request_id: int) -> Any:
    deployment_request = _request_or_404(request_id)
    if not services.can_decide(current_user, deployment_request):
        abort(404)
    form = ReasonForm()
    if not form.validate_on_submit():
        return _render_detail(deployment_request, 400, reject_form=form)

    return _act(
        deployment_request,
        lambda: services.reject(current_user, deployment_request, form.reason.data),
        lambda: _("The request has been rejected."),
    )
