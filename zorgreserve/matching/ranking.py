"""The score: named parts, each a value between 0 and 1 times a configured weight.

The same data always gives the same order: parts are computed from the data
alone (never from insertion order or chance), scores are rounded before they are
compared, and equal scores are ordered by reservist id. docs/matching.md explains
each part to a coordinator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from zorgreserve.config import ConfigError
from zorgreserve.matching.loading import Person, ShiftFacts

#: Part name -> (configuration key, default weight), in the order parts are shown.
WEIGHT_KEYS: dict[str, tuple[str, float]] = {
    "recent_hours": ("MATCHING_WEIGHT_RECENT_HOURS", 3.0),
    "since_last": ("MATCHING_WEIGHT_SINCE_LAST", 2.0),
    "travel": ("MATCHING_WEIGHT_TRAVEL", 2.0),
    "continuity": ("MATCHING_WEIGHT_CONTINUITY", 2.0),
    "own_region": ("MATCHING_WEIGHT_OWN_REGION", 1.0),
}
#: Hours in the last 28 days at which "fewest hours deployed" reaches 0 (four 40-hour weeks).
RECENT_HOURS_CAP = 160.0
#: Days since the last deployment at which "longest since last deployment" reaches 1.
SINCE_LAST_CAP_DAYS = 90.0
#: Distance at which "shorter travel" reaches 0.
TRAVEL_CAP_KM = 100.0
SCORE_DIGITS = 6


def weights(config: Mapping[str, Any]) -> dict[str, float]:
    """The weight of every part from ``MATCHING_WEIGHT_*`` (numbers or numeric strings, at least 0)."""
    found: dict[str, float] = {}
    for name, (key, default) in WEIGHT_KEYS.items():
        raw = config.get(key)
        if raw is None or raw == "":
            found[name] = default
            continue
        try:
            value = float(raw)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{key} must be a number, got {raw!r}") from exc
        if value < 0:
            raise ConfigError(f"{key} must not be negative, got {raw!r}")
        found[name] = value
    return found


@dataclass(frozen=True)
class Parts:
    """The values (0–1) of every part for one reservist and shift."""

    recent_hours: float
    since_last: float
    travel: float
    continuity: float
    own_region: float

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in WEIGHT_KEYS}


def part_values(
    person: Person,
    *,
    distance_km: float | None,
    request_region_id: int,
    continuity: bool,
    now: datetime,
) -> Parts:
    recent = 1.0 - min(person.recent_hours, RECENT_HOURS_CAP) / RECENT_HOURS_CAP
    if person.last_deployment is None:
        since = 1.0
    else:
        days = max(0.0, (now - person.last_deployment).total_seconds() / 86400)
        since = min(days, SINCE_LAST_CAP_DAYS) / SINCE_LAST_CAP_DAYS
    travel = 0.0 if distance_km is None else 1.0 - min(distance_km, TRAVEL_CAP_KM) / TRAVEL_CAP_KM
    if person.home_region_id == request_region_id:
        own = 1.0
    elif request_region_id in person.regions:
        own = 0.5
    else:
        own = 0.0
    return Parts(
        recent_hours=round(recent, SCORE_DIGITS),
        since_last=round(since, SCORE_DIGITS),
        travel=round(travel, SCORE_DIGITS),
        continuity=1.0 if continuity else 0.0,
        own_region=own,
    )


def score(parts: Parts, weight: Mapping[str, float]) -> float:
    """The weighted sum, summed in a fixed order and rounded, so equal data gives equal scores."""
    total = 0.0
    for name in WEIGHT_KEYS:
        total += getattr(parts, name) * weight[name]
    return round(total, SCORE_DIGITS)


def continuing(person: Person, shift: ShiftFacts, neighbours: Mapping[int, frozenset[int]]) -> bool:
    """Whether the reservist already has (booked or held) a shift next to this one in the request."""
    adjacent = neighbours.get(shift.id, frozenset())
    return any(shift_id in adjacent for shift_id, _s, _e in (*person.bookings, *person.held))


def adjacent_shifts(shifts: tuple[ShiftFacts, ...]) -> dict[int, frozenset[int]]:
    """For every shift of a request, the active shifts just before and after it (by start time)."""
    active = [s for s in shifts if s.active]
    found: dict[int, frozenset[int]] = {}
    for index, shift in enumerate(active):
        near = set()
        if index > 0:
            near.add(active[index - 1].id)
        if index + 1 < len(active):
            near.add(active[index + 1].id)
        found[shift.id] = frozenset(near)
    return found
