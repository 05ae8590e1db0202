"""The institution's roster, per request and per day: who comes, check-in, check-out and no-show.

Staff of the request's institution, the regional coordinator of its region
and national coordinators (once the request is submitted) see the roster;
anyone else gets 404, as for a request that does not exist. Only the
institution's staff record what happened on the day. Each step is one
conditional update of the booking's status (``WHERE status = ...``), so a
double click changes it once; the actual times go to ``timesheet_entry``.
A reservist's phone number is shown only from 24 hours before the shift's
start to 24 hours after its end: staff need it to reach people on the day,
not to keep a phone book.

Confirming and correcting hours is in :mod:`zorgreserve.shifts.confirmation`,
the timesheet exports in :mod:`zorgreserve.shifts.timesheets`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.accounts.roles import Role
from zorgreserve.audit.services import record
from zorgreserve.callups.changes import release_after_no_show
from zorgreserve.callups.models import Booking, BookingStatus
from zorgreserve.coordination.filters import LOCAL
from zorgreserve.db import utcnow
from zorgreserve.deployments.models import DeploymentRequest, Shift, ShiftState
from zorgreserve.deployments.services import scope_filter
from zorgreserve.institutions.models import Institution
from zorgreserve.phones import display_phone
from zorgreserve.reservists.models import Reservist
from zorgreserve.shifts.models import TimesheetCorrection, TimesheetEntry
from zorgreserve.shifts.services import NotYours, ShiftError

B = BookingStatus

#: Bookings that belong on the roster: approved, and what became of them on the day.
ON_ROSTER = (B.APPROVED.value, B.CHECKED_IN.value, B.COMPLETED.value, B.NO_SHOW.value)
#: How long before the start and after the end of a shift its people's phone numbers are shown.
PHONE_WINDOW = timedelta(hours=24)
#: Clock difference allowed between the staff member's device and the server.
LEEWAY = timedelta(minutes=5)
#: Who may read a roster (each within their scope).
READERS = (Role.INSTITUTION_STAFF, Role.REGIONAL_COORDINATOR, Role.NATIONAL_COORDINATOR)


def tolerance() -> timedelta:
    return timedelta(minutes=int(current_app.config.get("SHIFT_HOURS_TOLERANCE_MINUTES", 60)))


def _tolerance_minutes() -> int:
    return int(tolerance().total_seconds() // 60)


# Scope ------------------------------------------------------------------------------------------


def request_for_roster(user: User, request_id: int) -> DeploymentRequest:
    """The request if ``user`` may see its roster, else :class:`NotYours` (404).

    The same scope as the request's own pages: the institution's staff, the
    coordinator of its region and national coordinators (not a draft).
    """
    if user.role_enum not in READERS:
        raise NotYours(request_id)
    request = db.session.scalar(
        scope_filter(user, select(DeploymentRequest).where(DeploymentRequest.id == request_id))
    )
    if request is None:
        raise NotYours(request_id)
    return request


def institution_for_roster(user: User, institution_id: int) -> Institution:
    """The institution if ``user`` may see its day roster and timesheets, else :class:`NotYours`.

    Its own staff, the regional coordinator of the institution's region and
    national coordinators; which requests they then see follows the request
    scope (a regional coordinator sees the requests of their region).
    """
    institution = db.session.get(Institution, institution_id)
    role = user.role_enum
    if institution is not None and (
        (role is Role.INSTITUTION_STAFF and user.institution_id == institution.id)
        or (role is Role.REGIONAL_COORDINATOR and user.region_id == institution.region_id)
        or role is Role.NATIONAL_COORDINATOR
    ):
        return institution
    raise NotYours(institution_id)


def can_record(user: User, request: DeploymentRequest) -> bool:
    """Check-in, check-out, no-show and confirming hours: the institution's own staff only."""
    return user.role_enum is Role.INSTITUTION_STAFF and user.institution_id == request.institution_id


def can_correct(user: User, request: DeploymentRequest) -> bool:
    """Correcting recorded hours: the institution's staff and the coordinators in scope.

    Coordinators settle disputes a reservist raises with them; a correction is
    always kept as history with its reason, so nobody's word is lost.
    """
    role = user.role_enum
    return (
        can_record(user, request)
        or (role is Role.REGIONAL_COORDINATOR and user.region_id == request.region_id)
        or role is Role.NATIONAL_COORDINATOR
    )


# Reading the roster -----------------------------------------------------------------------------


def phone_shown_from(shift: Shift) -> datetime:
    return shift.start_at - PHONE_WINDOW


def phone_visible(shift: Shift, now: datetime) -> bool:
    return shift.start_at - PHONE_WINDOW <= now <= shift.end_at + PHONE_WINDOW


@dataclass(frozen=True)
class CorrectionLine:
    correction: TimesheetCorrection
    by: User | None


@dataclass(frozen=True)
class RosterLine:
    booking: Booking
    reservist: Reservist
    user: User | None  # None: the reservist erased their data
    entry: TimesheetEntry | None
    phone: str | None  # formatted, or None outside the window
    confirmed_by: User | None = None
    corrections: tuple[CorrectionLine, ...] = ()

    @property
    def worked_hours(self) -> float | None:
        return worked_hours(self.booking, self.entry)

    @property
    def awaiting_confirmation(self) -> bool:
        return awaiting_confirmation(self.booking, self.entry)


@dataclass(frozen=True)
class RosterShift:
    shift: Shift
    lines: list[RosterLine]
    phone_from: datetime

    @property
    def awaiting_confirmation(self) -> int:
        return sum(1 for line in self.lines if line.awaiting_confirmation)


def worked_hours(booking: Booking, entry: TimesheetEntry | None) -> float | None:
    """Hours worked (end − start − break) once checked out; 0 for a no-show; else unknown."""
    if booking.status == B.NO_SHOW.value:
        return 0.0
    if entry is None:
        return None
    return entry.worked_hours


def awaiting_confirmation(booking: Booking, entry: TimesheetEntry | None) -> bool:
    return (
        booking.status == B.COMPLETED.value
        and entry is not None
        and entry.actual_end_at is not None
        and entry.confirmed_at is None
    )


def lines_for(shift_ids: Iterable[int], now: datetime) -> dict[int, list[RosterLine]]:
    """The people on the given shifts, with their times, who confirmed them and the corrections."""
    shift_ids = list(shift_ids)
    rows = db.session.execute(
        select(Booking, Shift, Reservist, User, TimesheetEntry)
        .join(Shift, Shift.id == Booking.shift_id)
        .join(Reservist, Reservist.id == Booking.reservist_id)
        # Outer: an erased reservist's past deployments stay on the roster, without a name.
        .outerjoin(User, User.id == Reservist.user_id)
        .outerjoin(TimesheetEntry, TimesheetEntry.booking_id == Booking.id)
        .where(Booking.shift_id.in_(shift_ids), Booking.status.in_(ON_ROSTER))
        .order_by(User.last_name, User.first_name, Booking.id)
    ).all()
    entry_ids = [entry.id for *_rest, entry in rows if entry is not None]
    corrections: dict[int, list[TimesheetCorrection]] = {}
    for correction in db.session.scalars(
        select(TimesheetCorrection)
        .where(TimesheetCorrection.entry_id.in_(entry_ids))
        .order_by(TimesheetCorrection.corrected_at, TimesheetCorrection.id)
    ):
        corrections.setdefault(correction.entry_id, []).append(correction)
    people_ids = {entry.confirmed_by_id for *_rest, entry in rows if entry is not None} | {
        c.corrected_by_id for items in corrections.values() for c in items
    }
    people = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(people_ids - {None})))}
    by_shift: dict[int, list[RosterLine]] = {shift_id: [] for shift_id in shift_ids}
    for booking, shift, reservist, user, entry in rows:
        phone = display_phone(user.phone) if user and user.phone and phone_visible(shift, now) else None
        changes = corrections.get(entry.id, []) if entry else []
        history = tuple(CorrectionLine(c, people.get(c.corrected_by_id)) for c in changes)
        confirmer = people.get(entry.confirmed_by_id) if entry and entry.confirmed_by_id else None
        by_shift[shift.id].append(RosterLine(booking, reservist, user, entry, phone, confirmer, history))
    return by_shift


def roster(request: DeploymentRequest, now: datetime | None = None) -> list[RosterShift]:
    """The request's shifts (soonest first) with the people booked on each."""
    now = now or utcnow()
    shifts = sorted(request.shifts, key=lambda s: (s.start_at, s.id))
    by_shift = lines_for((s.id for s in shifts), now)
    return [RosterShift(shift, by_shift[shift.id], phone_shown_from(shift)) for shift in shifts]


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The local (Europe/Amsterdam) day as an aware interval; 23 or 25 hours when the clocks change."""
    return (
        datetime.combine(day, time.min, tzinfo=LOCAL),
        datetime.combine(day + timedelta(days=1), time.min, tzinfo=LOCAL),
    )


def day_roster(
    user: User, institution: Institution, day: date, now: datetime | None = None
) -> list[RosterShift]:
    """Every shift of the institution's requests (in ``user``'s scope) that overlaps the local day.

    A night shift appears on both days it touches, so the morning staff find
    the people still at work since yesterday evening.
    """
    now = now or utcnow()
    start, end = day_bounds(day)
    shifts = list(
        db.session.scalars(
            scope_filter(
                user,
                select(Shift)
                .join(DeploymentRequest, DeploymentRequest.id == Shift.request_id)
                .where(
                    DeploymentRequest.institution_id == institution.id,
                    Shift.start_at < end,
                    Shift.end_at > start,
                ),
            ).order_by(Shift.start_at, Shift.id)
        )
    )
    by_shift = lines_for((s.id for s in shifts), now)
    return [RosterShift(shift, by_shift[shift.id], phone_shown_from(shift)) for shift in shifts]


def booking_on_roster(request: DeploymentRequest, booking_id: int) -> tuple[Booking, Shift]:
    row = db.session.execute(
        select(Booking, Shift)
        .join(Shift, Shift.id == Booking.shift_id)
        .where(Booking.id == booking_id, Shift.request_id == request.id, Booking.status.in_(ON_ROSTER))
    ).first()
    if row is None:
        raise NotYours(booking_id)
    return row[0], row[1]


def shift_of_request(request: DeploymentRequest, shift_id: int) -> Shift:
    shift = db.session.get(Shift, shift_id)
    if shift is None or shift.request_id != request.id:
        raise NotYours(shift_id)
    return shift


def entry_of(booking: Booking) -> TimesheetEntry | None:
    return db.session.scalar(select(TimesheetEntry).where(TimesheetEntry.booking_id == booking.id))


# Recording the day ------------------------------------------------------------------------------


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


def check_start(shift: Shift, start: datetime, now: datetime) -> None:
    """A recorded start: not in the future, from the tolerance before the shift to before its end."""
    if start > now + LEEWAY:
        raise ShiftError(_l("The start cannot be in the future."), field="start")
    if start < shift.start_at - tolerance() or start >= shift.end_at:
        raise ShiftError(_l("The start must fall within the shift."), field="start")


def check_hours(shift: Shift, start: datetime, end: datetime, break_minutes: int, now: datetime) -> None:
    """A recorded end and break (at check-out and in a correction), given a valid start.

    Refused: an end in the future or more than the tolerance after the shift's
    end, a break not shorter than the time worked, and hours worked beyond the
    shift's length plus the tolerance.
    """
    if end > now + LEEWAY:
        raise ShiftError(_l("The end cannot be in the future."), field="end")
    if end > shift.end_at + tolerance():
        raise ShiftError(
            _l(
                "The end is more than %(minutes)s minutes after the end of the shift.",
                minutes=_tolerance_minutes(),
            ),
            field="end",
        )
    if break_minutes < 0 or break_minutes * 60 >= (end - start).total_seconds():
        raise ShiftError(_l("The break must be shorter than the time worked."), field="break_minutes")
    worked = end - start - timedelta(minutes=break_minutes)
    if worked > (shift.end_at - shift.start_at) + tolerance():
        raise ShiftError(
            _l(
                "These hours are more than %(minutes)s minutes longer than the shift. "
                "Check the times and the break.",
                minutes=_tolerance_minutes(),
            ),
            field="end",
        )


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
    check_start(shift, at, now)
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
    entry = entry_of(booking)
    if booking.status != B.CHECKED_IN.value or entry is None:
        raise ShiftError(_l("Only someone who is checked in can be checked out."))
    if at <= entry.actual_start_at:
        raise ShiftError(_l("The check-out must be after the check-in."), field="end")
    check_hours(shift, entry.actual_start_at, at, minutes, now)
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
    # On a multi-day request the person's later shifts go to others (docs/shifts.md, "No-shows").
    release_after_no_show(db.session, booking, actor=user, now=now)
