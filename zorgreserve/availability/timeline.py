"""Availability as time: weekly windows, dated periods and stand-by turned into UTC intervals.

Pure functions, no database and no Flask, so the matching engine, the search and
the pages all answer "is this reservist available then?" the same way.

The rules:

- A **weekly window** is wall-clock time in Europe/Amsterdam on a weekday
  (``start_minute``/``end_minute`` are minutes of the day). An end at or before
  the start runs into the next day: Friday 22:00–07:00 ends on Saturday 07:00.
  Windows are expanded day by day in local time and only then converted to UTC,
  so on the night the clocks go forward a 22:00–07:00 window lasts 8 hours of
  real time, and on the night they go back it lasts 10 hours.
- A **dated period** is a pair of UTC instants, ``available`` or ``unavailable``.
- **Stand-by** is an interval ``[switched on, until)``: available now, until then.
- What is available = (windows ∪ available periods ∪ stand-by) − unavailable
  periods. Unavailable always wins, also over stand-by: it is most often the
  reservist's own work roster, which matching also counts as hours worked.

Local times that do not exist or exist twice (both only between 02:00 and 03:00
on the last Sunday of March and of October) are resolved on purpose:

- **Does not exist** (March, 02:00–03:00 is skipped): the moment the clocks jump,
  01:00 UTC. A window starting at 02:30 starts at 03:00 summer time; one ending
  at 02:30 ends at 03:00 as well, the same instant; a window that lies wholly
  in the skipped hour is empty that night.
- **Exists twice** (October, 02:00–03:00 happens twice): the first occurrence
  (still summer time), for starts and ends alike. Adjacent windows (one ending
  at 02:30, the next starting at 02:30) then still meet without a gap or an
  overlap, and every local time maps to exactly one instant, in order.

All intervals are half-open ``[start, end)``: a window ending at 15:30 and a
shift starting at 15:30 touch but do not overlap (DESIGN: back-to-back is not
overlap), and two touching intervals together cover their union.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Europe/Amsterdam")
MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
AVAILABLE = "available"
UNAVAILABLE = "unavailable"

Interval = tuple[datetime, datetime]


class WindowLike(Protocol):
    """A weekly window: a model row or a :class:`Window`."""

    @property
    def weekday(self) -> int: ...
    @property
    def start_minute(self) -> int: ...
    @property
    def end_minute(self) -> int: ...


class PeriodLike(Protocol):
    """A dated period: a model row or a :class:`Period`."""

    @property
    def kind(self) -> str: ...
    @property
    def starts_at(self) -> datetime: ...
    @property
    def ends_at(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class Window:
    """A weekly window as plain data (0 = Monday; minutes 0–1439 start, 1–1440 end)."""

    weekday: int
    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        if not (0 <= self.weekday <= 6 and 0 <= self.start_minute < MINUTES_PER_DAY):
            raise ValueError(f"window out of range: {self}")
        if not (0 < self.end_minute <= MINUTES_PER_DAY) or self.start_minute == self.end_minute:
            raise ValueError(f"window out of range or empty: {self}")

    @property
    def crosses_midnight(self) -> bool:
        return self.end_minute <= self.start_minute


@dataclass(frozen=True, slots=True)
class Period:
    """A dated period as plain data; ``reason`` is holiday, work or other."""

    kind: str
    starts_at: datetime
    ends_at: datetime
    reason: str = "other"


@dataclass(frozen=True, slots=True)
class Availability:
    """Everything declared by one reservist that says when they can be called."""

    windows: tuple[WindowLike, ...] = ()
    periods: tuple[PeriodLike, ...] = ()
    standby: Interval | None = None


# Local time ---------------------------------------------------------------------------


def _check_aware(*moments: datetime) -> None:
    for moment in moments:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError("naive datetime: availability works on timezone-aware instants")


@lru_cache(maxsize=8192)
def local_to_utc(day: date, minute: int) -> datetime:
    """The UTC instant of wall-clock ``minute`` (may exceed 1440: later days) on local ``day``.

    A skipped local time becomes the instant the clocks jumped; a repeated one its
    first occurrence (see the module docstring for why).
    """
    day = day + timedelta(days=minute // MINUTES_PER_DAY)
    minute %= MINUTES_PER_DAY
    naive = datetime(day.year, day.month, day.day, minute // 60, minute % 60)
    first = naive.replace(tzinfo=TZ).astimezone(UTC)  # fold=0: the earlier reading
    if first.astimezone(TZ).replace(tzinfo=None) == naive:
        return first
    # In the gap: fold=0 reads it with the old offset (too late), fold=1 with the new one
    # (too early); the jump lies in between.
    return _jump_between(naive.replace(tzinfo=TZ, fold=1).astimezone(UTC), first)


def _jump_between(early: datetime, late: datetime) -> datetime:
    """The first whole second at or before ``late`` that has ``late``'s UTC offset."""
    target = late.astimezone(TZ).utcoffset()
    low, high = int(early.timestamp()), int(late.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, TZ).utcoffset() == target:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def local_day(moment: datetime) -> date:
    """The date in Europe/Amsterdam at ``moment``."""
    return moment.astimezone(TZ).date()


def day_bounds(day: date) -> Interval:
    """Local ``day`` from midnight to midnight as UTC (23, 24 or 25 hours long)."""
    return local_to_utc(day, 0), local_to_utc(day, MINUTES_PER_DAY)


def steady_offset(first: date, last: date) -> bool:
    """Whether the clocks do not change between local midnight of ``first`` and of ``last``.

    Only meant for spans of a few days: there is at most one change in any such span.
    """
    start, end = local_to_utc(first, 0), local_to_utc(last, 0)
    return start.astimezone(TZ).utcoffset() == end.astimezone(TZ).utcoffset()


# Interval arithmetic -------------------------------------------------------------------


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping, non-touching intervals covering the same time; empties dropped."""
    result: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[0] < i[1]):
        if result and start <= result[-1][1]:
            if end > result[-1][1]:
                result[-1] = (result[-1][0], end)
        else:
            result.append((start, end))
    return result


def clip(intervals: Iterable[Interval], low: datetime, high: datetime) -> list[Interval]:
    return [(max(s, low), min(e, high)) for s, e in intervals if s < high and e > low]


def subtract(intervals: Sequence[Interval], holes: Sequence[Interval]) -> list[Interval]:
    """``intervals`` minus ``holes``; both merged (sorted, disjoint)."""
    result: list[Interval] = []
    index = 0
    for start, end in intervals:
        while index < len(holes) and holes[index][1] <= start:
            index += 1
        cursor = start
        probe = index
        while probe < len(holes) and holes[probe][0] < end:
            hole_start, hole_end = holes[probe]
            if hole_start > cursor:
                result.append((cursor, hole_start))
            cursor = max(cursor, hole_end)
            probe += 1
        if cursor < end:
            result.append((cursor, end))
    return result


# Expansion -----------------------------------------------------------------------------


def window_occurrence(window: WindowLike, day: date) -> Interval:
    """The window on local ``day`` (which must be its weekday) as UTC; may be empty in March."""
    end = window.end_minute
    if end <= window.start_minute:
        end += MINUTES_PER_DAY
    return local_to_utc(day, window.start_minute), local_to_utc(day, end)


def window_intervals(windows: Iterable[WindowLike], from_utc: datetime, to_utc: datetime) -> list[Interval]:
    """Every occurrence of the weekly windows within ``[from_utc, to_utc)``, merged, in UTC.

    Walks the local days from the day before ``from_utc`` (a window of the evening
    before may run past midnight) to the day of ``to_utc``.
    """
    _check_aware(from_utc, to_utc)
    by_weekday: dict[int, list[WindowLike]] = {}
    for window in windows:
        by_weekday.setdefault(window.weekday, []).append(window)
    if not by_weekday or from_utc >= to_utc:
        return []
    found: list[Interval] = []
    day = local_day(from_utc) - timedelta(days=1)
    last = local_day(to_utc)
    while day <= last:
        for window in by_weekday.get(day.weekday(), ()):
            found.append(window_occurrence(window, day))
        day += timedelta(days=1)
    return merge(clip(found, from_utc, to_utc))


def _period_intervals(
    periods: Iterable[PeriodLike], kind: str, reasons: Collection[str] | None = None
) -> list[Interval]:
    return [
        (p.starts_at, p.ends_at)
        for p in periods
        if p.kind == kind and (reasons is None or getattr(p, "reason", "other") in reasons)
    ]


def declared_intervals(availability: Availability, from_utc: datetime, to_utc: datetime) -> list[Interval]:
    """Windows, available periods and stand-by within the range, before unavailable periods."""
    parts = window_intervals(availability.windows, from_utc, to_utc)
    parts += _period_intervals(availability.periods, AVAILABLE)
    if availability.standby is not None:
        parts.append(availability.standby)
    return merge(clip(parts, from_utc, to_utc))


def blocked_intervals(
    periods: Iterable[PeriodLike],
    from_utc: datetime,
    to_utc: datetime,
    *,
    reasons: Collection[str] | None = None,
) -> list[Interval]:
    """The unavailable periods within ``[from_utc, to_utc)``, merged, in UTC.

    ``reasons`` keeps only some (``{"work"}``: the reservist's own roster, which the
    working-time rules count as hours worked elsewhere); ``None`` keeps all.
    """
    _check_aware(from_utc, to_utc)
    return merge(clip(_period_intervals(periods, UNAVAILABLE, reasons), from_utc, to_utc))


def available_intervals(availability: Availability, from_utc: datetime, to_utc: datetime) -> list[Interval]:
    """When the reservist is available within ``[from_utc, to_utc)``: merged UTC intervals."""
    _check_aware(from_utc, to_utc)
    declared = declared_intervals(availability, from_utc, to_utc)
    if not declared:
        return []
    return subtract(declared, blocked_intervals(availability.periods, from_utc, to_utc))


def covers(
    windows: Iterable[WindowLike],
    periods: Iterable[PeriodLike],
    standby: Interval | None,
    start_utc: datetime,
    end_utc: datetime,
) -> bool:
    """Whether the shift ``[start_utc, end_utc)`` lies wholly inside declared availability.

    Windows, available periods and stand-by may add up (a night window and the
    next morning's window together cover a shift across both); any unavailable
    period touching the shift makes the answer no.
    """
    _check_aware(start_utc, end_utc)
    if end_utc <= start_utc:
        raise ValueError("a shift must end after it starts")
    availability = Availability(tuple(windows), tuple(periods), standby)
    return available_intervals(availability, start_utc, end_utc) == [(start_utc, end_utc)]


def standby_interval(standby_until: datetime | None, now: datetime) -> Interval | None:
    """Stand-by as an interval: from ``now`` until its end, or ``None`` when it is off or over."""
    if standby_until is None or standby_until <= now:
        return None
    return now, standby_until


# Weekly windows among themselves ---------------------------------------------------------


def weekly_arc(window: WindowLike) -> tuple[int, int]:
    """The window as (start, length) in minutes from Monday 00:00 on the weekly clock."""
    length = window.end_minute - window.start_minute
    if length <= 0:
        length += MINUTES_PER_DAY
    return window.weekday * MINUTES_PER_DAY + window.start_minute, length


def windows_overlap(first: WindowLike, second: WindowLike) -> bool:
    """Whether two weekly windows share any wall-clock minute (Sunday night wraps to Monday)."""
    a, a_length = weekly_arc(first)
    b, b_length = weekly_arc(second)
    return (b - a) % MINUTES_PER_WEEK < a_length or (a - b) % MINUTES_PER_WEEK < b_length


def same_window(first: WindowLike, second: WindowLike) -> bool:
    return (first.weekday, first.start_minute, first.end_minute) == (
        second.weekday,
        second.start_minute,
        second.end_minute,
    )
