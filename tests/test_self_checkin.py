"""Self check-in with the shift's code: the printable code, the window, wrong codes, rate limit, audit."""

from __future__ import annotations

import re
from datetime import timedelta

import time_machine
from sqlalchemy import func, select, update

from tests.deployments_support import english, world_fixture  # noqa: F401
from tests.test_booking import fresh
from tests.test_shifts import _booked
from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.audit.models import AuditEvent
from zorgreserve.callups.models import Booking
from zorgreserve.db import utcnow
from zorgreserve.deployments.models import Shift, ShiftState
from zorgreserve.reservists.models import Reservist
from zorgreserve.shifts import checkin
from zorgreserve.shifts.models import CheckinCode, TimesheetEntry

NOT_VALID = "This code is not valid for any shift of yours."


def _at(shift, booking, start, hours: int = 8):
    """Put the shift (and its booking's copy of the times) at ``start``."""
    end = start + timedelta(hours=hours)
    db.session.execute(update(Shift).where(Shift.id == shift.id).values(start_at=start, end_at=end))
    db.session.execute(update(Booking).where(Booking.id == booking.id).values(start_at=start, end_at=end))
    db.session.commit()
    return start, end


def _code(world, ctx, shift) -> str:
    with english(ctx):
        code = checkin.code_for(world.staff_a, db.session.get(Shift, shift.id))
        db.session.commit()
    return code


def _audits(action: str, **where) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.action == action)
    for name, value in where.items():
        query = query.where(getattr(AuditEvent, name) == value)
    return list(db.session.scalars(query))


def _post(client, code: str):
    return client.post("/check-in", data={"code": code})


def test_staff_show_the_code_and_the_reservist_checks_in_with_it(world, ctx, client, login_as):
    req, shift, person, item = _booked(world, ctx, in_days=3)
    _at(shift, item, utcnow() + timedelta(minutes=30))
    login_as(world.staff_a)
    roster = client.get(f"/requests/{req.id}/roster").get_data(as_text=True)
    assert f'data-testid="checkin-code-link-{shift.id}"' in roster
    page = client.get(f"/requests/{req.id}/shifts/{shift.id}/check-in-code").get_data(as_text=True)
    shown = re.search(r'data-testid="checkin-code"><strong>(\w{3}) (\w{3})</strong>', page)
    assert shown and 'src="data:image/svg+xml;base64,' in page
    code = shown.group(1) + shown.group(2)
    # Asking again shows the same code; it was made (and audited) once.
    again = client.get(f"/requests/{req.id}/shifts/{shift.id}/check-in-code").get_data(as_text=True)
    assert f"{code[:3]} {code[3:]}" in again
    assert len(_audits("checkin_code.created", subject_id=str(shift.id))) == 1

    login_as(person.user)
    detail = client.get(f"/me/shifts/{item.id}").get_data(as_text=True)
    assert 'data-testid="self-check-in-link"' in detail
    # The QR code's link fills in the code; the reservist confirms with the button.
    form = client.get(f"/check-in?code={code.lower()}").get_data(as_text=True)
    assert f'value="{code}"' in form and fresh(Booking, item.id).status == "approved"
    before = utcnow()
    response = _post(client, f"{code[:3].lower()} {code[3:]}")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/me/shifts/{item.id}")
    assert fresh(Booking, item.id).status == "checked_in"
    entry = db.session.scalar(select(TimesheetEntry).where(TimesheetEntry.booking_id == item.id))
    assert before - timedelta(seconds=1) <= entry.actual_start_at <= utcnow()
    assert entry.checked_in_by_id == person.user_id
    assert _audits("booking.checked_in", subject_id=str(item.id))
    [used] = _audits("checkin_code.used", subject_id=str(item.id))
    assert used.actor_id == person.user_id
    # A second try changes nothing and says so.
    page = _post(client, code).get_data(as_text=True)
    assert "You are already checked in for this shift." in page
    assert db.session.scalar(select(func.count()).where(TimesheetEntry.booking_id == item.id)) == 1


def test_check_in_opens_an_hour_before_the_start_and_closes_at_the_end(world, ctx, client, login_as):
    _req, shift, person, item = _booked(world, ctx, in_days=3)
    start, end = _at(shift, item, (utcnow() + timedelta(days=2)).replace(second=0, microsecond=0))
    code = _code(world, ctx, shift)
    for moment, message in (
        (start - timedelta(minutes=61), "Check-in for this shift opens 60 minutes before its start."),
        (end, "This shift has ended; check-in is closed."),
    ):
        with time_machine.travel(moment, tick=False):
            login_as(person.user)
            page = _post(client, code).get_data(as_text=True)
        assert message in page and fresh(Booking, item.id).status == "approved"
    assert {e.details["reason"] for e in _audits("checkin_code.refused")} == {"too_early", "ended"}
    with time_machine.travel(start - timedelta(minutes=59), tick=False):
        login_as(person.user)
        assert _post(client, code).status_code == 302
    assert fresh(Booking, item.id).status == "checked_in"
    entry = db.session.scalar(select(TimesheetEntry).where(TimesheetEntry.booking_id == item.id))
    assert entry.actual_start_at == start - timedelta(minutes=59)


def _strip(body: bytes) -> bytes:
    return re.sub(rb'value="[^"]*"', b"", body)


def test_a_wrong_code_or_another_shifts_code_says_the_same_and_changes_nothing(world, ctx, client, login_as):
    _req, shift, person, item = _booked(world, ctx, in_days=3)
    _req2, other_shift, _other, other_item = _booked(world, ctx, in_days=4)
    _at(shift, item, utcnow() + timedelta(minutes=10))
    _at(other_shift, other_item, utcnow() + timedelta(hours=9))
    mine, theirs = _code(world, ctx, shift), _code(world, ctx, other_shift)
    unknown = "ZZZZZZ" if "ZZZZZZ" not in (mine, theirs) else "YYYYYY"
    login_as(person.user)
    answers = [_post(client, code) for code in (theirs, unknown, "12", "!!!!!!")]
    assert all(NOT_VALID in a.get_data(as_text=True) for a in answers)
    assert len({_strip(a.data) for a in answers}) == 1
    assert fresh(Booking, item.id).status == "approved" and fresh(Booking, other_item.id).status == "approved"
    refused = _audits("checkin_code.refused", actor_id=person.user_id)
    assert len(refused) == 4 and {e.details["reason"] for e in refused} == {"not_valid"}
    # Nothing names the shift whose code was tried: the audit row is not tied to it either.
    assert all(e.subject_id is None for e in refused)
    # The other reservist's code does not check *them* in either, even inside their window.
    _at(other_shift, other_item, utcnow() + timedelta(minutes=10))
    assert NOT_VALID in _post(client, theirs).get_data(as_text=True)
    assert fresh(Booking, other_item.id).status == "approved"
    # Once cancelled, one's own code is not valid any more.
    db.session.execute(update(Booking).where(Booking.id == item.id).values(status="cancelled"))
    db.session.commit()
    assert NOT_VALID in _post(client, mine).get_data(as_text=True)


def test_a_booking_not_yet_approved_is_told_to_report_to_the_contact(world, ctx, client, login_as):
    _req, shift, person, item = _booked(world, ctx, in_days=3, approve=False)
    user = db.session.get(User, fresh(Reservist, person.id).user_id)
    _at(shift, item, utcnow() + timedelta(minutes=10))
    code = _code(world, ctx, shift)
    login_as(user)
    page = _post(client, code).get_data(as_text=True)
    assert "not approved yet" in page and fresh(Booking, item.id).status == "accepted"


def test_attempts_are_rate_limited_per_account(app, world, ctx, client, login_as):
    _req, shift, person, item = _booked(world, ctx, in_days=3)
    _req2, other_shift, other, other_item = _booked(world, ctx, in_days=4)
    users = person.user, other.user
    _at(shift, item, utcnow() + timedelta(minutes=10))
    _at(other_shift, other_item, utcnow() + timedelta(minutes=20))
    code, other_code = _code(world, ctx, shift), _code(world, ctx, other_shift)
    previous = app.config.get("SHIFT_CHECKIN_LIMIT")
    app.config["SHIFT_CHECKIN_LIMIT"] = "3 per 15 minutes"
    try:
        login_as(users[0])
        codes = [_post(client, "ZZZZZZ" if code != "ZZZZZZ" else "YYYYYY").status_code for _ in range(4)]
        right = _post(client, code)
        login_as(users[1])
        elsewhere = _post(client, other_code)
    finally:
        app.config["SHIFT_CHECKIN_LIMIT"] = previous
    assert codes == [200, 200, 200, 429]
    # The right code is refused too while throttled: guessing gains nothing.
    assert right.status_code == 429 and fresh(Booking, item.id).status == "approved"
    assert b"<h1>" in right.data and b"Traceback" not in right.data
    # Another reservist (possibly on the same hospital network) is not held up.
    assert elsewhere.status_code == 302 and fresh(Booking, other_item.id).status == "checked_in"


def test_the_code_page_is_only_for_the_requests_own_staff(world, ctx, client, login_as):
    req, shift, _person, _item = _booked(world, ctx, in_days=3)
    other_req, other_shift, _other, _other_item = _booked(world, ctx, in_days=4)
    url = f"/requests/{req.id}/shifts/{shift.id}/check-in-code"
    login_as(world.staff_b)
    assert client.get(url).status_code == 404
    login_as(world.coordinator_x)
    assert client.get(url).status_code == 403
    login_as(world.staff_a)
    # Another request's shift through this request's id is not found.
    assert client.get(f"/requests/{req.id}/shifts/{other_shift.id}/check-in-code").status_code == 404
    assert db.session.scalar(select(func.count()).select_from(CheckinCode)) == 0
    # A cancelled shift gets no code.
    db.session.execute(update(Shift).where(Shift.id == shift.id).values(state=ShiftState.CANCELLED.value))
    db.session.commit()
    page = client.get(url).get_data(as_text=True)
    assert "This shift is cancelled." in page and 'data-testid="checkin-code"' not in page
    assert db.session.scalar(select(func.count()).select_from(CheckinCode)) == 0
    assert other_req.id != req.id
