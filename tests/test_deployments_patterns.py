"""Shift patterns become the right UTC shifts, in Amsterdam wall-clock time, across DST changes,
and the services refuse patterns that break the limits."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from tests.deployments_support import english
from zorgreserve.deployments import services
from zorgreserve.deployments.patterns import (
    AMSTERDAM,
    PRESET_TIMES,
    PlannedShift,
    Preset,
    Repeat,
    ShiftPattern,
    expand,
    to_utc,
)


def last_sunday(year: int, month: int) -> date:
    end = date(year, month + 1, 1) - timedelta(days=1)
    return end - timedelta(days=(end.weekday() - 6) % 7)


SPRING = last_sunday(2027, 3)  # clocks go 02:00 → 03:00
AUTUMN = last_sunday(2027, 10)  # clocks go 03:00 → 02:00
BEFORE_ALL = datetime(2027, 1, 1, tzinfo=UTC)


def pattern(first_day: date, preset: Preset = Preset.DAY, **kw) -> ShiftPattern:
    start, end = PRESET_TIMES[preset] if preset is not Preset.CUSTOM else (kw.pop("start"), kw.pop("end"))
    return ShiftPattern(
        first_day=first_day,
        start_time=start,
        end_time=end,
        repeat=kw.get("repeat", Repeat.DAILY),
        days=kw.get("days", 14),
        places=kw.get("places", 3),
    )


def test_the_dst_dates_used_here_really_change_the_clocks():
    assert datetime.combine(SPRING, time(12), AMSTERDAM).utcoffset() == timedelta(hours=2)
    assert datetime.combine(SPRING - timedelta(days=1), time(12), AMSTERDAM).utcoffset() == timedelta(hours=1)
    assert datetime.combine(AUTUMN, time(12), AMSTERDAM).utcoffset() == timedelta(hours=1)


def test_fourteen_day_shifts_start_at_seven_local_time_across_the_spring_change():
    shifts = expand(pattern(SPRING - timedelta(days=6)))
    assert len(shifts) == 14
    assert [s.local_start.time() for s in shifts] == [time(7, 0)] * 14
    assert [s.local_end.time() for s in shifts] == [time(15, 30)] * 14
    assert [s.local_start.date() for s in shifts] == [SPRING - timedelta(days=6 - i) for i in range(14)]
    # In UTC the same wall-clock shift moves an hour earlier once summer time starts.
    assert shifts[0].start_at.hour == 6 and shifts[-1].start_at.hour == 5
    assert all(s.hours == 8.5 for s in shifts)
    assert all(s.places == 3 for s in shifts)


def test_weekdays_only_skip_saturday_and_sunday():
    monday = date(2027, 5, 3)
    shifts = expand(pattern(monday, repeat=Repeat.WEEKDAYS, days=14))
    assert len(shifts) == 10
    assert {s.local_start.weekday() for s in shifts} == {0, 1, 2, 3, 4}


def test_a_night_ends_the_next_morning():
    (night,) = expand(pattern(date(2027, 5, 4), Preset.NIGHT, repeat=Repeat.ONCE))
    assert night.local_start == datetime(2027, 5, 4, 23, 0, tzinfo=AMSTERDAM)
    assert night.local_end == datetime(2027, 5, 5, 7, 30, tzinfo=AMSTERDAM)
    assert night.crosses_midnight and night.hours == 8.5


def test_the_spring_night_is_an_hour_shorter_and_the_autumn_night_an_hour_longer():
    (spring,) = expand(pattern(SPRING - timedelta(days=1), Preset.NIGHT, repeat=Repeat.ONCE))
    (autumn,) = expand(pattern(AUTUMN - timedelta(days=1), Preset.NIGHT, repeat=Repeat.ONCE))
    assert (spring.local_start.time(), spring.local_end.time()) == (time(23, 0), time(7, 30))
    assert (autumn.local_start.time(), autumn.local_end.time()) == (time(23, 0), time(7, 30))
    assert spring.hours == 7.5
    assert autumn.hours == 9.5


def test_fourteen_nights_across_the_autumn_change_keep_their_wall_clock_times():
    nights = expand(pattern(AUTUMN - timedelta(days=7), Preset.NIGHT))
    assert len(nights) == 14
    assert all(n.local_start.time() == time(23, 0) and n.local_end.time() == time(7, 30) for n in nights)
    assert sorted({n.hours for n in nights}) == [8.5, 9.5]
    assert [n.hours for n in nights].count(9.5) == 1


def test_a_wall_clock_time_that_does_not_exist_moves_forward_and_a_double_one_means_the_first():
    (gap,) = expand(pattern(SPRING, Preset.CUSTOM, start=time(2, 30), end=time(10, 0), repeat=Repeat.ONCE))
    assert gap.local_start == datetime(SPRING.year, SPRING.month, SPRING.day, 3, 30, tzinfo=AMSTERDAM)
    (double,) = expand(pattern(AUTUMN, Preset.CUSTOM, start=time(2, 30), end=time(10, 0), repeat=Repeat.ONCE))
    assert double.start_at == datetime(AUTUMN.year, AUTUMN.month, AUTUMN.day, 0, 30, tzinfo=UTC)
    assert double.hours == 8.5  # 02:30 summer time to 10:00 winter time
    # A time marked as the second occurrence is read as the first all the same.
    assert to_utc(AUTUMN, time(2, 30, fold=1)) == to_utc(AUTUMN, time(2, 30)) == double.start_at


def test_one_shift_ignores_the_number_of_days():
    assert len(expand(pattern(date(2027, 5, 4), repeat=Repeat.ONCE, days=30))) == 1


def test_expansion_stops_just_past_the_limit():
    assert len(expand(pattern(date(2027, 5, 4), days=100_000), limit=500)) == 501
    assert len(expand(pattern(date(9999, 12, 1), days=100), limit=500)) == 31  # the calendar ends


# The limits, in the services ---------------------------------------------------------------


def refused(ctx, call, *args, **kwargs) -> str:
    """The (English) message of the refusal ``call`` raises."""
    with english(ctx), pytest.raises(services.RequestError) as info:
        call(*args, **kwargs)
    with english(ctx):
        return str(info.value.message)


def test_a_twelve_hour_night_across_the_autumn_change_lasts_thirteen_hours_and_is_refused(ctx):
    night = pattern(
        AUTUMN - timedelta(days=1), Preset.CUSTOM, start=time(19, 0), end=time(7, 0), repeat=Repeat.ONCE
    )
    message = refused(ctx, services.plan_shifts, night, now=BEFORE_ALL)
    assert "13 hours" in message and "at most 12 hours" in message
    spring = pattern(
        SPRING - timedelta(days=1), Preset.CUSTOM, start=time(19, 0), end=time(7, 0), repeat=Repeat.ONCE
    )
    with ctx():
        (shift,) = services.plan_shifts(spring, now=BEFORE_ALL)
    assert shift.hours == 11


def test_the_maximum_shift_length_is_configuration(app, ctx):
    long_day = pattern(date(2027, 5, 4), Preset.CUSTOM, start=time(7, 0), end=time(17, 0), repeat=Repeat.ONCE)
    with ctx():
        assert len(services.plan_shifts(long_day, now=BEFORE_ALL)) == 1
    app.config["MAX_SHIFT_HOURS"] = 8
    try:
        assert "at most 8 hours" in refused(ctx, services.plan_shifts, long_day, now=BEFORE_ALL)
    finally:
        app.config["MAX_SHIFT_HOURS"] = 12


def test_a_shift_that_ends_before_it_starts_is_refused(ctx):
    start = datetime(2027, 5, 4, 7, tzinfo=UTC)
    backwards = PlannedShift(start_at=start, end_at=start - timedelta(hours=2), places=1)
    assert "end after it starts" in refused(ctx, services.check_shift, backwards, BEFORE_ALL)
    same = pattern(date(2027, 5, 4), Preset.CUSTOM, start=time(7, 0), end=time(7, 0), repeat=Repeat.ONCE)
    assert "same" in refused(ctx, services.plan_shifts, same, now=BEFORE_ALL)


def test_a_shift_in_the_past_is_refused(ctx):
    past = pattern(date(2026, 12, 1), repeat=Repeat.ONCE)
    assert "starts in the past" in refused(ctx, services.plan_shifts, past, now=BEFORE_ALL)
    # Also when only the first of a pattern has started already.
    started = pattern(date(2027, 1, 1), days=3)
    now = datetime(2027, 1, 1, 8, tzinfo=UTC)
    assert "starts in the past" in refused(ctx, services.plan_shifts, started, now=now)


def test_a_pattern_without_shifts_or_with_too_many_is_refused(app, ctx):
    saturday = date(2027, 5, 8)
    weekend = pattern(saturday, repeat=Repeat.WEEKDAYS, days=2)
    assert "gives no shifts" in refused(ctx, services.plan_shifts, weekend, now=BEFORE_ALL)
    assert "at most 500 shifts" in refused(
        ctx, services.plan_shifts, pattern(date(2027, 1, 2), days=501), now=BEFORE_ALL
    )
    with ctx():
        assert len(services.plan_shifts(pattern(date(2027, 1, 2), days=500), now=BEFORE_ALL)) == 500
    app.config["MAX_SHIFTS_PER_REQUEST"] = 10
    try:
        assert "at most 10 shifts" in refused(
            ctx, services.plan_shifts, pattern(date(2027, 5, 4), days=11), now=BEFORE_ALL
        )
    finally:
        app.config["MAX_SHIFTS_PER_REQUEST"] = 500


def test_headcount_zero_or_absurd_is_refused(ctx):
    for places in (0, -1, 101, 10_000):
        message = refused(ctx, services.plan_shifts, pattern(date(2027, 5, 4), places=places), now=BEFORE_ALL)
        assert "between 1 and 100 people" in message
    with ctx():
        assert len(services.plan_shifts(pattern(date(2027, 5, 4), places=100), now=BEFORE_ALL)) == 14


def test_shifts_more_than_two_years_ahead_are_refused(ctx):
    far = pattern(date(2029, 6, 1), repeat=Repeat.ONCE)
    assert "two years ahead" in refused(ctx, services.plan_shifts, far, now=BEFORE_ALL)


# Properties ---------------------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(
    first_day=st.dates(min_value=date(2027, 1, 1), max_value=date(2028, 12, 31)),
    days=st.integers(min_value=1, max_value=40),
    start=st.times().map(lambda t: t.replace(second=0, microsecond=0, fold=0)),
    end=st.times().map(lambda t: t.replace(second=0, microsecond=0, fold=0)),
    repeat=st.sampled_from(list(Repeat)),
)
def test_every_expanded_shift_keeps_its_wall_clock_times_and_lasts_what_the_clock_says(
    first_day, days, start, end, repeat
):
    shifts = expand(
        ShiftPattern(first_day=first_day, start_time=start, end_time=end, repeat=repeat, days=days, places=1)
    )
    expected_days = (
        [first_day] if repeat is Repeat.ONCE else [first_day + timedelta(days=i) for i in range(days)]
    )
    if repeat is Repeat.WEEKDAYS:
        expected_days = [d for d in expected_days if d.weekday() < 5]
    assert [s.local_start.date() for s in shifts] == expected_days
    for shift in shifts:
        assert shift.start_at.tzinfo is UTC
        if shift.end_at <= shift.start_at:
            # Only a start in the hour the spring change skips, moved past an end in that hour.
            assert shift.local_start.time() != start and shift.hours <= 0
            continue
        # Wall-clock span (end on the next day when not after the start), give or take the DST hour.
        span = int((datetime.combine(date.min, end) - datetime.combine(date.min, start)).total_seconds())
        span = span if span > 0 else span + 86400
        assert abs(int((shift.end_at - shift.start_at).total_seconds()) - span) in (0, 3600)
        # Local times are as asked, except a time the spring change skips, which moves an hour on.
        for wanted, got in ((start, shift.local_start), (end, shift.local_end)):
            if got.time() != wanted:
                assert (datetime.combine(got.date(), wanted) + timedelta(hours=1)).time() == got.time()
