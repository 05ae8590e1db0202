"""The eligibility rules: each a named check with a stable reason code.

A rule looks at one :class:`~zorgreserve.matching.loading.Person` and one
shift and either passes or returns a :class:`Finding` (the reason code and the
facts that explain it). :mod:`explain` turns findings into translated words;
nothing here needs Flask. The rules are listed in :data:`RULES` in the order a
coordinator reads them, which is also cheapest first: :func:`eligible` stops at
the first failure, :func:`evaluate` runs them all (the "why (not)?" answer).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from zorgreserve.availability.models import PeriodReason
from zorgreserve.availability.timeline import UNAVAILABLE, available_intervals
from zorgreserve.callups.models import Reach
from zorgreserve.matching import worktime
from zorgreserve.matching.distance import haversine_km
from zorgreserve.matching.loading import Person, RegionPolicy, RequestFacts, ShiftFacts
from zorgreserve.reservists.models import ReservistStatus, Verification

_VERIFIED = Verification.VERIFIED.value
_WITHDRAWN = ReservistStatus.WITHDRAWN.value
_PAUSED = ReservistStatus.PAUSED.value


class Rule:
    """Rule codes, in the order they are checked and shown."""

    ACTIVE = "active"
    QUALIFICATION = "qualification"
    BIG_REGISTRATION = "big_registration"
    SKILLS = "skills"
    REGION_POLICY = "region_policy"
    SURGE_DRAIN = "surge_drain"
    DISTANCE = "distance"
    AVAILABILITY = "availability"
    NO_OVERLAP = "no_overlap"
    WORKING_TIME = "working_time"


@dataclass(frozen=True)
class Finding:
    """Why a rule failed: ``reason`` is a stable sub-code, ``facts`` fill in the explanation."""

    rule: str
    reason: str
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass
class Situation:
    """What the rules share for one request: its facts, the policy, the limits and the clock."""

    facts: RequestFacts
    policy: RegionPolicy
    rules: worktime.WorkTimeRules
    now: datetime
    radius_km: float | None = None
    _distance: dict[int, float | None] = field(default_factory=dict)
    _schedules: dict[int, worktime.Schedule] = field(default_factory=dict)
    _available: dict[int, tuple[list[datetime], list[datetime]]] = field(default_factory=dict)
    _intervals: dict[int, worktime.Interval] = field(default_factory=dict)

    def distance(self, person: Person) -> float | None:
        """Kilometres from the reservist's PC4 to the request's location (cached per person)."""
        if person.id not in self._distance:
            if person.latitude is None or person.longitude is None:
                self._distance[person.id] = None
            else:
                self._distance[person.id] = haversine_km(
                    person.latitude, person.longitude, self.facts.latitude, self.facts.longitude
                )
        return self._distance[person.id]

    def available(self, person: Person) -> tuple[list[datetime], list[datetime]]:
        """The reservist's available time over all the request's shifts, merged, as (starts, ends).

        Computed once per person: a shift is covered exactly when one merged interval
        holds it, which is what :func:`~zorgreserve.availability.timeline.covers` answers
        for the shift alone (interval sets commute with clipping).
        """
        found = self._available.get(person.id)
        if found is None:
            lo = min(s.start for s in self.facts.shifts)
            hi = max(s.end for s in self.facts.shifts)
            spans = available_intervals(person.availability, lo, hi)
            found = self._available[person.id] = ([a for a, _b in spans], [b for _a, b in spans])
        return found

    def interval(self, shift: ShiftFacts) -> worktime.Interval:
        """The shift as a proposed interval of work (made once per shift)."""
        found = self._intervals.get(shift.id)
        if found is None:
            found = self._intervals[shift.id] = shift_interval(shift)
        return found

    def schedule(self, person: Person) -> worktime.Schedule:
        """The reservist's existing work near the request (booked, held, declared elsewhere), sorted once."""
        found = self._schedules.get(person.id)
        if found is None:
            found = self._schedules[person.id] = worktime.Schedule(existing_work(person))
        return found


def existing_work(person: Person) -> list[worktime.Interval]:
    intervals = [worktime.Interval(s, e, worktime.Kind.BOOKED) for _id, s, e in person.bookings]
    intervals += [worktime.Interval(s, e, worktime.Kind.HELD) for _id, s, e in person.held]
    intervals += [
        worktime.Interval(p.starts_at, p.ends_at, worktime.Kind.OTHER_WORK)
        for p in person.availability.periods
        if p.kind == UNAVAILABLE and getattr(p, "reason", None) == PeriodReason.WORK.value
    ]
    return intervals


def shift_interval(shift: ShiftFacts) -> worktime.Interval:
    return worktime.Interval(shift.start, shift.end, worktime.Kind.PROPOSED)


# The rules -------------------------------------------------------------------------------


def check_active(s: Situation, p: Person, shift: ShiftFacts) -> Finding | None:
    if p.erased:
        return Finding(Rule.ACTIVE, "erased")
    if p.status == _WITHDRAWN:
        return Finding(Rule.ACTIVE, "withdrawn")
    if p.status == _PAUSED and (p.paused_until is None or shift.day <= p.paused_until):
        return Finding(Rule.ACTIVE, "paused", {"until": p.paused_until})
    return None


def check_qualification(s: Situation, p: Person, shift: ShiftFacts) -> Finding | None:
    name = s.facts.qualification_name
    if not p.qualifications:
        return Finding(Rule.QUALIFICATION, "missing", {"name": name})
    verified = [q for q in p.qualifications if q[1] == _VERIFIED]
    if not verified:
        return Finding(Rule.QUALIFICATION, "unverified", {"name": name})
    if any(q[2] is None or q[2] >= shift.day for q in verified):
        return None
    return Finding(Rule.QUALIFICATION, "expired", {"name": name, "on": max(q[2] for q in verified)})


def check_big(s: Situation, p: Person, shift: ShiftFacts) -> Finding | None:
    if s.facts.profession_id is None:
        return None
    name = s.facts.profession_name
    verified = [b for b in p.big if b[0] == _VERIFIED]
    if not p.big:
        return Finding(Rule.BIG_REGISTRATION, "missing", {"name": name})
    if not verified:
        return Finding(Rule.BIG_REGISTRATION, "unverified", {"name": name})
    if any(b[1] is None or b[1] > shift.day for b in verified):
        return None
    return Finding(Rule.BIG_REGISTRATION, "due", {"name": name, "on": max(b[1] for b in verified)})


def check_skills(s: Situation, p: Person, shift: ShiftFacts) -> Finding | None:
    required = sorted(s.facts.skills.items(), key=lambda item: item[1])
    missing = [name for skill_id, name in required if skill_id not in p.skills]
    if missing:
        return Finding(Rule.SKILLS, "missing", {"names": missing})
    return None


def check_region_policy(s: Situation, p: Person, shift: ShiftFacts) -> Finding | None:
    allowed = s.policy.allowed_regions
    if allowed is None:
        return None
    if p.home_region_id in allowed or p.regions & allowed:
        return None
    return Finding(Rule.REGION_POLICY, s.policy.reach)


def check_surge_drain(s: Situation, p: Person, shift: ShiftFacts) -> Finding | None:
    if s.policy.national_override or p.home_region_id is None:
        return None
    if s.policy.ordinal(p.home_region_id) > s.policy.request_ordinal:
        return Finding(Rule.SURGE_DRAIN, "higher_phase")
    return None


def check_distance(s: Situation, p: Person, shift: ShiftFacts) -> Finding | None:
    km = s.distance(p)
    if km is None:
        return Finding(Rule.DISTANCE, "no_home")
    if km > p.max_travel_km:
        return Finding(Rule.DISTANCE, "too_far", {"km": km, "limit": p.max_travel_km})
    if s.radius_km is not None and km > s.radius_km:
        return Finding(Rule.DISTANCE, "outside_radius", {"km": km, "limit": s.radius_km})
    return None


def check_availability(s: Situation, p: Person, shift: ShiftFacts) -> Finding | None:
    starts, ends = s.available(p)
    index = bisect_right(starts, shift.start) - 1
    if index >= 0 and ends[index] >= shift.end:
        return None
    return Finding(Rule.AVAILABILITY, "not_covered")


def check_overlap(s: Situation, p: Person, shift: ShiftFacts) -> Finding | None:
    for kind, rows in (("booked", p.bookings), ("held", p.held)):
        for shift_id, start, end in rows:
            if start < shift.end and end > shift.start:
                reason = f"same_{kind}" if shift_id == shift.id else kind
                return Finding(Rule.NO_OVERLAP, reason, {"start": start, "end": end})
    return None


def check_working_time(
    s: Situation, p: Person, shift: ShiftFacts, also: Sequence[ShiftFacts] = ()
) -> Finding | None:
    """The working-time rules with this shift (and ``also``: shifts proposed to them in the same wave)."""
    schedule = s.schedule(p)
    if not also and worktime.fits(s.rules, schedule, s.interval(shift), p.max_hours_per_week):
        return None
    violations = [
        v
        for v in worktime.check(
            s.rules, schedule, [s.interval(x) for x in (*also, shift)], p.max_hours_per_week
        )
        if v.code != worktime.Code.OVERLAP or also
    ]
    if not violations:
        return None
    return Finding(Rule.WORKING_TIME, str(violations[0].code), {"violations": violations})


RuleCheck = Callable[[Situation, Person, ShiftFacts], Finding | None]

#: Every rule, in the order shown to coordinators (cheap ones first).
RULES: tuple[tuple[str, RuleCheck], ...] = (
    (Rule.ACTIVE, check_active),
    (Rule.QUALIFICATION, check_qualification),
    (Rule.BIG_REGISTRATION, check_big),
    (Rule.SKILLS, check_skills),
    (Rule.REGION_POLICY, check_region_policy),
    (Rule.SURGE_DRAIN, check_surge_drain),
    (Rule.DISTANCE, check_distance),
    (Rule.NO_OVERLAP, check_overlap),
    (Rule.AVAILABILITY, check_availability),
    (Rule.WORKING_TIME, check_working_time),
)

#: Rules whose answer does not depend on which shift of the request is asked about, except
#: through its date: checked once per person and date.
_PER_DAY = frozenset({Rule.ACTIVE, Rule.QUALIFICATION, Rule.BIG_REGISTRATION})
_PER_PERSON = frozenset({Rule.SKILLS, Rule.REGION_POLICY, Rule.SURGE_DRAIN, Rule.DISTANCE})
_PER_PERSON_CHECKS = tuple(check for code, check in RULES if code in _PER_PERSON)
_PER_DAY_CHECKS = tuple(check for code, check in RULES if code in _PER_DAY)
_PER_SHIFT_CHECKS = tuple(check for code, check in RULES if code not in _PER_DAY and code not in _PER_PERSON)


def may_qualify(s: Situation, p: Person, shifts: Sequence[ShiftFacts]) -> bool:
    """Whether ``p`` can pass for one of ``shifts`` judged on their own columns alone (distance, status).

    Asked before the bulk loads, so nobody who fails these is loaded further; the
    rules still run in full afterwards.
    """
    if not shifts or check_distance(s, p, shifts[0]) is not None:
        return False
    return any(check_active(s, p, shift) is None for shift in shifts)


def evaluate(s: Situation, p: Person, shift: ShiftFacts) -> list[tuple[str, Finding | None]]:
    """Every rule with its finding (``None``: passed), in :data:`RULES` order."""
    return [(code, check(s, p, shift)) for code, check in RULES]


def eligible(s: Situation, p: Person, shift: ShiftFacts) -> bool:
    """Whether every rule passes; stops at the first that fails."""
    return all(check(s, p, shift) is None for _code, check in RULES)


def eligible_for_shifts(s: Situation, p: Person, shifts: Sequence[ShiftFacts]) -> list[ShiftFacts]:
    """The shifts of ``shifts`` for which ``p`` passes every rule; per-person rules are checked once,
    per-day rules once per date."""
    if not shifts:
        return []
    first = shifts[0]
    for check in _PER_PERSON_CHECKS:
        if check(s, p, first) is not None:
            return []
    found = []
    per_day: dict[Any, bool] = {}
    for shift in shifts:
        day = shift.day
        ok = per_day.get(day)
        if ok is None:
            ok = True
            for check in _PER_DAY_CHECKS:
                if check(s, p, shift) is not None:
                    ok = False
                    break
            per_day[day] = ok
        if not ok:
            continue
        for check in _PER_SHIFT_CHECKS:
            if check(s, p, shift) is not None:
                break
        else:
            found.append(shift)
    return found


__all__ = ["RULES", "Finding", "Reach", "Rule", "Situation", "eligible", "evaluate"]
