"""Confirming and correcting hours, the timesheet exports (CSV and XLSX), the day roster, and the
reservist's hours counting confirmed actual hours."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta

import openpyxl
from sqlalchemy import func, select, update

from tests.deployments_support import day_pattern, english, world_fixture  # noqa: F401
from tests.test_booking import accept, fresh, offer_for, open_request, reservist
from tests.test_shifts import _booked
from tests.test_shifts_roster import _local, _move_shift
from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.audit.models import AuditEvent
from zorgreserve.callups import approval
from zorgreserve.callups.models import Booking
from zorgreserve.coordination.filters import LOCAL
from zorgreserve.db import utcnow
from zorgreserve.shifts.models import TimesheetCorrection, TimesheetEntry


def _entry(booking) -> TimesheetEntry:
    return db.session.scalar(
        select(TimesheetEntry)
        .where(TimesheetEntry.booking_id == booking.id)
        .execution_options(populate_existing=True)
    )


def _events(action, booking) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == action, AuditEvent.subject_id == str(booking.id))
    )


def _corrections(booking) -> list[TimesheetCorrection]:
    return list(
        db.session.scalars(
            select(TimesheetCorrection)
            .join(TimesheetEntry, TimesheetEntry.id == TimesheetCorrection.entry_id)
            .where(TimesheetEntry.booking_id == booking.id)
            .order_by(TimesheetCorrection.id)
        )
    )


def _text(response) -> str:
    return response.get_data(as_text=True)


def _worked(world, ctx, client, login_as, *, in_days=3, late_minutes=0, break_minutes=30, **kwargs):
    """An approved booking on a shift that ran from 9 to 1 hours ago, checked in and out by staff A."""
    req, shift, person, item = _booked(world, ctx, in_days=in_days, **kwargs)
    start, end = _move_shift(shift, item, utcnow() - timedelta(hours=9))
    login_as(world.staff_a)
    url = f"/requests/{req.id}/roster/{item.id}"
    client.post(f"{url}/check-in", data={"start": _local(start + timedelta(minutes=late_minutes))})
    client.post(f"{url}/check-out", data={"end": _local(end), "break_minutes": str(break_minutes)})
    assert fresh(Booking, item.id).status == "completed"
    return req, shift, person, item, start, end


def _crew(world, ctx, names, *, start):
    """One 8-hour shift starting at ``start`` with an approved booking for each (first, last) name."""
    with english(ctx):
        req = open_request(world, pattern=day_pattern(date.today() + timedelta(days=3), days=1, places=3))
        shift = req.shifts[0]
        items = []
        for first, last in names:
            person = reservist(user__first_name=first, user__last_name=last)
            accept(offer_for(person, req, [shift]), [shift])
            item = db.session.scalar(
                select(Booking).where(Booking.shift_id == shift.id, Booking.reservist_id == person.id)
            )
            approval.approve(world.coordinator_x, item)
            db.session.commit()
            items.append(item)
    for item in items:
        _move_shift(shift, item, start)
    return req, fresh(type(shift), shift.id), items


# Confirming ---------------------------------------------------------------------------------------


def test_confirming_hours_locks_them_and_the_roster_says_who_and_when(world, ctx, client, login_as):
    req, _shift, _person, item, _start, _end = _worked(world, ctx, client, login_as)
    roster = f"/requests/{req.id}/roster"
    page = _text(client.get(roster))
    assert "Hours not confirmed yet" in page and f'data-testid="confirmed-{item.id}"' not in page
    page = _text(client.post(f"{roster}/{item.id}/confirm", data={}, follow_redirects=True))
    assert "Hours confirmed." in page
    entry = _entry(item)
    assert entry.confirmed_at is not None and entry.confirmed_by_id == world.staff_a.id
    assert f'data-testid="confirmed-{item.id}"' in page
    assert f"Confirmed by {world.staff_a.full_name} at" in page
    # A second press changes nothing and says so.
    confirmed_at = entry.confirmed_at
    page = _text(client.post(f"{roster}/{item.id}/confirm", data={}, follow_redirects=True))
    assert "already confirmed" in page
    assert _entry(item).confirmed_at == confirmed_at and _events("timesheet.confirmed", item) == 1


def test_hours_not_checked_out_cannot_be_confirmed(world, ctx, client, login_as):
    req, shift, _person, item = _booked(world, ctx, in_days=3)
    start, _end = _move_shift(shift, item, utcnow() - timedelta(hours=2))
    login_as(world.staff_a)
    url = f"/requests/{req.id}/roster/{item.id}"
    page = _text(client.post(f"{url}/confirm", data={}, follow_redirects=True))
    assert "Only checked-out hours can be confirmed" in page
    client.post(f"{url}/check-in", data={"start": _local(start)})
    page = _text(client.post(f"{url}/confirm", data={}, follow_redirects=True))
    assert "Only checked-out hours can be confirmed" in page
    assert _entry(item).confirmed_at is None and fresh(Booking, item.id).status == "checked_in"


def test_confirm_all_of_a_shift_confirms_only_those_checked_out(world, ctx, client, login_as):
    start = utcnow() - timedelta(hours=9)
    req, shift, (a, b, c) = _crew(
        world, ctx, [("Anna", "Aalders"), ("Bram", "Bakker"), ("Cees", "Claessen")], start=start
    )
    login_as(world.staff_a)
    roster = f"/requests/{req.id}/roster"
    for item in (a, b, c):
        client.post(f"{roster}/{item.id}/check-in", data={"start": _local(start)})
    for item in (a, b):
        client.post(
            f"{roster}/{item.id}/check-out", data={"end": _local(shift.end_at), "break_minutes": "30"}
        )
    page = _text(client.get(roster))
    assert "Confirm the hours of all 2 people checked out" in page
    page = _text(client.post(f"{roster}/shifts/{shift.id}/confirm", data={}, follow_redirects=True))
    assert "Hours of 2 people confirmed." in page
    assert _entry(a).confirmed_at and _entry(b).confirmed_at and _entry(c).confirmed_at is None
    assert fresh(Booking, c.id).status == "checked_in"
    # Nothing left to confirm: a message, nothing changed.
    page = _text(client.post(f"{roster}/shifts/{shift.id}/confirm", data={}, follow_redirects=True))
    assert "no checked-out hours to confirm" in page
    assert _events("timesheet.confirmed", a) == 1 and _events("timesheet.confirmed", c) == 0


def test_check_out_beyond_the_shift_plus_tolerance_is_refused(world, ctx, client, login_as):
    req, shift, _person, item = _booked(world, ctx, in_days=3)
    start, end = _move_shift(shift, item, utcnow() - timedelta(hours=10))
    login_as(world.staff_a)
    url = f"/requests/{req.id}/roster/{item.id}"
    client.post(f"{url}/check-in", data={"start": _local(start - timedelta(minutes=50))})
    page = _text(
        client.post(
            f"{url}/check-out", data={"end": _local(end + timedelta(minutes=30))}, follow_redirects=True
        )
    )
    assert "more than 60 minutes longer than the shift" in page
    assert fresh(Booking, item.id).status == "checked_in" and _entry(item).actual_end_at is None


# Corrections --------------------------------------------------------------------------------------


def test_two_corrections_keep_the_whole_history(world, ctx, client, login_as):
    req, _shift, _person, item, start, end = _worked(world, ctx, client, login_as)
    url = f"/requests/{req.id}/roster/{item.id}"
    client.post(f"{url}/confirm", data={})
    first = {"start": _local(start), "end": _local(end), "break_minutes": "45", "reason": "Pauze was langer"}
    response = client.post(f"{url}/correct", data=first)
    assert response.status_code == 302
    second = {
        "start": _local(start + timedelta(minutes=10)),
        "end": _local(end),
        "break_minutes": "45",
        "reason": "Kwam later binnen",
    }
    client.post(f"{url}/correct", data=second)
    history = _corrections(item)
    assert len(history) == 2
    assert (history[0].previous_break_minutes, history[0].new_break_minutes) == (30, 45)
    assert history[0].reason == "Pauze was langer" and history[0].was_confirmed
    # The second correction starts from the first one's result.
    assert history[1].previous_start_at == history[0].new_start_at == start.replace(second=0, microsecond=0)
    assert history[1].new_start_at == (start + timedelta(minutes=10)).replace(second=0, microsecond=0)
    assert history[1].corrected_by_id == world.staff_a.id
    entry = _entry(item)
    assert entry.break_minutes == 45 and entry.actual_start_at == history[1].new_start_at
    assert entry.confirmed_at is not None  # still confirmed: the correction is on record
    assert _events("timesheet.corrected", item) == 2
    page = _text(client.get(f"/requests/{req.id}/roster"))
    assert f'data-testid="corrections-{item.id}"' in page and "2 corrections" in page
    assert "Pauze was langer" in page and "Kwam later binnen" in page
    page = _text(client.get(f"{url}/correct"))
    assert 'data-testid="history"' in page and page.count("<tr>") == 3  # header and two corrections


def test_bad_corrections_give_a_message_and_change_nothing(world, ctx, client, login_as):
    req, _shift, _person, item, start, end = _worked(world, ctx, client, login_as)
    url = f"/requests/{req.id}/roster/{item.id}/correct"
    before = _entry(item)
    values = (before.actual_start_at, before.actual_end_at, before.break_minutes)
    good = {"start": _local(start), "end": _local(end), "break_minutes": "20", "reason": "Pauze korter"}
    cases = [
        ({"reason": ""}, "Give the reason for the correction."),
        ({"end": _local(start - timedelta(minutes=30))}, "The end must be after the start."),
        ({"end": _local(start)}, "The end must be after the start."),
        ({"break_minutes": "600"}, "The break must be shorter than the time worked."),
        ({"start": _local(start - timedelta(minutes=61))}, "The start must fall within the shift."),
        ({"end": _local(end + timedelta(minutes=61))}, "more than 60 minutes after the end of the shift"),
        (
            {
                "start": _local(start - timedelta(minutes=50)),
                "end": _local(end + timedelta(minutes=30)),
                "break_minutes": "0",
            },
            "more than 60 minutes longer than the shift",
        ),
        ({"end": _local(end + timedelta(hours=2))}, "The end cannot be in the future."),
        ({"end": "not a time"}, "Not a valid datetime value"),
        (
            {
                "start": _local(before.actual_start_at),
                "end": _local(before.actual_end_at),
                "break_minutes": "30",
            },
            "The correction changes nothing.",
        ),
    ]
    for change, message in cases:
        response = client.post(url, data={**good, **change})
        assert response.status_code == 200, change
        assert message in _text(response), change
    entry = _entry(item)
    assert (entry.actual_start_at, entry.actual_end_at, entry.break_minutes) == values
    assert _corrections(item) == [] and _events("timesheet.corrected", item) == 0
    # A booking not checked out has nothing to correct.
    req2, _shift2, _p2, waiting = _booked(world, ctx, in_days=4)
    response = client.post(f"/requests/{req2.id}/roster/{waiting.id}/correct", data=good)
    assert response.status_code == 303 and _entry(waiting) is None


def test_coordinators_in_scope_correct_but_do_not_confirm(world, ctx, client, login_as):
    req, _shift, _person, item, start, end = _worked(world, ctx, client, login_as)
    url = f"/requests/{req.id}/roster/{item.id}"
    data = {"start": _local(start), "end": _local(end), "break_minutes": "15", "reason": "Melding reservist"}
    for outsider in (world.staff_b, world.coordinator_y):
        login_as(outsider)
        assert client.get(f"{url}/correct").status_code == 404
        assert client.post(f"{url}/correct", data=data).status_code == 404
    assert _corrections(item) == []
    login_as(world.coordinator_x)
    assert client.post(f"{url}/confirm", data={}).status_code == 403
    page = _text(client.get(f"/requests/{req.id}/roster"))
    assert "Confirm hours" not in page and "Correct hours" in page
    assert client.post(f"{url}/correct", data=data).status_code == 302
    login_as(world.national)
    assert client.get(f"/requests/{req.id}/roster").status_code == 200
    client.post(f"{url}/correct", data={**data, "break_minutes": "25", "reason": "Nagekeken"})
    history = _corrections(item)
    assert [c.corrected_by_role for c in history] == ["regional_coordinator", "national_coordinator"]
    assert _entry(item).break_minutes == 25 and _entry(item).confirmed_at is None


def test_another_requests_booking_or_shift_is_not_found(world, ctx, client, login_as):
    req, shift, _person, item, start, end = _worked(world, ctx, client, login_as)
    _other_req, other_shift, _p, other, _s, _e = _worked(world, ctx, client, login_as, in_days=5)
    data = {"start": _local(start), "end": _local(end), "break_minutes": "15", "reason": "Poging"}
    # Another request's booking or shift through one's own request id.
    assert client.post(f"/requests/{req.id}/roster/{other.id}/confirm", data={}).status_code == 404
    assert (
        client.post(f"/requests/{req.id}/roster/shifts/{other_shift.id}/confirm", data={}).status_code == 404
    )
    assert client.post(f"/requests/{req.id}/roster/{other.id}/correct", data=data).status_code == 404
    assert _entry(other).confirmed_at is None and _corrections(other) == []
    # Another institution's staff reach nothing of it.
    login_as(world.staff_b)
    assert client.post(f"/requests/{req.id}/roster/{item.id}/confirm", data={}).status_code == 404
    assert client.post(f"/requests/{req.id}/roster/shifts/{shift.id}/confirm", data={}).status_code == 404
    assert client.get(f"/requests/{req.id}/timesheet.xlsx").status_code == 404
    assert _entry(item).confirmed_at is None


# Exports ------------------------------------------------------------------------------------------


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(_text(response).lstrip("\ufeff"))))


def _xlsx(response) -> openpyxl.Workbook:
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return openpyxl.load_workbook(io.BytesIO(response.data))


def _same(csv_value: str, xlsx_value, header: str) -> bool:
    if xlsx_value is None:
        return csv_value == ""
    if header == "Date":
        return csv_value == xlsx_value.date().isoformat()
    if isinstance(xlsx_value, datetime):
        return csv_value == xlsx_value.strftime("%Y-%m-%d %H:%M")
    if isinstance(xlsx_value, int | float) and "." in csv_value:  # hours: 2 decimals in the CSV
        return float(csv_value) == xlsx_value
    return csv_value == str(xlsx_value)


def test_csv_and_xlsx_agree_with_totals_per_person(world, ctx, client, login_as):
    start = utcnow().replace(second=0, microsecond=0) - timedelta(hours=9)
    names = [("Anna", "=Aalders"), ("Bram", "Bakker"), ("Cees", "Claessen")]
    req, shift, (a, b, c) = _crew(world, ctx, names, start=start)
    login_as(world.staff_a)
    roster = f"/requests/{req.id}/roster"
    client.post(f"{roster}/{a.id}/check-in", data={"start": _local(start)})
    client.post(f"{roster}/{a.id}/check-out", data={"end": _local(shift.end_at), "break_minutes": "30"})
    client.post(f"{roster}/{a.id}/confirm", data={})
    client.post(f"{roster}/{b.id}/check-in", data={"start": _local(start + timedelta(minutes=15))})
    client.post(f"{roster}/{b.id}/check-out", data={"end": _local(shift.end_at), "break_minutes": "0"})
    client.post(f"{roster}/{c.id}/no-show", data={})

    book = _xlsx(client.get(f"/requests/{req.id}/timesheet.xlsx"))
    lines, totals = book.worksheets
    assert lines.freeze_panes == "A2" and totals.freeze_panes == "A2"
    rows = list(lines.iter_rows(values_only=True))
    header = list(rows[0])
    assert "Planned hours" in header and "Actual hours" in header and len(rows) == 4
    first = dict(zip(header, rows[1], strict=True))
    # Real numbers, real dates, local wall-clock times, and no formula from a name.
    assert first["Surname"] == "'=Aalders" and first["Actual hours"] == 7.5 and first["Planned hours"] == 8
    assert first["Planned start"] == start.astimezone(LOCAL).replace(tzinfo=None)
    assert first["Date"].date() == start.astimezone(LOCAL).date()
    assert first["Hours confirmed"] == "Yes" and first["Confirmed by"] == world.staff_a.full_name
    assert isinstance(first["Reservist number"], int) and isinstance(first["Confirmed at"], datetime)
    assert lines["A2"].data_type == "n" and lines["E2"].data_type == "s"
    by_surname = {row[4]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    assert by_surname["Bakker"]["Actual hours"] == 7.75 and by_surname["Bakker"]["Hours confirmed"] == "No"
    assert by_surname["Claessen"]["Status"] == "No-show" and by_surname["Claessen"]["Actual hours"] == 0
    total_rows = list(totals.iter_rows(values_only=True))
    assert total_rows[0] == (
        "Reservist number",
        "First name",
        "Surname",
        "Shifts",
        "Planned hours",
        "Confirmed hours",
        "Unconfirmed hours",
        "No-shows",
        "All confirmed",
    )
    assert [row[2:] for row in total_rows[1:]] == [
        ("'=Aalders", 1, 8, 7.5, 0, 0, "Yes"),
        ("Bakker", 1, 8, 0, 7.75, 0, "No"),
        ("Claessen", 1, 8, 0, 0, 1, "Yes"),
    ]

    # The CSV holds exactly the same values, cell by cell.
    text_rows = _csv(client.get(f"/requests/{req.id}/timesheet.csv"))
    blank = text_rows.index([])
    assert text_rows[0] == header
    for csv_row, xlsx_row in zip(text_rows[1:blank], rows[1:], strict=True):
        for h, csv_value, xlsx_value in zip(header, csv_row, xlsx_row, strict=True):
            assert _same(csv_value, xlsx_value, h), (h, csv_value, xlsx_value)
    assert text_rows[blank + 1] == list(total_rows[0])
    for csv_row, xlsx_row in zip(text_rows[blank + 2 :], total_rows[1:], strict=True):
        assert all(_same(cv, xv, "") for cv, xv in zip(csv_row, xlsx_row, strict=True))
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "timesheet.exported", AuditEvent.subject_id == str(req.id))
        )
        == 2
    )


def test_institution_export_covers_all_its_requests_in_the_period(world, ctx, client, login_as):
    req3, _s3, p3, item3 = _booked(world, ctx, in_days=3)
    req5, _s5, p5, item5 = _booked(world, ctx, in_days=5)
    day3 = item3.start_at.astimezone(LOCAL).date()
    day5 = item5.start_at.astimezone(LOCAL).date()
    inst = world.inst_a.id
    login_as(world.staff_a)

    def people(query: str) -> set[int]:
        rows = _csv(client.get(f"/institutions/{inst}/timesheet.csv?{query}"))
        return {int(row[2]) for row in rows[1 : rows.index([])]}

    assert people(f"start={day3}&end={day3}") == {p3.id}
    assert people(f"start={day5}&end={day5 + timedelta(days=1)}") == {p5.id}
    assert people(f"start={day3}&end={day5}") == {p3.id, p5.id}
    book = _xlsx(client.get(f"/institutions/{inst}/timesheet.xlsx?start={day3}&end={day5}"))
    requests = {row[0] for row in book.worksheets[0].iter_rows(min_row=2, values_only=True)}
    assert requests == {req3.id, req5.id}
    # A missing, reversed or too long period is refused with a message.
    for query, message in (
        ("", "Choose a period"),
        (f"start={day5}&end={day3}", "the end on or after the start"),
        (f"start={day3}&end={day3 + timedelta(days=400)}", "at most 366 days"),
    ):
        response = client.get(f"/institutions/{inst}/timesheet.csv?{query}", follow_redirects=True)
        assert message in _text(response), query
    # Other institutions and regions: 404; the coordinators in scope: the file.
    for outsider in (world.staff_b, world.coordinator_y):
        login_as(outsider)
        assert client.get(f"/institutions/{inst}/timesheet.csv?start={day3}&end={day5}").status_code == 404
        assert client.get(f"/institutions/{inst}/timesheet.xlsx?start={day3}&end={day5}").status_code == 404
    for insider in (world.coordinator_x, world.national):
        login_as(insider)
        assert people(f"start={day3}&end={day5}") == {p3.id, p5.id}


# Day roster ---------------------------------------------------------------------------------------


def test_day_roster_shows_the_days_shifts_across_requests(world, ctx, client, login_as):
    _req3, shift3, person3, item3 = _booked(world, ctx, in_days=3)
    _req5, _shift5, _person5, item5 = _booked(world, ctx, in_days=5)
    db.session.execute(update(User).where(User.id == person3.user_id).values(phone="+31698765432"))
    db.session.commit()
    day = item3.start_at.astimezone(LOCAL).date()
    url = f"/institutions/{world.inst_a.id}/roster"
    login_as(world.staff_a)
    page = _text(client.get(f"{url}?day={day}"))
    assert f'data-testid="booking-{item3.id}"' in page and f'data-testid="booking-{item5.id}"' not in page
    assert f"day={day - timedelta(days=1)}" in page and f"day={day + timedelta(days=1)}" in page
    assert "+31698765432" not in page and "shown from" in page
    # Today by default; a bad day gives a message and today.
    assert f'data-testid="booking-{item3.id}"' not in _text(client.get(url))
    assert "not a valid day" in _text(client.get(f"{url}?day=2026-13-45"))
    # The shift near now: phone shown, and recording returns to the day roster.
    start, _end = _move_shift(shift3, item3, utcnow() - timedelta(hours=1))
    today = start.astimezone(LOCAL).date()
    page = _text(client.get(f"{url}?day={today}"))
    assert "+31698765432" in page
    response = client.post(
        f"/requests/{_req3.id}/roster/{item3.id}/check-in", data={"start": _local(start), "return_to": "day"}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{url}?day={today}")
    assert fresh(Booking, item3.id).status == "checked_in"


def test_day_roster_of_another_institution_or_region_is_not_found(world, ctx, client, login_as):
    _req, _shift, _person, item = _booked(world, ctx, in_days=3)
    day = item.start_at.astimezone(LOCAL).date()
    url = f"/institutions/{world.inst_a.id}/roster?day={day}"
    for outsider in (world.staff_b, world.coordinator_y):
        login_as(outsider)
        assert client.get(url).status_code == 404
    for insider in (world.coordinator_x, world.national):
        login_as(insider)
        page = _text(client.get(url))
        assert f'data-testid="booking-{item.id}"' in page and "Check in" not in page
    login_as(world.staff_b)
    assert client.get(f"/institutions/{world.inst_b.id}/roster?day={day}").status_code == 200
    assert f'data-testid="booking-{item.id}"' not in _text(
        client.get(f"/institutions/{world.inst_b.id}/roster?day={day}")
    )


def test_roster_forms_have_unique_ids(world, ctx, client, login_as):
    start = utcnow() - timedelta(hours=2)
    req, _shift, (a, _b, _c) = _crew(
        world, ctx, [("Anna", "Aalders"), ("Bram", "Bakker"), ("Cees", "Claessen")], start=start
    )
    login_as(world.staff_a)
    client.post(f"/requests/{req.id}/roster/{a.id}/check-in", data={"start": _local(start)})
    for url in (f"/requests/{req.id}/roster", f"/institutions/{world.inst_a.id}/roster"):
        page = _text(client.get(url))
        ids = re.findall(r'\sid="([^"]+)"', page)
        assert page.count("Check in</button>") == 2 and "Check out</button>" in page
        assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
        for target in re.findall(r'<label for="([^"]+)"', page):
            assert target in ids


# The reservist's hours ----------------------------------------------------------------------------


def test_hours_page_counts_confirmed_actual_hours_and_says_so(world, ctx, client, login_as):
    req, _shift, person, item, _start, _end = _worked(world, ctx, client, login_as, break_minutes=60)
    _r2, shift2, _p, missed = _booked(world, ctx, in_days=4, person=person)
    _move_shift(shift2, missed, utcnow() - timedelta(days=2))
    login_as(world.staff_a)
    client.post(f"/requests/{_r2.id}/roster/{missed.id}/no-show", data={})
    login_as(person.user)
    page = _text(client.get("/me/shifts/hours"))
    # Recorded but not confirmed: the scheduled 8 hours, and the no-show does not count.
    assert "1 deployment, 8.0 hours" in page and f'data-testid="done-{missed.id}"' not in page
    assert re.search(rf'data-testid="basis-{item.id}">scheduled hours', page)
    login_as(world.staff_a)
    client.post(f"/requests/{req.id}/roster/{item.id}/confirm", data={})
    login_as(person.user)
    page = _text(client.get("/me/shifts/hours"))
    assert "1 deployment, 7.0 hours" in page
    assert re.search(rf'data-testid="basis-{item.id}">actual hours, confirmed', page)
    certificate = _text(client.get("/me/shifts/certificate"))
    assert "<td>7.0</td>" in certificate and "Scheduled hours:" not in certificate
