"""Working-time rules (Arbeidstijdenwet) over plain time intervals, without a database.

The matching engine asks "may this reservist also work this shift?" thousands of
times per request, and booking asks it once more at the moment of booking, so the
rules are pure functions over :class:`Interval` values: shifts already booked or
held, periods the reservist declared as work elsewhere, and the shifts proposed
now. docs/working-time.md explains every rule to a coordinator.

Decisions that the law leaves open, made here once:

* Durations are real elapsed time between UTC instants; only the night-shift
  definition (work between 00:00 and 06:00) and "ends after 02:00" use the wall
  clock of Europe/Amsterdam, so a 22:00–07:00 shift lasts 8 h or 10 h on the nights
  the clocks change.
* "Per week" is every window of 7 × 24 hours (sliding), for the legal 60 hours and
  for the reservist's own maximum alike: whatever day a roster week starts on, no
  window may exceed the limit.
* Declared work elsewhere (``Kind.OTHER_WORK``) is work: it counts towards rest,
  overlap, night and series rules and the legal 60 hours, but not towards the
  reservist's own maximum (that is what they give the reserve) unless
  ``own_max_counts_other_work`` is set. Its length is not judged: it is not our shift.
* Rest is counted between any two pieces of work, so two short shifts on one day
  need 11 hours between them as well.
* Shifts are consecutive while the rest between them is shorter than
  ``series_break_hours`` (32 h, the shortest part of weekly rest the law allows);
  night shifts form a series the same way.
* Only violations that involve a proposed interval are reported: a conflict among
  the existing intervals alone is not the proposed shift's fault.

Adding work never makes a violation disappear, with one exception the law itself
makes: a night that continues a series of night shifts moves the long rest after
the series to after itself. So nights 5, 6 and 7 of a series may fit together
while nights 5 and 7 alone do not; booking checks each accepted shift again.

:func:`explain` needs Flask-Babel; the rules themselves import nothing of Flask.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from zorgreserve.config import ConfigError

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
_HOUR = 3_600_000_000  # microseconds: all arithmetic is on exact integers
_WEEK = 168 * _HOUR
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_NIGHT_START, _NIGHT_END, _NIGHT_LATE = 0, 6, 2  # local hours: the law's definition, not configuration
_NIGHT_MIN_WORK = _HOUR  # a night shift has *more than* one hour of work between 00:00 and 06:00
_NONE = -(10**9)  # "no such chain" in the chain-length tables


class Kind(StrEnum):
    """What an interval is; every kind is work."""

    BOOKED = "booked"  # a booked shift
    HELD = "held"  # a shift offered to the reservist and not yet answered (same or earlier wave)
    OTHER_WORK = "other_work"  # a period the reservist declared as work elsewhere
    PROPOSED = "proposed"  # a shift being considered now


class Code(StrEnum):
    """Stable reason codes, for programs, logs and tests; :func:`explain` gives the words."""

    OVERLAP = "overlap"
    SHIFT_TOO_LONG = "shift_too_long"
    NIGHT_TOO_LONG = "night_too_long"
    REST_TOO_SHORT = "rest_too_short"
    REST_AFTER_NIGHT = "rest_after_night"
    REST_AFTER_NIGHT_SERIES = "rest_after_night_series"
    CONSECUTIVE_SHIFTS = "consecutive_shifts"
    WEEKLY_HOURS = "weekly_hours"
    OWN_WEEKLY_MAX = "own_weekly_max"


@dataclass(frozen=True, slots=True)
class Interval:
    """A stretch of work from ``start`` to ``end`` (exclusive), stored in UTC."""

    start: datetime
    end: datetime
    kind: str = Kind.PROPOSED

    def __post_init__(self) -> None:
        for value in (self.start, self.end):
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError("interval times must be timezone-aware")
        object.__setattr__(self, "start", self.start.astimezone(UTC))
        object.__setattr__(self, "end", self.end.astimezone(UTC))
        object.__setattr__(self, "kind", Kind(self.kind))
        if self.end <= self.start:
            raise ValueError("an interval must end after it starts")

    @property
    def hours(self) -> float:
        """Real elapsed hours, also on the nights the clocks change."""
        return (self.end - self.start) / timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule about one proposed interval.

    ``value`` is what was measured (hours of rest, hours worked, the shift's length,
    or for ``consecutive_shifts`` the number of shifts) and ``limit`` the rule's
    bound in the same unit; ``count`` is the number of night shifts in the series
    for ``rest_after_night_series``. ``other`` is the interval it conflicts with,
    where there is a single one.
    """

    code: Code
    interval: Interval
    other: Interval | None
    value: float
    limit: float
    count: int = 0


# The configuration key of every rule parameter, in the order the documentation lists them.
CONFIG_KEYS: dict[str, str] = {
    "max_shift_hours": "WORKTIME_MAX_SHIFT_HOURS",
    "min_rest_hours": "WORKTIME_MIN_REST_HOURS",
    "max_week_hours": "WORKTIME_MAX_WEEK_HOURS",
    "max_night_shift_hours": "WORKTIME_MAX_NIGHT_SHIFT_HOURS",
    "min_rest_after_night_hours": "WORKTIME_MIN_REST_AFTER_NIGHT_HOURS",
    "night_series_length": "WORKTIME_NIGHT_SERIES_LENGTH",
    "min_rest_after_night_series_hours": "WORKTIME_MIN_REST_AFTER_NIGHT_SERIES_HOURS",
    "max_consecutive_shifts_with_night": "WORKTIME_MAX_CONSECUTIVE_SHIFTS_WITH_NIGHT",
    "series_break_hours": "WORKTIME_SERIES_BREAK_HOURS",
    "own_max_counts_other_work": "WORKTIME_OWN_MAX_COUNTS_OTHER_WORK",
}


@dataclass(frozen=True, slots=True)
class WorkTimeRules:
    """The rule parameters; the defaults are the Arbeidstijdenwet's for adults."""

    max_shift_hours: float = 12
    min_rest_hours: float = 11
    max_week_hours: float = 60
    max_night_shift_hours: float = 10
    min_rest_after_night_hours: float = 14
    night_series_length: int = 3
    min_rest_after_night_series_hours: float = 46
    max_consecutive_shifts_with_night: int = 7
    series_break_hours: float = 32
    own_max_counts_other_work: bool = False

    def __post_init__(self) -> None:
        for name in CONFIG_KEYS:
            value = getattr(self, name)
            if isinstance(value, bool):
                continue
            if name in ("night_series_length", "max_consecutive_shifts_with_night"):
                if not isinstance(value, int) or value < 1:
                    raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")
            elif not value > 0:
                raise ValueError(f"{name} must be a positive number of hours, got {value!r}")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> WorkTimeRules:
        """Read the ``WORKTIME_*`` keys (numbers or numeric strings); a missing key keeps its default."""
        values: dict[str, Any] = {}
        for name, key in CONFIG_KEYS.items():
            raw = config.get(key)
            if raw is None or raw == "":
                continue
            try:
                values[name] = _parse(name, raw)
            except ValueError as exc:
                raise ConfigError(f"{key}: {exc}") from exc
        try:
            return cls(**values)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc


def _parse(name: str, raw: Any) -> Any:
    if name == "own_max_counts_other_work":
        if isinstance(raw, bool):
            return raw
        return str(raw).strip().lower() in {"1", "true", "yes", "on"}
    if name in ("night_series_length", "max_consecutive_shifts_with_night"):
        return int(raw)
    return float(raw)


class _Limits(NamedTuple):
    max_shift: int
    min_rest: int
    max_week: int
    night_max: int
    night_rest: int
    series_len: int
    series_rest: int
    max_consecutive: int
    brk: int
    rest_reach: int
    reach: int


@lru_cache(maxsize=64)
def _limits(rules: WorkTimeRules) -> _Limits:
    def us(hours: float) -> int:
        return round(hours * _HOUR)

    rest_reach = max(us(rules.min_rest_hours), us(rules.min_rest_after_night_hours))
    series_rest = us(rules.min_rest_after_night_series_hours)
    brk = us(rules.series_break_hours)
    return _Limits(
        max_shift=us(rules.max_shift_hours),
        min_rest=us(rules.min_rest_hours),
        max_week=us(rules.max_week_hours),
        night_max=us(rules.max_night_shift_hours),
        night_rest=us(rules.min_rest_after_night_hours),
        series_len=rules.night_series_length,
        series_rest=series_rest,
        max_consecutive=rules.max_consecutive_shifts_with_night,
        brk=brk,
        rest_reach=rest_reach,
        reach=max(rest_reach, series_rest, brk, _WEEK),
    )


# --- facts about one interval -------------------------------------------------------------


def _us(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


@lru_cache(maxsize=8192)
def _night_bounds(ordinal: int) -> tuple[int, int, int]:
    """00:00, 06:00 and 02:00 local time on a date, as UTC microseconds.

    On the spring night 02:00 does not exist and stands for the moment the clocks
    jump; on the autumn night it comes twice and the first one counts.
    """
    day = date.fromordinal(ordinal)

    def at(hour: int) -> int:
        return _us(datetime(day.year, day.month, day.day, hour, tzinfo=AMSTERDAM))

    return at(_NIGHT_START), at(_NIGHT_END), at(_NIGHT_LATE)


class NightFacts(NamedTuple):
    night: bool  # more than 1 h of work between 00:00 and 06:00 local time
    ends_after_two: bool  # a night shift that ends after 02:00 local time (14 h rest follows)
    night_hours: float


_DAYTIME = NightFacts(False, False, 0.0)


@lru_cache(maxsize=65536)
def night_facts(interval: Interval) -> NightFacts:
    """Whether an interval is a night shift, and whether it ends after 02:00 (local time)."""
    local_start = interval.start.astimezone(AMSTERDAM)
    local_end = interval.end.astimezone(AMSTERDAM)
    first, last = local_start.toordinal(), local_end.toordinal()
    if first == last and local_start.hour >= _NIGHT_END:
        return _DAYTIME  # within one day, after 06:00: the usual day or evening shift
    start, end = _us(interval.start), _us(interval.end)
    night = 0
    late_from = None
    for ordinal in range(first, last + 1):
        window_start, window_end, two = _night_bounds(ordinal)
        overlap = min(end, window_end) - max(start, window_start)
        if overlap > 0:
            night += overlap
            late_from = two
    is_night = night > _NIGHT_MIN_WORK
    return NightFacts(is_night, is_night and late_from is not None and end > late_from, night / _HOUR)


def is_night_shift(interval: Interval) -> bool:
    return night_facts(interval).night


class _Item:
    """An interval with its facts precomputed, as the rules read it. Never changed once made."""

    __slots__ = ("e", "interval", "key", "late", "night", "proposed", "reserve", "s")

    def __init__(self, interval: Interval, proposed: bool) -> None:
        facts = night_facts(interval)
        self.interval = interval
        self.s = _us(interval.start)
        self.e = _us(interval.end)
        self.night = facts.night
        self.late = facts.ends_after_two
        self.proposed = proposed
        self.reserve = proposed or interval.kind != Kind.OTHER_WORK
        # Total order on values, so that equal inputs in any order give equal results.
        self.key = (self.s, self.e, str(interval.kind), proposed)


def _sort_key(item: _Item) -> tuple[int, int, str, bool]:
    return item.key


@lru_cache(maxsize=4096)
def _proposed_item(interval: Interval) -> _Item:
    """Matching proposes the same few shifts for every candidate: prepare each once."""
    return _Item(interval, True)


class Schedule:
    """A reservist's existing intervals, sorted once and reused for many proposed shifts.

    Build one per reservist (``Schedule(existing)``) when checking many shifts for
    the same person; :func:`check` and :func:`fits` accept it wherever they accept
    a sequence of intervals.
    """

    __slots__ = ("_clusters", "items", "maxdur", "starts")

    def __init__(self, existing: Iterable[Interval]) -> None:
        self.items = sorted((_Item(interval, False) for interval in existing), key=_sort_key)
        self.starts = [item.s for item in self.items]
        self.maxdur = max((item.e - item.s for item in self.items), default=0)
        self._clusters: dict[int, tuple[list[int], list[int]]] = {}

    def __len__(self) -> int:
        return len(self.items)

    def _cluster_table(self, brk: int) -> tuple[list[int], list[int]]:
        """Per item: the index of the first item of its cluster and the cluster's last end.

        A cluster is a run of work whose gaps are all shorter than ``brk``; chains of
        consecutive shifts never cross from one cluster to another.
        """
        table = self._clusters.get(brk)
        if table is None:
            first: list[int] = []
            last_end: list[int] = []
            start_index, reach = 0, None
            for index, item in enumerate(self.items):
                if reach is None or item.s - reach >= brk:
                    start_index = index
                    reach = item.e
                else:
                    reach = max(reach, item.e)
                first.append(start_index)
                last_end.append(reach)
            # Propagate each cluster's final end back to all of its members.
            for index in range(len(self.items) - 2, -1, -1):
                if first[index + 1] == first[index]:
                    last_end[index] = last_end[index + 1]
            table = self._clusters[brk] = (first, last_end)
        return table

    def near(self, limits: _Limits, lo: int, hi: int) -> list[_Item]:
        """The existing items that can take part in a violation of work between ``lo`` and ``hi``."""
        if not self.items:
            return []
        first, last_end = self._cluster_table(limits.brk)
        starts = self.starts
        # Runs of consecutive work joined by the proposed shifts are taken whole, on both sides.
        last = bisect_left(starts, hi + limits.brk) - 1
        if last >= 0:
            hi = max(hi, last_end[last])
        left = bisect_left(starts, lo - limits.reach - self.maxdur)
        if left < len(starts):
            left = first[left]
        return self.items[left : bisect_left(starts, hi + limits.reach)]


# --- the public checks --------------------------------------------------------------------


def check(
    rules: WorkTimeRules,
    existing: Sequence[Interval] | Schedule,
    proposed: Sequence[Interval],
    weekly_max_hours: int | None = None,
) -> list[Violation]:
    """Every rule the ``proposed`` intervals break, together and against ``existing``.

    The result is sorted and independent of the order of either input; each
    violation names the proposed interval it is about.
    """
    items = _combine(rules, existing, proposed)
    if not items:
        return []
    best: dict[tuple[Any, ...], Violation] = {}
    for violation in _violations(_limits(rules), items, weekly_max_hours, rules.own_max_counts_other_work):
        key = (violation.code, violation.interval, violation.other)
        current = best.get(key)
        if current is None or _severity(violation) > _severity(current):
            best[key] = violation
    return sorted(best.values(), key=_order)


def fits(
    rules: WorkTimeRules,
    existing: Sequence[Interval] | Schedule,
    proposed_one: Interval,
    weekly_max_hours: int | None = None,
) -> bool:
    """Whether one more shift keeps every rule: ``not check(...)``, stopping at the first violation.

    With no work near the shift only its own length is left to judge, which is the
    common case when matching runs over thousands of reservists.
    """
    lim = _limits(rules)
    schedule = existing if isinstance(existing, Schedule) else Schedule(existing)
    item = _proposed_item(proposed_one)
    near = schedule.near(lim, item.s, item.e)
    if not near:
        length = item.e - item.s
        in_a_week = min(length, _WEEK)
        return (
            length <= lim.max_shift
            and not (item.night and length > lim.night_max)
            and in_a_week <= lim.max_week
            and (weekly_max_hours is None or in_a_week <= weekly_max_hours * _HOUR)
        )
    items = [*near, item]
    items.sort(key=_sort_key)
    violations = _violations(lim, items, weekly_max_hours, rules.own_max_counts_other_work)
    return next(violations, None) is None


def _combine(
    rules: WorkTimeRules, existing: Sequence[Interval] | Schedule, proposed: Sequence[Interval]
) -> list[_Item]:
    if not proposed:
        return []
    schedule = existing if isinstance(existing, Schedule) else Schedule(existing)
    new = [_proposed_item(interval) for interval in proposed]
    lo = min(item.s for item in new)
    hi = max(item.e for item in new)
    items = schedule.near(_limits(rules), lo, hi) + new
    items.sort(key=_sort_key)
    return items


def _severity(violation: Violation) -> tuple[float, int]:
    return abs(violation.value - violation.limit), violation.count


def _interval_order(interval: Interval | None) -> tuple[Any, ...]:
    if interval is None:
        return ()
    return (interval.start, interval.end, str(interval.kind))


def _order(violation: Violation) -> tuple[Any, ...]:
    return (
        _interval_order(violation.interval),
        str(violation.code),
        _interval_order(violation.other),
        violation.value,
        violation.count,
    )


def _violation(
    code: Code, item: _Item, other: _Item | None, value: int, limit: int, count: int = 0
) -> Violation:
    """A violation with microsecond amounts turned into hours."""
    return Violation(
        code, item.interval, other.interval if other else None, value / _HOUR, limit / _HOUR, count
    )


# --- the rules ----------------------------------------------------------------------------


def _violations(
    lim: _Limits, items: list[_Item], weekly_max: int | None, own_counts_other: bool
) -> Iterator[Violation]:
    """Yield violations, cheapest rules first, so that :func:`fits` can stop early."""
    starts = [item.s for item in items]
    maxdur = max(item.e - item.s for item in items)
    proposed = [index for index, item in enumerate(items) if item.proposed]

    for index in proposed:
        item = items[index]
        length = item.e - item.s
        if length > lim.max_shift:
            yield _violation(Code.SHIFT_TOO_LONG, item, None, length, lim.max_shift)
        if item.night and length > lim.night_max:
            yield _violation(Code.NIGHT_TOO_LONG, item, None, length, lim.night_max)

    yield from _overlaps(items, starts, maxdur, proposed)
    yield from _rests(lim, items, starts, maxdur, proposed)
    yield from _weekly(lim.max_week, Code.WEEKLY_HOURS, items, proposed, lambda item: True)
    if weekly_max is not None:
        counted = (lambda item: True) if own_counts_other else (lambda item: item.reserve)
        yield from _weekly(weekly_max * _HOUR, Code.OWN_WEEKLY_MAX, items, proposed, counted)
    if any(item.night for item in items):
        yield from _night_series(lim, items, starts, maxdur)
        if len(items) > lim.max_consecutive:
            yield from _consecutive(lim, items, starts, maxdur, proposed)


def _overlaps(items: list[_Item], starts: list[int], maxdur: int, proposed: list[int]) -> Iterator[Violation]:
    """Work at the same time; a shift that starts when another ends does not overlap."""
    for index in proposed:
        item = items[index]
        for other_index in range(bisect_right(starts, item.s - maxdur), bisect_left(starts, item.e)):
            other = items[other_index]
            if other_index == index or other.e <= item.s:
                continue
            if other.proposed and other_index > index:
                continue  # between two proposed shifts: reported once, on the later one
            yield _violation(Code.OVERLAP, item, other, min(item.e, other.e) - max(item.s, other.s), 0)


def _rest_violation(lim: _Limits, before: _Item, gap: int, subject: _Item, other: _Item) -> Violation | None:
    if before.late and gap < lim.night_rest:
        return _violation(Code.REST_AFTER_NIGHT, subject, other, gap, lim.night_rest)
    if gap < lim.min_rest:
        return _violation(Code.REST_TOO_SHORT, subject, other, gap, lim.min_rest)
    return None


def _rests(
    lim: _Limits, items: list[_Item], starts: list[int], maxdur: int, proposed: list[int]
) -> Iterator[Violation]:
    """Too little rest between any earlier and later piece of work (pairs, not only neighbours)."""
    for index in proposed:
        item = items[index]
        for other_index in range(
            bisect_left(starts, item.s - lim.rest_reach - maxdur), bisect_right(starts, item.s)
        ):
            before = items[other_index]
            gap = item.s - before.e
            if other_index != index and gap >= 0:
                violation = _rest_violation(lim, before, gap, item, before)
                if violation:
                    yield violation
        needed = lim.rest_reach if item.late else lim.min_rest
        for other_index in range(bisect_left(starts, item.e), bisect_left(starts, item.e + needed)):
            after = items[other_index]
            if after.proposed:
                continue  # reported on the later proposed shift
            violation = _rest_violation(lim, item, after.s - item.e, item, after)
            if violation:
                yield violation


def _weekly(
    limit: int, code: Code, items: list[_Item], proposed: list[int], counted: Any
) -> Iterator[Violation]:
    """Hours in any window of 7 × 24 hours that touches a proposed shift.

    Work is merged first (overlapping pieces count once). The most loaded window
    starts where a piece of work starts or ends exactly 7 × 24 h after a piece ends,
    or at the edges of the range, so only those starts are measured.
    """
    maxdur = max(item.e - item.s for item in items)
    starts = [item.s for item in items]
    loaded = []
    for index in proposed:
        item = items[index]
        lo, hi = item.s - _WEEK, item.e + _WEEK
        total = 0  # overlapping pieces counted twice here: an upper bound
        for other in items[bisect_right(starts, lo - maxdur) : bisect_left(starts, hi)]:
            if other.e > lo and counted(other):
                total += min(other.e, hi) - max(other.s, lo)
        if total > limit:
            loaded.append(item)
    if not loaded:
        return  # even the fortnight around each proposed shift is within the limit

    seg_starts: list[int] = []
    seg_ends: list[int] = []
    for item in items:  # items are sorted by start
        if not counted(item):
            continue
        if seg_ends and item.s <= seg_ends[-1]:
            seg_ends[-1] = max(seg_ends[-1], item.e)
        else:
            seg_starts.append(item.s)
            seg_ends.append(item.e)
    before = [0]
    for seg_start, seg_end in zip(seg_starts, seg_ends, strict=True):
        before.append(before[-1] + seg_end - seg_start)

    def worked_before(moment: int) -> int:
        k = bisect_right(seg_starts, moment) - 1
        if k < 0:
            return 0
        return before[k] + min(moment, seg_ends[k]) - seg_starts[k]

    for item in loaded:
        lo, hi = item.s - _WEEK, item.e
        candidates = {lo, hi}
        candidates.update(seg_starts[bisect_left(seg_starts, lo) : bisect_right(seg_starts, hi)])
        candidates.update(
            end - _WEEK
            for end in seg_ends[bisect_left(seg_ends, lo + _WEEK) : bisect_right(seg_ends, hi + _WEEK)]
        )
        peak = max(worked_before(t + _WEEK) - worked_before(t) for t in candidates)
        if peak > limit:
            yield _violation(code, item, None, peak, limit)


def _night_series(lim: _Limits, items: list[_Item], starts: list[int], maxdur: int) -> Iterator[Violation]:
    """After a series of night shifts, a long rest before any further work.

    A series is a chain of night shifts each starting less than ``brk`` after the
    previous one ends; it ends at a night that no other night follows within
    ``brk``. The longest chain ending at each night is measured; a violation is
    reported for proposed work within the rest after the series, and for every
    proposed night that belongs to a long enough series.

    This is the one rule where more work can lift a violation: a night that
    continues the series moves the long rest to after itself.
    """
    nights = [index for index, item in enumerate(items) if item.night]
    if len(nights) < lim.series_len:
        return
    night_starts = [items[index].s for index in nights]
    preds: list[list[int]] = []
    longest: list[int] = []  # longest chain ending at each night
    for k, index in enumerate(nights):
        item = items[index]
        mine = [
            m
            for m in range(bisect_right(night_starts, item.s - lim.brk - maxdur), k)
            if items[nights[m]].e <= item.s and item.s - items[nights[m]].e < lim.brk
        ]
        preds.append(mine)
        longest.append(1 + max((longest[m] for m in mine), default=0))

    # For each proposed night: the longest chain through it ending at each later night.
    through: list[list[tuple[_Item, int]]] = [[] for _ in nights]
    for k, index in enumerate(nights):
        if not items[index].proposed:
            continue
        reach = {k: longest[k]}
        for j in range(k + 1, len(nights)):
            best = max((reach[m] for m in preds[j] if m in reach), default=0)
            if best:
                reach[j] = best + 1
        for j, length in reach.items():
            through[j].append((items[index], length))

    for k, index in enumerate(nights):
        night = items[index]
        if longest[k] < lim.series_len:
            continue
        if bisect_left(night_starts, night.e) < bisect_left(night_starts, night.e + lim.brk):
            continue  # another night follows soon enough: the series goes on
        chains = [(item, length) for item, length in through[k] if length >= lim.series_len]
        for after_index in range(
            bisect_left(starts, night.e), bisect_left(starts, night.e + lim.series_rest)
        ):
            after = items[after_index]
            gap = after.s - night.e
            if after.proposed:
                yield _violation(Code.REST_AFTER_NIGHT_SERIES, after, night, gap, lim.series_rest, longest[k])
            for member, length in chains:
                yield _violation(Code.REST_AFTER_NIGHT_SERIES, member, after, gap, lim.series_rest, length)


def _consecutive(
    lim: _Limits, items: list[_Item], starts: list[int], maxdur: int, proposed: list[int]
) -> Iterator[Violation]:
    """Too many consecutive shifts when at least one of them is a night shift.

    For every piece of work the longest chain ending (and starting) there is kept
    twice: without any night shift, and with at least one.
    """
    n, brk = len(items), lim.brk
    plain_in, night_in = [_NONE] * n, [_NONE] * n
    for index, item in enumerate(items):
        plain, night = (_NONE, 1) if item.night else (1, _NONE)
        for prev in range(bisect_right(starts, item.s - brk - maxdur), index):
            before = items[prev]
            if before.e <= item.s and item.s - before.e < brk:
                if item.night:
                    night = max(night, plain_in[prev] + 1, night_in[prev] + 1)
                else:
                    plain = max(plain, plain_in[prev] + 1)
                    night = max(night, night_in[prev] + 1)
        plain_in[index], night_in[index] = plain, night
    plain_out, night_out = [_NONE] * n, [_NONE] * n
    for index in range(n - 1, -1, -1):
        item = items[index]
        plain, night = (_NONE, 1) if item.night else (1, _NONE)
        for nxt in range(bisect_left(starts, item.e), bisect_left(starts, item.e + brk)):
            if item.night:
                night = max(night, plain_out[nxt] + 1, night_out[nxt] + 1)
            else:
                plain = max(plain, plain_out[nxt] + 1)
                night = max(night, night_out[nxt] + 1)
        plain_out[index], night_out[index] = plain, night
    for index in proposed:
        if items[index].night:
            ending = max(plain_in[index], night_in[index])
            length = ending + max(plain_out[index], night_out[index]) - 1
        else:
            length = (
                max(
                    night_in[index] + max(plain_out[index], night_out[index]),
                    plain_in[index] + night_out[index],
                )
                - 1
            )
        if length > lim.max_consecutive:
            yield Violation(Code.CONSECUTIVE_SHIFTS, items[index].interval, None, length, lim.max_consecutive)


# --- explanations -------------------------------------------------------------------------


def explain(violation: Violation) -> str:
    """The violation in words, in the language of the current context.

    Formatted when called: inside a request in the request's language, in a worker
    inside ``app.app_context()`` and ``flask_babel.force_locale(...)`` in the chosen
    one, and outside any application context in English (the source text). Times are
    shown in Europe/Amsterdam.
    """
    from flask_babel import gettext as _

    hours = _number(violation.value)
    limit = _number(violation.limit)
    other = _describe(violation.other) if violation.other is not None else ""
    match violation.code:
        case Code.OVERLAP:
            return _("This shift overlaps %(other)s.", other=other)
        case Code.SHIFT_TOO_LONG:
            return _(
                "This shift lasts %(hours)s hours; a shift may last at most %(limit)s hours.",
                hours=hours,
                limit=limit,
            )
        case Code.NIGHT_TOO_LONG:
            return _(
                "This night shift lasts %(hours)s hours; a night shift may last at most %(limit)s hours.",
                hours=hours,
                limit=limit,
            )
        case Code.REST_TOO_SHORT:
            return _(
                "Only %(hours)s hours of rest between this shift and %(other)s; "
                "at least %(limit)s hours are required.",
                hours=hours,
                other=other,
                limit=limit,
            )
        case Code.REST_AFTER_NIGHT:
            return _(
                "Only %(hours)s hours of rest between this shift and %(other)s; "
                "after a night shift that ends after 02:00 at least %(limit)s hours are required.",
                hours=hours,
                other=other,
                limit=limit,
            )
        case Code.REST_AFTER_NIGHT_SERIES if (
            violation.other and violation.other.start < violation.interval.start
        ):
            return _(
                "Only %(hours)s hours of rest after a series of %(count)s night shifts ending with "
                "%(other)s; after a series of night shifts at least %(limit)s hours are required.",
                hours=hours,
                count=violation.count,
                other=other,
                limit=limit,
            )
        case Code.REST_AFTER_NIGHT_SERIES:
            return _(
                "This night shift makes a series of %(count)s night shifts followed after only "
                "%(hours)s hours by %(other)s; after a series of night shifts at least %(limit)s hours "
                "are required.",
                hours=hours,
                count=violation.count,
                other=other,
                limit=limit,
            )
        case Code.CONSECUTIVE_SHIFTS:
            return _(
                "This shift would be one of %(count)s consecutive shifts including a night shift; at most "
                "%(limit)s are allowed.",
                count=int(violation.value),
                limit=int(violation.limit),
            )
        case Code.WEEKLY_HOURS:
            return _(
                "With this shift there are %(hours)s hours of work within 7 × 24 hours; "
                "at most %(limit)s are allowed.",
                hours=hours,
                limit=limit,
            )
        case Code.OWN_WEEKLY_MAX:
            return _(
                "With this shift there are %(hours)s hours of reserve shifts within 7 × 24 hours; this "
                "reservist works at most %(limit)s hours a week.",
                hours=hours,
                limit=limit,
            )
    raise ValueError(f"unknown working-time code {violation.code!r}")


def _number(hours: float) -> str:
    """Hours with at most two decimals, in the current locale where there is one."""
    from flask import has_app_context
    from flask_babel import format_decimal

    rounded = round(hours, 2)
    if has_app_context():
        return format_decimal(rounded, format="#,##0.##")
    return f"{rounded:g}"


def _moment(moment: datetime) -> str:
    from flask import has_app_context
    from flask_babel import format_datetime

    local = moment.astimezone(AMSTERDAM)
    if has_app_context():
        return format_datetime(local, "EEE d MMM HH:mm", rebase=False)
    return f"{local:%a} {local.day} {local:%b %H:%M}"


def _describe(interval: Interval) -> str:
    from flask_babel import gettext as _

    start, end = _moment(interval.start), _moment(interval.end)
    match interval.kind:
        case Kind.BOOKED:
            return _("a booked shift from %(start)s to %(end)s", start=start, end=end)
        case Kind.HELD:
            return _("a shift already offered from %(start)s to %(end)s", start=start, end=end)
        case Kind.OTHER_WORK:
            return _("work declared elsewhere from %(start)s to %(end)s", start=start, end=end)
        case _:
            return _("another proposed shift from %(start)s to %(end)s", start=start, end=end)
