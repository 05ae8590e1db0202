"""What erasing a reservist (``privacy.erasure``) does to their call-ups, bookings and messages.

Erasure keeps an anonymous shell so that capacity figures and past deployments still
add up; for call-ups that means:

* **Bookings ahead** (accepted or approved, shift not begun) are cancelled: nobody will
  come, so the places reopen at once and the call-up clock fills them (the
  ``deployments.request_changed`` job, ``booking_cancelled``: the stand-by list first,
  then a new wave). Nobody is told by message: the person's contact details are gone.
* **Offers still open** are withdrawn, so escalation stops counting on an answer.
* **Past bookings stay**, with their shift, times and the hours the institution recorded
  (its timesheets and the reserve's deployment counts need them), attached to the shell;
  the roster and timesheets show them as "erased reservist".
* **Free text** the person wrote or that was written about their bookings goes: the
  reason of a declined offer, of a cancellation and of a coordinator's decision.
* **SMS they sent** (sender number and text) are deleted; of the **messages to them**
  the unsent ones are deleted and the sent ones keep kind, channel and times only (the
  provider's message id and error text go). **Stand-by entries** are deleted.

Everything runs in the erasure's transaction: it all happens, or nothing does. Open offers
are locked first, then bookings and their shifts (as a reservist's own cancellation does), so
an accept of this person in flight (offer, reservist, shift) is waited for, not deadlocked with.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from zorgreserve.audit.services import record
from zorgreserve.callups.changes import HELD, take_back
from zorgreserve.callups.models import (
    OPEN_OFFER,
    Booking,
    InboundSms,
    Message,
    MessageStatus,
    Offer,
    OfferShift,
    OfferShiftStatus,
    OfferStatus,
    StandbyEntry,
)
from zorgreserve.deployments.models import Shift
from zorgreserve.jobs.services import add_job


def forget_reservist(
    session: Session, reservist_id: int, *, phone: str | None, actor: object, now: datetime
) -> dict[str, int]:
    """Apply the rules of the module docstring; returns what was done, as counts by name.

    ``phone`` is the account's number (E.164) before the account is erased: SMS from it
    that matched no offer are found by it.
    """
    # Offers first: an accept takes offer, reservist, shift in that order, so one in flight is
    # waited for here, before this transaction holds any booking or shift it would need.
    counts = {"offers_withdrawn": _withdraw_open_offers(session, reservist_id, now)}
    counts["bookings_cancelled"] = _cancel_bookings_ahead(session, reservist_id, actor, now)
    offer_ids = list(session.scalars(select(Offer.id).where(Offer.reservist_id == reservist_id)))
    session.execute(
        update(Offer)
        .where(Offer.reservist_id == reservist_id, Offer.decline_reason.is_not(None))
        .values(decline_reason=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Booking)
        .where(
            Booking.reservist_id == reservist_id,
            or_(Booking.cancel_reason.is_not(None), Booking.decision_reason.is_not(None)),
        )
        .values(cancel_reason=None, decision_reason=None)
        .execution_options(synchronize_session=False)
    )
    sent_by_them = [InboundSms.offer_id.in_(offer_ids)] if offer_ids else []
    if phone:
        sent_by_them.append(InboundSms.sender == phone)
    counts["sms_received"] = (
        session.execute(
            delete(InboundSms).where(or_(*sent_by_them)).execution_options(synchronize_session=False)
        ).rowcount
        or 0
        if sent_by_them
        else 0
    )
    counts["messages_unsent"] = (
        session.execute(
            delete(Message)
            .where(Message.reservist_id == reservist_id, Message.status == MessageStatus.QUEUED.value)
            .execution_options(synchronize_session=False)
        ).rowcount
        or 0
    )
    session.execute(
        update(Message)
        .where(Message.reservist_id == reservist_id)
        .values(provider_id=None, error=None)
        .execution_options(synchronize_session=False)
    )
    counts["standby_entries"] = (
        session.execute(
            delete(StandbyEntry)
            .where(StandbyEntry.reservist_id == reservist_id)
            .execution_options(synchronize_session=False)
        ).rowcount
        or 0
    )
    session.flush()
    return counts


def _cancel_bookings_ahead(session: Session, reservist_id: int, actor: object, now: datetime) -> int:
    """Cancel the accepted and approved bookings whose shift has not begun; places reopen."""
    from zorgreserve.callups.booking import refresh_request

    bookings = list(
        session.scalars(
            select(Booking)
            .where(Booking.reservist_id == reservist_id, Booking.status.in_(HELD), Booking.start_at > now)
            .order_by(Booking.id)
            .with_for_update(key_share=True, of=Booking)
            .execution_options(populate_existing=True)
        )
    )
    if not bookings:
        return 0
    requests = dict(
        session.execute(
            select(Shift.id, Shift.request_id).where(Shift.id.in_({b.shift_id for b in bookings}))
        ).all()
    )
    shifts_of: dict[int, list[int]] = defaultdict(list)
    for booking in bookings:
        shifts_of[requests[booking.shift_id]].append(booking.shift_id)
        record(
            "booking.cancelled_by_erasure",
            actor=actor,
            subject_type="booking",
            subject_id=booking.id,
            shift_id=booking.shift_id,
        )
    take_back(session, bookings, None, now)
    for request_id, shift_ids in sorted(shifts_of.items()):
        refresh_request(session, request_id)
        add_job(
            session,
            "deployments.request_changed",
            {"request_id": request_id, "change": "booking_cancelled", "shift_ids": sorted(shift_ids)},
            description=f"deployment request {request_id}: a place reopened",
        )
    return len(bookings)


def _withdraw_open_offers(session: Session, reservist_id: int, now: datetime) -> int:
    """Withdraw the offers still waiting for this person's answer (waiting for one being answered)."""
    from zorgreserve.callups.waves import refresh_offered

    offer_ids = list(
        session.scalars(
            select(Offer.id)
            .where(Offer.reservist_id == reservist_id, Offer.status.in_([s.value for s in OPEN_OFFER]))
            .order_by(Offer.id)
            .with_for_update(key_share=True)
        )
    )
    if not offer_ids:
        return 0
    shift_ids = list(
        session.scalars(
            update(OfferShift)
            .where(OfferShift.offer_id.in_(offer_ids), OfferShift.status == OfferShiftStatus.OFFERED.value)
            .values(status=OfferShiftStatus.WITHDRAWN.value, answered_at=now)
            .returning(OfferShift.shift_id)
            .execution_options(synchronize_session=False)
        )
    )
    session.execute(
        update(Offer)
        .where(Offer.id.in_(offer_ids))
        .values(status=OfferStatus.WITHDRAWN.value)
        .execution_options(synchronize_session=False)
    )
    refresh_offered(shift_ids)
    return len(offer_ids)
