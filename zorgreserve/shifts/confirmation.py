"""Confirming recorded hours, and correcting them with the previous values kept.

Confirming is the institution's statement that the checked-out hours are
right; only confirmed hours count as confirmed in the timesheet exports and
in the reservist's hours. It is one conditional update (``WHERE confirmed_at
IS NULL``), so a double click, or two staff members at once, confirm once.

A checked-out entry is never edited in place. A correction (new start, end
and break, with a reason) adds a :class:`TimesheetCorrection` row holding the
values before and after, then updates the entry: the history is complete and
the current values are what every export and page reads. A correction of
confirmed hours leaves them confirmed — the person correcting is accountable
for the new values, and the roster shows who confirmed and who corrected.
Corrections obey the same rules as a check-out; refused input changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.audit.services import record
from zorgreserve.callups.models import Booking, BookingStatus
from zorgreserve.db import utcnow
from zorgreserve.deployments.models import Shift
from zorgreserve.shifts.models import TimesheetCorrection, TimesheetEntry
from zorgreserve.shifts.roster import awaiting_confirmation, check_hours, check_start
from zorgreserve.shifts.services import ShiftError

B = BookingStatus

REASON_MIN = 3
REASON_MAX = 1000


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _confirm_entry(user: User, booking: Booking, entry: TimesheetEntry, now: datetime) -> bool:
    done = db.session.execute(
        update(TimesheetEntry)
        .where(
            TimesheetEntry.id == entry.id,
            TimesheetEntry.confirmed_at.is_(None),
            TimesheetEntry.actual_end_at.is_not(None),
        )
        .values(confirmed_at=now, confirmed_by_id=user.id)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        return False
    db.session.refresh(entry)
    record(
        "timesheet.confirmed",
        actor=user,
        subject_type="booking",
        subject_id=booking.id,
        shift_id=booking.shift_id,
        reservist_id=booking.reservist_id,
        hours=entry.worked_hours,
    )
    return True


def confirm(user: User, booking: Booking, entry: TimesheetEntry | None, now: datetime | None = None) -> None:
    """Confirm the checked-out hours of one booking (once)."""
    now = now or utcnow()
    if booking.status != B.COMPLETED.value or entry is None or entry.actual_end_at is None:
        raise ShiftError(_l("Only checked-out hours can be confirmed."))
    if entry.confirmed_at is not None or not _confirm_entry(user, booking, entry, now):
        raise ShiftError(_l("These hours are already confirmed."))


def confirm_shift(user: User, shift: Shift, now: datetime | None = None) -> int:
    """Confirm every checked-out, unconfirmed booking of the shift; how many were confirmed.

    People still checked in (or expected) are left as they are.
    """
    now = now or utcnow()
    rows = db.session.execute(
        select(Booking, TimesheetEntry)
        .join(TimesheetEntry, TimesheetEntry.booking_id == Booking.id)
        .where(Booking.shift_id == shift.id, Booking.status == B.COMPLETED.value)
        .order_by(Booking.id)
    ).all()
    count = sum(
        1
        for booking, entry in rows
        if awaiting_confirmation(booking, entry) and _confirm_entry(user, booking, entry, now)
    )
    if count == 0:
        raise ShiftError(_l("There are no checked-out hours to confirm on this shift."))
    return count


def correct(
    user: User,
    booking: Booking,
    shift: Shift,
    start: datetime | None,
    end: datetime | None,
    break_minutes: int | None,
    reason: str | None,
    now: datetime | None = None,
) -> TimesheetCorrection:
    """Change the recorded times of a checked-out booking, keeping the previous values and the reason."""
    now = now or utcnow()
    reason = (reason or "").strip()
    minutes = break_minutes or 0
    # Lock the entry (PostgreSQL) so two corrections at once each record what they really replaced.
    entry = db.session.scalar(
        select(TimesheetEntry)
        .where(TimesheetEntry.booking_id == booking.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if booking.status != B.COMPLETED.value or entry is None or entry.actual_end_at is None:
        raise ShiftError(_l("Only checked-out hours can be corrected."))
    if len(reason) < REASON_MIN:
        raise ShiftError(_l("Give the reason for the correction."), field="reason")
    if len(reason) > REASON_MAX:
        raise ShiftError(_l("Keep the reason under 1000 characters."), field="reason")
    if start is None or end is None:
        raise ShiftError(_l("Fill in the start and the end."), field="start" if start is None else "end")
    check_start(shift, start, now)
    if end <= start:
        raise ShiftError(_l("The end must be after the start."), field="end")
    check_hours(shift, start, end, minutes, now)
    # The form works in whole minutes: seconds a check-in at "now" stored are no change.
    if (_minute(start), _minute(end), minutes) == (
        _minute(entry.actual_start_at),
        _minute(entry.actual_end_at),
        entry.break_minutes,
    ):
        raise ShiftError(_l("The correction changes nothing."), field="start")
    correction = TimesheetCorrection(
        entry_id=entry.id,
        previous_start_at=entry.actual_start_at,
        previous_end_at=entry.actual_end_at,
        previous_break_minutes=entry.break_minutes,
        new_start_at=start,
        new_end_at=end,
        new_break_minutes=minutes,
        reason=reason,
        was_confirmed=entry.confirmed_at is not None,
        corrected_by_id=user.id,
        corrected_by_role=user.role,
        corrected_at=now,
    )
    db.session.add(correction)
    previous_hours = entry.worked_hours
    entry.actual_start_at = start
    entry.actual_end_at = end
    entry.break_minutes = minutes
    entry.updated_at = now
    db.session.flush()
    record(
        "timesheet.corrected",
        actor=user,
        subject_type="booking",
        subject_id=booking.id,
        shift_id=shift.id,
        reservist_id=booking.reservist_id,
        correction_id=correction.id,
        previous_start=correction.previous_start_at.isoformat(),
        previous_end=correction.previous_end_at.isoformat(),
        previous_break_minutes=correction.previous_break_minutes,
        new_start=start.isoformat(),
        new_end=end.isoformat(),
        new_break_minutes=minutes,
        previous_hours=previous_hours,
        hours=entry.worked_hours,
        was_confirmed=correction.was_confirmed,
    )
    return correction
