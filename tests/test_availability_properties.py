"""Property tests: availability intervals agree, minute by minute, with a plain reading of the rules.

The data are generated around the two nights the clocks change and an ordinary
week; every boundary lies on a whole minute, so checking every minute of the
query range compares the answers completely.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import ReservistFactory
from zorgreserve import db
from zorgreserve.availability.models import AvailabilityPeriod, WeeklyWindow
from zorgreserve.availability.search import reservist_ids_available_between
from zorgreserve.availability.timeline import (
    Availability,
    Period,
    Window,
    available_intervals,
    covers,
    local_day,
    local_to_utc,
)
from zorgreserve.reservists.models import Reservist

ANCHORS = [
    datetime(2026, 3, 27, 12, tzinfo=UTC),  # the clocks go forward on Sunday the 29th
    datetime(2026, 10, 23, 12, tzinfo=UTC),  # the clocks go back on Sunday the 25th
    datetime(2026, 6, 5, 12, tzinfo=UTC),
]
MINUTE = timedelta(minutes=1)


@st.composite
def windows(draw: st.DrawFn) -> Window:
    # Often near 02:00–03:00, the hour that is skipped or repeated when the clocks change.
    start = draw(st.integers(0, 1439) | st.integers(110, 190))
    end = draw((st.integers(1, 1440) | st.integers(110, 190)).filter(lambda e: e != start))
    return Window(draw(st.integers(0, 6)), start, end)


def moment(anchor: datetime) -> st.SearchStrategy[datetime]:
    return st.integers(0, 3 * 24 * 60).map(lambda m: anchor + timedelta(minutes=m))


@st.composite
def periods(draw: st.DrawFn, anchor: datetime) -> Period:
    start = draw(moment(anchor))
    length = draw(st.integers(1, 36 * 60))
    kind = draw(st.sampled_from(["available", "unavailable"]))
    return Period(
        kind, start, start + timedelta(minutes=length), draw(st.sampled_from(["holiday", "work", "other"]))
    )


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Availability, datetime, datetime]:
    anchor = draw(st.sampled_from(ANCHORS))
    standby = None
    if draw(st.booleans()):
        since = draw(moment(anchor))
        standby = (since, since + timedelta(minutes=draw(st.integers(1, 72 * 60))))
    availability = Availability(
        tuple(draw(st.lists(windows(), max_size=5))),
        tuple(draw(st.lists(periods(anchor), max_size=3))),
        standby,
    )
    start = draw(moment(anchor))
    end = start + timedelta(minutes=draw(st.integers(1, 36 * 60)))
    return availability, start, end


def available_at(availability: Availability, t: datetime) -> bool:
    """The rules read literally for one instant (windows via the documented local-time mapping)."""
    if any(p.kind == "unavailable" and p.starts_at <= t < p.ends_at for p in availability.periods):
        return False
    if any(p.kind == "available" and p.starts_at <= t < p.ends_at for p in availability.periods):
        return True
    if availability.standby and availability.standby[0] <= t < availability.standby[1]:
        return True
    today = local_day(t)
    for day in (today - timedelta(days=1), today):
        for w in availability.windows:
            if w.weekday != day.weekday():
                continue
            end = w.end_minute + (1440 if w.end_minute <= w.start_minute else 0)
            if local_to_utc(day, w.start_minute) <= t < local_to_utc(day, end):
                return True
    return False


def minutes(start: datetime, end: datetime):
    t = start
    while t < end:
        yield t
        t += MINUTE


def inside(intervals: list[tuple[datetime, datetime]], t: datetime) -> bool:
    return any(s <= t < e for s, e in intervals)


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_available_intervals_are_exactly_the_available_minutes_of_the_range(scenario):
    availability, start, end = scenario
    found = available_intervals(availability, start, end)
    for (_s1, e1), (s2, _e2) in itertools.pairwise(found):
        assert e1 < s2  # sorted, disjoint, not touching
    for s, e in found:
        assert start <= s < e <= end
    for t in minutes(start, end):
        assert inside(found, t) == available_at(availability, t), t


@settings(max_examples=150, deadline=None)
@given(scenarios(), st.integers(0, 36 * 60), st.integers(1, 12 * 60))
def test_covers_agrees_with_available_intervals(scenario, offset, length):
    availability, start, end = scenario
    shift_start = start + timedelta(minutes=offset)
    shift_end = shift_start + timedelta(minutes=length)
    found = available_intervals(availability, start, end)
    answer = covers(availability.windows, availability.periods, availability.standby, shift_start, shift_end)
    if shift_end <= end:
        assert answer == any(s <= shift_start and shift_end <= e for s, e in found)
    assert answer == all(available_at(availability, t) for t in minutes(shift_start, shift_end))


def test_bulk_search_agrees_with_covers_for_every_reservist(app, database):
    ids = [ReservistFactory().id for _ in range(4)]

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.data())
    def check(data):
        anchor = data.draw(st.sampled_from(ANCHORS))
        now = anchor - timedelta(days=data.draw(st.integers(0, 1)), hours=data.draw(st.integers(0, 30)))
        declared: dict[int, Availability] = {}
        savepoint = db.session.begin_nested()
        try:
            for rid in ids:
                ws = data.draw(st.lists(windows(), max_size=4))
                ps = data.draw(st.lists(periods(anchor), max_size=2))
                standby_until = data.draw(st.none() | moment(anchor))
                reservist = db.session.get(Reservist, rid)
                reservist.standby_until = standby_until
                db.session.add_all(
                    [
                        WeeklyWindow(
                            reservist_id=rid,
                            weekday=w.weekday,
                            start_minute=w.start_minute,
                            end_minute=w.end_minute,
                        )
                        for w in ws
                    ]
                    + [
                        AvailabilityPeriod(
                            reservist_id=rid,
                            kind=p.kind,
                            reason=p.reason,
                            starts_at=p.starts_at,
                            ends_at=p.ends_at,
                        )
                        for p in ps
                    ]
                )
                standby = (now, standby_until) if standby_until and standby_until > now else None
                declared[rid] = Availability(tuple(ws), tuple(ps), standby)
            db.session.flush()
            start = data.draw(moment(anchor))
            end = start + timedelta(minutes=data.draw(st.integers(1, 30 * 60)))
            entirely = data.draw(st.booleans())
            found = reservist_ids_available_between(db.session, start, end, ids, entirely=entirely, now=now)
            if entirely:
                expected = {
                    r for r, a in declared.items() if covers(a.windows, a.periods, a.standby, start, end)
                }
            else:
                expected = {r for r, a in declared.items() if available_intervals(a, start, end)}
            assert found == expected
            if data.draw(st.booleans()):  # the same without a candidate list
                everyone = reservist_ids_available_between(db.session, start, end, entirely=entirely, now=now)
                assert everyone & set(ids) == expected
        finally:
            savepoint.rollback()

    check()
