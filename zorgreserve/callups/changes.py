"""Changes after booking: the institution cancels shifts or lowers places, and people are told at once.

The rules (``docs/booking.md``, "When the institution changes a booked shift"):

* **A cancelled shift** — one shift, or every shift ahead of a cancelled request —
  cancels every booking on it that is still accepted or approved
  (:func:`cancel_bookings`). The shift's ``booked`` counter goes down by the
  bookings cancelled and ``approved`` by those of them that were approved, in one
  statement per shift, so the checks ``approved <= booked <= places`` never see a
  half state. Each person is told at once by their channels.
* **Fewer places than booked**: the people who booked last go first
  (:func:`release_latest`, last in, first out): they committed last, so they have
  planned around the shift least, and the earlier bookings — usually the ones a
  coordinator has approved — stand.
* **Outstanding offers** of a shift that was cancelled, or became full because the
  places were lowered, are withdrawn (``booking.withdraw_open_offers_for_filled_shifts``),
  and their holders are told (:func:`notify_withdrawn`).

Why no accept in flight can leave a booking on a cancelled shift: the caller
cancels the shift (an ``UPDATE`` of its row) before this module reads its
bookings. An accept takes its place with ``UPDATE shift ... WHERE state =
'active'`` and holds the row until it commits. One that took its place first
makes our update wait until it has committed, so its booking is visible when the
bookings are read, and is cancelled. One that comes later finds the shift
cancelled: its update matches no row and its booking is rolled back with it.

Locks are taken in one order — request, shifts by id, bookings by id, and offers
only with ``SKIP LOCKED`` — so an institution's change never deadlocks with
accepts (offer, reservist, shift) or their follow-up (request, booking, shift).
A coordinator deciding on, or the reservist cancelling, that very booking in the
same instant locks booking before shift; PostgreSQL then stops one of the two
(nothing changed) and the page asks to try again.

Messages are :class:`~zorgreserve.callups.models.Message` rows with dedupe keys,
written in the same transaction as the change: ``booking_cancelled:<booking>:<channel>``
and ``booking_released:<booking>:<channel>`` are sent by ``callups.booking_messages``
(:mod:`zorgreserve.callups.confirmations`, which picks the channels);
``withdrawn:<offer>:<channel>`` by ``callups.send_messages``
(:mod:`zorgreserve.callups.sending`). A change made twice, or a job run twice,
sends nothing more.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from zorgreserve.audit.services import record
from zorgreserve.callups.models import (
    Booking,
    BookingStatus,
    Channel,
    Message,
    MessageStatus,
    Offer,
    OfferShift,
)
from zorgreserve.deployments.models import Shift
from zorgreserve.jobs.services import add_job
from zorgreserve.reservists.models import Reservist

B = BookingStatus

#: Bookings a change by the institution still takes back (later ones record what happened on the day).
HELD = (B.ACCEPTED.value, B.APPROVED.value)
#: Message kinds written here, sent by ``callups.booking_messages`` (see ``confirmations.TEMPLATES``).
CANCELLED, RELEASED, NO_SHOW = "booking_cancelled", "booking_released", "booking_no_show"
#: Message kind of the notice that an offer was withdrawn, sent by ``callups.send_messages``.
WITHDRAWN = "offer_withdrawn"
#: Messages per sending job (the size of a wave's batch).
BATCH = 200


def _held(session: Session, shift_ids: Sequence[int]) -> list[Booking]:
    """The accepted and approved bookings of these shifts, locked, oldest first."""
    return list(
        session.scalars(
            select(Booking)
            .where(Booking.shift_id.in_(shift_ids), Booking.status.in_(HELD))
            .order_by(Booking.id)
            .with_for_update(key_share=True, of=Booking)
            .execution_options(populate_existing=True)
        )
    )


def take_back(session: Session, bookings: Sequence[Booking], reason: str | None, now: datetime) -> None:
    """Cancel locked bookings and give their places back: per shift one update of both counters."""
    if not bookings:
        return
    done = session.execute(
        update(Booking)
        .where(Booking.id.in_([b.id for b in bookings]), Booking.status.in_(HELD))
        .values(status=B.CANCELLED.value, cancelled_at=now, cancel_reason=reason)
        .execution_options(synchronize_session=False)
    )
    assert done.rowcount == len(bookings), "bookings are locked: their status cannot have changed"
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for booking in bookings:
        counts[booking.shift_id][0] += 1
        counts[booking.shift_id][1] += booking.status == B.APPROVED.value
    for shift_id, (booked, approved) in sorted(counts.items()):
        session.execute(
            update(Shift)
            .where(Shift.id == shift_id)
            .values(booked=Shift.booked - booked, approved=Shift.approved - approved)
            .execution_options(synchronize_session=False)
        )
    for booking in bookings:
        session.expire(booking)
    for shift_id in counts:
        shift = session.get(Shift, shift_id)
        if shift is not None:
            session.expire(shift, ["booked", "approved"])


def cancel_bookings(
    session: Session, request_id: int, shift_ids: Iterable[int], *, actor: Any, now: datetime
) -> list[Booking]:
    """Cancel the bookings of shifts the institution cancelled; each person is told at once.

    The shifts must already be cancelled and flushed in this transaction (see the
    module docstring for why that order keeps accepts in flight out). Their offers
    still open are withdrawn, without waiting for offers being answered right now
    (those find the shift cancelled); the ``deployments.request_changed`` job
    finishes whatever this leaves. Returns the bookings cancelled.
    """
    from zorgreserve.callups.booking import withdraw_open_offers_for_filled_shifts
    from zorgreserve.callups.waves import refresh_offered

    ids = sorted(set(shift_ids))
    if not ids:
        return []
    reasons = dict(session.execute(select(Shift.id, Shift.cancel_reason).where(Shift.id.in_(ids))).all())
    bookings = _held(session, ids)
    for shift_id in ids:
        take_back(session, [b for b in bookings if b.shift_id == shift_id], reasons.get(shift_id), now)
    for booking in bookings:
        record(
            "booking.cancelled_with_shift",
            actor=actor,
            subject_type="booking",
            subject_id=booking.id,
            shift_id=booking.shift_id,
            reservist_id=booking.reservist_id,
        )
    _tell(session, bookings, CANCELLED, request_id)
    withdraw_open_offers_for_filled_shifts(session, ids, now, skip_locked=True)
    refresh_offered(ids)
    return bookings


def release_latest(
    session: Session, shift: Shift, places: int, *, actor: Any, reason: str | None, now: datetime
) -> list[Booking]:
    """Lower a shift's places below its bookings: the most recently booked are cancelled first.

    ``shift`` must be locked by the caller and read fresh (its ``booked`` counter is
    the truth at this moment). Sets ``places`` and returns the bookings released,
    each told at once.
    """
    excess = shift.booked - places
    if excess <= 0:
        return []
    latest = list(
        session.scalars(
            select(Booking)
            .where(Booking.shift_id == shift.id, Booking.status.in_(HELD))
            .order_by(Booking.created_at.desc(), Booking.id.desc())
            .limit(excess)
            .with_for_update(key_share=True, of=Booking)
            .execution_options(populate_existing=True)
        )
    )
    take_back(session, latest, reason, now)
    session.execute(
        update(Shift)
        .where(Shift.id == shift.id)
        .values(places=places)
        .execution_options(synchronize_session=False)
    )
    session.expire(shift, ["places"])
    for booking in latest:
        record(
            "booking.released_by_institution",
            actor=actor,
            subject_type="booking",
            subject_id=booking.id,
            shift_id=shift.id,
            reservist_id=booking.reservist_id,
            places=places,
        )
    _tell(session, latest, RELEASED, shift.request_id)
    return latest


def release_after_no_show(session: Session, missed: Booking, *, actor: Any, now: datetime) -> list[Booking]:
    """A no-show on a shift of a multi-day request gives the person's later shifts of it to others.

    Someone who did not come (and did not call) cannot be counted on for the next
    days of the same request; waiting to find out leaves the ward short again.
    Their later bookings on the request that have not started are cancelled, each
    told at once (a mistake is put right by calling the contact person, who can ask
    a coordinator to book them again), and the places reopen: the
    ``deployments.request_changed`` job offers them to the shifts' stand-by lists
    first, then to a new wave (or alerts coordinators when a shift starts too soon).
    Returns the bookings released; none on a single-shift request.
    """
    missed_shift = session.get(Shift, missed.shift_id)
    if missed_shift is None:
        return []
    later = list(
        session.scalars(
            select(Booking)
            .join(Shift, Shift.id == Booking.shift_id)
            .where(
                Booking.reservist_id == missed.reservist_id,
                Booking.status.in_(HELD),
                Shift.request_id == missed_shift.request_id,
                Shift.start_at > max(missed_shift.start_at, now),
            )
            .order_by(Booking.id)
            .with_for_update(key_share=True, of=Booking)
            .execution_options(populate_existing=True)
        )
    )
    if not later:
        return []
    take_back(session, later, None, now)
    for booking in later:
        record(
            "booking.released_after_no_show",
            actor=actor,
            subject_type="booking",
            subject_id=booking.id,
            shift_id=booking.shift_id,
            reservist_id=booking.reservist_id,
            missed_booking_id=missed.id,
        )
    _tell(session, later, NO_SHOW, missed_shift.request_id)
    add_job(
        session,
        "deployments.request_changed",
        {
            "request_id": missed_shift.request_id,
            "change": "booking_cancelled",
            "shift_ids": [b.shift_id for b in later],
        },
        description=f"places reopened after a no-show on request {missed_shift.request_id}",
    )
    return later


def _tell(session: Session, bookings: Sequence[Booking], kind: str, request_id: int) -> list[int]:
    """Queue one message per booking and channel (the reservist's choice) and the job that sends them."""
    from zorgreserve.callups.confirmations import queue_messages

    message_ids: list[int] = []
    for booking in bookings:
        reservist = session.get(Reservist, booking.reservist_id)
        if reservist is None:
            continue
        message_ids += queue_messages(
            session, reservist, kind, f"{kind}:{booking.id}", request_id=request_id, booking_id=booking.id
        )
    for start in range(0, len(message_ids), BATCH):
        add_job(
            session,
            "callups.booking_messages",
            {"message_ids": message_ids[start : start + BATCH]},
            queue="messages",
            description=f"{kind} messages for request {request_id}",
        )
    return message_ids


# Withdrawn offers -------------------------------------------------------------------------------


def notify_withdrawn(session: Session, offers: Sequence[Offer], now: datetime) -> list[int]:
    """Tell the holders of withdrawn offers that they need not answer; returns the message ids written.

    Only offers never answered and listing a shift that has not started, and only
    on the channels the offer itself went out on (sent, delivered, or handed to a
    sender at this moment): someone the call-up never reached is not told it is
    gone. Once per offer and channel (``withdrawn:<offer>:<channel>``), whoever
    calls this how often.
    """
    unanswered = [o for o in offers if o.answered_at is None]
    if not unanswered:
        return []
    ids = [o.id for o in unanswered]
    ahead = sorted(
        set(
            session.scalars(
                select(OfferShift.offer_id)
                .join(Shift, Shift.id == OfferShift.shift_id)
                .where(OfferShift.offer_id.in_(ids), Shift.start_at > now)
            )
        )
    )
    if not ahead:
        return []
    reached = session.execute(
        select(Message.offer_id, Message.channel)
        .where(
            Message.offer_id.in_(ahead),
            Message.kind == "offer",
            or_(
                Message.status.in_([MessageStatus.SENT.value, MessageStatus.DELIVERED.value]),
                and_(Message.status == MessageStatus.QUEUED.value, Message.claimed_at.is_not(None)),
            ),
        )
        .order_by(Message.offer_id, Message.channel)
    ).all()
    by_id = {o.id: o for o in unanswered}
    written: list[int] = []
    for offer_id, channel in reached:
        offer = by_id[offer_id]
        message_id = _queue_once(
            session,
            Message(
                dedupe_key=f"withdrawn:{offer_id}:{channel}",
                kind=WITHDRAWN,
                channel=Channel(channel).value,
                reservist_id=offer.reservist_id,
                request_id=offer.request_id,
                offer_id=offer_id,
                created_at=now,
            ),
        )
        if message_id is not None:
            written.append(message_id)
    for start in range(0, len(written), BATCH):
        add_job(
            session,
            "callups.send_messages",
            {"message_ids": written[start : start + BATCH]},
            queue="messages",
            description=f"{len(written[start : start + BATCH])} withdrawn-offer notices",
        )
    if written:
        record(
            "offer.withdrawal_told",
            subject_type="deployment_request",
            subject_id=unanswered[0].request_id,
            messages=len(written),
        )
    return written


def _queue_once(session: Session, message: Message) -> int | None:
    """Write a message unless its dedupe key exists; a concurrent writer's row wins quietly."""
    if session.scalar(select(exists().where(Message.dedupe_key == message.dedupe_key))):
        return None
    try:
        with session.begin_nested():
            session.add(message)
            session.flush()
    except IntegrityError:
        return None
    return message.id
