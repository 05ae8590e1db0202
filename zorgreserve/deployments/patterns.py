"""Turning a shift pattern ("every day 07:00–15:30 for 14 days") into shifts in UTC.

Wall-clock times are Europe/Amsterdam: a day shift starts at 07:00 local time in
winter and in summer alike, so its UTC time differs by an hour between them. An
end time at or before the start time means the shift ends the next day (a
night). On the nights the clocks change, a night's real length differs from its
wall-clock span (23:00–07:30 lasts 7.5 h in March and 9.5 h in October); every
length check uses the real, elapsed time.

Two wall-clock times need a rule: a time that does not exist (02:30 on the last
Sunday of March) is moved forward by the hour the clocks jump, as calendars do;
a time that exists twice (02:30 on the last Sunday of October) means its first
occurrence (summer time). A shift that starts in the skipped hour and ends before
it is over (02:30–02:45) thereby ends before it starts, and is refused.

Nothing here touches the database; :mod:`zorgreserve.deployments.services`
checks the result against the configured limits.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


class Preset(StrEnum):
    DAY = "day"
    EVENING = "evening"
    NIGHT = "night"
    CUSTOM = "custom"


#: Common Dutch hospital shift times, with half an hour of hand-over between shifts.
PRESET_TIMES: dict[Preset, tuple[time, time]] = {
    Preset.DAY: (time(7, 0), time(15, 30)),
    Preset.EVENING: (time(15, 0), time(23, 30)),
    Preset.NIGHT: (time(23, 0), time(7, 30)),
}


class Repeat(StrEnum):
    ONCE = "once"
    DAILY = "daily"
    WEEKDAYS = "weekdays"


@dataclass(frozen=True)
class ShiftPattern:
    """Shifts from ``first_day`` on, over ``days`` calendar days (the first one included)."""

    first_day: date
    start_time: time
    end_time: time
    repeat: Repeat
    days: int
    places: int


@dataclass(frozen=True)
class PlannedShift:
    """A shift about to be created: a UTC range and its places."""

    start_at: datetime
    end_at: datetime
    places: int

    @property
    def hours(self) -> float:
        return (self.end_at - self.start_at).total_seconds() / 3600

    @property
    def local_start(self) -> datetime:
        return self.start_at.astimezone(AMSTERDAM)

    @property
    def local_end(self) -> datetime:
        return self.end_at.astimezone(AMSTERDAM)

    @property
    def crosses_midnight(self) -> bool:
        return self.local_end.date() != self.local_start.date()


def to_utc(day: date, wall: time) -> datetime:
    """A wall-clock time in Amsterdam as aware UTC (see the module docstring for the two odd cases)."""
    # fold=0 whatever the caller passed: the rules above are those of fold=0 in zoneinfo.
    return datetime.combine(day, wall.replace(fold=0), tzinfo=AMSTERDAM).astimezone(UTC)


def shift_on(day: date, start: time, end: time, places: int) -> PlannedShift:
    """One shift starting on ``day``; it ends the next day when ``end`` is not after ``start``."""
    end_day = day + timedelta(days=1) if end <= start else day
    return PlannedShift(start_at=to_utc(day, start), end_at=to_utc(end_day, end), places=places)


def _days(pattern: ShiftPattern) -> Iterator[date]:
    if pattern.repeat is Repeat.ONCE:
        yield pattern.first_day
        return
    for offset in range(pattern.days):
        day = pattern.first_day + timedelta(days=offset)
        if pattern.repeat is Repeat.WEEKDAYS and day.weekday() >= 5:
            continue
        yield day


def expand(pattern: ShiftPattern, limit: int | None = None) -> list[PlannedShift]:
    """The shifts of a pattern, in order. Stops after ``limit + 1`` shifts: enough to say "too many"
    without building (or overflowing the calendar on) an absurd pattern."""
    shifts: list[PlannedShift] = []
    try:
        for day in _days(pattern):
            shifts.append(shift_on(day, pattern.start_time, pattern.end_time, pattern.places))
            if limit is not None and len(shifts) > limit:
                break
    except OverflowError:  # a pattern running past the year 9999
        pass
    return shifts
