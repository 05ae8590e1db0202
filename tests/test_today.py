"""Coordinators' today/tomorrow view: counts per shift on a constructed day, region scope, few queries."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine
from sqlalchemy import event

from tests.deployments_support import day_pattern, english, new_request, world_fixture  # noqa: F401
from tests.factories import ReservistFactory
from zorgreserve import db
from zorgreserve.callups.models import Booking
from zorgreserve.deployments.models import Shift, ShiftState
from zorgreserve.shifts import today

AMS = ZoneInfo("Europe/Amsterdam")
DAY = date.today() + timedelta(days=10)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=AMS).astimezone(UTC)


NOW = local(DAY, 10)


def _request(staff, location, *, status: str = "open"):
    """A request without shifts of its own (its pattern shift is cancelled), in ``status``."""
    req = new_request(staff, location, pattern=day_pattern(days=1, places=1), submit=status != "draft")
    for shift in req.shifts:
        shift.state = ShiftState.CANCELLED.value
    req.status = status
    db.session.flush()
    return req


def _shift(req, start: datetime, hours: float = 8, places: int = 1, **values) -> Shift:
    shift = Shift(
        request_id=req.id, start_at=start, end_at=start + timedelta(hours=hours), places=places, **values
    )
    db.session.add(shift)
    db.session.flush()
    return shift


def _book(shift: Shift, status: str, cancelled_at: datetime | None = None) -> None:
    person = ReservistFactory()
    db.session.add(
        Booking(
            shift_id=shift.id,
            reservist_id=person.id,
            status=status,
            start_at=shift.start_at,
            end_at=shift.end_at,
            cancelled_at=cancelled_at,
        )
    )
    db.session.flush()


def _day(world, ctx):
    """Region X: a busy day shift, an evening shift, last night's shift, tomorrow's; region Y: one."""
    with english(ctx):
        req = _request(world.staff_a, world.loc_a)
        day_shift = _shift(req, local(DAY, 7), places=4)
        for status in ("completed", "checked_in", "approved", "no_show"):
            _book(day_shift, status)
        _book(day_shift, "cancelled", cancelled_at=local(DAY, 5))  # 2 h before the start: late
        evening = _shift(req, local(DAY, 19), hours=4, places=2)
        _book(evening, "approved")
        _book(evening, "accepted")
        _book(evening, "cancelled", cancelled_at=local(DAY - timedelta(3), 12))  # in time; place refilled
        night = _shift(req, local(DAY - timedelta(1), 23))
        _book(night, "approved")
        tomorrow = _shift(req, local(DAY + timedelta(1), 7))
        _book(tomorrow, "cancelled", cancelled_at=local(DAY + timedelta(1), 7) - timedelta(hours=23))
        _book(tomorrow, "cancelled", cancelled_at=local(DAY + timedelta(1), 7) - timedelta(hours=25))
        hidden = [
            _shift(req, local(DAY + timedelta(2), 7)),  # the day after tomorrow
            _shift(req, local(DAY - timedelta(1), 7)),  # yesterday
            _shift(req, local(DAY, 12), state=ShiftState.CANCELLED.value),
            _shift(_request(world.staff_a, world.loc_a, status="draft"), local(DAY, 8)),
            _shift(_request(world.staff_a, world.loc_a, status="submitted"), local(DAY, 8)),
        ]
        elsewhere = _shift(_request(world.staff_b, world.loc_b), local(DAY, 8))
        _book(elsewhere, "approved")
        db.session.commit()
    return day_shift, evening, night, tomorrow, hidden, elsewhere


def _page(client, login_as, user, query: str = "") -> str:
    with time_machine.travel(NOW, tick=False):
        login_as(user)
        response = client.get(f"/shifts/today{query}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _row(page: str, shift: Shift) -> str | None:
    found = re.search(rf'<tr data-testid="shift-{shift.id}".*?</tr>', page, re.S)
    return found.group(0) if found else None


def _counts(row: str) -> dict[str, int]:
    return {name: int(value) for name, value in re.findall(r'data-testid="([a-z-]+)">(\d+)', row)}


def test_counts_per_shift_on_a_constructed_day(world, ctx, client, login_as):
    day_shift, evening, night, tomorrow, hidden, _elsewhere = _day(world, ctx)
    page = _page(client, login_as, world.coordinator_x)
    today_part, tomorrow_part = page.split('data-testid="day-2"')
    assert _counts(_row(today_part, day_shift)) == {
        "places": 4,
        "booked": 3,
        "checked-in": 2,
        "late": 1,
        "no-shows": 1,
        "late-cancellations": 1,
        "reopened": 1,
    }
    assert _counts(_row(today_part, evening)) == {
        "places": 2,
        "booked": 2,
        "checked-in": 0,
        "late": 0,
        "no-shows": 0,
        "late-cancellations": 0,
        "reopened": 0,
    }
    assert "1 awaiting approval" in _row(today_part, evening)
    assert 'class="needs-action"' in _row(today_part, day_shift)
    assert 'class="needs-action"' not in _row(today_part, evening)
    # Last night's shift still counts as today: its reservist never checked in.
    assert _counts(_row(today_part, night))["late"] == 1
    # Tomorrow: one cancellation 23 h before the start (late), one 25 h before (in time); the place is open.
    counts = _counts(_row(tomorrow_part, tomorrow))
    assert (counts["late-cancellations"], counts["reopened"], counts["booked"]) == (1, 1, 0)
    assert "2 cancelled in all" in _row(tomorrow_part, tomorrow)
    for shift in hidden:
        assert _row(page, shift) is None
    # Links to act: the call-ups page and the roster of the request.
    row = _row(today_part, day_shift)
    assert (
        f"/requests/{day_shift.request_id}/callups" in row
        and f"/requests/{day_shift.request_id}/roster" in row
    )


def test_a_regional_coordinator_sees_only_their_region_whatever_the_query(world, ctx, client, login_as):
    day_shift, _evening, _night, _tomorrow, _hidden, elsewhere = _day(world, ctx)
    page = _page(client, login_as, world.coordinator_x, f"?region={world.region_y.id}")
    assert _row(page, day_shift) and _row(page, elsewhere) is None
    page = _page(client, login_as, world.coordinator_y)
    assert _row(page, elsewhere) and _row(page, day_shift) is None
    # A national coordinator sees both regions, or the one chosen.
    page = _page(client, login_as, world.national)
    assert _row(page, day_shift) and _row(page, elsewhere)
    page = _page(client, login_as, world.national, f"?region={world.region_x.id}")
    assert _row(page, day_shift) and _row(page, elsewhere) is None
    # The coordinators' overview of requests links here.
    with time_machine.travel(NOW, tick=False):
        overview = client.get("/requests/overview").get_data(as_text=True)
    assert 'data-testid="today-link"' in overview and "/shifts/today" in overview
    # Other roles are refused.
    for user in (world.staff_a, world.admin):
        with time_machine.travel(NOW, tick=False):
            login_as(user)
            assert client.get("/shifts/today").status_code == 403


def test_the_view_asks_the_same_few_queries_however_many_shifts(world, ctx, app):
    _day(world, ctx)
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    def queries() -> int:
        statements.clear()
        engine = db.get_engine()
        event.listen(engine, "before_cursor_execute", count)
        try:
            with english(ctx):
                days = today.today_and_tomorrow(world.coordinator_x, None, NOW)
                # What the page shows of each request is loaded with the shifts, not one by one.
                shown = [
                    (item.request.institution.name, item.request.location.city, item.request.region.name)
                    for day in days
                    for item in day.shifts
                ]
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(statements), len(shown)

    few, shown = queries()
    with english(ctx):
        req = _request(world.staff_a, world.loc_a)
        for hour in range(8, 18):
            _book(_shift(req, local(DAY, hour), hours=1, places=2), "approved")
        db.session.commit()
    more, shown_more = queries()
    assert shown_more == shown + 10
    assert more == few == 3  # shifts with their requests, bookings per status, cancellation times
