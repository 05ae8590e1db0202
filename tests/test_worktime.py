"""Working-time rules: one group of tests per rule, with the edges a roster planner meets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask_babel import Babel, force_locale

from zorgreserve.config import ConfigError
from zorgreserve.matching.worktime import (
    AMSTERDAM,
    CONFIG_KEYS,
    Code,
    Interval,
    Kind,
    Schedule,
    WorkTimeRules,
    check,
    explain,
    fits,
    night_facts,
)

RULES = WorkTimeRules()


def at(day: int, hour: int, minute: int = 0, month: int = 6, year: int = 2026) -> datetime:
    """Wall-clock time in Amsterdam. June 2026: Monday the 1st."""
    return datetime(year, month, day, hour, minute, tzinfo=AMSTERDAM)


def shift(start: datetime, end: datetime, kind: str = Kind.BOOKED) -> Interval:
    return Interval(start, end, kind)


def codes(existing: list[Interval], proposed: list[Interval], weekly_max: int | None = None) -> list[str]:
    return [str(v.code) for v in check(RULES, existing, proposed, weekly_max)]


# --- inputs and configuration ------------------------------------------------------------


def test_intervals_need_aware_times_an_end_after_the_start_and_a_known_kind() -> None:
    with pytest.raises(ValueError):
        Interval(datetime(2026, 6, 1, 8), datetime(2026, 6, 1, 16))
    with pytest.raises(ValueError):
        Interval(at(1, 8), at(1, 8))
    with pytest.raises(ValueError):
        Interval(at(1, 8), at(1, 16), "holiday")
    stored = Interval(at(1, 8), at(1, 16))
    assert stored.start == datetime(2026, 6, 1, 6, tzinfo=UTC) and stored.start.tzinfo is UTC


def test_defaults_are_the_arbeidstijdenwet() -> None:
    assert WorkTimeRules.from_config({}) == RULES
    assert (RULES.max_shift_hours, RULES.min_rest_hours, RULES.max_week_hours) == (12, 11, 60)
    assert (RULES.max_night_shift_hours, RULES.min_rest_after_night_hours) == (10, 14)
    assert (RULES.night_series_length, RULES.min_rest_after_night_series_hours) == (3, 46)
    assert RULES.max_consecutive_shifts_with_night == 7


def test_rules_are_read_from_configuration_strings_or_numbers() -> None:
    rules = WorkTimeRules.from_config(
        {
            "WORKTIME_MAX_SHIFT_HOURS": "10",
            "WORKTIME_MIN_REST_HOURS": 12,
            "WORKTIME_MAX_WEEK_HOURS": "48.5",
            "WORKTIME_OWN_MAX_COUNTS_OTHER_WORK": "true",
            "WORKTIME_NIGHT_SERIES_LENGTH": "",
        }
    )
    assert rules.max_shift_hours == 10 and rules.min_rest_hours == 12 and rules.max_week_hours == 48.5
    assert rules.own_max_counts_other_work is True
    assert rules.night_series_length == 3
    assert fits(rules, [], shift(at(1, 8), at(1, 18))) is True
    assert fits(rules, [], shift(at(1, 8), at(1, 19))) is False


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("WORKTIME_MAX_SHIFT_HOURS", "twelve"),
        ("WORKTIME_MIN_REST_HOURS", "0"),
        ("WORKTIME_NIGHT_SERIES_LENGTH", "2.5"),
    ],
)
def test_bad_configuration_names_the_key(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=key.removeprefix("WORKTIME_").lower() + "|" + key):
        WorkTimeRules.from_config({key: value})


def test_every_rule_parameter_has_a_config_key() -> None:
    assert sorted(CONFIG_KEYS) == sorted(f.name for f in WorkTimeRules.__dataclass_fields__.values())
    assert all(key.startswith("WORKTIME_") for key in CONFIG_KEYS.values())


# --- shift length -------------------------------------------------------------------------


def test_a_shift_may_last_twelve_hours_and_not_a_minute_more() -> None:
    assert codes([], [shift(at(1, 7), at(1, 19))]) == []
    assert codes([], [shift(at(1, 7), at(1, 19, 1))]) == ["shift_too_long"]


def test_declared_work_elsewhere_is_not_judged_for_its_length() -> None:
    long_day = shift(at(1, 6), at(1, 20), Kind.OTHER_WORK)
    assert codes([long_day], [shift(at(3, 8), at(3, 16))]) == []


# --- overlap ------------------------------------------------------------------------------


def test_back_to_back_is_not_overlap_but_still_needs_rest() -> None:
    booked = shift(at(1, 7), at(1, 15, 30))
    assert codes([booked], [shift(at(1, 15, 30), at(1, 20))]) == ["rest_too_short"]
    assert codes([booked], [shift(at(1, 15), at(1, 20))]) == ["overlap"]


def test_overlap_with_booked_held_and_declared_work() -> None:
    for kind in (Kind.BOOKED, Kind.HELD, Kind.OTHER_WORK):
        (violation,) = check(RULES, [shift(at(1, 7), at(1, 15), kind)], [shift(at(1, 14), at(1, 22))])
        assert violation.code == Code.OVERLAP
        assert violation.other is not None and violation.other.kind == kind
        assert violation.value == 1


def test_two_proposed_shifts_that_overlap_are_reported_once() -> None:
    first, second = shift(at(1, 7), at(1, 15), Kind.PROPOSED), shift(at(1, 14), at(1, 18), Kind.PROPOSED)
    violations = check(RULES, [], [second, first])
    assert [(v.code, v.interval, v.other) for v in violations] == [(Code.OVERLAP, second, first)]


# --- daily rest ---------------------------------------------------------------------------


def test_shifts_exactly_eleven_hours_apart_are_allowed() -> None:
    evening = shift(at(1, 15), at(1, 23))
    assert codes([evening], [shift(at(2, 10), at(2, 18))]) == []
    assert codes([shift(at(2, 10), at(2, 18))], [evening]) == []


def test_ten_hours_fifty_nine_is_too_little_rest_in_either_direction() -> None:
    evening = shift(at(1, 15), at(1, 23))
    early = shift(at(2, 9, 59), at(2, 18))
    (violation,) = check(RULES, [evening], [early])
    assert violation.code == Code.REST_TOO_SHORT and violation.other == evening
    assert violation.value == pytest.approx(10 + 59 / 60) and violation.limit == 11
    assert codes([early], [evening]) == ["rest_too_short"]


def test_rest_is_needed_between_any_two_pieces_of_work_not_only_neighbours() -> None:
    morning = shift(at(1, 7), at(1, 11))
    afternoon = shift(at(1, 12), at(1, 14), Kind.OTHER_WORK)
    evening = shift(at(1, 18), at(1, 22), Kind.PROPOSED)
    others = {v.other for v in check(RULES, [morning, afternoon], [evening])}
    assert others == {morning, afternoon}


def test_midnight_crossing_shift_rest_is_counted_from_its_real_end() -> None:
    late = shift(at(1, 16), at(2, 0, 30))  # half an hour of night: not a night shift
    assert night_facts(late).night is False
    assert codes([late], [shift(at(2, 11, 30), at(2, 19))]) == []
    assert codes([late], [shift(at(2, 11, 29), at(2, 19))]) == ["rest_too_short"]


# --- night shifts -------------------------------------------------------------------------


def test_a_night_shift_has_more_than_one_hour_between_midnight_and_six() -> None:
    assert night_facts(shift(at(1, 16), at(2, 1))).night is False  # exactly one hour
    assert night_facts(shift(at(1, 16), at(2, 1, 1))).night is True
    assert night_facts(shift(at(2, 4, 59), at(2, 13))).night is True
    assert night_facts(shift(at(2, 5), at(2, 13))).night is False


def test_a_night_shift_may_last_ten_hours_not_ten_and_a_half() -> None:
    assert codes([], [shift(at(1, 22), at(2, 8))]) == []
    assert codes([], [shift(at(1, 21, 30), at(2, 8))]) == ["night_too_long"]
    assert codes([], [shift(at(1, 7), at(1, 17, 30))]) == []  # a day shift of 10.5 h is fine


def test_fourteen_hours_rest_after_a_night_ending_after_two() -> None:
    night = shift(at(1, 19), at(2, 3))
    assert night_facts(night).ends_after_two is True
    assert codes([night], [shift(at(2, 17), at(2, 23))]) == []
    (violation,) = check(RULES, [night], [shift(at(2, 16, 59), at(2, 23))])
    assert violation.code == Code.REST_AFTER_NIGHT and violation.limit == 14
    # The proposed night shift itself needs 14 h before the next booked work.
    assert codes([shift(at(2, 16), at(2, 22))], [night]) == ["rest_after_night"]


def test_eleven_hours_rest_after_a_night_ending_before_two() -> None:
    night = shift(at(1, 17, 30), at(2, 1, 30))
    facts = night_facts(night)
    assert facts.night is True and facts.ends_after_two is False
    assert codes([night], [shift(at(2, 12, 30), at(2, 20))]) == []
    assert codes([night], [shift(at(2, 12, 29), at(2, 20))]) == ["rest_too_short"]


def nights(first_day: int, count: int, kind: str = Kind.BOOKED) -> list[Interval]:
    return [shift(at(day, 22), at(day + 1, 7), kind) for day in range(first_day, first_day + count)]


def test_forty_six_hours_rest_after_three_nights_in_a_row() -> None:
    series = nights(1, 3)  # the last one ends Thursday 4 June 07:00
    assert codes(series, [shift(at(6, 5), at(6, 13))]) == []  # 46 h later
    (violation,) = check(RULES, series, [shift(at(6, 4, 59), at(6, 13))])
    assert violation.code == Code.REST_AFTER_NIGHT_SERIES
    assert violation.count == 3 and violation.limit == 46 and violation.other == series[-1]


def test_two_nights_need_only_the_night_rest() -> None:
    assert codes(nights(1, 2), [shift(at(3, 21), at(4, 5))]) == []


def test_a_fourth_night_continues_the_series() -> None:
    assert codes(nights(1, 3), nights(4, 1, Kind.PROPOSED)) == []


def test_a_night_after_a_free_night_ends_the_series_and_needs_the_long_rest() -> None:
    assert codes(nights(1, 3), nights(5, 1, Kind.PROPOSED)) == ["rest_after_night_series"]


def test_a_proposed_night_that_makes_the_series_is_itself_refused() -> None:
    existing = [*nights(2, 2), shift(at(5, 8), at(5, 16))]  # 25 h after the second night
    proposed = nights(1, 1, Kind.PROPOSED)[0]
    (violation,) = check(RULES, existing, [proposed])
    assert violation.code == Code.REST_AFTER_NIGHT_SERIES and violation.interval == proposed
    assert violation.other == existing[-1] and violation.count == 3


def test_a_subset_of_a_fitting_series_may_not_fit() -> None:
    """The one place where more work helps: night 7 fits after night 6, not after a free night."""
    series = short_nights(1, 5)
    sixth, seventh = short_nights(6, 2, Kind.PROPOSED)
    assert check(RULES, series, [sixth, seventh]) == []
    assert codes(series, [seventh]) == ["rest_after_night_series"]


# --- consecutive shifts -------------------------------------------------------------------


def short_nights(first_day: int, count: int, kind: str = Kind.BOOKED) -> list[Interval]:
    return [shift(at(day, 22), at(day + 1, 6), kind) for day in range(first_day, first_day + count)]


def test_seven_consecutive_shifts_with_a_night_are_allowed_eight_are_not() -> None:
    assert codes(short_nights(1, 6), short_nights(7, 1, Kind.PROPOSED)) == []
    (violation,) = check(RULES, short_nights(1, 7), short_nights(8, 1, Kind.PROPOSED))
    assert violation.code == Code.CONSECUTIVE_SHIFTS and violation.value == 8 and violation.limit == 7


def test_eight_day_shifts_in_a_row_are_not_limited_by_this_rule() -> None:
    days = [shift(at(day, 7), at(day, 15)) for day in range(1, 8)]
    assert codes(days, [shift(at(8, 7), at(8, 15), Kind.PROPOSED)]) == []
    assert codes(days, [shift(at(8, 18), at(9, 2), Kind.PROPOSED)]) == ["consecutive_shifts"]


def test_a_rest_of_thirty_two_hours_ends_the_run() -> None:
    days = [shift(at(day, 7), at(day, 15)) for day in range(1, 8)]
    assert codes(days, [shift(at(8, 23), at(9, 6), Kind.PROPOSED)]) == []  # 32 h after Sunday 15:00


def test_a_run_longer_than_a_week_is_followed_to_both_ends() -> None:
    """Eight shifts 30 h apart span more than eleven days and are still consecutive."""
    night = shift(at(15, 22), at(16, 6), Kind.PROPOSED)
    step = timedelta(hours=38)
    before = [shift(night.start - k * step, night.start - k * step + timedelta(hours=8)) for k in range(1, 8)]
    after = [
        shift(night.end + timedelta(hours=30) + (k - 1) * step, night.end + k * step) for k in range(1, 8)
    ]
    assert before[-1].start < night.start - timedelta(days=11)
    assert codes(before, [night]) == ["consecutive_shifts"]
    assert codes(after, [night]) == ["consecutive_shifts"]
    assert codes(before[:6], [night]) == []
    assert fits(RULES, Schedule(after), night) is False


# --- weekly hours -------------------------------------------------------------------------


def test_sixty_hours_window_slides_across_the_calendar_week() -> None:
    # Thursday to Sunday in one calendar week, Monday and Tuesday in the next.
    existing = [shift(at(day, 8), at(day, 20)) for day in (4, 5, 6, 7)]
    monday = shift(at(8, 8), at(8, 20), Kind.PROPOSED)
    assert codes(existing, [monday]) == []  # exactly 60 h from Thursday 08:00
    tuesday = shift(at(9, 8), at(9, 9), Kind.PROPOSED)
    (violation,) = check(RULES, [*existing, monday], [tuesday])
    assert violation.code == Code.WEEKLY_HOURS and violation.value == 61 and violation.limit == 60
    # A week later the Thursday has slid out of the window.
    assert codes([*existing, monday], [shift(at(11, 8), at(11, 9), Kind.PROPOSED)]) == []


def test_declared_work_elsewhere_counts_towards_sixty_hours_once() -> None:
    other = [shift(at(day, 8), at(day, 18), Kind.OTHER_WORK) for day in range(1, 6)]  # 50 h
    duplicate = shift(at(1, 8), at(1, 18), Kind.BOOKED)  # overlaps declared work: counted once
    assert codes([*other, duplicate], [shift(at(6, 8), at(6, 18))]) == []
    assert codes([*other, duplicate], [shift(at(6, 8), at(6, 18, 1))]) == ["weekly_hours"]


def test_own_weekly_maximum() -> None:
    booked = [shift(at(1, 8), at(1, 16)), shift(at(2, 8), at(2, 16))]
    assert codes(booked, [shift(at(3, 8), at(3, 16))], weekly_max=24) == []
    (violation,) = check(RULES, booked, [shift(at(3, 8), at(3, 17))], 24)
    assert violation.code == Code.OWN_WEEKLY_MAX and violation.value == 25 and violation.limit == 24
    assert codes(booked, [shift(at(3, 8), at(3, 17))], weekly_max=None) == []


def test_own_maximum_counts_reserve_shifts_only_unless_configured() -> None:
    other = [shift(at(1, 8), at(1, 16), Kind.OTHER_WORK)]
    proposed = [shift(at(3, 8), at(3, 16))]
    assert codes(other, proposed, weekly_max=10) == []
    strict = WorkTimeRules(own_max_counts_other_work=True)
    assert [v.code for v in check(strict, other, proposed, 10)] == [Code.OWN_WEEKLY_MAX]


def test_held_shifts_count_as_work() -> None:
    held = shift(at(1, 15), at(1, 23), Kind.HELD)
    assert codes([held], [shift(at(2, 9), at(2, 17))]) == ["rest_too_short"]


# --- clocks changing ----------------------------------------------------------------------

DST_NIGHTS = [
    pytest.param(2026, 3, 28, -1, id="2026-03-29 spring"),
    pytest.param(2026, 10, 24, +1, id="2026-10-25 autumn"),
    pytest.param(2027, 3, 27, -1, id="2027-03-28 spring"),
    pytest.param(2027, 10, 30, +1, id="2027-10-31 autumn"),
]


@pytest.mark.parametrize(("year", "month", "saturday", "change"), DST_NIGHTS)
def test_a_night_shift_on_the_change_night_lasts_its_real_time(
    year: int, month: int, saturday: int, change: int
) -> None:
    def local(day: int, hour: int) -> datetime:
        return datetime(year, month, day, hour, tzinfo=AMSTERDAM)

    night = Interval(local(saturday, 22), local(saturday + 1, 7))
    assert night.hours == 9 + change
    facts = night_facts(night)
    assert facts.night and facts.ends_after_two and facts.night_hours == 6 + change
    # 22:00–08:00 is 10 h on an ordinary night: too long in autumn, fine in spring.
    ten_on_the_clock = Interval(local(saturday, 22), local(saturday + 1, 8))
    assert (check(RULES, [], [ten_on_the_clock]) != []) == (change > 0)
    # 22:00–09:00 is 11 h on an ordinary night: fine in spring only.
    eleven_on_the_clock = Interval(local(saturday, 22), local(saturday + 1, 9))
    assert (check(RULES, [], [eleven_on_the_clock]) == []) == (change < 0)


@pytest.mark.parametrize(("year", "month", "saturday", "change"), DST_NIGHTS)
def test_rest_across_the_change_night_is_real_time(year: int, month: int, saturday: int, change: int) -> None:
    def local(day: int, hour: int) -> datetime:
        moment = datetime(year, month, saturday) + timedelta(days=day - saturday, hours=hour)
        return moment.replace(tzinfo=AMSTERDAM)

    evening = Interval(local(saturday, 15), local(saturday, 23), Kind.BOOKED)
    # 23:00 to 09:00 on the clock: 9 h real rest in spring, 11 h in autumn.
    morning = Interval(local(saturday + 1, 9), local(saturday + 1, 17))
    assert (fits(RULES, [evening], morning)) == (change > 0)
    # 23:00 to 10:00 on the clock: 10 h in spring, 12 h in autumn.
    later = Interval(local(saturday + 1, 10), local(saturday + 1, 17))
    assert (fits(RULES, [evening], later)) == (change > 0)
    # After a night ending 07:00 the next shift may start 21:00 the same day on any of these dates.
    night = Interval(local(saturday, 22), local(saturday + 1, 7), Kind.BOOKED)
    assert fits(RULES, [night], Interval(local(saturday + 1, 21), local(saturday + 2, 5)))
    assert not fits(RULES, [night], Interval(local(saturday + 1, 20), local(saturday + 2, 4)))


def test_on_the_spring_night_two_oclock_is_the_moment_the_clocks_jump() -> None:
    ends_at_jump = Interval(datetime(2026, 3, 28, 17, tzinfo=AMSTERDAM), datetime(2026, 3, 29, 1, tzinfo=UTC))
    assert night_facts(ends_at_jump).ends_after_two is False
    just_after = Interval(ends_at_jump.start, datetime(2026, 3, 29, 1, 1, tzinfo=UTC))
    assert night_facts(just_after).ends_after_two is True  # 03:01 summer time


# --- scope and API ------------------------------------------------------------------------


def test_conflicts_among_existing_work_are_not_blamed_on_the_proposed_shift() -> None:
    clash = [shift(at(1, 7), at(1, 15)), shift(at(1, 14), at(1, 22), Kind.OTHER_WORK)]
    assert codes(clash, [shift(at(10, 8), at(10, 16))]) == []


def test_a_schedule_prepared_once_gives_the_same_answers() -> None:
    existing = [*nights(1, 3), shift(at(10, 8), at(10, 18)), shift(at(12, 6), at(12, 18), Kind.OTHER_WORK)]
    schedule = Schedule(existing)
    for day in range(1, 20):
        for hours in ((7, 15), (15, 23)):
            proposed = shift(at(day, hours[0]), at(day, hours[1]), Kind.PROPOSED)
            assert check(RULES, schedule, [proposed]) == check(RULES, existing, [proposed])
            assert fits(RULES, schedule, proposed) == (check(RULES, existing, [proposed]) == [])


def test_no_proposed_shift_means_no_violation() -> None:
    assert check(RULES, [shift(at(1, 7), at(1, 20))], []) == []


def test_one_shift_can_break_several_rules() -> None:
    found = check(RULES, [shift(at(1, 20), at(2, 8))], [shift(at(2, 10), at(2, 23))])
    assert {v.code for v in found} == {Code.SHIFT_TOO_LONG, Code.REST_AFTER_NIGHT}


def test_a_long_history_does_not_slow_a_check_down() -> None:
    """Only work near the shift is looked at: 20,000 past shifts cost about what 50 do."""
    import time

    def history(count: int) -> Schedule:
        """Five day shifts a week, going back ``count`` shifts from the end of May."""
        days = [day for day in range(2 * count) if day % 7 < 5][:count]
        return Schedule(
            shift(at(1, 7) - timedelta(days=d + 2), at(1, 15) - timedelta(days=d + 2)) for d in days
        )

    proposed = [
        shift(at(day, hour), at(day, hour + 8), Kind.PROPOSED) for day in (2, 3, 4) for hour in (7, 15)
    ]

    def seconds(schedule: Schedule) -> float:
        began = time.perf_counter()
        for _ in range(200):
            for one in proposed:
                fits(RULES, schedule, one, 40)
        return time.perf_counter() - began

    short, long = history(50), history(20_000)
    assert [fits(RULES, short, one) for one in proposed] == [fits(RULES, long, one) for one in proposed]
    assert seconds(long) < 10 * seconds(short) + 0.05


# --- explanations -------------------------------------------------------------------------


def every_kind_of_violation() -> list:
    proposed = Kind.PROPOSED
    cases = [
        check(RULES, [shift(at(1, 7), at(1, 15))], [shift(at(1, 14), at(1, 22), proposed)]),
        check(RULES, [], [shift(at(1, 21), at(2, 10), proposed)]),
        check(RULES, [shift(at(1, 7), at(1, 15))], [shift(at(1, 20), at(1, 23), proposed)]),
        check(RULES, [shift(at(1, 22), at(2, 7))], [shift(at(2, 19), at(2, 23), proposed)]),
        check(RULES, nights(1, 3), [shift(at(5, 8), at(5, 16), proposed)]),
        check(RULES, short_nights(1, 7), short_nights(8, 1, proposed)),
        check(RULES, [shift(at(day, 7), at(day, 19)) for day in range(1, 6)], [shift(at(6, 8), at(6, 10))]),
        check(RULES, [shift(at(1, 7), at(1, 15))], [shift(at(3, 7), at(3, 15))], 12),
    ]
    return [violation for found in cases for violation in found]


def test_every_code_has_an_english_explanation_outside_an_application() -> None:
    violations = every_kind_of_violation()
    assert {v.code for v in violations} == set(Code)
    for violation in violations:
        text = explain(violation)
        assert "%(" not in text and len(text) > 20
    by_code = {v.code: explain(v) for v in violations}
    assert by_code[Code.SHIFT_TOO_LONG] == "This shift lasts 13 hours; a shift may last at most 12 hours."
    assert (
        by_code[Code.OVERLAP] == "This shift overlaps a booked shift from Mon 1 Jun 07:00 to Mon 1 Jun 15:00."
    )
    assert by_code[Code.REST_AFTER_NIGHT].startswith(
        "Only 12 hours of rest between this shift and a booked shift"
    )
    assert by_code[Code.CONSECUTIVE_SHIFTS] == (
        "This shift would be one of 8 consecutive shifts including a night shift; at most 7 are allowed."
    )
    assert "62 hours of work" in by_code[Code.WEEKLY_HOURS]
    assert "at most 12 hours a week" in by_code[Code.OWN_WEEKLY_MAX]


def test_a_series_explanation_names_what_comes_after_the_series() -> None:
    after = check(RULES, nights(1, 3), [shift(at(5, 8), at(5, 16))])
    assert explain(after[0]).startswith(
        "Only 25 hours of rest after a series of 3 night shifts ending with a booked shift "
        "from Wed 3 Jun 22:00"
    )
    making = check(RULES, [*nights(2, 2), shift(at(5, 8), at(5, 16))], nights(1, 1, Kind.PROPOSED))
    assert explain(making[0]).startswith(
        "This night shift makes a series of 3 night shifts followed after only 25 hours by a booked shift "
        "from Fri 5 Jun 08:00"
    )


def test_explanations_follow_the_locale_of_the_application_context() -> None:
    app = Flask(__name__)
    app.config.update(BABEL_DEFAULT_LOCALE="nl", BABEL_DEFAULT_TIMEZONE="UTC")
    Babel(app)
    rest = check(RULES, [shift(at(1, 7), at(1, 15))], [shift(at(2, 1, 30), at(2, 9))])
    (violation,) = rest
    assert violation.value == 10.5
    with app.app_context():
        dutch = explain(violation)
        with force_locale("en"):
            english = explain(violation)
    assert "10,5" in dutch and "ma 1 jun" in dutch and "10.5" not in dutch
    assert "10.5" in english and "Mon 1 Jun 07:00" in english
