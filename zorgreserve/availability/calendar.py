"""What the availability pages show: labels, the week pattern and the coming weeks.

The week view is the weekly pattern in wall-clock time (that is how people
think of "Monday 07:00–17:00"); the month view is concrete days, computed with
:mod:`timeline`, so holidays, stand-by and the nights the clocks change show as
they really are.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from babel.dates import get_day_names
from flask_babel import format_date, format_datetime, get_locale
from flask_babel import gettext as _

from zorgreserve.availability.timeline import (
    MINUTES_PER_DAY,
    MINUTES_PER_WEEK,
    TZ,
    Availability,
    WindowLike,
    available_intervals,
    blocked_intervals,
    day_bounds,
    weekly_arc,
)

#: Time bands of the week view, in minutes of the day.
BANDS: tuple[tuple[int, int], ...] = tuple((hour * 60, (hour + 4) * 60) for hour in range(0, 24, 4))


def hhmm(minute: int) -> str:
    """Minutes of the day as 07:00; 1440 is 24:00 (midnight at the end of the day)."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def day_names(width: str = "wide") -> list[str]:
    """Monday … Sunday in the current language."""
    names = get_day_names(width, locale=get_locale() or "nl")
    return [str(names[i]) for i in range(7)]


def window_label(window: WindowLike) -> str:
    """A window as people read it, e.g. Friday 22:00–07:00 (until the next day)."""
    day = day_names()[window.weekday]
    if window.start_minute == 0 and window.end_minute == MINUTES_PER_DAY:
        return _("%(day)s, whole day", day=day)
    label = _(
        "%(day)s %(start)s–%(end)s", day=day, start=hhmm(window.start_minute), end=hhmm(window.end_minute)
    )
    if window.end_minute <= window.start_minute:
        label += " " + _("(until the next day)")
    return label


@dataclass(frozen=True)
class WeekRow:
    weekday: int
    name: str
    cells: tuple[str, ...]  # per band: "full", "part" or "none"


def week_grid(windows: Iterable[WindowLike]) -> list[WeekRow]:
    """Seven rows (Monday first) of time bands, each wholly, partly or not covered by a window."""
    covered = bytearray(MINUTES_PER_WEEK)
    for window in windows:
        start, length = weekly_arc(window)
        for minute in range(start, start + length):
            covered[minute % MINUTES_PER_WEEK] = 1
    names = day_names()
    rows = []
    for weekday in range(7):
        cells = []
        for band_start, band_end in BANDS:
            offset = weekday * MINUTES_PER_DAY
            taken = sum(covered[offset + band_start : offset + band_end])
            cells.append("full" if taken == band_end - band_start else "part" if taken else "none")
        rows.append(WeekRow(weekday, names[weekday], tuple(cells)))
    return rows


@dataclass
class DayCell:
    day: date
    state: str  # available, partly, unavailable, none, past
    ranges: list[tuple[str, str]] = field(default_factory=list)
    today: bool = False


def period_span(starts_at: datetime, ends_at: datetime) -> tuple[str, str]:
    """From and until as people entered them: whole days as dates (the last day included)."""
    start, end = starts_at.astimezone(TZ), ends_at.astimezone(TZ)
    if start == day_bounds(start.date())[0] and end == day_bounds(end.date())[0]:
        return format_date(start.date(), "medium"), format_date(end.date() - timedelta(days=1), "medium")
    return format_datetime(starts_at, "short"), format_datetime(ends_at, "short")


def _local_hhmm(moment: datetime, day_end: datetime) -> str:
    return "24:00" if moment == day_end else moment.astimezone(TZ).strftime("%H:%M")


def day_cell(availability: Availability, day: date, today: date) -> DayCell:
    """One local day: available (nothing blocked), partly (something blocked), unavailable, none."""
    if day < today:
        return DayCell(day, "past")
    start, end = day_bounds(day)
    free = available_intervals(availability, start, end)
    blocked = blocked_intervals(availability.periods, start, end)
    state = ("partly" if blocked else "available") if free else ("unavailable" if blocked else "none")
    ranges = [(_local_hhmm(s, end), _local_hhmm(e, end)) for s, e in free]
    return DayCell(day, state, ranges, today=day == today)


def month_weeks(availability: Availability, today: date, *, weeks: int = 5) -> list[list[DayCell]]:
    """The coming ``weeks`` weeks from this week's Monday, one row of seven days per week."""
    monday = today - timedelta(days=today.weekday())
    return [
        [day_cell(availability, monday + timedelta(days=7 * week + day), today) for day in range(7)]
        for week in range(weeks)
    ]
