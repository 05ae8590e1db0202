"""Availability: weekly windows, dated periods and stand-by, as time and as the reservist's pages."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select

from tests.factories import ReservistFactory
from zorgreserve import db
from zorgreserve.audit.models import AuditEvent
from zorgreserve.availability import services
from zorgreserve.availability.demo import add_demo_availability
from zorgreserve.availability.models import AvailabilityPeriod, WeeklyWindow
from zorgreserve.availability.search import (
    availability_prefilter,
    load_availabilities,
    reservist_ids_available_between,
)
from zorgreserve.availability.timeline import (
    TZ,
    Availability,
    Period,
    Window,
    available_intervals,
    blocked_intervals,
    covers,
    local_to_utc,
    standby_interval,
    windows_overlap,
)
from zorgreserve.reservists.models import Reservist

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
H = 60


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, fold: int = 0) -> datetime:
    """A wall-clock time in Amsterdam as a UTC instant."""
    return datetime(year, month, day, hour, minute, tzinfo=TZ, fold=fold).astimezone(UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def hours(intervals: list[tuple[datetime, datetime]]) -> float:
    return sum((end - start).total_seconds() for start, end in intervals) / 3600


def holiday(start: datetime, end: datetime, reason: str = "holiday") -> Period:
    return Period("unavailable", start, end, reason)


# Weekly windows as time -----------------------------------------------------------------

# 2026: the clocks go forward on Sunday 29 March and back on Sunday 25 October.
FRIDAY_NIGHT = Window(FRI, 22 * H, 7 * H)


def test_a_friday_night_window_runs_into_saturday_morning():
    week = available_intervals(Availability((FRIDAY_NIGHT,)), local(2026, 6, 1), local(2026, 6, 8))
    assert week == [(local(2026, 6, 5, 22), local(2026, 6, 6, 7))]
    assert covers([FRIDAY_NIGHT], [], None, local(2026, 6, 5, 23), local(2026, 6, 6, 7))
    assert not covers([FRIDAY_NIGHT], [], None, local(2026, 6, 6, 6), local(2026, 6, 6, 8))
    assert not covers([FRIDAY_NIGHT], [], None, local(2026, 6, 4, 23), local(2026, 6, 5, 6))  # Thursday


def test_a_query_starting_after_midnight_still_sees_the_window_of_the_evening_before():
    saturday_early = available_intervals(
        Availability((FRIDAY_NIGHT,)), local(2026, 6, 6, 3), local(2026, 6, 6, 12)
    )
    assert saturday_early == [(local(2026, 6, 6, 3), local(2026, 6, 6, 7))]


def test_night_window_lasts_eight_hours_when_the_clocks_go_forward():
    night = Window(SAT, 22 * H, 7 * H)
    found = available_intervals(Availability((night,)), utc(2026, 3, 28), utc(2026, 3, 30))
    assert found == [(utc(2026, 3, 28, 21), utc(2026, 3, 29, 5))]  # 22:00 CET to 07:00 CEST
    assert hours(found) == 8
    assert covers([night], [], None, utc(2026, 3, 28, 21), utc(2026, 3, 29, 5))
    assert not covers([night], [], None, utc(2026, 3, 28, 21), utc(2026, 3, 29, 6))  # 08:00 CEST


def test_night_window_lasts_ten_hours_when_the_clocks_go_back():
    night = Window(SAT, 22 * H, 7 * H)
    found = available_intervals(Availability((night,)), utc(2026, 10, 24), utc(2026, 10, 26))
    assert found == [(utc(2026, 10, 24, 20), utc(2026, 10, 25, 6))]  # 22:00 CEST to 07:00 CET
    assert hours(found) == 10
    # A ten-hour shift by the real clock fits; by wall-clock arithmetic it would not.
    assert covers([night], [], None, utc(2026, 10, 24, 20), utc(2026, 10, 25, 6))


def test_a_skipped_local_time_is_the_moment_the_clocks_jump():
    jump = utc(2026, 3, 29, 1)  # 02:00 CET becomes 03:00 CEST
    assert local_to_utc(date(2026, 3, 29), 2 * H + 30) == jump
    starts_in_gap = Window(SUN, 2 * H + 30, 6 * H)
    ends_in_gap = Window(SAT, 20 * H, 2 * H + 30)
    inside_gap = Window(SUN, 2 * H + 10, 2 * H + 50)
    march = Availability((starts_in_gap,))
    assert available_intervals(march, utc(2026, 3, 28), utc(2026, 3, 30)) == [(jump, utc(2026, 3, 29, 4))]
    assert available_intervals(Availability((ends_in_gap,)), utc(2026, 3, 28), utc(2026, 3, 30)) == [
        (utc(2026, 3, 28, 19), jump)
    ]
    assert available_intervals(Availability((inside_gap,)), utc(2026, 3, 28), utc(2026, 3, 30)) == []
    # The two windows meet at the jump without a hole: a shift across it is covered.
    assert covers([ends_in_gap, starts_in_gap], [], None, utc(2026, 3, 28, 22), utc(2026, 3, 29, 3))


def test_a_repeated_local_time_is_its_first_occurrence():
    first_0230 = local(2026, 10, 25, 2, 30, fold=0)
    assert first_0230 == utc(2026, 10, 25, 0, 30)
    assert local_to_utc(date(2026, 10, 25), 2 * H + 30) == first_0230
    evening = Window(SAT, 20 * H, 2 * H + 30)
    morning = Window(SUN, 2 * H + 30, 8 * H)
    assert available_intervals(Availability((evening,)), utc(2026, 10, 24), utc(2026, 10, 26)) == [
        (utc(2026, 10, 24, 18), first_0230)
    ]
    # Adjacent windows still meet exactly; together they run 20:00 CEST to 08:00 CET (13 hours).
    both = available_intervals(Availability((evening, morning)), utc(2026, 10, 24), utc(2026, 10, 26))
    assert both == [(utc(2026, 10, 24, 18), utc(2026, 10, 25, 7))]
    # The second 02:15 (CET) is after the evening window's end.
    assert not covers([evening], [], None, utc(2026, 10, 25, 1), utc(2026, 10, 25, 1, 15))


def test_shifts_may_span_touching_windows_but_not_their_edges():
    day = Window(MON, 7 * H, 15 * H + 30)
    evening = Window(MON, 15 * H + 30, 23 * H)
    assert covers([day, evening], [], None, local(2026, 6, 1, 14), local(2026, 6, 1, 18))
    assert covers([day], [], None, local(2026, 6, 1, 7), local(2026, 6, 1, 15, 30))
    assert not covers([day], [], None, local(2026, 6, 1, 15, 30), local(2026, 6, 1, 16))
    assert covers(
        [FRIDAY_NIGHT, Window(SAT, 7 * H, 12 * H)], [], None, local(2026, 6, 6, 6), local(2026, 6, 6, 9)
    )


def test_a_whole_day_window_covers_midnight_to_midnight():
    whole = Window(WED, 0, 24 * H)
    assert covers([whole], [], None, local(2026, 6, 3), local(2026, 6, 4))
    assert not covers([whole], [], None, local(2026, 6, 3, 23), local(2026, 6, 4, 1))


def test_an_unavailable_holiday_wins_over_a_weekly_window():
    weekdays = [Window(d, 7 * H, 17 * H) for d in range(5)]
    away = holiday(local(2026, 7, 1), local(2026, 7, 3))  # Wednesday and Thursday
    assert not covers(weekdays, [away], None, local(2026, 7, 1, 8), local(2026, 7, 1, 16))
    assert covers(weekdays, [away], None, local(2026, 7, 3, 8), local(2026, 7, 3, 16))
    week = available_intervals(Availability(tuple(weekdays), (away,)), local(2026, 6, 29), local(2026, 7, 6))
    assert [start.astimezone(TZ).day for start, _ in week] == [29, 30, 3]


def test_an_unavailable_period_that_touches_a_shift_refuses_it_but_keeps_the_rest_of_the_day():
    day = Window(MON, 7 * H, 17 * H)
    dentist = holiday(local(2026, 6, 1, 12), local(2026, 6, 1, 13), reason="other")
    assert not covers([day], [dentist], None, local(2026, 6, 1, 8), local(2026, 6, 1, 16))
    assert available_intervals(Availability((day,), (dentist,)), local(2026, 6, 1), local(2026, 6, 2)) == [
        (local(2026, 6, 1, 7), local(2026, 6, 1, 12)),
        (local(2026, 6, 1, 13), local(2026, 6, 1, 17)),
    ]


def test_an_available_period_adds_time_outside_the_weekly_windows():
    extra = Period("available", local(2026, 6, 6, 8), local(2026, 6, 7, 20))
    assert covers([], [extra], None, local(2026, 6, 6, 9), local(2026, 6, 6, 21))
    assert not covers([], [extra], None, local(2026, 6, 7, 19), local(2026, 6, 7, 21))


def test_stand_by_makes_a_reservist_available_from_now_until_its_end():
    now = local(2026, 6, 2, 10)
    standby = standby_interval(local(2026, 6, 2, 22), now)
    assert covers([], [], standby, local(2026, 6, 2, 12), local(2026, 6, 2, 20))
    assert not covers([], [], standby, local(2026, 6, 2, 20), local(2026, 6, 2, 23))
    assert not covers([], [], standby, local(2026, 6, 2, 9), local(2026, 6, 2, 11))  # before it was on
    assert standby_interval(local(2026, 6, 2, 9), now) is None  # already over
    roster = holiday(local(2026, 6, 2, 14), local(2026, 6, 2, 18), reason="work")
    assert not covers([], [roster], standby, local(2026, 6, 2, 12), local(2026, 6, 2, 16))


def test_blocked_intervals_can_keep_only_the_own_work_roster():
    roster = holiday(local(2026, 6, 1, 7), local(2026, 6, 1, 15), reason="work")
    away = holiday(local(2026, 6, 3), local(2026, 6, 5))
    extra = Period("available", local(2026, 6, 2), local(2026, 6, 3))
    both = blocked_intervals([roster, away, extra], local(2026, 6, 1), local(2026, 6, 4))
    assert both == [(local(2026, 6, 1, 7), local(2026, 6, 1, 15)), (local(2026, 6, 3), local(2026, 6, 4))]
    assert blocked_intervals([roster, away], local(2026, 6, 1), local(2026, 6, 8), reasons={"work"}) == [
        (local(2026, 6, 1, 7), local(2026, 6, 1, 15))
    ]


def test_covers_refuses_naive_times_and_empty_shifts():
    with pytest.raises(ValueError):
        covers([], [], None, datetime(2026, 6, 1, 8), datetime(2026, 6, 1, 9))
    with pytest.raises(ValueError):
        covers([], [], None, local(2026, 6, 1, 9), local(2026, 6, 1, 9))


def test_windows_overlap_on_the_weekly_clock_including_sunday_night_into_monday():
    assert windows_overlap(Window(SUN, 23 * H, 2 * H), Window(MON, 1 * H, 3 * H))
    assert not windows_overlap(Window(SUN, 23 * H, 1 * H), Window(MON, 1 * H, 3 * H))
    assert not windows_overlap(Window(MON, 7 * H, 17 * H), Window(MON, 17 * H, 23 * H))
    assert windows_overlap(Window(MON, 7 * H, 17 * H), Window(MON, 7 * H, 17 * H))


# Many reservists at once ------------------------------------------------------------------


def add_availability(reservist_id: int, windows: Any = (), periods: Any = ()) -> None:
    for w in windows:
        db.session.add(
            WeeklyWindow(
                reservist_id=reservist_id,
                weekday=w.weekday,
                start_minute=w.start_minute,
                end_minute=w.end_minute,
            )
        )
    for p in periods:
        db.session.add(
            AvailabilityPeriod(
                reservist_id=reservist_id,
                kind=p.kind,
                reason=p.reason,
                starts_at=p.starts_at,
                ends_at=p.ends_at,
            )
        )
    db.session.flush()


def make_reservist(windows: Any = (), periods: Any = (), standby_until: datetime | None = None) -> int:
    reservist = ReservistFactory(standby_until=standby_until)
    add_availability(reservist.id, windows, periods)
    return reservist.id


def test_reservists_available_for_a_shift(app, database):
    now = local(2026, 5, 1)
    shift = (local(2026, 6, 5, 23), local(2026, 6, 6, 6))  # Friday night
    nights = make_reservist([FRIDAY_NIGHT])
    two_windows = make_reservist([Window(FRI, 20 * H, 24 * H), Window(SAT, 0, 8 * H)])
    on_holiday = make_reservist([FRIDAY_NIGHT], [holiday(local(2026, 6, 6), local(2026, 6, 13))])
    days_only = make_reservist([Window(d, 7 * H, 17 * H) for d in range(5)])
    extra_period = make_reservist(periods=[Period("available", local(2026, 6, 5, 18), local(2026, 6, 6, 12))])
    nobody = make_reservist()
    found = reservist_ids_available_between(db.session, *shift, now=now)
    assert {nights, two_windows, extra_period} <= found
    assert not {on_holiday, days_only, nobody} & found
    among = reservist_ids_available_between(db.session, *shift, candidate_ids=[nights, days_only], now=now)
    assert among == {nights}
    assert reservist_ids_available_between(db.session, *shift, candidate_ids=[], now=now) == set()


def test_reservists_available_at_some_time_in_the_next_week(app, database):
    now = local(2026, 6, 1, 9)
    week = (now, now + timedelta(days=7))
    days = make_reservist([Window(d, 7 * H, 17 * H) for d in range(5)])
    sunday_only = make_reservist([Window(SUN, 8 * H, 12 * H)])
    away_all_week = make_reservist(
        [Window(TUE, 8 * H, 12 * H)], [holiday(local(2026, 5, 30), local(2026, 6, 10))]
    )
    away_part = make_reservist(
        [Window(TUE, 8 * H, 12 * H), Window(FRI, 8 * H, 12 * H)],
        [holiday(local(2026, 6, 1), local(2026, 6, 3))],
    )
    standby = make_reservist(standby_until=now + timedelta(hours=5))
    nobody = make_reservist()
    ids = [days, sunday_only, away_all_week, away_part, standby, nobody]
    found = reservist_ids_available_between(db.session, *week, candidate_ids=ids, entirely=False, now=now)
    assert found == {days, sunday_only, away_part, standby}
    whole_week = reservist_ids_available_between(db.session, *week, candidate_ids=ids, now=now)
    assert whole_week == set()


def test_stand_by_counts_for_shifts_from_now_on_only(app, database):
    now = local(2026, 6, 2, 10)
    on_call = make_reservist(standby_until=local(2026, 6, 2, 22))
    later = (local(2026, 6, 2, 12), local(2026, 6, 2, 20))
    assert reservist_ids_available_between(db.session, *later, candidate_ids=[on_call], now=now) == {on_call}
    too_long = (local(2026, 6, 2, 12), local(2026, 6, 2, 23))
    assert reservist_ids_available_between(db.session, *too_long, candidate_ids=[on_call], now=now) == set()


def test_bulk_search_is_right_on_both_nights_the_clocks_change(app, database):
    night = make_reservist([Window(SAT, 22 * H, 7 * H)])
    march = (utc(2026, 3, 28, 21), utc(2026, 3, 29, 5))  # 8 real hours
    october = (utc(2026, 10, 24, 20), utc(2026, 10, 25, 6))  # 10 real hours
    for start, end in (march, october):
        assert reservist_ids_available_between(db.session, start, end, candidate_ids=[night]) == {night}
        assert (
            reservist_ids_available_between(db.session, start, end + timedelta(minutes=1), [night]) == set()
        )


def test_bulk_search_reads_the_repeated_hour_like_covers_does(app, database):
    early = make_reservist([Window(SUN, 2 * H + 30, 6 * H)])  # from the first 02:30, 00:30 UTC
    second_0210 = utc(2026, 10, 25, 1, 10)  # 02:10 winter time: after the window started
    assert covers([Window(SUN, 2 * H + 30, 6 * H)], [], None, second_0210, utc(2026, 10, 25, 3))
    found = reservist_ids_available_between(db.session, second_0210, utc(2026, 10, 25, 3), [early])
    assert found == {early}


def test_bulk_loading_keeps_only_what_matters_in_the_range(app, database):
    rid = make_reservist(
        [Window(MON, 7 * H, 17 * H), Window(THU, 7 * H, 17 * H)],
        [holiday(local(2026, 6, 1), local(2026, 6, 2)), holiday(local(2026, 9, 1), local(2026, 9, 2))],
    )
    loaded = load_availabilities(db.session, [rid], local(2026, 6, 1), local(2026, 6, 2))[rid]
    assert loaded.windows == (Window(MON, 7 * H, 17 * H),)
    assert [p.starts_at for p in loaded.periods] == [local(2026, 6, 1)]


# The reservist's pages ----------------------------------------------------------------------

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)  # Monday 1 June 2026, 10:00 in Amsterdam


@pytest.fixture
def frozen() -> Any:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def me(app, database, frozen) -> Any:
    reservist = ReservistFactory(user__locale="en", user__email="me@example.org")
    db.session.commit()
    return reservist


@pytest.fixture
def other(app, database) -> Any:
    reservist = ReservistFactory(user__email="other@example.org")
    window = WeeklyWindow(reservist_id=reservist.id, weekday=MON, start_minute=7 * H, end_minute=17 * H)
    period = AvailabilityPeriod(
        reservist_id=reservist.id, kind="unavailable", starts_at=NOW, ends_at=NOW + timedelta(days=3)
    )
    db.session.add_all([window, period])
    db.session.commit()
    return reservist, window, period


def windows(reservist) -> list[tuple[int, int, int]]:
    return [
        (w.weekday, w.start_minute, w.end_minute)
        for w in db.session.scalars(
            select(WeeklyWindow)
            .where(WeeklyWindow.reservist_id == reservist.id)
            .order_by(WeeklyWindow.weekday)
        )
    ]


def periods(reservist) -> list[AvailabilityPeriod]:
    return list(
        db.session.scalars(select(AvailabilityPeriod).where(AvailabilityPeriod.reservist_id == reservist.id))
    )


def actions(reservist) -> list[str]:
    return list(
        db.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.subject_user_id == reservist.user_id)
            .order_by(AuditEvent.id)
        )
    )


def test_overview_shows_week_list_and_coming_weeks(client, login_as, me):
    add_availability(me.id, [Window(d, 7 * H, 17 * H) for d in range(5)] + [FRIDAY_NIGHT])
    add_availability(me.id, periods=[holiday(local(2026, 6, 10), local(2026, 6, 13))])  # Wed–Fri
    add_availability(me.id, periods=[holiday(local(2026, 6, 15, 12), local(2026, 6, 15, 14), reason="work")])
    db.session.commit()
    page = login_as(me.user).get("/me/availability/").get_data(as_text=True)
    assert "Friday 22:00–07:00 (until the next day)" in page
    assert "Monday 07:00–17:00" in page
    assert 'data-day="2026-06-08" data-state="available"' in page
    assert 'data-day="2026-06-10" data-state="unavailable"' in page
    assert 'data-day="2026-06-15" data-state="partly"' in page
    assert 'data-day="2026-06-14" data-state="none"' in page
    assert 'data-day="2026-06-12" data-state="unavailable"' in page
    # The Friday night the holiday blocks still runs into Saturday morning, after the holiday.
    assert 'data-day="2026-06-13" data-state="available"' in page
    assert "<script" not in page


def test_reservist_adds_windows_for_several_days_at_once(client, login_as, me):
    login_as(me.user)
    response = client.post(
        "/me/availability/windows/new",
        data={"days": ["0", "1", "2", "3", "4"], "start": "07:00", "end": "17:00"},
    )
    assert response.status_code == 302
    assert windows(me) == [(d, 7 * H, 17 * H) for d in range(5)]
    assert actions(me).count("availability.window_added") == 5


def test_an_end_of_midnight_and_whole_days_are_understood(client, login_as, me):
    login_as(me.user)
    client.post("/me/availability/windows/new", data={"days": ["0"], "start": "17:00", "end": "00:00"})
    client.post("/me/availability/windows/new", data={"days": ["5"], "whole_day": "y"})
    client.post("/me/availability/windows/new", data={"days": ["3"], "start": "22:00", "end": "07:00"})
    assert windows(me) == [(MON, 17 * H, 24 * H), (THU, 22 * H, 7 * H), (SAT, 0, 24 * H)]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"days": ["0"], "start": "09:00", "end": "09:00"}, "Start and end cannot be the same time."),
        ({"days": ["0"], "start": "09:00"}, "Give a start and an end time, or tick whole day."),
        ({"start": "09:00", "end": "12:00"}, "Choose at least one day."),
        ({"days": ["9"], "start": "09:00", "end": "12:00"}, "not a valid choice"),
        ({"days": ["0"], "start": "9 uur", "end": "12:00"}, "Not a valid time value."),
    ],
)
def test_bad_window_input_is_refused_with_a_message_and_nothing_saved(client, login_as, me, data, message):
    response = login_as(me.user).post("/me/availability/windows/new", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert windows(me) == []
    assert actions(me) == []


def test_overlapping_and_identical_windows_are_refused_and_nothing_is_half_added(client, login_as, me):
    add_availability(me.id, [Window(TUE, 8 * H, 12 * H), FRIDAY_NIGHT])
    db.session.commit()
    login_as(me.user)
    overlap = client.post(
        "/me/availability/windows/new", data={"days": ["0", "1"], "start": "11:00", "end": "14:00"}
    )
    assert overlap.status_code == 400
    assert "overlaps your weekly time Tuesday 08:00–12:00" in overlap.get_data(as_text=True)
    same = client.post("/me/availability/windows/new", data={"days": ["4"], "start": "22:00", "end": "07:00"})
    assert "You already have these times" in same.get_data(as_text=True)
    across_midnight = client.post(
        "/me/availability/windows/new", data={"days": ["5"], "start": "06:00", "end": "09:00"}
    )
    assert "overlaps your weekly time Friday 22:00–07:00" in across_midnight.get_data(as_text=True)
    assert windows(me) == [(TUE, 8 * H, 12 * H), (FRI, 22 * H, 7 * H)]


def test_there_is_a_maximum_number_of_windows(client, login_as, me):
    add_availability(me.id, [Window(d % 7, (d // 7) * 6 * H, (d // 7) * 6 * H + 5 * H) for d in range(28)])
    db.session.commit()
    response = login_as(me.user).post(
        "/me/availability/windows/new", data={"days": ["0"], "start": "23:00", "end": "23:30"}
    )
    assert response.status_code == 400
    assert "at most 28 weekly times" in response.get_data(as_text=True)
    assert len(windows(me)) == 28


def test_reservist_changes_and_removes_a_window(client, login_as, me):
    add_availability(me.id, [Window(MON, 7 * H, 17 * H), Window(TUE, 7 * H, 17 * H)])
    db.session.commit()
    monday, tuesday = db.session.scalars(
        select(WeeklyWindow.id).where(WeeklyWindow.reservist_id == me.id).order_by(WeeklyWindow.weekday)
    )
    login_as(me.user)
    assert "07:00" in client.get(f"/me/availability/windows/{monday}/edit").get_data(as_text=True)
    clash = client.post(
        f"/me/availability/windows/{monday}/edit", data={"weekday": "1", "start": "16:00", "end": "20:00"}
    )
    assert clash.status_code == 400
    assert "overlaps your weekly time Tuesday 07:00–17:00" in clash.get_data(as_text=True)
    client.post(
        f"/me/availability/windows/{monday}/edit", data={"weekday": "0", "start": "08:00", "end": "12:00"}
    )
    client.post(f"/me/availability/windows/{tuesday}/delete")
    assert windows(me) == [(MON, 8 * H, 12 * H)]
    assert actions(me)[-2:] == ["availability.window_changed", "availability.window_removed"]


def test_quick_starts_add_windows_or_nothing(client, login_as, me):
    login_as(me.user)
    client.post("/me/availability/presets", data={"preset": "weekdays"})
    assert windows(me) == [(d, 7 * H, 17 * H) for d in range(5)]
    refused = client.post("/me/availability/presets", data={"preset": "weekends"})  # fine: no overlap
    assert len(windows(me)) == 7
    refused = client.post("/me/availability/presets", data={"preset": "nights"}, follow_redirects=True)
    assert "overlaps your weekly time" in refused.get_data(as_text=True)
    assert len(windows(me)) == 7
    client.post("/me/availability/presets", data={"preset": "everything"})
    assert len(windows(me)) == 7


def test_reservist_adds_and_removes_a_holiday(client, login_as, me):
    login_as(me.user)
    response = client.post(
        "/me/availability/periods/new",
        data={
            "kind": "unavailable",
            "reason": "holiday",
            "start_date": "2026-07-01",
            "end_date": "2026-07-14",
        },
    )
    assert response.status_code == 302
    [period] = periods(me)
    assert (period.kind, period.reason) == ("unavailable", "holiday")
    assert period.starts_at == local(2026, 7, 1) and period.ends_at == local(2026, 7, 15)  # the 14th included
    client.post(f"/me/availability/periods/{period.id}/delete")
    assert periods(me) == []
    assert actions(me) == ["availability.period_added", "availability.period_removed"]


def test_a_period_with_times_and_an_available_period(client, login_as, me):
    login_as(me.user)
    client.post(
        "/me/availability/periods/new",
        data={
            "kind": "available",
            "reason": "work",
            "start_date": "2026-06-06",
            "start_time": "08:00",
            "end_date": "2026-06-06",
            "end_time": "20:00",
        },
    )
    [period] = periods(me)
    assert (period.kind, period.reason) == ("available", "other")
    assert (period.starts_at, period.ends_at) == (local(2026, 6, 6, 8), local(2026, 6, 6, 20))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"start_date": "2026-07-14", "end_date": "2026-07-01"}, "The end must be after the start."),
        (
            {
                "start_date": "2026-07-01",
                "start_time": "12:00",
                "end_date": "2026-07-01",
                "end_time": "09:00",
            },
            "The end must be after the start.",
        ),
        ({"start_date": "2026-05-01", "end_date": "2026-05-03"}, "This period is already over."),
        ({"start_date": "2026-07-01", "end_date": "2028-07-01"}, "A period can last at most a year."),
        ({"start_date": "2026-07-01"}, "This field is required."),
        ({"start_date": "1-7-2026", "end_date": "2026-07-14"}, "Not a valid date value."),
        ({"start_date": "2026-07-01", "end_date": "2026-07-14", "kind": "maybe"}, "Not a valid choice"),
    ],
)
def test_bad_period_input_is_refused_with_a_message_and_nothing_saved(client, login_as, me, data, message):
    data = {"kind": "unavailable", "reason": "holiday", **data}
    response = login_as(me.user).post("/me/availability/periods/new", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert periods(me) == []
    assert actions(me) == []


def test_stand_by_switches_on_until_a_time_and_off(client, login_as, me):
    login_as(me.user)
    response = client.post(
        "/me/availability/standby",
        data={"until_date": "2026-06-01", "until_time": "22:00"},
        follow_redirects=True,
    )
    assert "You are on stand-by until" in response.get_data(as_text=True)
    me = db.session.get(Reservist, me.id, populate_existing=True)
    assert me.standby_until == local(2026, 6, 1, 22)
    assert reservist_ids_available_between(db.session, NOW, local(2026, 6, 1, 21), [me.id]) == {me.id}
    client.post("/me/availability/standby/off")
    me = db.session.get(Reservist, me.id, populate_existing=True)
    assert me.standby_until is None
    assert actions(me) == ["availability.standby_on", "availability.standby_off"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"until_date": "2026-06-01", "until_time": "09:00"}, "The end of stand-by must be in the future."),
        ({"until_date": "2026-06-05", "until_time": "09:00"}, "Stand-by can last at most 72 hours."),
        ({"until_date": "2026-06-01"}, "This field is required."),
    ],
)
def test_bad_stand_by_input_is_refused_with_a_message_and_nothing_saved(client, login_as, me, data, message):
    response = login_as(me.user).post("/me/availability/standby", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    me = db.session.get(Reservist, me.id, populate_existing=True)
    assert me.standby_until is None
    assert actions(me) == []


def test_another_reservists_windows_and_periods_are_not_found_and_unchanged(client, login_as, me, other):
    theirs, window, period = other
    login_as(me.user)
    assert client.get(f"/me/availability/windows/{window.id}/edit").status_code == 404
    edit = client.post(
        f"/me/availability/windows/{window.id}/edit", data={"weekday": "2", "start": "01:00", "end": "02:00"}
    )
    assert edit.status_code == 404
    assert client.post(f"/me/availability/windows/{window.id}/delete").status_code == 404
    assert client.post(f"/me/availability/periods/{period.id}/delete").status_code == 404
    assert windows(theirs) == [(MON, 7 * H, 17 * H)]
    assert len(periods(theirs)) == 1
    assert "Monday 07:00–17:00" not in client.get("/me/availability/").get_data(as_text=True)
    assert (
        db.session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("availability.%"))
        )
        == 0
    )


def test_service_rules_hold_without_the_forms(app, database, ctx):
    reservist = ReservistFactory()
    with ctx():
        with pytest.raises(services.AvailabilityRefused):
            services.add_windows(reservist, [(MON, 9 * H, 9 * H)])
        with pytest.raises(services.AvailabilityRefused):
            services.add_windows(reservist, [(MON, 9 * H, 12 * H), (MON, 11 * H, 13 * H)])
        assert windows(reservist) == []
        services.add_windows(reservist, [(SUN, 0, 0 + 24 * H)])
        with pytest.raises(services.NotYours):
            services.window_of(ReservistFactory(), db.session.scalar(select(WeeklyWindow.id)))


def test_the_sql_prefilter_keeps_everyone_who_is_available(app, database):
    shift = (local(2026, 6, 5, 23), local(2026, 6, 6, 6))
    nights = make_reservist([FRIDAY_NIGHT])
    days_only = make_reservist([Window(d, 7 * H, 17 * H) for d in range(5)])
    on_holiday = make_reservist([FRIDAY_NIGHT], [holiday(local(2026, 6, 6), local(2026, 6, 13))])
    query = select(Reservist.id).where(
        Reservist.id.in_([nights, days_only, on_holiday]),
        availability_prefilter(*shift, now=local(2026, 6, 1)),
    )
    assert set(db.session.scalars(query)) == {nights}


def test_demo_availability_is_valid_and_never_overlaps(app, database):
    import random

    reservists = [ReservistFactory() for _ in range(40)]
    added = add_demo_availability(reservists, random.Random(3), now=NOW)
    assert added > 40
    for reservist in reservists:
        own = [Window(*w) for w in windows(reservist)]
        assert not any(windows_overlap(a, b) for i, a in enumerate(own) for b in own[i + 1 :])
    assert {p.reason for r in reservists for p in periods(r)} <= {"holiday", "work", "other"}
