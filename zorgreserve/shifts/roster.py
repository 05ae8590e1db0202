"""The institution's roster of a request: who comes, check-in, check-out, no-show and timesheets.

Staff of the request's institution and the regional coordinator of its region
see the roster; anyone else gets 404, as for a request that does not exist.
Only the institution's staff record what happened. Each step is one
conditional update of the booking's status (``WHERE status = ...``), so a
double click changes it once; the actual times go to ``timesheet_entry``.
A reservist's phone number is shown only from 24 hours before the shift's
start to 24 hours after its end: staff need it to reach people on the day,
not to keep a phone book.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.accounts.roles import Role
from zorgreserve.audit.services import record
from zorgreserve.callups.models import Booking, BookingStatus
from zorgreserve.coordination.export import safe_cell
from zorgreserve.coordination.filters import LOCAL
from zorgreserve.db import utcnow
from zorgreserve.deployments.models import DeploymentRequest, RequestStatus, Shift, ShiftState
from zorgreserve.phones import display_phone
from zorgreserve.reservists.models import Reservist
from zorgreserve.shifts.models import TimesheetEntry
from zorgreserve.shifts.services import NotYours, ShiftError

B = BookingStatus

#: Bookings that belong on the roster: approved, and what became of them on the day.
ON_ROSTER = (B.APPROVED.value, B.CHECKED_IN.value, B.COMPLETED.value, B.NO_SHOW.value)
#: How long before the start and after the end of a shift its people's phone numbers are shown.
PHONE_WINDOW = timedelta(hours=24)
#: Clock difference allowed between the staff member's device and the server.
LEEWAY = timedelta(minutes=5)


def tolerance() -> timedelta:
    return timedelta(minutes=int(current_app.config.get("SHIFT_HOURS_TOLERANCE_MINUTES", 60)))


def request_for_roster(user: User, request_id: int) -> DeploymentRequest:
    """The request if ``user`` may see its roster, else :class:`NotYours` (404)."""
    request = db.session.get(DeploymentRequest, request_id)
    if request is None:
        raise NotYours(request_id)
    role = user.role_enum
    if role is Role.INSTITUTION_STAFF and user.institution_id == request.institution_id:
        return request
    if (
        role is Role.REGIONAL_COORDINATOR
        and user.region_id == request.region_id
        and request.status != RequestStatus.DRAFT.value
    ):
        return request
    raise NotYours(request_id)


def can_record(user: User, request: DeploymentRequest) -> bool:
    return user.role_enum is Role.INSTITUTION_STAFF and user.institution_id == request.institution_id


def phone_shown_from(shift: Shift) -> datetime:
    return shift.start_at - PHONE_WINDOW


def phone_visible(shift: Shift, now: datetime) -> bool:
    return shift.start_at - PHONE_WINDOW <= now <= shift.end_at + PHONE_WINDOW


@dataclass(frozen=True)
class RosterLine:
    booking: Booking
    reservist: Reservist
    user: User
    entry: TimesheetEntry | None
    phone: str | None  # formatted, or None outside the window

    @property
    def worked_hours(self) -> float | None:
        return worked_hours(self.booking, self.entry)


@dataclass(frozen=True)
class RosterShift:
    shift: Shift
    lines: list[RosterLine]
    phone_from: datetime


def worked_hours(booking: Booking, entry: TimesheetEntry | None) -> float | None:
    """Hours worked (end − start − break) once checked out; 0 for a no-show; else unknown."""
    if booking.status == B.NO_SHOW.value:
        return 0.0
    if entry is None or entry.actual_end_at is None:
        return None
    seconds = (entry.actual_end_at - entry.actual_start_at).total_seconds() - entry.break_minutes * 60
    return round(seconds / 3600, 2)


def _lines_query(request: DeploymentRequest) -> Any:
    return (
        select(Booking, Shift, Reservist, User, TimesheetEntry)
        .join(Shift, Shift.id == Booking.shift_id)
        .join(Reservist, Reservist.id == Booking.reservist_id)
        .join(User, User.id == Reservist.user_id)
        .outerjoin(TimesheetEntry, TimesheetEntry.booking_id == Booking.id)
        .where(Shift.request_id == request.id, Booking.status.in_(ON_ROSTER))
        .order_by(Shift.start_at, User.last_name, User.first_name, Booking.id)
    )


def roster(request: DeploymentRequest, now: datetime | None = None) -> list[RosterShift]:
    """The request's shifts (soonest first) with the people booked on each."""
    now = now or utcnow()
    by_shift: dict[int, list[RosterLine]] = {s.id: [] for s in request.shifts}
    for booking, shift, reservist, user, entry in db.session.execute(_lines_query(request)):
        phone = display_phone(user.phone) if user.phone and phone_visible(shift, now) else None
        by_shift[shift.id].append(RosterLine(booking, reservist, user, entry, phone))
    return [
        RosterShift(shift, by_shift[shift.id], phone_shown_from(shift))
        for shift in sorted(request.shifts, key=lambda s: s.start_at)
    ]


def booking_on_roster(request: DeploymentRequest, booking_id: int) -> tuple[Booking, Shift]:
    row = db.session.execute(
        select(Booking, Shift)
        .join(Shift, Shift.id == Booking.shift_id)
        .where(Booking.id == booking_id, Shift.request_id == request.id, Booking.status.in_(ON_ROSTER))
    ).first()
    if row is None:
        raise NotYours(booking_id)
    return row[0], row[1]


def _move(booking: Booking, old: str, new: str) -> None:
    done = db.session.execute(
        update(Booking)
        .where(Booking.id == booking.id, Booking.status == old)
        .values(status=new)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        raise ShiftError(_l("Someone else changed this booking just now. Please look again."))
    db.session.refresh(booking)


def _entry(booking: Booking) -> TimesheetEntry | None:
    return db.session.scalar(select(TimesheetEntry).where(TimesheetEntry.booking_id == booking.id))


def check_in(
    user: User, booking: Booking, shift: Shift, at: datetime | None, now: datetime | None = None
) -> None:
    """Approved → checked in, with the actual start (default now)."""
    now = now or utcnow()
    at = at or now
    if shift.state != ShiftState.ACTIVE.value:
        raise ShiftError(_l("This shift is cancelled."))
    if booking.status != B.APPROVED.value:
        raise ShiftError(_l("Only an approved booking can be checked in."))
    if at > now + LEEWAY:
        raise ShiftError(_l("The start cannot be in the future."), field="start")
    if at < shift.start_at - tolerance() or at >= shift.end_at:
        raise ShiftError(_l("The start must fall within the shift."), field="start")
    _move(booking, B.APPROVED.value, B.CHECKED_IN.value)
    db.session.add(
        TimesheetEntry(booking_id=booking.id, actual_start_at=at, checked_in_by_id=user.id, updated_at=now)
    )
    record(
        "booking.checked_in",
        actor=user,
        subject_type="booking",
        subject_id=booking.id,
        shift_id=shift.id,
        reservist_id=booking.reservist_id,
        actual_start=at.isoformat(),
    )


def check_out(
    user: User,
    booking: Booking,
    shift: Shift,
    at: datetime | None,
    break_minutes: int | None,
    now: datetime | None = None,
) -> None:
    """Checked in → completed, with the actual end (default now) and the break."""
    now = now or utcnow()
    at = at or now
    minutes = break_minutes or 0
    entry = _entry(booking)
    if booking.status != B.CHECKED_IN.value or entry is None:
        raise ShiftError(_l("Only someone who is checked in can be checked out."))
    if at <= entry.actual_start_at:
        raise ShiftError(_l("The check-out must be after the check-in."), field="end")
    if at > now + LEEWAY:
        raise ShiftError(_l("The end cannot be in the future."), field="end")
    if at > shift.end_at + tolerance():
        raise ShiftError(
            _l(
                "The end is more than %(minutes)s minutes after the end of the shift.",
                minutes=int(tolerance().total_seconds() // 60),
            ),
            field="end",
        )
    if minutes < 0 or minutes * 60 >= (at - entry.actual_start_at).total_seconds():
        raise ShiftError(_l("The break must be shorter than the time worked."), field="break_minutes")
    _move(booking, B.CHECKED_IN.value, B.COMPLETED.value)
    entry.actual_end_at = at
    entry.break_minutes = minutes
    entry.checked_out_by_id = user.id
    entry.updated_at = now
    record(
        "booking.checked_out",
        actor=user,
        subject_type="booking",
        subject_id=booking.id,
        shift_id=shift.id,
        reservist_id=booking.reservist_id,
        actual_start=entry.actual_start_at.isoformat(),
        actual_end=at.isoformat(),
        break_minutes=minutes,
    )


def no_show(user: User, booking: Booking, shift: Shift, now: datetime | None = None) -> None:
    """Approved → no-show, once the shift has started."""
    now = now or utcnow()
    if booking.status != B.APPROVED.value:
        raise ShiftError(_l("Only an approved booking that was not checked in can be a no-show."))
    if now < shift.start_at:
        raise ShiftError(_l("A no-show can be recorded only after the shift has started."))
    _move(booking, B.APPROVED.value, B.NO_SHOW.value)
    record(
        "booking.no_show",
        actor=user,
        subject_type="booking",
        subject_id=booking.id,
        shift_id=shift.id,
        reservist_id=booking.reservist_id,
    )


# Timesheet export -------------------------------------------------------------------------------


def _local(value: datetime | None) -> str:
    return value.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M") if value else ""


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=LOCAL)


def timesheet(
    request: DeploymentRequest, start: date | None = None, end: date | None = None
) -> tuple[str, list[int]]:
    """The request's timesheet as CSV (shifts starting from ``start`` to ``end`` inclusive, local
    dates) with a total per person, every cell formula-safe; and the reservists in it."""
    query = _lines_query(request)
    if start:
        query = query.where(Shift.start_at >= _day_start(start))
    if end:
        query = query.where(Shift.start_at < _day_start(end + timedelta(days=1)))
    rows = list(db.session.execute(query))
    statuses = {
        B.APPROVED.value: _("Approved"),
        B.CHECKED_IN.value: _("Checked in"),
        B.COMPLETED.value: _("Completed"),
        B.NO_SHOW.value: _("No-show"),
    }
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [
            _("Reservist number"),
            _("First name"),
            _("Surname"),
            _("Planned start"),
            _("Planned end"),
            _("Actual start"),
            _("Actual end"),
            _("Break (minutes)"),
            _("Hours"),
            _("Status"),
        ]
    )
    totals: dict[int, tuple[User, float]] = {}
    for booking, shift, reservist, user, entry in rows:
        hours = worked_hours(booking, entry)
        writer.writerow(
            safe_cell(value)
            for value in (
                reservist.id,
                user.first_name,
                user.last_name,
                _local(shift.start_at),
                _local(shift.end_at),
                _local(entry.actual_start_at if entry else None),
                _local(entry.actual_end_at if entry else None),
                entry.break_minutes if entry and entry.actual_end_at else "",
                f"{hours:.2f}" if hours is not None else "",
                statuses.get(booking.status, booking.status),
            )
        )
        _user, sofar = totals.get(reservist.id, (user, 0.0))
        totals[reservist.id] = (user, sofar + (hours or 0.0))
    writer.writerow([])
    writer.writerow([_("Reservist number"), _("First name"), _("Surname"), _("Total hours")])
    for reservist_id, (user, total) in sorted(
        totals.items(), key=lambda item: (item[1][0].last_name.lower(), item[1][0].first_name.lower())
    ):
        writer.writerow(safe_cell(v) for v in (reservist_id, user.first_name, user.last_name, f"{total:.2f}"))
    return out.getvalue(), list(totals)
