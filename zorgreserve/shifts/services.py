"""What happens to a booked shift: the reservist's view of it, cancellation, hours worked.

Cancellation by the reservist is one conditional update of the booking
(``WHERE status IN ('accepted', 'approved')``), so pressing twice cancels once.
The place it held is given back with one update of the shift's counters
(``booked - 1`` and, for an approved booking, ``approved - 1`` in the same
statement, so the check ``approved <= booked`` never sees a half state). The
request's fill state follows (filled → partially filled), and the call-up
clock, which looks for open places on every tick, sends a new wave — or alerts
coordinators when the shift starts too soon.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from zorgreserve import db
from zorgreserve.audit.services import record
from zorgreserve.callups.models import ACTIVE_BOOKING, Booking, BookingStatus
from zorgreserve.db import utcnow
from zorgreserve.deployments.models import DeploymentRequest, Shift, ShiftState
from zorgreserve.jobs.services import add_job
from zorgreserve.reservists.models import Reservist
from zorgreserve.shifts.models import TimesheetEntry

B = BookingStatus

#: Bookings the reservist may still cancel themselves (before the deadline).
CANCELLABLE = frozenset({B.ACCEPTED, B.APPROVED})
#: Bookings counted as deployments done once the shift has ended.
DONE = frozenset({B.APPROVED, B.CHECKED_IN, B.COMPLETED})


class NotYours(LookupError):
    """No such booking of this reservist (answer 404)."""


class ShiftError(ValueError):
    """A change that cannot be made; ``message`` is translated and shown, nothing changed."""

    def __init__(self, message: Any, field: str | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.field = field


@dataclass(frozen=True)
class MyShift:
    booking: Booking
    shift: Shift
    request: DeploymentRequest

    @property
    def status(self) -> str:
        """The booking's status, or ``cancelled`` when the institution cancelled the shift."""
        if self.shift.state == ShiftState.CANCELLED.value and self.booking.status in ACTIVE_BOOKING:
            return B.CANCELLED.value
        return self.booking.status

    @property
    def hours(self) -> float:
        return (self.booking.end_at - self.booking.start_at).total_seconds() / 3600


def cancel_min_hours() -> int:
    return int(current_app.config.get("SHIFT_CANCEL_MIN_HOURS", 24))


def _rows(reservist_id: int) -> Any:
    return (
        select(Booking, Shift, DeploymentRequest)
        .join(Shift, Shift.id == Booking.shift_id)
        .join(DeploymentRequest, DeploymentRequest.id == Shift.request_id)
        .where(Booking.reservist_id == reservist_id)
    )


def my_shifts(reservist: Reservist, now: datetime | None = None) -> tuple[list[MyShift], list[MyShift]]:
    """The reservist's upcoming shifts (soonest first) and past ones (latest first)."""
    now = now or utcnow()
    rows = [
        MyShift(b, s, r) for b, s, r in db.session.execute(_rows(reservist.id).order_by(Booking.start_at))
    ]
    upcoming = [item for item in rows if item.booking.end_at > now and item.status != B.NO_SHOW.value]
    past = [item for item in reversed(rows) if item.booking.end_at <= now]
    return upcoming, past


def my_shift(reservist: Reservist, booking_id: int) -> MyShift:
    row = db.session.execute(_rows(reservist.id).where(Booking.id == booking_id)).first()
    if row is None:
        raise NotYours(booking_id)
    return MyShift(*row)


def cancel_deadline(item: MyShift) -> datetime:
    return item.booking.start_at - timedelta(hours=cancel_min_hours())


def can_cancel(item: MyShift, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return (
        item.booking.status in CANCELLABLE
        and item.shift.state == ShiftState.ACTIVE.value
        and now <= cancel_deadline(item)
    )


def cancel(reservist: Reservist, item: MyShift, reason: str | None, now: datetime | None = None) -> None:
    """The reservist cancels a booked shift: the place reopens and a new wave follows on the next tick."""
    from zorgreserve.callups.booking import refresh_request

    now = now or utcnow()
    reason = (reason or "").strip()
    booking = item.booking
    if booking.start_at <= now:
        raise ShiftError(_l("This shift has started or is over; it can no longer be cancelled."))
    if booking.status not in CANCELLABLE or item.shift.state != ShiftState.ACTIVE.value:
        raise ShiftError(_l("This shift is not booked any more."))
    if now > cancel_deadline(item):
        raise ShiftError(
            _l(
                "Shifts can be cancelled here up to %(hours)s hours before they start. "
                "Please call the contact.",
                hours=cancel_min_hours(),
            )
        )
    if len(reason) < 3:
        raise ShiftError(_l("Tell us briefly why you cannot come."), field="reason")
    if len(reason) > 1000:
        raise ShiftError(_l("Keep the reason under 1000 characters."), field="reason")
    was_approved = booking.status == B.APPROVED.value
    session = db.session
    done = session.execute(
        update(Booking)
        .where(Booking.id == booking.id, Booking.status.in_([s.value for s in CANCELLABLE]))
        .values(status=B.CANCELLED.value, cancelled_at=now, cancel_reason=reason)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        raise ShiftError(_l("This shift is not booked any more."))
    session.execute(
        update(Shift)
        .where(Shift.id == booking.shift_id)
        .values(booked=Shift.booked - 1, approved=Shift.approved - (1 if was_approved else 0))
        .execution_options(synchronize_session=False)
    )
    session.refresh(booking)
    refresh_request(session, item.request.id)
    record(
        "booking.cancelled_by_reservist",
        subject_type="booking",
        subject_id=booking.id,
        shift_id=booking.shift_id,
        reservist_id=reservist.id,
        hours_before=round((booking.start_at - now).total_seconds() / 3600, 1),
    )
    add_job(
        session,
        "deployments.request_changed",
        {"request_id": item.request.id, "change": "booking_cancelled", "shift_ids": [booking.shift_id]},
        description=f"deployment request {item.request.id}: a place reopened",
    )


# Hours worked -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DoneShift:
    """A deployment done, with the hours it counts for."""

    item: MyShift
    hours: float
    #: True: the actual hours the institution confirmed; False: the shift's scheduled hours.
    confirmed: bool

    @property
    def booking(self) -> Booking:
        return self.item.booking

    @property
    def shift(self) -> Shift:
        return self.item.shift

    @property
    def request(self) -> DeploymentRequest:
        return self.item.request


@dataclass(frozen=True)
class HoursSummary:
    items: list[DoneShift]
    total_hours: float
    deployments: int
    institutions: list[str]
    first: datetime | None
    last: datetime | None

    @property
    def confirmed_hours(self) -> float:
        return round(sum(i.hours for i in self.items if i.confirmed), 2)


def hours_worked(reservist: Reservist, now: datetime | None = None) -> HoursSummary:
    """Deployments done: shifts that have ended, booked and approved (or checked in / completed).

    Each counts the actual hours (end − start − break) once the institution
    has confirmed them, and the shift's scheduled hours otherwise (not yet
    recorded, or recorded but not confirmed); the item says which. A shift the
    institution cancelled, a no-show, a cancelled booking and a booking never
    approved do not count.
    """
    now = now or utcnow()
    _upcoming, past = my_shifts(reservist, now)
    done = [
        i
        for i in past
        if i.booking.status in {s.value for s in DONE} and i.shift.state == ShiftState.ACTIVE.value
    ]
    entries = {
        e.booking_id: e
        for e in db.session.scalars(
            select(TimesheetEntry).where(TimesheetEntry.booking_id.in_([i.booking.id for i in done]))
        )
    }
    items = []
    for item in done:
        entry = entries.get(item.booking.id)
        if (
            item.booking.status == B.COMPLETED.value
            and entry is not None
            and entry.confirmed_at is not None
            and entry.worked_hours is not None
        ):
            items.append(DoneShift(item, entry.worked_hours, True))
        else:
            items.append(DoneShift(item, round(item.hours, 2), False))
    institutions = sorted({i.request.institution.name for i in items})
    return HoursSummary(
        items=items,
        total_hours=round(sum(i.hours for i in items), 2),
        deployments=len(items),
        institutions=institutions,
        first=min((i.booking.start_at for i in items), default=None),
        last=max((i.booking.end_at for i in items), default=None),
    )
