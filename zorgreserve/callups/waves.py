"""Waves of call-ups: turning a matching proposal into offers, and the escalation ladder.

A wave is written in one transaction: the wave row, one offer per proposed
reservist (with a unique short code for SMS replies and an expiry from the surge
phase policy), the offer's shifts, and the outbox job that sends it. The
database keeps the guarantees: ``(request, number)`` is unique, so two workers
(or two coordinators) racing to start the same wave make one; ``(wave,
reservist)`` is unique, so nobody gets two offers in one wave.

The ladder (``docs/callups.md``) says how each next wave reaches further:

0. own region, ``CALLUP_FIRST_K`` candidates per open place, within ``CALLUP_FIRST_RADIUS_KM``;
1. own region, ``CALLUP_MORE_K`` per place, same radius;
2. own region, ``CALLUP_MORE_K`` per place, as far as each reservist travels;
3. neighbouring regions (if the phase policy reaches that far);
4. national (if the phase policy reaches that far).

Reservists offered anything in this request before are never offered again.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, literal, select, update

from zorgreserve import db
from zorgreserve.callups.models import (
    OPEN_OFFER,
    CallupControl,
    CallupState,
    Offer,
    OfferShift,
    OfferShiftStatus,
    Reach,
    Wave,
    WaveStatus,
)
from zorgreserve.deployments.models import RUNNING, DeploymentRequest, Shift, ShiftState
from zorgreserve.jobs.services import add_job

log = logging.getLogger(__name__)

#: No 0/O, 1/I/L, 2/Z, 5/S, 6/G, 8/B: easy to read aloud and to type on a phone.
CODE_ALPHABET = "ACDEFHJKMNPQRTUVWXY3479"
CODE_LENGTH = 5
_REACH_ORDER = [Reach.OWN_REGION, Reach.NEIGHBOURS, Reach.NATIONAL]
OPEN_WAVE = frozenset({WaveStatus.PLANNED, WaveStatus.SENDING, WaveStatus.SENT})


@dataclass(frozen=True)
class Step:
    """One rung of the escalation ladder: how many candidates per open place, how far."""

    k: int
    reach: Reach
    radius_km: int | None


def ladder(policy_reach: str, config: Any | None = None) -> list[Step]:
    """The ladder for a request under a phase policy reaching ``policy_reach``."""
    config = config or current_app.config
    first_k, more_k = config["CALLUP_FIRST_K"], config["CALLUP_MORE_K"]
    radius = config["CALLUP_FIRST_RADIUS_KM"] or None
    steps = [
        Step(first_k, Reach.OWN_REGION, radius),
        Step(more_k, Reach.OWN_REGION, radius),
        Step(more_k, Reach.OWN_REGION, None),
    ]
    allowed = _REACH_ORDER.index(Reach(policy_reach))
    for reach in _REACH_ORDER[1 : allowed + 1]:
        steps.append(Step(more_k, reach, None))
    # Drop repeated rungs (e.g. no first radius configured) so each wave reaches further.
    unique: list[Step] = []
    for step in steps:
        if step not in unique:
            unique.append(step)
    return unique


def new_codes(count: int, taken: Iterable[str] = ()) -> list[str]:
    """``count`` fresh offer codes, unique among themselves, ``taken`` and the codes in the database."""
    taken_set = set(taken)
    codes: list[str] = []
    while len(codes) < count:
        wanted = count - len(codes)
        batch = {"".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH)) for _ in range(wanted)}
        batch -= taken_set
        batch -= set(codes)
        if batch:
            existing: set[str] = set()
            listed = list(batch)
            for start in range(0, len(listed), 900):
                existing |= set(
                    db.session.scalars(select(Offer.code).where(Offer.code.in_(listed[start : start + 900])))
                )
            codes.extend(batch - existing)
    return codes[:count]


def control_for(request_id: int, *, lock: bool = False) -> CallupControl:
    """The request's call-up control row, created on first use.

    With ``lock`` the row is locked until the commit, so the call-up clock's decisions for
    one request — the tick, a coordinator's "next wave", the first wave, a reopened place,
    pause or stop — are taken one after the other: two at the same moment make one wave,
    where both used to find no wave out and the second failed on the wave number (or on
    creating this very row).
    """
    session = db.session
    control = session.get(CallupControl, request_id)
    if control is None or lock:
        # Created by one statement that ignores a row a concurrent transaction just made.
        session.execute(
            db.insert_ignoring_duplicates(session, CallupControl.__table__)
            .values(request_id=request_id, state=CallupState.RUNNING.value, ladder_step=0)
            .on_conflict_do_nothing(index_elements=["request_id"])
        )
    if lock and session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks: writing first takes the database's write lock for the transaction.
        session.execute(
            update(CallupControl)
            .where(CallupControl.request_id == request_id)
            .values(request_id=CallupControl.request_id)
        )
    if control is None or lock:
        query = select(CallupControl).where(CallupControl.request_id == request_id)
        if lock:
            query = query.with_for_update()
        control = session.scalar(query.execution_options(populate_existing=True))
    assert control is not None
    return control


def offered_before(request_id: int) -> set[int]:
    return set(db.session.scalars(select(Offer.reservist_id).where(Offer.request_id == request_id)))


def open_wave(request_id: int) -> Wave | None:
    return db.session.scalar(
        select(Wave)
        .where(Wave.request_id == request_id, Wave.status.in_([s.value for s in OPEN_WAVE]))
        .order_by(Wave.number.desc())
        .limit(1)
    )


def open_offer_counts(shift_ids: Iterable[int]) -> dict[int, int]:
    """Offers out and not yet answered, per shift (shifts without any are left out)."""
    return dict(
        db.session.execute(
            select(OfferShift.shift_id, func.count())
            .join(Offer, Offer.id == OfferShift.offer_id)
            .where(
                OfferShift.shift_id.in_(list(shift_ids)),
                OfferShift.status == OfferShiftStatus.OFFERED.value,
                Offer.status.in_([s.value for s in OPEN_OFFER]),
            )
            .group_by(OfferShift.shift_id)
        ).all()
    )


def refresh_offered(shift_ids: Iterable[int]) -> None:
    """Recount ``Shift.offered`` (offers out, not yet answered) for these shifts from the offer rows."""
    ids = sorted(set(shift_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        counts = open_offer_counts(chunk)
        for shift_id in chunk:
            db.session.execute(
                update(Shift)
                .where(Shift.id == shift_id)
                .values(offered=counts.get(shift_id, 0))
                .execution_options(synchronize_session=False)
            )


def _offer_expiry(request: DeploymentRequest, now: datetime) -> datetime:
    from zorgreserve.surge.services import effective_phase

    return now + timedelta(minutes=effective_phase(request.region_id).offer_expiry_minutes)


def create_wave(
    request: DeploymentRequest,
    proposal: Any,
    step: Step,
    *,
    now: datetime,
    created_by_id: int | None = None,
) -> Wave | None:
    """Write a wave and its offers from a matching proposal, and the job that sends it.

    Returns ``None`` when the proposal holds nobody. The caller commits. Reservists
    already offered anything in this request are left out whatever the proposal says.
    """
    before = offered_before(request.id)
    offers = [o for o in proposal.offers if o.reservist_id not in before and o.shift_ids]
    if not offers:
        return None
    from zorgreserve.surge.services import effective_phase

    number = (db.session.scalar(select(func.max(Wave.number)).where(Wave.request_id == request.id)) or 0) + 1
    expires_at = _offer_expiry(request, now)
    wave = Wave(
        request_id=request.id,
        number=number,
        status=WaveStatus.PLANNED.value,
        reach=step.reach.value,
        radius_km=step.radius_km,
        candidates_per_place=step.k,
        phase_code=effective_phase(request.region_id).phase.code,
        created_at=now,
        expires_at=expires_at,
        created_by_id=created_by_id,
    )
    db.session.add(wave)
    db.session.flush()  # a racing second wave with this number fails here, before any offer
    codes = new_codes(len(offers))
    offer_rows: list[dict[str, Any]] = []
    for proposed, code in zip(offers, codes, strict=True):
        offer_rows.append(
            {
                "wave_id": wave.id,
                "request_id": request.id,
                "reservist_id": proposed.reservist_id,
                "code": code,
                "status": "pending",
                "created_at": now,
                "expires_at": expires_at,
                "score": proposed.score,
                "score_parts": dict(proposed.parts),
            }
        )
    db.session.execute(Offer.__table__.insert(), offer_rows)
    shift_sets = {frozenset(p.shift_ids) for p in offers}
    if len(shift_sets) == 1:
        # The usual wave: everyone is offered the same shifts. The database pairs them up in one
        # statement rather than receiving offers × shifts rows (30,000 for 10,000 offers of 3 shifts).
        [shift_ids] = shift_sets
        pairs = (
            select(Offer.id, Shift.id, literal(OfferShiftStatus.OFFERED.value))
            .join(Shift, Shift.id.in_(sorted(shift_ids)))
            .where(Offer.wave_id == wave.id)
        )
        db.session.execute(
            OfferShift.__table__.insert().from_select(["offer_id", "shift_id", "status"], pairs)
        )
    else:
        ids = dict(
            db.session.execute(select(Offer.reservist_id, Offer.id).where(Offer.wave_id == wave.id)).all()
        )
        shift_rows = [
            {"offer_id": ids[p.reservist_id], "shift_id": shift_id, "status": OfferShiftStatus.OFFERED.value}
            for p in offers
            for shift_id in sorted(set(p.shift_ids))
        ]
        db.session.execute(OfferShift.__table__.insert(), shift_rows)
    refresh_offered(set().union(*shift_sets))
    add_job(
        db.session,
        "callups.send_wave",
        {"wave_id": wave.id},
        queue="messages",
        description=f"send call-up wave {wave.number} of request {request.id}",
    )
    log.info("request %s: wave %s with %s offers", request.id, wave.number, len(offers))
    return wave


def open_shifts(request: DeploymentRequest, now: datetime) -> list[Shift]:
    """Active shifts that have not started and still have places."""
    return [
        s
        for s in request.shifts
        if s.state == ShiftState.ACTIVE.value and s.start_at > now and s.booked < s.places
    ]


def propose(request: DeploymentRequest, step: Step, *, now: datetime) -> Any:
    from zorgreserve.matching.engine import propose_wave

    return propose_wave(
        db.session,
        request.id,
        config=current_app.config,
        now=now,
        k=step.k,
        reach=step.reach.value,
        radius_km=step.radius_km,
        exclude_reservist_ids=tuple(sorted(offered_before(request.id))),
    )


def next_wave(
    request: DeploymentRequest,
    *,
    now: datetime,
    created_by_id: int | None = None,
    from_step: int | None = None,
) -> Wave | None:
    """Climb the ladder from the control's step until a rung proposes somebody; write that wave.

    Returns ``None`` (and records the search time) when no rung finds anyone.
    """
    from zorgreserve.surge.services import effective_phase

    control = control_for(request.id)
    steps = ladder(effective_phase(request.region_id).reach)
    start = control.ladder_step if from_step is None else from_step
    for index in range(min(start, len(steps) - 1), len(steps)):
        proposal = propose(request, steps[index], now=now)
        wave = create_wave(request, proposal, steps[index], now=now, created_by_id=created_by_id)
        if wave is not None:
            control.ladder_step = index
            control.searched_at = now
            if control.alert == "no_candidates":
                control.alert, control.alert_at = None, None
            return wave
    control.ladder_step = len(steps) - 1
    control.searched_at = now
    if control.alert != "no_candidates":
        control.alert, control.alert_at = "no_candidates", now
    return None


def start_callups(request_id: int, *, now: datetime | None = None) -> Wave | None:
    """Start call-ups for an open request: wave 1, once. Running it again finds the first wave."""
    now = now or db.utcnow()
    request = db.session.get(DeploymentRequest, request_id)
    if request is None or request.status_enum not in RUNNING:
        return None
    if not open_shifts(request, now):
        return _first_wave(request_id)
    control = control_for(request_id, lock=True)
    # Read after the lock: a racing call (the tick, a coordinator) may have just made it.
    existing = _first_wave(request_id)
    if existing is not None or control.state != "running":
        return existing
    return next_wave(request, now=now, from_step=0)


def _first_wave(request_id: int) -> Wave | None:
    return db.session.scalar(select(Wave).where(Wave.request_id == request_id).order_by(Wave.number).limit(1))
