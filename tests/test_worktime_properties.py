"""Properties of the working-time rules over generated rosters, checked against plain brute force.

Rosters are drawn on a quarter-hour grid over three weeks that include the night
the clocks go forward (29 March 2026), with every kind of interval, overlaps and
back-to-back shifts included.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zorgreserve.matching.worktime import (
    AMSTERDAM,
    Code,
    Interval,
    Kind,
    Schedule,
    WorkTimeRules,
    check,
    fits,
    night_facts,
)

RULES = WorkTimeRules()
BASE = datetime(2026, 3, 20, tzinfo=UTC)
QUARTER = timedelta(minutes=15)
SPAN = 21 * 24 * 4  # quarters in three weeks

PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def intervals(draw: st.DrawFn, kinds: tuple[str, ...] = tuple(Kind)) -> Interval:
    start = BASE + draw(st.integers(0, SPAN)) * QUARTER
    kind = draw(st.sampled_from(kinds))
    longest = 30 * 4 if kind == Kind.OTHER_WORK else 13 * 4
    length = draw(st.integers(1, longest)) * QUARTER
    return Interval(start, start + length, kind)


existing_lists = st.lists(intervals((Kind.BOOKED, Kind.HELD, Kind.OTHER_WORK)), max_size=14)
proposed_lists = st.lists(intervals((Kind.PROPOSED,)), min_size=1, max_size=4)
weekly_maxima = st.one_of(st.none(), st.integers(1, 60))


def keys(violations: list) -> set:
    return {(v.code, v.interval, v.other) for v in violations}


@PROPERTY_SETTINGS
@given(existing_lists, proposed_lists, weekly_maxima, st.randoms(use_true_random=False))
def test_order_of_the_input_does_not_matter(existing, proposed, weekly_max, rnd) -> None:
    expected = check(RULES, existing, proposed, weekly_max)
    shuffled_existing, shuffled_proposed = list(existing), list(proposed)
    rnd.shuffle(shuffled_existing)
    rnd.shuffle(shuffled_proposed)
    assert check(RULES, shuffled_existing, shuffled_proposed, weekly_max) == expected
    assert check(RULES, Schedule(shuffled_existing), shuffled_proposed, weekly_max) == expected


@PROPERTY_SETTINGS
@given(existing_lists, proposed_lists, intervals(), st.booleans(), weekly_maxima)
def test_more_work_never_lifts_a_violation(existing, proposed, extra, to_proposed, weekly_max) -> None:
    """Except one, by design: a night that continues a series moves the long rest after itself."""
    before = keys(check(RULES, existing, proposed, weekly_max))
    if to_proposed:
        after = keys(check(RULES, existing, [*proposed, extra], weekly_max))
    else:
        after = keys(check(RULES, [*existing, extra], proposed, weekly_max))
    lifted = before - after
    if night_facts(extra).night:
        lifted = {key for key in lifted if key[0] != Code.REST_AFTER_NIGHT_SERIES}
    assert not lifted


@PROPERTY_SETTINGS
@given(existing_lists, proposed_lists)
def test_a_passing_set_keeps_rest_and_never_overlaps(existing, proposed) -> None:
    if check(RULES, existing, proposed):
        return
    work = [(iv, False) for iv in existing] + [(iv, True) for iv in proposed]
    for first, first_proposed in work:
        for second, second_proposed in work:
            if first is second or not (first_proposed or second_proposed):
                continue
            assert first.end <= second.start or second.end <= first.start, "overlap"
            if first.end <= second.start:
                needed = 14 if night_facts(first).ends_after_two else 11
                assert second.start - first.end >= timedelta(hours=needed)


@PROPERTY_SETTINGS
@given(existing_lists, intervals((Kind.PROPOSED,)), weekly_maxima)
def test_fits_agrees_with_check(existing, one, weekly_max) -> None:
    expected = not check(RULES, existing, [one], weekly_max)
    assert fits(RULES, existing, one, weekly_max) is expected
    assert fits(RULES, Schedule(existing), one, weekly_max) is expected


def brute_peak(work: list[Interval], proposed: Interval) -> float:
    """The most hours of merged work in any 7 × 24 h window touching ``proposed``, quarter by quarter."""
    busy = set()
    for interval in work:
        moment = interval.start
        while moment < interval.end:
            busy.add(moment)
            moment += QUARTER
    week = timedelta(days=7)
    peak = 0
    start = proposed.start - week + QUARTER
    while start < proposed.end:
        quarters = sum(1 for q in busy if start <= q < start + week)
        peak = max(peak, quarters)
        start += QUARTER
    return peak / 4


@settings(max_examples=60, deadline=None)
@given(st.lists(intervals(), min_size=1, max_size=10), intervals((Kind.PROPOSED,)))
def test_weekly_hours_match_a_brute_force_sliding_window(existing, one) -> None:
    rules = WorkTimeRules(max_week_hours=20)
    found = [v for v in check(rules, existing, [one]) if v.code == Code.WEEKLY_HOURS]
    peak = brute_peak([*existing, one], one)
    assert bool(found) == (peak > 20)
    if found:
        assert found[0].value == peak


@settings(max_examples=200, deadline=None)
@given(intervals())
def test_night_hours_match_the_wall_clock_quarter_by_quarter(interval) -> None:
    quarters = 0
    moment = interval.start
    while moment < interval.end:
        if 0 <= moment.astimezone(AMSTERDAM).hour < 6:
            quarters += 1
        moment += QUARTER
    facts = night_facts(interval)
    assert facts.night_hours == quarters / 4
    assert facts.night == (quarters > 4)


SHIFT_TYPES = {
    "early": (7, 8),
    "late": (15, 8),
    "night": (22, 9),
    "short night": (23, 7),
    "long day": (8, 12),
}


@st.composite
def rosters(draw: st.DrawFn) -> tuple[list[Interval], Interval]:
    """One shift a day or none, in wall-clock terms, and one of them proposed: never overlapping."""
    choices = draw(st.lists(st.sampled_from([None, *SHIFT_TYPES]), min_size=5, max_size=21))
    work = []
    for day, choice in enumerate(choices):
        if choice is None:
            continue
        hour, length = SHIFT_TYPES[choice]
        local = datetime(2026, 3, 20) + timedelta(days=day, hours=hour)
        start = local.replace(tzinfo=AMSTERDAM)
        end = (local + timedelta(hours=length)).replace(tzinfo=AMSTERDAM)
        work.append(Interval(start, end, draw(st.sampled_from((Kind.BOOKED, Kind.OTHER_WORK)))))
    if not work:
        work.append(Interval(BASE, BASE + timedelta(hours=8), Kind.BOOKED))
    index = draw(st.integers(0, len(work) - 1))
    proposed = Interval(work[index].start, work[index].end, Kind.PROPOSED)
    return [w for i, w in enumerate(work) if i != index], proposed


def runs(items: list[Interval], gap: timedelta) -> list[list[Interval]]:
    """Split time-ordered work wherever the rest reaches ``gap``."""
    result: list[list[Interval]] = []
    for item in items:
        if result and item.start - result[-1][-1].end < gap:
            result[-1].append(item)
        else:
            result.append([item])
    return result


@settings(max_examples=400, deadline=None)
@given(rosters())
def test_series_rules_match_a_plain_walk_through_the_roster(roster) -> None:
    existing, proposed = roster
    work = sorted([*existing, proposed], key=lambda iv: iv.start)
    brk = timedelta(hours=RULES.series_break_hours)
    expected = set()
    for run in runs(work, brk):
        if proposed in run and len(run) > 7 and any(night_facts(iv).night for iv in run):
            expected.add((Code.CONSECUTIVE_SHIFTS, proposed, None))
    for series in runs([iv for iv in work if night_facts(iv).night], brk):
        if len(series) < 3:
            continue
        last = series[-1]
        for after in work:
            if timedelta(0) <= after.start - last.end < timedelta(hours=46):
                if after is proposed:
                    expected.add((Code.REST_AFTER_NIGHT_SERIES, proposed, last))
                if proposed in series:
                    expected.add((Code.REST_AFTER_NIGHT_SERIES, proposed, after))
    found = keys(check(RULES, existing, [proposed]))
    assert {
        key for key in found if key[0] in (Code.CONSECUTIVE_SHIFTS, Code.REST_AFTER_NIGHT_SERIES)
    } == expected
