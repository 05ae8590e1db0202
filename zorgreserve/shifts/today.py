"""Coordinators' view of today's and tomorrow's shifts: who came, who did not, what reopened.

Per shift starting today or tomorrow (Dutch local days; a night shift that began
yesterday and still runs counts as today): places, booked, checked in, people
not checked in although the shift has started (late), no-shows, cancellations
and those made late (less than ``SHIFT_CANCEL_MIN_HOURS`` before the start),
and places that reopened (open places of a shift that lost a booking). A
regional coordinator sees their region's requests, a national coordinator all
regions or one. The page holds counts only, no names: the roster has the names.

Three queries whatever the number of shifts: the shifts with their requests,
the bookings counted per shift and status, and the cancelled bookings' times.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.callups.models import Booking, BookingStatus
from zorgreserve.coordination.filters import LOCAL
from zorgreserve.db import utcnow
from zorgreserve.deployments.models import DeploymentRequest, RequestStatus, Shift, ShiftState
from zorgreserve.deployments.services import scope_filter

B = BookingStatus
S = RequestStatus

#: Requests whose shifts take place: approved or running, and closed ones (bookings made stay).
TAKING_PLACE = (
    S.APPROVED.value,
    S.OPEN.value,
    S.PARTIALLY_FILLED.value,
    S.FILLED.value,
    S.CLOSED.value,
)


@dataclass
class ShiftDay:
    """One shift and what happened to its bookings so far."""

    shift: Shift
    request: DeploymentRequest
    waiting: int = 0  # accepted, waiting for approval
    expected: int = 0  # approved, shift not started yet
    late: int = 0  # approved, shift started, not checked in
    checked_in: int = 0  # checked in or completed
    no_shows: int = 0
    cancelled: int = 0
    late_cancellations: int = 0
    rejected: int = 0

    @property
    def places(self) -> int:
        return self.shift.places

    @property
    def booked(self) -> int:
        return self.waiting + self.expected + self.late + self.checked_in

    @property
    def open_places(self) -> int:
        return max(0, self.places - self.booked)

    @property
    def reopened(self) -> int:
        """Open places that a booking held before (cancelled by the reservist or refused)."""
        return min(self.open_places, self.cancelled + self.rejected)

    @property
    def needs_action(self) -> bool:
        return bool(self.late or self.no_shows or self.late_cancellations or self.reopened)


@dataclass
class Day:
    day: date
    shifts: list[ShiftDay] = field(default_factory=list)

    @property
    def start(self) -> datetime:
        return local_midnight(self.day)

    @property
    def needing_action(self) -> int:
        return sum(1 for s in self.shifts if s.needs_action)


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=LOCAL).astimezone(UTC)


def late_cancel_window() -> timedelta:
    return timedelta(hours=int(current_app.config.get("SHIFT_CANCEL_MIN_HOURS", 24)))


def _scoped(user: User, query: Any, region_id: int | None, lo: datetime, hi: datetime) -> Any:
    query = scope_filter(
        user,
        query.join(DeploymentRequest, DeploymentRequest.id == Shift.request_id).where(
            Shift.state == ShiftState.ACTIVE.value,
            DeploymentRequest.status.in_(TAKING_PLACE),
            Shift.start_at < hi,
            Shift.end_at > lo,
        ),
    )
    if region_id is not None:
        query = query.where(DeploymentRequest.region_id == region_id)
    return query


def today_and_tomorrow(user: User, region_id: int | None = None, now: datetime | None = None) -> list[Day]:
    """Today's and tomorrow's shifts in ``user``'s scope (``region_id`` narrows a national view)."""
    now = now or utcnow()
    today = now.astimezone(LOCAL).date()
    tomorrow = today + timedelta(days=1)
    lo, split = local_midnight(today), local_midnight(tomorrow)
    hi = local_midnight(tomorrow + timedelta(days=1))
    rows = db.session.execute(
        _scoped(user, select(Shift, DeploymentRequest), region_id, lo, hi).order_by(Shift.start_at, Shift.id)
    ).all()
    found = {shift.id: ShiftDay(shift, request) for shift, request in rows}
    if found:
        ids = _scoped(user, select(Shift.id), region_id, lo, hi)
        _count(found, ids, now)
    days = [Day(today), Day(tomorrow)]
    for item in found.values():
        days[0 if item.shift.start_at < split else 1].shifts.append(item)
    return days


def _count(found: dict[int, ShiftDay], ids: Any, now: datetime) -> None:
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for shift_id, status, number in db.session.execute(
        select(Booking.shift_id, Booking.status, func.count())
        .where(Booking.shift_id.in_(ids))
        .group_by(Booking.shift_id, Booking.status)
    ):
        counts[shift_id][status] = int(number)
    for shift_id, item in found.items():
        by = counts.get(shift_id, {})
        approved = by.get(B.APPROVED.value, 0)
        started = now >= item.shift.start_at
        item.waiting = by.get(B.ACCEPTED.value, 0)
        item.expected = 0 if started else approved
        item.late = approved if started else 0
        item.checked_in = by.get(B.CHECKED_IN.value, 0) + by.get(B.COMPLETED.value, 0)
        item.no_shows = by.get(B.NO_SHOW.value, 0)
        item.cancelled = by.get(B.CANCELLED.value, 0)
        item.rejected = by.get(B.REJECTED.value, 0)
    window = late_cancel_window()
    for shift_id, cancelled_at in db.session.execute(
        select(Booking.shift_id, Booking.cancelled_at).where(
            Booking.shift_id.in_(ids), Booking.status == B.CANCELLED.value, Booking.cancelled_at.is_not(None)
        )
    ):
        item = found[shift_id]
        if cancelled_at > item.shift.start_at - window:
            item.late_cancellations += 1
