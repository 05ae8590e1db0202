"""The institution's roster: who comes, phone window, check-in/out, no-show and the timesheet CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import select, update

from tests.deployments_support import world_fixture  # noqa: F401
from tests.test_booking import fresh
from tests.test_shifts import _booked
from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.audit.models import AuditEvent
from zorgreserve.callups.models import Booking
from zorgreserve.coordination.filters import LOCAL
from zorgreserve.db import utcnow
from zorgreserve.deployments.models import Shift
from zorgreserve.shifts.models import TimesheetEntry


def _move_shift(shift, booking, start, hours=8):
    """Put the shift (and its booking's copy of the times) at ``start``."""
    end = start + timedelta(hours=hours)
    db.session.execute(update(Shift).where(Shift.id == shift.id).values(start_at=start, end_at=end))
    db.session.execute(update(Booking).where(Booking.id == booking.id).values(start_at=start, end_at=end))
    db.session.commit()
    return start, end


def _local(moment):
    return moment.astimezone(LOCAL).strftime("%Y-%m-%dT%H:%M")


def _audited(action, booking):
    return db.session.scalar(
        select(AuditEvent.id).where(AuditEvent.action == action, AuditEvent.subject_id == str(booking.id))
    )


def test_roster_shows_approved_people_and_phone_only_near_the_shift(world, ctx, client, login_as):
    req, _shift, person, item = _booked(world, ctx, in_days=3)
    person.user.phone = "+31612345678"
    db.session.commit()
    login_as(world.staff_a)
    page = client.get(f"/requests/{req.id}/roster").get_data(as_text=True)
    assert f'data-testid="booking-{item.id}"' in page and "Fenna" in page
    assert "06 12345678" not in page and "+31612345678" not in page and "shown from" in page
    # Within 24 hours of the start the number is there.
    _move_shift(_shift, item, utcnow() + timedelta(hours=20))
    page = client.get(f"/requests/{req.id}/roster").get_data(as_text=True)
    assert "+31612345678" in page
    # More than 24 hours after the end it is gone again.
    _move_shift(_shift, item, utcnow() - timedelta(hours=40))
    page = client.get(f"/requests/{req.id}/roster").get_data(as_text=True)
    assert "+31612345678" not in page
    # The region's coordinator reads it too.
    login_as(world.coordinator_x)
    assert client.get(f"/requests/{req.id}/roster").status_code == 200


def test_roster_of_another_institution_or_region_is_not_found(world, ctx, client, login_as):
    req, shift, _person, item = _booked(world, ctx, in_days=3)
    _move_shift(shift, item, utcnow() - timedelta(hours=1))
    for user in (world.staff_b, world.coordinator_y):
        login_as(user)
        assert client.get(f"/requests/{req.id}/roster").status_code == 404
        assert client.get(f"/requests/{req.id}/timesheet.csv").status_code == 404
    login_as(world.staff_b)
    response = client.post(f"/requests/{req.id}/roster/{item.id}/check-in", data={})
    assert response.status_code == 404 and fresh(Booking, item.id).status == "approved"
    response = client.post(f"/requests/{req.id}/roster/{item.id}/no-show", data={})
    assert response.status_code == 404 and fresh(Booking, item.id).status == "approved"
    # Another request's booking through one's own request id is not found either.
    _other_req, _other_shift, _p, other_item = _booked(world, ctx, in_days=5)
    login_as(world.staff_a)
    response = client.post(f"/requests/{req.id}/roster/{other_item.id}/check-in", data={})
    assert response.status_code == 404 and fresh(Booking, other_item.id).status == "approved"


def test_check_in_and_out_record_hours_and_bad_input_changes_nothing(world, ctx, client, login_as):
    req, shift, _person, item = _booked(world, ctx, in_days=3)
    start, end = _move_shift(shift, item, utcnow() - timedelta(hours=9))
    login_as(world.staff_a)
    url = f"/requests/{req.id}/roster/{item.id}"
    # Check-out before check-in is refused.
    response = client.post(f"{url}/check-out", data={"end": _local(end)}, follow_redirects=True)
    assert "Only someone who is checked in" in response.get_data(as_text=True)
    assert fresh(Booking, item.id).status == "approved"
    client.post(f"{url}/check-in", data={"start": _local(start + timedelta(minutes=5))})
    assert fresh(Booking, item.id).status == "checked_in" and _audited("booking.checked_in", item)
    # An end before the start, too late an end, and too long a break: a message, nothing changed.
    for data, message in (
        ({"end": _local(start)}, "must be after the check-in"),
        ({"end": _local(end + timedelta(minutes=61))}, "more than 60 minutes after the end"),
        ({"end": _local(start + timedelta(hours=2)), "break_minutes": "200"}, "shorter than the time worked"),
    ):
        page = client.post(f"{url}/check-out", data=data, follow_redirects=True).get_data(as_text=True)
        assert message in page
        assert fresh(Booking, item.id).status == "checked_in"
    client.post(f"{url}/check-out", data={"end": _local(end), "break_minutes": "30"})
    assert fresh(Booking, item.id).status == "completed" and _audited("booking.checked_out", item)
    entry = db.session.scalar(select(TimesheetEntry).where(TimesheetEntry.booking_id == item.id))
    assert entry.break_minutes == 30
    page = client.get(f"/requests/{req.id}/roster").get_data(as_text=True)
    assert "7.42" in page  # 8 h − 5 min − 30 min break


def test_no_show_only_after_the_start(world, ctx, client, login_as):
    req, shift, _person, item = _booked(world, ctx, in_days=3)
    login_as(world.staff_a)
    url = f"/requests/{req.id}/roster/{item.id}/no-show"
    page = client.post(url, data={}, follow_redirects=True).get_data(as_text=True)
    assert "only after the shift has started" in page and fresh(Booking, item.id).status == "approved"
    _move_shift(shift, item, utcnow() - timedelta(minutes=30))
    client.post(url, data={})
    assert fresh(Booking, item.id).status == "no_show" and _audited("booking.no_show", item)


def test_timesheet_csv_has_totals_per_person_and_is_formula_safe(world, ctx, client, login_as):
    req, shift, person, item = _booked(world, ctx, in_days=3)
    db.session.execute(update(User).where(User.id == person.user_id).values(last_name="=HYPERLINK(1)"))
    db.session.commit()
    start, end = _move_shift(shift, item, utcnow() - timedelta(hours=9))
    login_as(world.staff_a)
    url = f"/requests/{req.id}/roster/{item.id}"
    client.post(f"{url}/check-in", data={"start": _local(start)})
    client.post(f"{url}/check-out", data={"end": _local(end), "break_minutes": "60"})
    response = client.get(f"/requests/{req.id}/timesheet.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    line = dict(zip(rows[0], rows[1], strict=True))
    assert line["Surname"] == "'=HYPERLINK(1)" and line["Actual hours"] == "7.00"
    assert line["Status"] == "Completed" and line["Hours confirmed"] == "No"
    # Totals: shifts, planned, confirmed, unconfirmed hours, no-shows, all confirmed.
    assert rows[-1] == [str(person.id), "Fenna", "'=HYPERLINK(1)", "1", "8.00", "0.00", "7.00", "0", "No"]
    assert _audited("timesheet.exported", req)
    # A period without the shift leaves only the headers; a reversed period is refused.
    later = (end + timedelta(days=2)).astimezone(LOCAL).date().isoformat()
    rows = list(
        csv.reader(
            io.StringIO(
                client.get(f"/requests/{req.id}/timesheet.csv?start={later}")
                .get_data(as_text=True)
                .lstrip("\ufeff")
            )
        )
    )
    assert len(rows) == 3
    earlier = (start - timedelta(days=2)).astimezone(LOCAL).date().isoformat()
    response = client.get(f"/requests/{req.id}/timesheet.csv?start={later}&end={earlier}")
    assert response.status_code == 302
