"""The matching engine: eligible, fairly ranked and explainable candidates for a request's shifts.

A framework-free domain service: every function takes a SQLAlchemy session,
ids, a configuration mapping (``app.config`` or any dict) and ``now``, and
returns plain values; the web page and the call-up worker call the same code.

* :func:`rank_request` — per open shift, the eligible reservists ranked by score;
* :func:`propose_wave` — the top ``k`` × open places per shift, grouped per
  reservist into one offer whose shifts together keep the working-time rules;
* :func:`why` — for any reservist and shift, every rule with pass/fail and the reason.

How it stays fast: one SQL prefilter, a few bulk loads, rules in memory
(:mod:`loading`). How it stays deterministic: the score is computed from the data
only and ties are broken by reservist id (:mod:`ranking`). The rules themselves
are in :mod:`eligibility`; docs/matching.md explains them to coordinators.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from zorgreserve.config import ConfigError
from zorgreserve.deployments.models import Shift
from zorgreserve.matching import explain
from zorgreserve.matching.eligibility import (
    Rule,
    Situation,
    check_working_time,
    eligible_for_shifts,
    evaluate,
    may_qualify,
)
from zorgreserve.matching.loading import (
    Person,
    ShiftFacts,
    complete_people,
    load_people,
    load_policy,
    load_request,
    prefilter,
)
from zorgreserve.matching.ranking import (
    WEIGHT_KEYS,
    adjacent_shifts,
    continuing,
    part_values,
    score,
    weights,
)
from zorgreserve.matching.worktime import WorkTimeRules

CANDIDATES_PER_PLACE_KEY = "CALLUP_CANDIDATES_PER_PLACE"
DEFAULT_CANDIDATES_PER_PLACE = 3


@dataclass(frozen=True)
class ScorePart:
    """One named part of a score; its contribution is ``value * weight``."""

    name: str
    value: float
    weight: float

    @property
    def contribution(self) -> float:
        return self.value * self.weight


@dataclass(frozen=True)
class Candidate:
    reservist_id: int
    score: float
    parts: tuple[ScorePart, ...]
    distance_km: float | None


@dataclass(frozen=True)
class ProposedOffer:
    """One offer of a wave: the shifts proposed to one reservist, with their best score and its parts."""

    reservist_id: int
    shift_ids: tuple[int, ...]
    score: float
    parts: dict[str, float]


@dataclass(frozen=True)
class WaveProposal:
    request_id: int
    offers: tuple[ProposedOffer, ...]
    open_places: dict[int, int]  # shift_id -> places still open


@dataclass(frozen=True)
class RuleResult:
    """One rule for one reservist and shift: its code, whether it passed, and why (translated)."""

    code: str
    passed: bool
    explanation: str
    reason: str | None = None  # the finding's sub-code when it failed (e.g. "expired", "rest_too_short")


def candidates_per_place(config: Mapping[str, Any]) -> int:
    raw = config.get(CANDIDATES_PER_PLACE_KEY)
    if raw is None or raw == "":
        return DEFAULT_CANDIDATES_PER_PLACE
    try:
        value = int(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{CANDIDATES_PER_PLACE_KEY} must be a whole number, got {raw!r}") from exc
    if value < 1:
        raise ConfigError(f"{CANDIDATES_PER_PLACE_KEY} must be at least 1, got {raw!r}")
    return value


def situation(
    session: Session,
    request_id: int,
    *,
    config: Mapping[str, Any],
    now: datetime,
    reach: str | None = None,
    radius_km: float | None = None,
    national_override: bool = False,
) -> Situation:
    """What the rules share for one request: its facts, region policy, working-time limits and clock."""
    facts = load_request(session, request_id)
    policy = load_policy(session, facts, reach, national_override=national_override)
    return Situation(
        facts=facts, policy=policy, rules=WorkTimeRules.from_config(config), now=now, radius_km=radius_km
    )


def _candidate(
    s: Situation, person: Person, shift: ShiftFacts, weight: Mapping[str, float], continuity: bool
) -> Candidate:
    km = s.distance(person)
    found = part_values(
        person,
        distance_km=km,
        request_region_id=s.facts.region_id,
        continuity=continuity,
        now=s.now,
    )
    values = found.as_dict()
    parts = tuple(ScorePart(name, values[name], weight[name]) for name in WEIGHT_KEYS)
    return Candidate(person.id, score(found, weight), parts, None if km is None else round(km, 3))


def _rank(
    s: Situation, people: Mapping[int, Person], shifts: list[ShiftFacts], weight: Mapping[str, float]
) -> dict[int, list[Candidate]]:
    neighbours = adjacent_shifts(s.facts.shifts)
    ranked: dict[int, list[Candidate]] = {shift.id: [] for shift in shifts}
    for person_id in sorted(people):
        person = people[person_id]
        # The score depends on the shift only through continuity: at most two per person.
        made: dict[bool, Candidate] = {}
        for shift in eligible_for_shifts(s, person, shifts):
            continuity = continuing(person, shift, neighbours)
            found = made.get(continuity)
            if found is None:
                found = made[continuity] = _candidate(s, person, shift, weight, continuity)
            ranked[shift.id].append(found)
    for found in ranked.values():
        found.sort(key=lambda c: (-c.score, c.reservist_id))
    return ranked


def _load(
    session: Session,
    request_id: int,
    *,
    config: Mapping[str, Any],
    now: datetime,
    reach: str | None,
    radius_km: float | None,
    exclude_reservist_ids: Collection[int],
    national_override: bool,
) -> tuple[Situation, list[ShiftFacts], dict[int, Person]]:
    s = situation(
        session,
        request_id,
        config=config,
        now=now,
        reach=reach,
        radius_km=radius_km,
        national_override=national_override,
    )
    shifts = s.facts.open_shifts(now)
    found = prefilter(
        session, s.facts, s.policy, shifts, radius_km=radius_km, now=now, exclude=exclude_reservist_ids
    )
    people = {pid: person for pid, person in found.items() if may_qualify(s, person, shifts)}
    complete_people(session, people, s.facts, shifts, now=now)
    return s, shifts, people


def rank_request(
    session: Session,
    request_id: int,
    *,
    config: Mapping[str, Any],
    now: datetime,
    reach: str | None = None,
    radius_km: float | None = None,
    exclude_reservist_ids: Collection[int] = (),
    national_override: bool = False,
) -> dict[int, list[Candidate]]:
    """Per open shift (active, in the future, with places open), the eligible reservists, best first.

    ``reach`` (own_region, neighbours, national) defaults to the policy of the surge
    phase in effect in the request's region; ``radius_km`` narrows the distance
    further; ``exclude_reservist_ids`` are left out (offered in earlier waves).
    """
    s, shifts, people = _load(
        session,
        request_id,
        config=config,
        now=now,
        reach=reach,
        radius_km=radius_km,
        exclude_reservist_ids=exclude_reservist_ids,
        national_override=national_override,
    )
    return _rank(s, people, shifts, weights(config))


def propose_wave(
    session: Session,
    request_id: int,
    *,
    config: Mapping[str, Any],
    now: datetime,
    k: int | None = None,
    reach: str | None = None,
    radius_km: float | None = None,
    exclude_reservist_ids: Collection[int] = (),
    national_override: bool = False,
) -> WaveProposal:
    """A wave: for every open shift the top ``k`` × open places, grouped into one offer per reservist.

    Shifts are filled in time order. A reservist already given the shift just
    before gets the continuity part for the next one, so one person tends to get a
    run of consecutive shifts. A shift is added to someone's offer only if the whole
    set of shifts proposed to them keeps the working-time rules together with their
    existing work (the full set is checked each time: the rest after a series of
    night shifts is not monotone). Someone who cannot take it is passed over and the
    next in rank is asked, so every shift still gets its k × open places when there
    are enough candidates.
    """
    per_place = k if k is not None else candidates_per_place(config)
    if per_place < 1:
        raise ValueError("k must be at least 1")
    weight = weights(config)
    s, shifts, people = _load(
        session,
        request_id,
        config=config,
        now=now,
        reach=reach,
        radius_km=radius_km,
        exclude_reservist_ids=exclude_reservist_ids,
        national_override=national_override,
    )
    ranked = _rank(s, people, shifts, weight)
    neighbours = adjacent_shifts(s.facts.shifts)
    assigned: dict[int, list[ShiftFacts]] = {}
    best: dict[int, Candidate] = {}
    for shift in shifts:
        near = neighbours.get(shift.id, frozenset())
        options = []
        for candidate in ranked[shift.id]:
            mine = assigned.get(candidate.reservist_id, ())
            if any(other.id in near for other in mine) and _part(candidate, "continuity") == 0:
                candidate = _candidate(s, people[candidate.reservist_id], shift, weight, True)
            options.append(candidate)
        options.sort(key=lambda c: (-c.score, c.reservist_id))
        quota = per_place * shift.open_places
        taken = 0
        for candidate in options:
            if taken >= quota:
                break
            person = people[candidate.reservist_id]
            mine = assigned.get(person.id, [])
            if mine and check_working_time(s, person, shift, also=mine) is not None:
                continue
            assigned.setdefault(person.id, []).append(shift)
            if person.id not in best or (candidate.score, -shift.start.timestamp()) > (
                best[person.id].score,
                -min(x.start for x in mine).timestamp() if mine else 0,
            ):
                best[person.id] = candidate
            taken += 1
    offers = [
        ProposedOffer(
            reservist_id=person_id,
            shift_ids=tuple(shift.id for shift in sorted(mine, key=lambda x: (x.start, x.id))),
            score=best[person_id].score,
            parts={part.name: round(part.contribution, 6) for part in best[person_id].parts},
        )
        for person_id, mine in assigned.items()
    ]
    offers.sort(key=lambda o: (-o.score, o.reservist_id))
    return WaveProposal(
        request_id=request_id,
        offers=tuple(offers),
        open_places={shift.id: shift.open_places for shift in shifts},
    )


def _part(candidate: Candidate, name: str) -> float:
    return next((p.value for p in candidate.parts if p.name == name), 0.0)


def why(
    session: Session,
    reservist_id: int,
    shift_id: int,
    *,
    config: Mapping[str, Any],
    now: datetime,
    reach: str | None = None,
    radius_km: float | None = None,
    national_override: bool = False,
) -> list[RuleResult]:
    """Every rule for one reservist and one shift, passed or failed, with the reason in words.

    Loads the reservist without the prefilter and applies the same rules as
    :func:`rank_request`, so the answer agrees with the candidate lists. Raises
    ``LookupError`` for an unknown reservist or shift.
    """
    request_id = session.scalar(select(Shift.request_id).where(Shift.id == shift_id))
    if request_id is None:
        raise LookupError(f"no shift {shift_id}")
    s = situation(
        session,
        request_id,
        config=config,
        now=now,
        reach=reach,
        radius_km=radius_km,
        national_override=national_override,
    )
    shift = s.facts.shift(shift_id)
    assert shift is not None
    people = load_people(session, [reservist_id], s.facts, [shift], now=now)
    person = people.get(reservist_id)
    if person is None:
        raise LookupError(f"no reservist {reservist_id}")
    context = {
        "qualification": s.facts.qualification_name,
        "profession": s.facts.profession_name,
        "skills": s.facts.skills,
        "km": s.distance(person) or 0.0,
    }
    return [
        RuleResult(code, True, explain.passed(code, context))
        if finding is None
        else RuleResult(code, False, explain.failed(finding), finding.reason)
        for code, finding in evaluate(s, person, shift)
    ]


def is_eligible(results: list[RuleResult]) -> bool:
    return all(result.passed for result in results)


__all__ = [
    "Candidate",
    "ProposedOffer",
    "Rule",
    "RuleResult",
    "ScorePart",
    "WaveProposal",
    "propose_wave",
    "rank_request",
    "why",
]
