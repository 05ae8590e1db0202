"""Follow-up after a place reopens: the stand-by list first, and bookings at risk after a no-show.

A place reopens when a reservist cancels, a coordinator refuses a booking, or the
institution adds places or shifts. The call-up clock (:func:`escalation.consider`)
then asks, before any new candidate, the people on the shift's **stand-by list**:
those who said yes when it had just filled (:class:`StandbyEntry`, first come
first asked). :func:`offer_standby` writes them a wave of their own — ordinary
offers with a code and a link, sent by the wave sender — for every open place of
a shift that starts after the lead-time cut-off, ``CALLUP_FIRST_K`` people per open
place minus the offers already out for it. Each stand-by entry is asked again at
most once; someone already booked on the shift, holding an offer for it, paused
or withdrawn, or busy at that time is passed over. Only when nobody on the list
is left does the next wave of new candidates follow (one rung up the ladder).

A **no-show** frees no place — the shift has begun — but on a request with shifts
on several days it puts that person's later bookings of the same request at risk.
Those bookings stay (the person may have been ill for a day) and are flagged
(:func:`at_risk`): the coordinators' overview shows the request under "Needs your
attention" and the request page counts them per shift, so someone calls the
person. If the booking is then cancelled, its place reopens as above.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import exists, func, select
from sqlalchemy.orm import aliased

from zorgreserve import db
from zorgreserve.audit.services import record
from zorgreserve.callups import waves
from zorgreserve.callups.models import (
    ACTIVE_BOOKING,
    Booking,
    BookingStatus,
    Offer,
    OfferShift,
    OfferShiftStatus,
    OfferStatus,
    Reach,
    StandbyEntry,
    Wave,
    WaveStatus,
)
from zorgreserve.coordination.filters import LOCAL
from zorgreserve.deployments.models import DeploymentRequest, Shift, ShiftState
from zorgreserve.jobs.services import add_job
from zorgreserve.reservists.models import Reservist


def standby_choice(shifts: Sequence[Shift]) -> dict[int, list[Shift]]:
    """Who on the stand-by lists of these shifts to ask now: reservist id → shifts, first come first."""
    per_place = int(current_app.config["CALLUP_FIRST_K"])
    by_id = {s.id: s for s in shifts}
    ids = sorted(by_id)
    if not ids or not db.session.scalar(select(exists().where(StandbyEntry.shift_id.in_(ids)))):
        return {}  # the usual case on every tick: nobody on these shifts' lists
    out = waves.open_offer_counts(ids)
    wanted = {sid: (s.places - s.booked) * per_place - out.get(sid, 0) for sid, s in by_id.items()}
    wanted = {sid: n for sid, n in wanted.items() if n > 0}
    if not wanted:
        return {}
    entries = list(
        db.session.scalars(
            select(StandbyEntry)
            .where(StandbyEntry.shift_id.in_(sorted(wanted)))
            .order_by(StandbyEntry.created_at, StandbyEntry.id)
        )
    )
    if not entries:
        return {}
    people = sorted({e.reservist_id for e in entries})
    booked = set(
        db.session.execute(
            select(Booking.shift_id, Booking.reservist_id).where(Booking.shift_id.in_(sorted(wanted)))
        ).all()
    )
    offered: dict[tuple[int, int], set[int]] = defaultdict(set)
    for shift_id, reservist_id, offer_id in db.session.execute(
        select(OfferShift.shift_id, Offer.reservist_id, Offer.id)
        .join(Offer, Offer.id == OfferShift.offer_id)
        .where(OfferShift.shift_id.in_(sorted(wanted)), Offer.reservist_id.in_(people))
    ):
        offered[(shift_id, reservist_id)].add(offer_id)
    reservists = {r.id: r for r in db.session.scalars(select(Reservist).where(Reservist.id.in_(people)))}
    busy = _busy(people, [by_id[sid] for sid in wanted])
    chosen: dict[int, list[Shift]] = defaultdict(list)
    for entry in entries:
        shift = by_id[entry.shift_id]
        person = reservists.get(entry.reservist_id)
        if wanted.get(shift.id, 0) <= 0 or person is None:
            continue
        if (shift.id, person.id) in booked:
            continue  # booked (or once booked and cancelled): one booking per person and shift
        if offered[(shift.id, person.id)] - {entry.offer_id}:
            continue  # asked again from the list before, or holding another offer for it
        if not person.is_active_on(shift.start_at.astimezone(LOCAL).date()):
            continue
        if any(s < shift.end_at and shift.start_at < e for s, e in busy.get(person.id, ())):
            continue
        if any(o.start_at < shift.end_at and shift.start_at < o.end_at for o in chosen[person.id]):
            continue
        chosen[person.id].append(shift)
        wanted[shift.id] -= 1
    return {rid: sorted(s, key=lambda x: x.start_at) for rid, s in chosen.items() if s}


def _busy(people: Sequence[int], shifts: Sequence[Shift]) -> dict[int, list[tuple[datetime, datetime]]]:
    """Active bookings of these people around these shifts (an offer they could not accept helps nobody)."""
    if not shifts:
        return {}
    lo, hi = min(s.start_at for s in shifts), max(s.end_at for s in shifts)
    busy: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for reservist_id, start, end in db.session.execute(
        select(Booking.reservist_id, Booking.start_at, Booking.end_at).where(
            Booking.reservist_id.in_(people),
            Booking.status.in_([s.value for s in ACTIVE_BOOKING]),
            Booking.end_at > lo,
            Booking.start_at < hi,
        )
    ):
        busy[reservist_id].append((start, end))
    return busy


def offer_standby(
    request: DeploymentRequest, shifts: Sequence[Shift], now: datetime, *, created_by_id: int | None = None
) -> Wave | None:
    """Offer open places of ``shifts`` to their stand-by lists first; the wave written, or None.

    The caller passes only shifts that may still be called up (running request,
    call-ups running, start after the lead-time cut-off). A racing second call makes
    no second wave: the wave number is unique per request.
    """
    chosen = standby_choice(shifts)
    if not chosen:
        return None
    from zorgreserve.surge.services import effective_phase

    number = (db.session.scalar(select(func.max(Wave.number)).where(Wave.request_id == request.id)) or 0) + 1
    phase = effective_phase(request.region_id)
    expires_at = now + timedelta(minutes=phase.offer_expiry_minutes)
    wave = Wave(
        request_id=request.id,
        number=number,
        status=WaveStatus.PLANNED.value,
        reach=Reach.OWN_REGION.value,
        radius_km=None,
        candidates_per_place=int(current_app.config["CALLUP_FIRST_K"]),
        phase_code=phase.phase.code,
        created_at=now,
        expires_at=expires_at,
        created_by_id=created_by_id,
    )
    db.session.add(wave)
    db.session.flush()  # a racing wave with this number fails here, before any offer
    codes = waves.new_codes(len(chosen))
    for (reservist_id, offered), code in zip(sorted(chosen.items()), codes, strict=True):
        offer = Offer(
            wave_id=wave.id,
            request_id=request.id,
            reservist_id=reservist_id,
            code=code,
            status=OfferStatus.PENDING.value,
            created_at=now,
            expires_at=expires_at,
            score_parts={"standby_list": 1.0},
        )
        offer.shifts = [OfferShift(shift_id=s.id, status=OfferShiftStatus.OFFERED.value) for s in offered]
        db.session.add(offer)
    db.session.flush()
    shift_ids = sorted({s.id for offered in chosen.values() for s in offered})
    waves.refresh_offered(shift_ids)
    add_job(
        db.session,
        "callups.send_wave",
        {"wave_id": wave.id},
        queue="messages",
        description=f"send stand-by wave {wave.number} of request {request.id}",
    )
    record(
        "callups.standby_wave",
        subject_type="deployment_request",
        subject_id=request.id,
        wave=wave.number,
        offers=len(chosen),
        shift_ids=shift_ids,
    )
    return wave


# No-shows -----------------------------------------------------------------------------------------


def at_risk(request_ids: Sequence[int], now: datetime) -> dict[int, dict[int, int]]:
    """Bookings at risk after a no-show: request id → shift id → how many.

    A booking is at risk when it is accepted or approved on a shift of the request
    that has not started, and the same person was a no-show on an earlier shift of
    that request.
    """
    if not request_ids:
        return {}
    later, missed = aliased(Booking), aliased(Booking)
    later_shift, missed_shift = aliased(Shift), aliased(Shift)
    rows = db.session.execute(
        select(later_shift.request_id, later_shift.id, func.count(func.distinct(later.id)))
        .select_from(later)
        .join(later_shift, later_shift.id == later.shift_id)
        .join(missed, missed.reservist_id == later.reservist_id)
        .join(missed_shift, missed_shift.id == missed.shift_id)
        .where(
            later_shift.request_id.in_(request_ids),
            later_shift.state == ShiftState.ACTIVE.value,
            later_shift.start_at > now,
            later.status.in_([BookingStatus.ACCEPTED.value, BookingStatus.APPROVED.value]),
            missed.status == BookingStatus.NO_SHOW.value,
            missed_shift.request_id == later_shift.request_id,
            missed_shift.start_at < later_shift.start_at,
        )
        .group_by(later_shift.request_id, later_shift.id)
    ).all()
    result: dict[int, dict[int, int]] = defaultdict(dict)
    for request_id, shift_id, count in rows:
        result[request_id][shift_id] = count
    return dict(result)
