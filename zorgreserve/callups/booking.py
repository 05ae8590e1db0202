"""Booking: turning an accepted offer into bookings, never more people than places.

This is the contract the answer page, the SMS reply handler and escalation call:

* :func:`accept` books the chosen shifts of one offer, each atomically;
* :func:`decline` records a "no";
* :func:`withdraw_open_offers_for_filled_shifts` takes filled (or cancelled) shifts
  out of offers still waiting for an answer, and tells the holders of offers
  withdrawn because the institution cancelled or lowered places
  (:mod:`zorgreserve.callups.changes`).

How one accept stays correct under any number of concurrent accepts:

1. The offer row is locked (``FOR NO KEY UPDATE``): a double tap or two devices
   answering the same offer run one after the other, and the second finds the
   answer recorded and returns it unchanged (:class:`AcceptResult` is rebuilt
   from the offer's shifts).
2. The reservist's row is locked the same way, so two accepts of one person
   (two offers, two requests) are checked one after the other against the
   bookings the other made: overlap and the working-time rules see everything.
3. Overlap and the working-time rules are checked on the whole resulting set
   (existing active bookings and declared work elsewhere, plus every chosen
   shift). The night-series rule is not monotone (see
   :mod:`zorgreserve.matching.worktime`), so after booking, when some chosen
   shifts went to stand-by, the set actually booked is checked again.
4. On PostgreSQL each chosen shift with a free place needs a token first, taken without
   waiting (:func:`_places_in_flight`): when every free place is being taken by accepts in
   flight, the shift is answered "stand-by" at once instead of queueing on its row to lose.
5. A place is taken by one conditional update — ``UPDATE shift SET booked =
   booked + 1 WHERE id = :id AND booked < places AND state = 'active'`` — in one
   savepoint with the insert of the booking. In the usual case (every chosen
   shift read with a free place) the bookings, the answer and the audit rows are
   written first and the updates come last (:func:`_book_all`); otherwise each
   shift in its own savepoint, insert first, update last. No row: the shift is
   full, the reservist goes on its stand-by list. An integrity error (the unique
   shift/reservist pair, or on PostgreSQL the exclusion constraint on overlapping
   active bookings) rolls the savepoint back, counter included.
6. Locks are always taken in the same order — offer, reservist, shifts by id,
   request — so concurrent accepts wait for each other but never deadlock.
7. The shift rows stay locked only from the conditional updates to the commit:
   when places were taken, :func:`accept` commits at once (with a
   ``callups.after_booking`` job that repeats the follow-up), and only then, in the
   caller's transaction and with no shift locked, withdraws other offers of the
   filled shifts (skipping offers locked by their own answer at this moment:
   they will find the shift full; the job finishes the rest) and commits that, then
   refreshes the request's fill state (unless another follow-up holds the request)
   and approves automatically where the surge phase says so.

Services never commit, with that exception (the booking, then the withdrawal); the caller
commits once more.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import literal, select, text, union_all, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from zorgreserve import db
from zorgreserve.audit.services import record
from zorgreserve.callups.models import (
    ACTIVE_BOOKING,
    OPEN_OFFER,
    Booking,
    Channel,
    Message,
    Offer,
    OfferShift,
    OfferShiftStatus,
    OfferStatus,
    StandbyEntry,
)
from zorgreserve.db import utcnow
from zorgreserve.deployments.models import DeploymentRequest, Shift, ShiftState
from zorgreserve.jobs.services import add_job
from zorgreserve.matching import worktime
from zorgreserve.reservists.models import Reservist

log = logging.getLogger(__name__)

OS = OfferShiftStatus

#: Reason codes of :attr:`AcceptResult.refused` (and :attr:`OfferShift.refusal`).
OVERLAP = "overlap"  # the reservist has (or chose) another shift at the same time
WORKTIME = "worktime"  # the working-time rules forbid it (the rule codes are in ``AcceptResult.rules``)
CANCELLED = "cancelled"  # the institution cancelled the shift
STARTED = "started"  # the shift has begun
NOT_OFFERED = "not_offered"  # the shift is not (or no longer) part of this offer
REFUSALS = (OVERLAP, WORKTIME, CANCELLED, STARTED, NOT_OFFERED)


class OfferClosed(Exception):
    """The offer can no longer be answered; ``reason`` says why.

    ``expired``, ``withdrawn`` (its shifts filled or were cancelled), ``declined``
    (answered no earlier), ``answered`` (answered yes earlier, with other shifts),
    ``unknown`` (no such offer).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NothingChosen(ValueError):
    """An accept without any shift: ask the reservist to choose, or to decline."""


class TryAgain(Exception):
    """Another transaction holds the shift longer than the lock timeout: nothing changed, retry."""


@dataclass
class AcceptResult:
    """What became of each chosen shift (shift ids)."""

    booked: list[int] = field(default_factory=list)
    standby: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)
    #: For ``worktime`` refusals: the rule codes broken (``rest_too_short``, ``weekly_hours`` ...).
    rules: dict[int, list[str]] = field(default_factory=dict)
    #: True when the answer had been recorded before and this call changed nothing.
    repeated: bool = False
    booking_ids: list[int] = field(default_factory=list)


# Locks -------------------------------------------------------------------------------------


def _lock_offer(session: Session, offer_id: int) -> Offer | None:
    if session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks: write first, so the transaction holds the database's write
        # lock from its start (waiting up to busy_timeout) instead of failing to upgrade later.
        session.execute(update(Offer).where(Offer.id == offer_id).values(id=Offer.id))
    return session.scalar(
        select(Offer)
        .where(Offer.id == offer_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )


def _lock_reservist(session: Session, reservist_id: int) -> Reservist | None:
    return session.scalar(
        select(Reservist)
        .where(Reservist.id == reservist_id)
        .with_for_update(key_share=True, of=Reservist)
        .execution_options(populate_existing=True)
    )


def _offer_shifts(session: Session, offer_id: int) -> dict[int, OfferShift]:
    """The offer's shifts, read after the offer's lock was granted.

    Not joined to the locking statement: after waiting for the lock PostgreSQL returns
    the offer as committed by the answer it waited for, but joined rows as they were
    when the statement began, so a repeated answer would see its shifts still offered.
    """
    rows = session.scalars(
        select(OfferShift).where(OfferShift.offer_id == offer_id).execution_options(populate_existing=True)
    )
    return {row.shift_id: row for row in rows}


def _is_lock_timeout(exc: OperationalError) -> bool:
    text = str(exc).lower()
    return (
        getattr(exc.orig, "sqlstate", None) == "55P03"
        or "lock timeout" in text
        or "database is locked" in text
    )


# Recorded answers --------------------------------------------------------------------------


def _recorded(rows: dict[int, OfferShift], wanted: Iterable[int]) -> AcceptResult | None:
    """The outcome an earlier accept recorded for these shifts, or None if one was not accepted."""
    result = AcceptResult(repeated=True)
    for shift_id in wanted:
        row = rows.get(shift_id)
        if row is None:
            return None
        if row.status == OS.ACCEPTED.value:
            result.booked.append(shift_id)
        elif row.status == OS.STANDBY.value:
            result.standby.append(shift_id)
        elif row.status == OS.DECLINED.value and row.refusal:
            result.refused[shift_id] = row.refusal
        else:
            return None
    return result


def _closed_reason(offer: Offer, now: datetime) -> str | None:
    if offer.status in OPEN_OFFER:
        return "expired" if offer.expires_at <= now else None
    return {
        OfferStatus.EXPIRED.value: "expired",
        OfferStatus.WITHDRAWN.value: "withdrawn",
        OfferStatus.DECLINED.value: "declined",
    }.get(offer.status, "answered")


# Working time ------------------------------------------------------------------------------


def _rules() -> worktime.WorkTimeRules:
    return worktime.WorkTimeRules.from_config(current_app.config)


def _existing_work(session: Session, reservist_id: int, shifts: list[Shift]) -> list[worktime.Interval]:
    """Active bookings and declared work elsewhere near the chosen shifts, as intervals.

    Bookings count with the times worked where the roster recorded them (the same
    rule as matching, :func:`zorgreserve.matching.loading.worked_times`): a shift that
    ran three hours late pushes the next rest back here too, at the moment of booking.
    """
    from zorgreserve.availability.models import AvailabilityPeriod
    from zorgreserve.matching.loading import worked_times
    from zorgreserve.shifts.models import TimesheetEntry

    if not shifts:
        return []
    margin = timedelta(days=21)
    lo = min(s.start_at for s in shifts) - margin
    hi = max(s.end_at for s in shifts) + margin
    start_at, end_at, _break = worked_times()
    booked = (
        select(start_at, end_at, literal(worktime.Kind.BOOKED.value).label("kind"))
        .select_from(Booking)
        .outerjoin(TimesheetEntry, TimesheetEntry.booking_id == Booking.id)
        .where(
            Booking.reservist_id == reservist_id,
            Booking.status.in_([s.value for s in ACTIVE_BOOKING]),
            Booking.end_at > lo - timedelta(days=1),
            Booking.start_at < hi,
        )
    )
    other_work = select(
        AvailabilityPeriod.starts_at, AvailabilityPeriod.ends_at, literal(worktime.Kind.OTHER_WORK.value)
    ).where(
        AvailabilityPeriod.reservist_id == reservist_id,
        AvailabilityPeriod.kind == "unavailable",
        AvailabilityPeriod.reason == "work",
        AvailabilityPeriod.ends_at > lo,
        AvailabilityPeriod.starts_at < hi,
    )
    # One round trip for both: every accept that gets this far asks it.
    rows = session.execute(union_all(booked, other_work)).all()
    intervals = [
        worktime.Interval(start, end, worktime.Kind(kind)) for start, end, kind in rows if end > start
    ]
    return intervals


def _interval(shift: Shift) -> worktime.Interval:
    return worktime.Interval(shift.start_at, shift.end_at, worktime.Kind.PROPOSED)


def _first_conflict(
    existing: list[worktime.Interval],
    chosen: list[Shift],
    rules: worktime.WorkTimeRules,
    weekly_max: int | None,
) -> tuple[Shift, str, list[str]] | None:
    """The chosen shift to give up first, and why; None when the whole set may be worked.

    Overlap with existing work comes first; then the latest shift named by a
    working-time violation is dropped (the earlier ones were chosen first in time),
    and the caller checks the rest again — dropping one can matter for the others.
    """
    booked = [i for i in existing if i.kind == worktime.Kind.BOOKED]
    for shift in chosen:
        if any(i.start < shift.end_at and shift.start_at < i.end for i in booked):
            return shift, OVERLAP, []
    ordered = sorted(chosen, key=lambda s: (s.start_at, s.id))
    for index, shift in enumerate(ordered[1:], start=1):
        if any(o.start_at < shift.end_at and shift.start_at < o.end_at for o in ordered[:index]):
            return shift, OVERLAP, []
    violations = worktime.check(rules, existing, [_interval(s) for s in chosen], weekly_max)
    if not violations:
        return None
    by_interval = {_interval(s): s for s in chosen}
    named = [by_interval[v.interval] for v in violations if v.interval in by_interval]
    victim = max(named, key=lambda s: (s.start_at, s.id))
    codes = sorted({str(v.code) for v in violations if v.interval == _interval(victim)})
    if codes == [worktime.Code.OVERLAP.value]:
        return victim, OVERLAP, []
    return victim, WORKTIME, codes


def _settle(
    existing: list[worktime.Interval],
    chosen: list[Shift],
    rules: worktime.WorkTimeRules,
    weekly_max: int | None,
) -> tuple[list[Shift], dict[int, tuple[str, list[str]]]]:
    """Drop chosen shifts one by one until the rest keeps every rule; returns (kept, dropped)."""
    kept = list(chosen)
    dropped: dict[int, tuple[str, list[str]]] = {}
    while kept:
        conflict = _first_conflict(existing, kept, rules, weekly_max)
        if conflict is None:
            break
        shift, reason, codes = conflict
        kept.remove(shift)
        dropped[shift.id] = (reason, codes)
    return kept, dropped


# Accept ------------------------------------------------------------------------------------


def accept(
    session: Session, offer_id: int, shift_ids: Collection[int], *, channel: str, now: datetime
) -> AcceptResult:
    """Book the chosen shifts of an open offer; see the module docstring for the guarantees.

    Raises :class:`OfferClosed` when the offer cannot be answered (and the shifts
    were not accepted before: a repeated accept returns the recorded outcome with
    ``repeated=True``), :class:`NothingChosen` without shifts and :class:`TryAgain`
    when a lock is held too long. Does not commit.
    """
    wanted = sorted({int(s) for s in shift_ids})
    if not wanted:
        raise NothingChosen("choose at least one shift")
    try:
        return _accept(session, offer_id, wanted, channel=channel, now=now)
    except OperationalError as exc:
        if _is_lock_timeout(exc):
            raise TryAgain(str(offer_id)) from exc
        raise


def _accept(
    session: Session, offer_id: int, wanted: list[int], *, channel: str, now: datetime
) -> AcceptResult:
    offer = _lock_offer(session, offer_id)
    if offer is None:
        raise OfferClosed("unknown")
    closed = _closed_reason(offer, now)
    if closed is not None:
        # Most late answers are to offers withdrawn or expired unanswered: nothing recorded to
        # repeat, so their shifts are not read (the burst after a shift fills is made of these).
        if offer.answered_at is not None:
            recorded = _recorded(_offer_shifts(session, offer.id), wanted)
            if recorded is not None:
                return recorded
        raise OfferClosed(closed)
    rows = _offer_shifts(session, offer.id)
    reservist = _lock_reservist(session, offer.reservist_id)
    if reservist is None:
        raise OfferClosed("unknown")

    result = AcceptResult()
    candidates: list[Shift] = []
    shifts = {
        s.id: s
        for s in session.scalars(
            select(Shift).where(Shift.id.in_(wanted)).execution_options(populate_existing=True)
        )
    }
    for shift_id in wanted:
        row = rows.get(shift_id)
        shift = shifts.get(shift_id)
        if row is None or shift is None or row.status not in (OS.OFFERED.value, OS.WITHDRAWN.value):
            result.refused[shift_id] = NOT_OFFERED
        elif shift.state != ShiftState.ACTIVE.value:
            result.refused[shift_id] = CANCELLED
        elif shift.start_at <= now:
            result.refused[shift_id] = STARTED
        else:
            candidates.append(shift)

    rules = _rules()
    existing = _existing_work(session, reservist.id, candidates)
    weekly_max = reservist.max_hours_per_week
    kept, dropped = _settle(existing, candidates, rules, weekly_max)
    for shift_id, (reason, codes) in dropped.items():
        result.refused[shift_id] = reason
        if codes:
            result.rules[shift_id] = codes

    if kept and all(s.booked < s.places for s in kept):
        # Shifts whose every free place another accept is taking right now are answered "stand-by"
        # at once, instead of writing a booking only to queue behind the others and lose.
        in_flight = _places_in_flight(session, kept)
        result.standby.extend(sorted(in_flight))
        kept = [s for s in kept if s.id not in in_flight]
    if kept and not result.standby and all(s.booked < s.places for s in kept):
        booked = _book_all(session, offer, rows, result, kept, reservist.id, channel=channel, now=now)
        if booked is not None:
            return booked
        # A place went while this accept waited for it: read the counters again, so that a shift
        # now full is answered "stand-by" below without queueing on its row a second time.
        session.scalars(
            select(Shift).where(Shift.id.in_([s.id for s in kept])).execution_options(populate_existing=True)
        ).all()

    bookings: dict[int, Booking] = {}
    for shift in sorted(kept, key=lambda s: s.id):
        outcome = _book_one(session, shift, reservist.id, offer.id, now)
        if isinstance(outcome, Booking):
            bookings[shift.id] = outcome
        else:
            if outcome == "full":
                result.standby.append(shift.id)
            else:
                result.refused[shift.id] = outcome

    if result.standby and bookings:
        # Fewer shifts booked than checked: the smaller set is checked again (non-monotone rules).
        booked_shifts = [shifts[sid] for sid in bookings]
        _kept, dropped_now = _settle(existing, booked_shifts, rules, weekly_max)
        for shift_id, (reason, codes) in dropped_now.items():
            _unbook(session, bookings.pop(shift_id), shift_id)
            result.refused[shift_id] = reason
            if codes:
                result.rules[shift_id] = codes

    result.booked = sorted(bookings)
    result.booking_ids = [bookings[sid].id for sid in result.booked]
    _record_answer(session, offer, rows, result, channel=channel, now=now)
    if result.standby:
        _add_standby(session, reservist.id, offer.id, result.standby)
        # The "you are on the stand-by list" messages are written by their job: the answer page
        # already says so, and the burst of answers to a wave is the moment to do least.
        add_job(
            session,
            "callups.standby_messages",
            {"offer_id": offer.id},
            description=f"stand-by messages for offer {offer.id}",
        )
    for shift_id in result.booked:
        record(
            "booking.created",
            subject_type="booking",
            subject_id=bookings[shift_id].id,
            shift_id=shift_id,
            offer_id=offer.id,
            reservist_id=reservist.id,
        )
    record(
        "offer.accepted",
        subject_type="callup_offer",
        subject_id=offer.id,
        channel=channel,
        booked=result.booked,
        standby=result.standby,
        refused={str(k): v for k, v in result.refused.items()},
    )
    if not bookings:
        return result
    filled = list(
        session.scalars(select(Shift.id).where(Shift.id.in_(result.booked), Shift.booked >= Shift.places))
    )
    _queue_follow_up(session, offer, result.booked)
    # The places are taken: commit now, so that the shift rows are locked only from the conditional
    # update to here, never while the follow-up below runs (the other accepts queue on that lock).
    session.commit()
    _follow_up_now(session, offer, result.booked, filled, now)
    return result


#: One token among the places not booked now (the counters as committed at this statement). A
#: shift cancelled meanwhile still gives one: the conditional update then answers "cancelled".
_TAKE_TOKEN = text(
    "SELECT k FROM shift, generate_series(shift.booked + 1, shift.places) AS k"
    " WHERE shift.id = :shift_id"
    " AND pg_try_advisory_xact_lock(shift.id, k) LIMIT 1"
)


def _places_in_flight(session: Session, shifts: list[Shift]) -> set[int]:
    """The shifts (ids) whose every free place another transaction is taking at this moment.

    On PostgreSQL each free place of a shift has a token, a transaction-level advisory
    lock keyed ``(shift id, place number)`` for the places after those booked (as committed
    at that moment). An accept takes one without waiting
    (``pg_try_advisory_xact_lock``) and holds it until its commit. When the burst of a
    wave's first answers comes in, the accepts beyond the number of places find every
    token held, and are answered "stand-by" straight away: without this each of them
    wrote a booking, queued on the shift's row behind the bookings in flight and lost.

    The token only decides who may try; the conditional update still decides who gets
    the place, so a stale token (counters changed since they were read) can cost a wait
    but never a place too many. If a token holder then books nothing (a refusal, a crash)
    a place stays free while those turned away wait on the stand-by list: the shift's
    other offers stay open, and the call-up clock asks the stand-by list first.
    SQLite, which runs one writer at a time, has nothing to take.
    """
    if session.get_bind().dialect.name != "postgresql":
        return set()
    busy: set[int] = set()
    for shift in sorted(shifts, key=lambda s: s.id):
        token = session.execute(_TAKE_TOKEN, {"shift_id": shift.id}).scalar()
        if token is None:
            busy.add(shift.id)
    return busy


def _book_all(
    session: Session,
    offer: Offer,
    rows: dict[int, OfferShift],
    result: AcceptResult,
    kept: list[Shift],
    reservist_id: int,
    *,
    channel: str,
    now: datetime,
) -> AcceptResult | None:
    """The usual case, every chosen shift read with a free place: book them all, places taken last.

    The bookings, the answer and the audit rows are written first and the conditional
    updates come last, just before the commit, so the shift rows are locked only for those
    updates and the commit. If a place is gone (or an insert is refused) the savepoint rolls
    everything back and ``None`` sends the caller down the shift-by-shift path.
    """
    ordered = sorted(kept, key=lambda s: s.id)
    try:
        with session.begin_nested():
            bookings = {
                shift.id: Booking(
                    shift_id=shift.id,
                    reservist_id=reservist_id,
                    offer_id=offer.id,
                    start_at=shift.start_at,
                    end_at=shift.end_at,
                    created_at=now,
                )
                for shift in ordered
            }
            session.add_all(bookings.values())
            session.flush()
            result.booked = sorted(bookings)
            result.booking_ids = [bookings[sid].id for sid in result.booked]
            _record_answer(session, offer, rows, result, channel=channel, now=now)
            for shift_id in result.booked:
                record(
                    "booking.created",
                    subject_type="booking",
                    subject_id=bookings[shift_id].id,
                    shift_id=shift_id,
                    offer_id=offer.id,
                    reservist_id=reservist_id,
                )
            record(
                "offer.accepted",
                subject_type="callup_offer",
                subject_id=offer.id,
                channel=channel,
                booked=result.booked,
                standby=[],
                refused={str(k): v for k, v in result.refused.items()},
            )
            # The follow-up job is written before the places are taken: between the conditional
            # updates and the commit nothing else may hold the shift rows.
            _queue_follow_up(session, offer, result.booked)
            session.flush()
            filled = []
            for shift in ordered:
                now_full = session.execute(
                    update(Shift)
                    .where(
                        Shift.id == shift.id,
                        Shift.booked < Shift.places,
                        Shift.state == ShiftState.ACTIVE.value,
                    )
                    .values(booked=Shift.booked + 1)
                    .returning(Shift.booked >= Shift.places)
                    .execution_options(synchronize_session=False)
                ).scalar()
                if now_full is None:
                    raise _NoPlace()
                if now_full:
                    filled.append(shift.id)
    except (_NoPlace, IntegrityError):
        result.booked, result.booking_ids = [], []
        return None
    session.commit()
    _follow_up_now(session, offer, result.booked, filled, now)
    return result


def _follow_up_now(
    session: Session, offer: Offer, booked: list[int], filled: list[int], now: datetime
) -> None:
    """Run the follow-up of a committed booking; a lock held too long here is left to the job.

    The booking stands whatever happens now, so a lock timeout in the follow-up must not
    turn the accept into "try again": its transaction is rolled back and the
    ``callups.after_booking`` job queued with the booking does the work.
    """
    try:
        _after_booking(session, offer.id, offer.request_id, booked, filled, now)
    except OperationalError as exc:
        if not _is_lock_timeout(exc):
            raise
        session.rollback()
        log.warning("offer %s: follow-up left to its job (lock timeout)", offer.id)


def _queue_follow_up(session: Session, offer: Offer, booked: list[int]) -> None:
    """Safety net, in the booking's own transaction: the follow-up again, as a job.

    The accept runs the follow-up itself right after its commit (withdrawal of the
    filled shifts' other offers, the request's fill state, automatic approval). A
    process that dies between that commit and the follow-up would leave it undone; the
    job, which exists exactly when the booking does, finishes it. Every step is
    idempotent, so running it after a follow-up that did complete changes nothing.
    """
    add_job(
        session,
        "callups.after_booking",
        {"offer_id": offer.id, "request_id": offer.request_id, "booked": booked},
        description=f"follow-up of a booking on request {offer.request_id}",
    )


def _queue_booking_messages(session: Session, offer_id: int, messages: list[int]) -> None:
    if messages:
        add_job(
            session,
            "callups.booking_messages",
            {"message_ids": messages},
            description=f"booking messages for offer {offer_id}",
        )


def _book_one(
    session: Session, shift: Shift, reservist_id: int, offer_id: int, now: datetime
) -> Booking | str:
    """Take one place and insert the booking, together or not at all; else why not.

    A shift already read as full or cancelled is answered without touching its row: the
    conditional update would only queue behind the bookings in flight to learn the same.
    """
    if shift.state != ShiftState.ACTIVE.value:
        return CANCELLED
    if shift.booked >= shift.places:
        return "full"
    try:
        with session.begin_nested():
            # The booking first, the place last: the shift row is locked from the update to the
            # commit, and everything done before it (the insert and its constraint checks) is
            # done without holding it. The insert takes no lock the update waits for.
            booking = Booking(
                shift_id=shift.id,
                reservist_id=reservist_id,
                offer_id=offer_id,
                start_at=shift.start_at,
                end_at=shift.end_at,
                created_at=now,
            )
            session.add(booking)
            session.flush()
            taken = session.execute(
                update(Shift)
                .where(
                    Shift.id == shift.id,
                    Shift.booked < Shift.places,
                    Shift.state == ShiftState.ACTIVE.value,
                )
                .values(booked=Shift.booked + 1)
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount != 1:
                raise _NoPlace()
            return booking
    except _NoPlace:
        state = session.scalar(select(Shift.state).where(Shift.id == shift.id))
        return "full" if state == ShiftState.ACTIVE.value else CANCELLED
    except IntegrityError:
        return OVERLAP


class _NoPlace(Exception):
    """The conditional update found no place: the savepoint (with the booking) is rolled back."""


def _unbook(session: Session, booking: Booking, shift_id: int) -> None:
    session.delete(booking)
    session.execute(
        update(Shift)
        .where(Shift.id == shift_id)
        .values(booked=Shift.booked - 1)
        .execution_options(synchronize_session=False)
    )
    session.flush()


def _record_answer(
    session: Session,
    offer: Offer,
    rows: dict[int, OfferShift],
    result: AcceptResult,
    *,
    channel: str,
    now: datetime,
) -> None:
    booked, standby = set(result.booked), set(result.standby)
    for shift_id, row in rows.items():
        if shift_id in booked:
            row.status = OS.ACCEPTED.value
        elif shift_id in standby:
            row.status = OS.STANDBY.value
        elif shift_id in result.refused and row.status in (OS.OFFERED.value, OS.WITHDRAWN.value):
            row.status, row.refusal = OS.DECLINED.value, result.refused[shift_id]
        elif row.status == OS.OFFERED.value:
            row.status = OS.DECLINED.value  # offered but not chosen
        else:
            continue
        row.answered_at = now
    still_offered = [r for r in rows.values() if r.status != OS.WITHDRAWN.value]
    taken = booked | standby
    if taken and all(r.shift_id in taken for r in still_offered):
        offer.status = OfferStatus.ACCEPTED.value
    elif taken:
        offer.status = OfferStatus.PARTIALLY_ACCEPTED.value
    else:
        offer.status = OfferStatus.DECLINED.value
    offer.answered_at, offer.answer_channel = now, channel
    session.flush()


def _add_standby(session: Session, reservist_id: int, offer_id: int, shift_ids: list[int]) -> None:
    """Put the reservist on the stand-by lists of ``shift_ids``; already there stays (first come)."""
    session.execute(
        db.insert_ignoring_duplicates(session, StandbyEntry.__table__)
        .values(
            [
                {"shift_id": sid, "reservist_id": reservist_id, "offer_id": offer_id, "created_at": utcnow()}
                for sid in shift_ids
            ]
        )
        .on_conflict_do_nothing(index_elements=["shift_id", "reservist_id"])
    )


def _after_booking(
    session: Session, offer_id: int, request_id: int, booked: list[int], filled: list[int], now: datetime
) -> None:
    """After the booking committed: other offers of shifts now full, the request's fill state, approval.

    Runs in the caller's transaction, without any shift locked. Withdrawal skips offers being
    answered at this moment (they will find the shift full); the job queued with the booking
    finishes it.
    """
    if filled:
        _withdraw(session, filled, now, exclude_offer=offer_id, skip_locked=True, notify=False)
        # Answers to the offers just withdrawn wait for these row locks: release them at once.
        session.commit()
    # Another booking of the request refreshing its fill state at this moment is not waited for:
    # the job queued with this booking refreshes it again (concurrent accepts queued here one
    # behind the other, each holding the request until its caller's commit).
    refresh_request(session, request_id, skip_locked=True)
    bookings = list(
        session.scalars(select(Booking).where(Booking.offer_id == offer_id, Booking.shift_id.in_(booked)))
    )
    _queue_booking_messages(session, offer_id, _approve_if_automatic(session, request_id, bookings, now))


def refresh_request(
    session: Session, request_id: int, *, skip_locked: bool = False
) -> DeploymentRequest | None:
    """Lock the request, re-read its shifts' counters and set open / partially filled / filled.

    The row lock (taken after the shift locks, always) makes the last of several
    concurrent bookings see every counter, and keeps the request's version
    counter from going stale under the ORM's optimistic check. With ``skip_locked``
    a request locked by another transaction is left alone and None returned: for
    callers that have a job queued to refresh it again.
    """
    from zorgreserve.deployments.services import refresh_fill_state

    request = session.scalar(
        select(DeploymentRequest)
        .where(DeploymentRequest.id == request_id)
        .with_for_update(key_share=True, of=DeploymentRequest, skip_locked=skip_locked)
        .execution_options(populate_existing=True)
    )
    if request is None and skip_locked:
        return None
    assert request is not None
    session.scalars(
        select(Shift).where(Shift.request_id == request_id).execution_options(populate_existing=True)
    ).all()
    refresh_fill_state(request)
    return request


def _approve_if_automatic(
    session: Session, request_id: int, bookings: list[Booking], now: datetime
) -> list[int]:
    from zorgreserve.callups.approval import approve_automatically_if_policy

    return approve_automatically_if_policy(session, request_id, bookings, now)


# Decline -----------------------------------------------------------------------------------


def decline(session: Session, offer_id: int, *, reason: str | None, channel: str, now: datetime) -> None:
    """Record a "no" to an open offer: every offered shift declined. A repeated decline changes nothing."""
    offer = _lock_offer(session, offer_id)
    if offer is None:
        raise OfferClosed("unknown")
    if offer.status == OfferStatus.DECLINED.value and offer.answered_at is not None:
        return
    closed = _closed_reason(offer, now)
    if closed is not None:
        raise OfferClosed(closed)
    for row in _offer_shifts(session, offer.id).values():
        if row.status == OS.OFFERED.value:
            row.status, row.answered_at = OS.DECLINED.value, now
    offer.status = OfferStatus.DECLINED.value
    offer.answered_at, offer.answer_channel = now, channel
    offer.decline_reason = (reason or "").strip()[:2000] or None
    session.flush()
    record("offer.declined", subject_type="callup_offer", subject_id=offer.id, channel=channel)


# Withdraw ----------------------------------------------------------------------------------


def withdraw_open_offers_for_filled_shifts(
    session: Session,
    shift_ids: Collection[int],
    now: datetime,
    *,
    notify_all: bool = False,
    skip_locked: bool = False,
) -> int:
    """Take full (or cancelled) shifts out of offers still waiting; returns how many offers were withdrawn.

    An offer left without an offered shift is withdrawn as a whole. Safe to run
    any number of times; waits for offers being answered at this moment (unless
    ``skip_locked``: those will find the shift full or cancelled themselves).

    The holder of a withdrawn offer is told when the institution caused it: a
    listed shift was cancelled, or — ``notify_all`` — the institution lowered the
    places (:func:`zorgreserve.callups.changes.notify_withdrawn`). An offer withdrawn
    because other reservists filled the shift is not: the answer page says so.
    """
    return _withdraw(
        session,
        shift_ids,
        now,
        exclude_offer=None,
        skip_locked=skip_locked,
        notify=True,
        notify_all=notify_all,
    )


def _withdraw(
    session: Session,
    shift_ids: Collection[int],
    now: datetime,
    *,
    exclude_offer: int | None,
    skip_locked: bool,
    notify: bool,
    notify_all: bool = False,
) -> int:
    """Withdraw the closed shifts among ``shift_ids`` from open offers; returns the offers emptied.

    Plain statements on ids, no objects: when a shift fills, hundreds of offers are
    withdrawn at once while the accepts still arriving wait for CPU and for these rows.
    """
    ids = sorted(set(shift_ids))
    if not ids:
        return 0
    closed_rows = session.execute(
        select(Shift.id, Shift.state).where(
            Shift.id.in_(ids), (Shift.booked >= Shift.places) | (Shift.state != ShiftState.ACTIVE.value)
        )
    ).all()
    closed = [shift_id for shift_id, _state in closed_rows]
    if not closed:
        return 0
    listing = select(OfferShift.offer_id).where(
        OfferShift.shift_id.in_(closed), OfferShift.status == OS.OFFERED.value
    )
    if exclude_offer is not None:
        listing = listing.where(OfferShift.offer_id != exclude_offer)
    offer_ids = list(
        session.scalars(
            select(Offer.id)
            .where(Offer.id.in_(listing), Offer.status.in_([s.value for s in OPEN_OFFER]))
            .order_by(Offer.id)
            .with_for_update(key_share=True, skip_locked=skip_locked)
        )
    )
    if not offer_ids:
        return 0
    session.execute(
        update(OfferShift)
        .where(
            OfferShift.offer_id.in_(offer_ids),
            OfferShift.shift_id.in_(closed),
            OfferShift.status == OS.OFFERED.value,
        )
        .values(status=OS.WITHDRAWN.value, answered_at=now)
        .execution_options(synchronize_session=False)
    )
    still_offered = (
        select(OfferShift.offer_id)
        .where(OfferShift.offer_id == Offer.id, OfferShift.status == OS.OFFERED.value)
        .exists()
    )
    emptied = list(
        session.scalars(
            update(Offer)
            .where(Offer.id.in_(offer_ids), ~still_offered)
            .values(status=OfferStatus.WITHDRAWN.value)
            .returning(Offer.id)
            .execution_options(synchronize_session=False)
        )
    )
    # Objects of these rows already in the session are told the new values.
    for obj in list(session.identity_map.values()):
        if isinstance(obj, OfferShift) and obj.offer_id in offer_ids and obj.shift_id in closed:
            if obj.status == OS.OFFERED.value:
                set_committed_value(obj, "status", OS.WITHDRAWN.value)
                set_committed_value(obj, "answered_at", now)
        elif isinstance(obj, Offer) and obj.id in emptied:
            set_committed_value(obj, "status", OfferStatus.WITHDRAWN.value)
    if not emptied:
        return 0
    request_id = session.scalar(select(Offer.request_id).where(Offer.id == emptied[0]))
    record(
        "offer.withdrawn",
        subject_type="deployment_request",
        subject_id=request_id,
        offers=len(emptied),
        shift_ids=closed,
    )
    cancelled = [shift_id for shift_id, state in closed_rows if state != ShiftState.ACTIVE.value]
    if notify and (notify_all or cancelled):
        from zorgreserve.callups.changes import notify_withdrawn

        told = emptied if notify_all else _listing(session, emptied, cancelled)
        notify_withdrawn(session, list(session.scalars(select(Offer).where(Offer.id.in_(told)))), now)
    return len(emptied)


def _listing(session: Session, offer_ids: list[int], shift_ids: list[int]) -> list[int]:
    """The offers among ``offer_ids`` that listed one of ``shift_ids``."""
    return sorted(
        set(
            session.scalars(
                select(OfferShift.offer_id).where(
                    OfferShift.offer_id.in_(offer_ids), OfferShift.shift_id.in_(shift_ids)
                )
            )
        )
    )


def after_booking_job(offer_id: int, request_id: int, booked: list[int]) -> None:
    """Outbox job ``callups.after_booking``: a committed booking's follow-up (:func:`_queue_follow_up`)."""
    from zorgreserve import db
    from zorgreserve.db import utcnow

    now = utcnow()
    withdraw_open_offers_for_filled_shifts(db.session, booked, now)  # those now full (or cancelled)
    refresh_request(db.session, request_id)
    bookings = list(
        db.session.scalars(select(Booking).where(Booking.offer_id == offer_id, Booking.shift_id.in_(booked)))
    )
    _queue_booking_messages(
        db.session, offer_id, _approve_if_automatic(db.session, request_id, bookings, now)
    )


def withdraw_filled_job(shift_ids: list[int]) -> None:
    """Outbox job ``callups.withdraw_filled`` (jobs queued before ``callups.after_booking`` replaced it)."""
    from zorgreserve import db
    from zorgreserve.db import utcnow

    withdraw_open_offers_for_filled_shifts(db.session, shift_ids, utcnow())


def channels_of(reservist: Reservist) -> list[str]:
    """The channels a reservist chose for call-up messages."""
    chosen = reservist.channels or "both"
    return [Channel.EMAIL.value, Channel.SMS.value] if chosen == "both" else [chosen]


__all__ = [
    "AcceptResult",
    "Message",
    "NothingChosen",
    "OfferClosed",
    "TryAgain",
    "accept",
    "decline",
    "refresh_request",
    "withdraw_open_offers_for_filled_shifts",
]
