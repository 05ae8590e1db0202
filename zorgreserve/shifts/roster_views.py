"""The institution's roster pages: per request and per day, recording the day, confirming and
correcting hours, and the timesheet exports.

Requests, bookings, shifts and institutions outside the user's scope answer
404, like ids that do not exist. Recording (check-in, check-out, no-show,
confirming) is for the institution's own staff; corrections also for the
coordinators in scope (see :func:`zorgreserve.shifts.roster.can_correct`).
Every view of the roster or a timesheet export writes an access-log row per
reservist; every change is audited by the service that makes it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from zorgreserve import db
from zorgreserve.accounts.roles import Role, roles
from zorgreserve.audit.services import log_access, record
from zorgreserve.callups.models import Booking
from zorgreserve.coordination.filters import LOCAL
from zorgreserve.db import utcnow
from zorgreserve.deployments.models import DeploymentRequest, Shift
from zorgreserve.deployments.services import scope_filter
from zorgreserve.institutions.models import Institution
from zorgreserve.shifts import confirmation, roster, services, timesheets
from zorgreserve.shifts.forms import (
    CheckInForm,
    CheckOutForm,
    ConfirmForm,
    CorrectionForm,
    DayForm,
    PeriodForm,
)
from zorgreserve.shifts.views import bp

READERS = roster.READERS
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _roster_request(request_id: int) -> DeploymentRequest:
    try:
        return roster.request_for_roster(current_user, request_id)
    except services.NotYours:
        abort(404)


def _institution(institution_id: int) -> Institution:
    try:
        return roster.institution_for_roster(current_user, institution_id)
    except services.NotYours:
        abort(404)


def _local_to_utc(value: datetime | None) -> datetime | None:
    """A local (Europe/Amsterdam) time from a form as UTC."""
    return value.replace(tzinfo=LOCAL).astimezone(UTC) if value else None


def _local_day(moment: datetime) -> date:
    return moment.astimezone(LOCAL).date()


def _back(req: DeploymentRequest, shift: Shift) -> str:
    """Where a roster form returns to: the day roster it came from, or the request's roster."""
    if request.values.get("return_to") == "day":
        return url_for(
            "shifts.day_roster", institution_id=req.institution_id, day=_local_day(shift.start_at).isoformat()
        )
    return url_for("shifts.roster_page", request_id=req.id)


def _log_views(shifts: list[roster.RosterShift], **details: Any) -> None:
    for item in shifts:
        for line in item.lines:
            log_access("view", line.reservist.id, "roster", **details)


def _roster_forms() -> dict[str, Any]:
    return {
        "check_in_form": CheckInForm(),
        "check_out_form": CheckOutForm(),
        "confirm_form": ConfirmForm(),
    }


# Rosters -----------------------------------------------------------------------------------------


@bp.route("/requests/<int:request_id>/roster")
@roles(*READERS)
def roster_page(request_id: int) -> Any:
    g.no_store = True
    req = _roster_request(request_id)
    now = utcnow()
    shifts = roster.roster(req, now)
    _log_views(shifts, request_id=req.id)
    db.session.commit()
    return render_template(
        "shifts/roster.html",
        req=req,
        shifts=shifts,
        now=now,
        recordable={req.id} if roster.can_record(current_user, req) else set(),
        correctable={req.id} if roster.can_correct(current_user, req) else set(),
        period_form=PeriodForm(request.args),
        **_roster_forms(),
    )


@bp.route("/institutions/<int:institution_id>/roster")
@roles(*READERS)
def day_roster(institution_id: int) -> Any:
    """Every shift of the institution touching one local day (default today), across its requests."""
    g.no_store = True
    institution = _institution(institution_id)
    now = utcnow()
    form = DayForm(request.args)
    day = _local_day(now)
    if not form.validate():
        flash(_("That is not a valid day; here is today."), "error")
    elif form.day.data:
        day = form.day.data
    shifts = roster.day_roster(current_user, institution, day, now)
    _log_views(shifts, institution_id=institution.id, day=day.isoformat())
    db.session.commit()
    requests = {item.shift.request for item in shifts}
    first_of_month = day.replace(day=1)
    next_month = (first_of_month + timedelta(days=32)).replace(day=1)
    return render_template(
        "shifts/day_roster.html",
        institution=institution,
        day=day,
        day_label=format_date(day, "EEEE d MMMM yyyy"),
        previous_day=day - timedelta(days=1),
        next_day=day + timedelta(days=1),
        today=_local_day(now),
        shifts=shifts,
        now=now,
        recordable={r.id for r in requests if roster.can_record(current_user, r)},
        correctable={r.id for r in requests if roster.can_correct(current_user, r)},
        day_form=DayForm(data={"day": day}),
        period_form=PeriodForm(data={"start": first_of_month, "end": next_month - timedelta(days=1)}),
        **_roster_forms(),
    )


# Recording the day -------------------------------------------------------------------------------


def _outcome(req: DeploymentRequest, shift: Shift, action: Callable[[], str]) -> Any:
    """Run ``action``; commit and show its message, or roll back and show why nothing changed."""
    try:
        message = action()
    except services.ShiftError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return redirect(_back(req, shift)), 303
    db.session.commit()
    flash(message, "success")
    return redirect(_back(req, shift))


def _record(request_id: int, booking_id: int, action: Callable[[Booking, Shift], str]) -> Any:
    """Look up the booking on the request's roster (404 outside it), run ``action``, show the outcome."""
    req = _roster_request(request_id)
    if not roster.can_record(current_user, req):
        abort(404)
    try:
        booking, shift = roster.booking_on_roster(req, booking_id)
    except services.NotYours:
        abort(404)
    return _outcome(req, shift, lambda: action(booking, shift))


def _form_error(form: Any) -> None:
    messages = [str(m) for errors in form.errors.values() for m in errors]
    raise services.ShiftError(messages[0] if messages else _("Please check the form."))


@bp.route("/requests/<int:request_id>/roster/<int:booking_id>/check-in", methods=["POST"])
@roles(Role.INSTITUTION_STAFF)
def roster_check_in(request_id: int, booking_id: int) -> Any:
    def action(booking: Booking, shift: Shift) -> str:
        form = CheckInForm()
        if not form.validate_on_submit():
            _form_error(form)
        roster.check_in(current_user, booking, shift, _local_to_utc(form.start.data))
        return _("Checked in.")

    return _record(request_id, booking_id, action)


@bp.route("/requests/<int:request_id>/roster/<int:booking_id>/check-out", methods=["POST"])
@roles(Role.INSTITUTION_STAFF)
def roster_check_out(request_id: int, booking_id: int) -> Any:
    def action(booking: Booking, shift: Shift) -> str:
        form = CheckOutForm()
        if not form.validate_on_submit():
            _form_error(form)
        roster.check_out(current_user, booking, shift, _local_to_utc(form.end.data), form.break_minutes.data)
        return _("Checked out; hours recorded.")

    return _record(request_id, booking_id, action)


@bp.route("/requests/<int:request_id>/roster/<int:booking_id>/no-show", methods=["POST"])
@roles(Role.INSTITUTION_STAFF)
def roster_no_show(request_id: int, booking_id: int) -> Any:
    def action(booking: Booking, shift: Shift) -> str:
        form = ConfirmForm()
        if not form.validate_on_submit():
            _form_error(form)
        roster.no_show(current_user, booking, shift)
        return _("Recorded as a no-show.")

    return _record(request_id, booking_id, action)


@bp.route("/requests/<int:request_id>/roster/<int:booking_id>/confirm", methods=["POST"])
@roles(Role.INSTITUTION_STAFF)
def roster_confirm(request_id: int, booking_id: int) -> Any:
    def action(booking: Booking, shift: Shift) -> str:
        form = ConfirmForm()
        if not form.validate_on_submit():
            _form_error(form)
        confirmation.confirm(current_user, booking, roster.entry_of(booking))
        return _("Hours confirmed.")

    return _record(request_id, booking_id, action)


@bp.route("/requests/<int:request_id>/roster/shifts/<int:shift_id>/confirm", methods=["POST"])
@roles(Role.INSTITUTION_STAFF)
def roster_confirm_shift(request_id: int, shift_id: int) -> Any:
    """Confirm the hours of everyone checked out of one shift and not confirmed yet."""
    req = _roster_request(request_id)
    if not roster.can_record(current_user, req):
        abort(404)
    try:
        shift = roster.shift_of_request(req, shift_id)
    except services.NotYours:
        abort(404)

    def action() -> str:
        form = ConfirmForm()
        if not form.validate_on_submit():
            _form_error(form)
        count = confirmation.confirm_shift(current_user, shift)
        return ngettext("Hours of %(num)d person confirmed.", "Hours of %(num)d people confirmed.", count)

    return _outcome(req, shift, action)


@bp.route("/requests/<int:request_id>/roster/<int:booking_id>/correct", methods=["GET", "POST"])
@roles(*READERS)
def roster_correct(request_id: int, booking_id: int) -> Any:
    """The recorded hours of one booking, their history, and a form to correct them (with a reason)."""
    g.no_store = True
    req = _roster_request(request_id)
    if not roster.can_correct(current_user, req):
        abort(404)
    try:
        booking, shift = roster.booking_on_roster(req, booking_id)
    except services.NotYours:
        abort(404)
    entry = roster.entry_of(booking)
    if entry is None or entry.actual_end_at is None:
        flash(_("Only checked-out hours can be corrected."), "error")
        return redirect(_back(req, shift)), 303
    form = CorrectionForm(
        start=entry.actual_start_at.astimezone(LOCAL).replace(tzinfo=None),
        end=entry.actual_end_at.astimezone(LOCAL).replace(tzinfo=None),
        break_minutes=entry.break_minutes,
    )
    error = None
    if form.validate_on_submit():
        try:
            confirmation.correct(
                current_user,
                booking,
                shift,
                _local_to_utc(form.start.data),
                _local_to_utc(form.end.data),
                form.break_minutes.data,
                form.reason.data,
            )
        except services.ShiftError as exc:
            db.session.rollback()
            target = getattr(form, exc.field or "", None)
            if target is not None:
                target.errors.append(str(exc.message))
            else:
                error = str(exc.message)
        else:
            db.session.commit()
            flash(_("Hours corrected; the previous values are kept in the history."), "success")
            return redirect(_back(req, shift))
    # Load the line after any rollback, so the page shows what is really stored.
    line = next(
        line for line in roster.lines_for([shift.id], utcnow())[shift.id] if line.booking.id == booking.id
    )
    log_access("view", booking.reservist_id, "timesheet_correction", request_id=req.id)
    db.session.commit()
    return render_template(
        "shifts/correct.html",
        req=req,
        shift=shift,
        line=line,
        form=form,
        error=error,
        return_to=request.values.get("return_to") == "day",
    )


# Timesheets --------------------------------------------------------------------------------------


def _send(
    sheet: timesheets.Timesheet, fmt: str, filename: str, subject: tuple[str, int], **details: Any
) -> Any:
    """Log the export per reservist, audit it, and answer the file."""
    for reservist_id in sheet.reservist_ids:
        log_access("export", reservist_id, "timesheet", **details)
    record(
        "timesheet.exported",
        subject_type=subject[0],
        subject_id=subject[1],
        format=fmt,
        lines=len(sheet.lines),
        people=len(sheet.reservist_ids),
        **details,
    )
    db.session.commit()
    g.no_store = True
    if fmt == "csv":
        body: Any = "\ufeff" + timesheets.csv_text(sheet)
        mimetype = "text/csv"
    else:
        body = timesheets.xlsx_bytes(sheet)
        mimetype = XLSX
    return Response(
        body, mimetype=mimetype, headers={"Content-Disposition": f"attachment; filename={filename}.{fmt}"}
    )


def _request_timesheet(request_id: int, fmt: str) -> Any:
    req = _roster_request(request_id)
    form = PeriodForm(request.args)
    problem = (
        _("Choose a valid period.")
        if not form.validate()
        else timesheets.period_error(form.start.data, form.end.data, required=False)
    )
    if problem:
        flash(problem, "error")
        return redirect(url_for("shifts.roster_page", request_id=req.id))
    sheet = timesheets.build(request=req, start=form.start.data, end=form.end.data)
    return _send(
        sheet,
        fmt,
        f"timesheet-{req.id}",
        ("deployment_request", req.id),
        request_id=req.id,
        start=form.start.data.isoformat() if form.start.data else None,
        end=form.end.data.isoformat() if form.end.data else None,
    )


@bp.route("/requests/<int:request_id>/timesheet.csv")
@roles(*READERS)
def timesheet_csv(request_id: int) -> Any:
    return _request_timesheet(request_id, "csv")


@bp.route("/requests/<int:request_id>/timesheet.xlsx")
@roles(*READERS)
def timesheet_xlsx(request_id: int) -> Any:
    return _request_timesheet(request_id, "xlsx")


def _institution_timesheet(institution_id: int, fmt: str) -> Any:
    institution = _institution(institution_id)
    form = PeriodForm(request.args)
    problem = (
        _("Choose a valid period.")
        if not form.validate()
        else timesheets.period_error(form.start.data, form.end.data, required=True)
    )
    if problem:
        flash(problem, "error")
        return redirect(url_for("shifts.day_roster", institution_id=institution.id))
    requests = scope_filter(
        current_user, select(DeploymentRequest).where(DeploymentRequest.institution_id == institution.id)
    )
    sheet = timesheets.build(request_query=requests, start=form.start.data, end=form.end.data)
    start, end = form.start.data.isoformat(), form.end.data.isoformat()
    return _send(
        sheet,
        fmt,
        f"timesheet-institution-{institution.id}-{start}-{end}",
        ("institution", institution.id),
        institution_id=institution.id,
        start=start,
        end=end,
    )


@bp.route("/institutions/<int:institution_id>/timesheet.csv")
@roles(*READERS)
def institution_timesheet_csv(institution_id: int) -> Any:
    return _institution_timesheet(institution_id, "csv")


@bp.route("/institutions/<int:institution_id>/timesheet.xlsx")
@roles(*READERS)
def institution_timesheet_xlsx(institution_id: int) -> Any:
    return _institution_timesheet(institution_id, "xlsx")
