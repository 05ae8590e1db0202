"""Matching reads the hours actually worked: the timesheet's times for rest and fairness, when recorded."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from tests.deployments_support import in_english_fixture, world_fixture  # noqa: F401
from tests.test_matching import (
    CONFIG,
    NOW,
    add_shift,
    book,
    empty_request,
    local,
    person,
    ranked_ids,
    req_fixture,  # noqa: F401
    verdict,
)
from zorgreserve import db
from zorgreserve.callups.models import Booking
from zorgreserve.matching.engine import rank_request
from zorgreserve.shifts.models import TimesheetEntry

DAY = date(2026, 3, 10)  # a Tuesday


def _booking(reservist_id: int, shift) -> Booking:
    return db.session.scalar(
        select(Booking).where(Booking.reservist_id == reservist_id, Booking.shift_id == shift.id)
    )


def _timesheet(reservist_id: int, shift, start, end, break_minutes: int = 0) -> None:
    db.session.add(
        TimesheetEntry(
            booking_id=_booking(reservist_id, shift).id,
            actual_start_at=start,
            actual_end_at=end,
            break_minutes=break_minutes,
        )
    )
    db.session.flush()


def test_a_shift_that_ran_three_hours_over_pushes_back_the_11_hour_rest(w, req):
    other = empty_request(w)
    rid = person()
    worked = add_shift(other, local(DAY, 7), local(DAY, 15))
    book(rid, worked, status="completed")
    # Tomorrow 03:00 is 12 hours after the planned end: fine on the planned times.
    proposed = add_shift(req, local(DAY + timedelta(1), 3), local(DAY + timedelta(1), 11))
    now = local(DAY, 20)
    assert verdict(rid, proposed, now=now)["working_time"].passed
    assert ranked_ids(req, proposed, now=now) == [rid]
    # The institution recorded an end at 18:00 (and a break, which is no rest): only 9 hours remain.
    _timesheet(rid, worked, local(DAY, 7), local(DAY, 18), break_minutes=30)
    result = verdict(rid, proposed, now=now)["working_time"]
    assert not result.passed and result.reason == "rest_too_short"
    assert ranked_ids(req, proposed, now=now) == []


def test_no_shows_and_cancelled_bookings_are_not_work(w, req):
    other = empty_request(w)
    absent, cancelled = person(), person()
    book(absent, add_shift(other, local(DAY, 7), local(DAY, 15)), status="no_show")
    book(cancelled, add_shift(other, local(DAY, 7), local(DAY, 15)), status="cancelled")
    proposed = add_shift(req, local(DAY, 20), local(DAY + timedelta(1), 4))
    now = local(DAY, 16)
    assert sorted(ranked_ids(req, proposed, now=now)) == sorted([absent, cancelled])


def _recent(request, shift, reservist_id: int) -> float:
    candidates = rank_request(db.session, request.id, config=CONFIG, now=NOW)[shift.id]
    found = next(c for c in candidates if c.reservist_id == reservist_id)
    return next(p.value for p in found.parts if p.name == "recent_hours")


def test_fairness_counts_the_hours_actually_worked(w, req):
    other = empty_request(w)
    shift = add_shift(req, local(DAY, 7), local(DAY, 15))
    left_early, full_day, planned_only, absent = person(), person(), person(), person()
    start = NOW - timedelta(days=3)
    for rid, status in ((left_early, "completed"), (full_day, "completed"), (planned_only, "approved")):
        past = add_shift(other, start, start + timedelta(hours=10))
        book(rid, past, status=status)
        if rid == left_early:
            _timesheet(rid, past, start, start + timedelta(hours=4))
        elif rid == full_day:
            early, late = start - timedelta(minutes=30), start + timedelta(hours=11)
            _timesheet(rid, past, early, late, break_minutes=30)
    book(absent, add_shift(other, start, start + timedelta(hours=10)), status="no_show")
    assert _recent(req, shift, left_early) == round(1 - 4 / 160, 6)
    assert _recent(req, shift, full_day) == round(1 - 11 / 160, 6)  # 11.5 h at work, 30 min break
    assert _recent(req, shift, planned_only) == round(1 - 10 / 160, 6)  # nothing recorded: planned
    assert _recent(req, shift, absent) == 1.0
    order = ranked_ids(req, shift)
    assert order.index(absent) < order.index(left_early) < order.index(planned_only) < order.index(full_day)
