"""Deployment approval: an accepted booking waits for a coordinator, or the phase policy approves it.

- Under a surge phase whose ``deployment_approval`` is ``automatic`` a booking is
  approved in the transaction that made it (decided by the system, recorded as such).
- Otherwise the regional coordinator of the request's region, or a national
  coordinator, approves or rejects it on the approval page.
- Approving raises the shift's ``approved`` counter and queues the confirmation
  (e-mail with an iCalendar file, and SMS) as :class:`Message` rows whose dedupe
  keys make a second approval, or a second run of the sending job, send nothing.
- Rejecting (a reason is required) lowers the shift's ``booked`` counter: the
  place is open again, the request's fill state follows, and escalation — which
  looks at open places on every tick — calls up someone else. The reservist is
  told kindly, and a ``deployments.request_changed`` job (change
  ``booking_rejected``) tells matching which shift reopened.

Each decision is one conditional update of the booking (``WHERE status =
'accepted'``), so two coordinators pressing at once decide once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.accounts.roles import Role
from zorgreserve.audit.services import record
from zorgreserve.callups.booking import refresh_request
from zorgreserve.callups.models import Booking, BookingStatus
from zorgreserve.db import utcnow
from zorgreserve.deployments.models import DeploymentRequest, Shift
from zorgreserve.deployments.services import SYSTEM, can_decide
from zorgreserve.jobs.services import add_job
from zorgreserve.reservists.models import Reservist

B = BookingStatus


class NotInScope(LookupError):
    """No such booking for this user (answer 404)."""


class ApprovalError(ValueError):
    """A decision that cannot be taken; ``message`` is translated and shown."""

    def __init__(self, message: Any, field: str | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.field = field


@dataclass(frozen=True)
class PendingBooking:
    booking: Booking
    shift: Shift
    request: DeploymentRequest
    first_name: str
    last_name: str


@dataclass(frozen=True)
class ApprovedPerson:
    """Who is coming, as the institution sees it: first name and qualification only."""

    first_name: str
    qualification: str
    shift_id: int
    start_at: datetime
    end_at: datetime


# Scope ---------------------------------------------------------------------------------------


def _scoped(user: User, query: Any) -> Any:
    role = user.role_enum
    if role is Role.NATIONAL_COORDINATOR:
        return query
    if role is Role.REGIONAL_COORDINATOR and user.region_id is not None:
        return query.where(DeploymentRequest.region_id == user.region_id)
    return query.where(False)


def pending(user: User, request_id: int | None = None) -> list[PendingBooking]:
    """Bookings waiting for a decision in the user's scope, soonest shift first."""
    query = (
        select(Booking, Shift, DeploymentRequest, User.first_name, User.last_name)
        .join(Shift, Shift.id == Booking.shift_id)
        .join(DeploymentRequest, DeploymentRequest.id == Shift.request_id)
        .join(Reservist, Reservist.id == Booking.reservist_id)
        .outerjoin(User, User.id == Reservist.user_id)
        .where(Booking.status == B.ACCEPTED.value)
        .order_by(Shift.start_at, DeploymentRequest.id, Booking.id)
    )
    if request_id is not None:
        query = query.where(DeploymentRequest.id == request_id)
    rows = db.session.execute(_scoped(user, query)).all()
    return [
        PendingBooking(booking=b, shift=s, request=r, first_name=first or "", last_name=last or "")
        for b, s, r, first, last in rows
    ]


def booking_in_scope(user: User, booking_id: int) -> Booking:
    query = (
        select(Booking)
        .join(Shift, Shift.id == Booking.shift_id)
        .join(DeploymentRequest, DeploymentRequest.id == Shift.request_id)
        .where(Booking.id == booking_id)
    )
    booking = db.session.scalar(_scoped(user, query))
    if booking is None:
        raise NotInScope(booking_id)
    return booking


def request_in_scope(user: User, request_id: int) -> DeploymentRequest:
    request = db.session.scalar(
        _scoped(user, select(DeploymentRequest).where(DeploymentRequest.id == request_id))
    )
    if request is None:
        raise NotInScope(request_id)
    return request


def _request_of(session: Session, booking: Booking) -> DeploymentRequest:
    request = session.scalar(
        select(DeploymentRequest)
        .join(Shift, Shift.request_id == DeploymentRequest.id)
        .where(Shift.id == booking.shift_id)
    )
    assert request is not None
    return request


# Decisions -----------------------------------------------------------------------------------


def _decide(session: Session, booking: Booking, to: B, actor: Any, now: datetime, reason: str | None) -> bool:
    result = session.execute(
        update(Booking)
        .where(Booking.id == booking.id, Booking.status == B.ACCEPTED.value)
        .values(
            status=to.value, decided_at=now, decided_by_id=getattr(actor, "id", None), decision_reason=reason
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    session.refresh(booking)
    return True


def _approve(session: Session, booking: Booking, actor: Any, now: datetime, mode: str) -> list[int]:
    """Approve one pending booking; returns the ids of the confirmation messages queued (none if decided)."""
    from zorgreserve.callups.confirmations import queue_messages

    if not _decide(session, booking, B.APPROVED, actor, now, None):
        return []
    session.execute(
        update(Shift)
        .where(Shift.id == booking.shift_id)
        .values(approved=Shift.approved + 1)
        .execution_options(synchronize_session=False)
    )
    record(
        "booking.approved",
        actor=actor if actor is not None else SYSTEM,
        subject_type="booking",
        subject_id=booking.id,
        shift_id=booking.shift_id,
        mode=mode,
    )
    reservist = session.get(Reservist, booking.reservist_id)
    assert reservist is not None
    return queue_messages(
        session,
        reservist,
        "confirmation",
        f"confirmation:{booking.id}",
        booking_id=booking.id,
        request_id=_request_of(session, booking).id,
    )


def approve_automatically_if_policy(
    session: Session, request_id: int, bookings: list[Booking], now: datetime
) -> list[int]:
    """Called by booking: approve at once where the phase in effect approves deployments automatically."""
    from zorgreserve.surge.services import effective_phase

    request = session.get(DeploymentRequest, request_id)
    assert request is not None
    if not effective_phase(request.region_id).automatic_deployment_approval:
        return []
    messages: list[int] = []
    for booking in bookings:
        messages += _approve(session, booking, None, now, "automatic")
    return messages


def _send(session: Session, message_ids: list[int], what: str) -> None:
    if message_ids:
        add_job(session, "callups.booking_messages", {"message_ids": message_ids}, description=what)


def approve(user: User, booking: Booking, now: datetime | None = None) -> bool:
    """A coordinator approves a pending booking; False when it was decided already (nothing changes)."""
    session = db.session
    if not can_decide(user, _request_of(session, booking)):
        raise PermissionError("only the coordinator of the region or a national coordinator decides")
    if booking.status != B.ACCEPTED.value:
        return False
    messages = _approve(session, booking, user, now or utcnow(), "manual")
    _send(session, messages, f"confirmation of booking {booking.id}")
    return booking.status == B.APPROVED.value and booking.decided_by_id == user.id


def approve_all(user: User, request: DeploymentRequest, now: datetime | None = None) -> int:
    """Approve every pending booking of one request; returns how many were approved now."""
    if not can_decide(user, request):
        raise PermissionError("only the coordinator of the region or a national coordinator decides")
    session, now = db.session, now or utcnow()
    count, messages = 0, []
    for item in pending(user, request.id):
        queued = _approve(session, item.booking, user, now, "manual")
        if item.booking.status == B.APPROVED.value and item.booking.decided_at == now:
            count += 1
        messages += queued
    _send(session, messages, f"confirmations for request {request.id}")
    return count


def reject(user: User, booking: Booking, reason: str | None, now: datetime | None = None) -> bool:
    """A coordinator refuses a pending booking (reason required): the place reopens, the reservist is told."""
    from zorgreserve.callups.confirmations import queue_messages

    session, now = db.session, now or utcnow()
    request = _request_of(session, booking)
    if not can_decide(user, request):
        raise PermissionError("only the coordinator of the region or a national coordinator decides")
    reason = (reason or "").strip()
    if len(reason) < 5:
        raise ApprovalError(_l("Give a reason (at least a few words)."), field="reason")
    if len(reason) > 2000:
        raise ApprovalError(_l("Keep the reason under 2000 characters."), field="reason")
    if not _decide(session, booking, B.REJECTED, user, now, reason):
        return False
    session.execute(
        update(Shift)
        .where(Shift.id == booking.shift_id)
        .values(booked=Shift.booked - 1)
        .execution_options(synchronize_session=False)
    )
    refresh_request(session, request.id)
    record(
        "booking.rejected",
        actor=user,
        subject_type="booking",
        subject_id=booking.id,
        shift_id=booking.shift_id,
    )
    add_job(
        session,
        "deployments.request_changed",
        {"request_id": request.id, "change": "booking_rejected", "shift_ids": [booking.shift_id]},
        description=f"deployment request {request.id}: a place reopened",
    )
    reservist = session.get(Reservist, booking.reservist_id)
    assert reservist is not None
    messages = queue_messages(
        session, reservist, "rejected", f"rejected:{booking.id}", booking_id=booking.id, request_id=request.id
    )
    _send(session, messages, f"booking {booking.id} not approved")
    return True


# What the institution sees -------------------------------------------------------------------


def approved_people(request_id: int) -> list[ApprovedPerson]:
    """Approved (and later) bookings of a request: first name and the request's qualification, by shift.

    The institution needs to know who to expect, not more: no surname, contact
    details or other personal data.
    """
    from zorgreserve.reference.models import Qualification

    rows = db.session.execute(
        select(User.first_name, Qualification.name, Shift.id, Shift.start_at, Shift.end_at)
        .select_from(Booking)
        .join(Shift, Shift.id == Booking.shift_id)
        .join(DeploymentRequest, DeploymentRequest.id == Shift.request_id)
        .join(Qualification, Qualification.id == DeploymentRequest.qualification_id)
        .join(Reservist, Reservist.id == Booking.reservist_id)
        .outerjoin(User, User.id == Reservist.user_id)
        .where(
            DeploymentRequest.id == request_id,
            Booking.status.in_([B.APPROVED.value, B.CHECKED_IN.value, B.COMPLETED.value]),
        )
        .order_by(Shift.start_at, Shift.id, User.first_name)
    ).all()
    return [
        ApprovedPerson(first_name=first or "—", qualification=qual, shift_id=sid, start_at=start, end_at=end)
        for first, qual, sid, start, end in rows
    ]
