"""Believable availability for demo and benchmark reservists.

Care professionals outside acute care mostly offer daytime on weekdays, some
evenings or nights around another job, some weekends; a quarter plan a
holiday in the coming weeks, some enter their own work roster, a few are on
stand-by. Deterministic for a seeded ``random.Random``; the windows of one
reservist never overlap (the same rule the pages enforce).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta

from zorgreserve import db
from zorgreserve.availability.models import AvailabilityPeriod, PeriodKind, PeriodReason, WeeklyWindow
from zorgreserve.availability.timeline import MINUTES_PER_DAY, Period, local_day, local_to_utc
from zorgreserve.db import utcnow
from zorgreserve.reservists.models import Reservist

H = 60
WEEKDAYS = (0, 1, 2, 3, 4)
DAY_TIMES = ((7 * H, 17 * H), (8 * H, 16 * H + 30), (7 * H + 30, 16 * H), (9 * H, 15 * H))


def demo_pattern(rng: random.Random) -> list[tuple[int, int, int]]:
    """Weekly windows ``(weekday, start_minute, end_minute)`` for one reservist; may be empty."""
    kind = rng.choices(["days", "evenings", "nights", "weekends", "mixed", "none"], [30, 15, 10, 15, 20, 10])[
        0
    ]
    if kind == "days":
        start, end = rng.choice(DAY_TIMES)
        days = WEEKDAYS if rng.random() < 0.5 else sorted(rng.sample(WEEKDAYS, rng.randint(2, 4)))
        return [(d, start, end) for d in days]
    if kind == "evenings":
        return [(d, 17 * H, 23 * H) for d in sorted(rng.sample(range(7), rng.randint(2, 5)))]
    if kind == "nights":
        return [(d, 23 * H, 7 * H) for d in sorted(rng.sample(range(7), rng.randint(2, 4)))]
    if kind == "weekends":
        if rng.random() < 0.4:
            return [(5, 0, MINUTES_PER_DAY), (6, 0, MINUTES_PER_DAY)]
        return [(5, 8 * H, 20 * H), (6, 8 * H, 20 * H)]
    if kind == "mixed":
        start, end = rng.choice(DAY_TIMES)
        days = sorted(rng.sample(WEEKDAYS, rng.randint(1, 3)))
        return [(d, start, end) for d in days] + [(rng.choice((5, 6)), 8 * H, 18 * H)]
    return []


def demo_periods(rng: random.Random, now: datetime) -> list[Period]:
    """Dated periods in the coming weeks: a holiday, shifts of the own work roster, an extra day."""
    today = local_day(now)
    periods: list[Period] = []
    if rng.random() < 0.25:
        first = today + timedelta(days=rng.randrange(3, 70))
        last = first + timedelta(days=rng.choice((6, 9, 13, 20)))
        periods.append(
            Period(
                PeriodKind.UNAVAILABLE, local_to_utc(first, 0), local_to_utc(last, MINUTES_PER_DAY), "holiday"
            )
        )
    if rng.random() < 0.15:
        for day in sorted(rng.sample(range(1, 28), rng.randint(1, 4))):
            start = rng.choice((7 * H, 8 * H, 14 * H + 30))
            on = today + timedelta(days=day)
            periods.append(
                Period(
                    PeriodKind.UNAVAILABLE,
                    local_to_utc(on, start),
                    local_to_utc(on, start + rng.choice((8 * H, 9 * H))),
                    PeriodReason.WORK,
                )
            )
    if rng.random() < 0.05:
        saturday = today + timedelta(days=(5 - today.weekday()) % 7 + 7 * rng.randrange(0, 4))
        periods.append(
            Period(PeriodKind.AVAILABLE, local_to_utc(saturday, 8 * H), local_to_utc(saturday, 20 * H))
        )
    return periods


def add_demo_availability(
    reservists: Sequence[Reservist], rng: random.Random, *, now: datetime | None = None
) -> int:
    """Give each (flushed) reservist demo windows, periods and sometimes stand-by; returns rows added."""
    now = now or utcnow()
    rows: list[WeeklyWindow | AvailabilityPeriod] = []
    for reservist in reservists:
        rows += [
            WeeklyWindow(reservist_id=reservist.id, weekday=d, start_minute=s, end_minute=e)
            for d, s, e in demo_pattern(rng)
        ]
        rows += [
            AvailabilityPeriod(
                reservist_id=reservist.id,
                kind=str(p.kind),
                reason=str(p.reason),
                starts_at=p.starts_at,
                ends_at=p.ends_at,
            )
            for p in demo_periods(rng, now)
        ]
        if rng.random() < 0.03:
            reservist.standby_until = now + timedelta(hours=rng.choice((4, 8, 12, 24, 48)))
    db.session.add_all(rows)
    db.session.flush()
    return len(rows)
