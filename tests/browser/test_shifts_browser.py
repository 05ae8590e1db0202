"""In a real Chromium, on the embedded default: what happens after a reservist is booked.

One IC request in Utrecht with three shifts, all booked by Saskia and approved:
one that ended an hour ago, one that starts in 23 hours and one three days
ahead. The reminder clock sends the 23-hour reminder (captured SMS and e-mail);
the hospital checks Saskia in and out on the roster, confirms her hours and
downloads the timesheet, which the test opens as CSV and as XLSX; Saskia sees
the confirmed hours. Then Saskia cancels the shift three days ahead with a
reason: the place reopens, the worker sends a new wave, another reservist
accepts through the link in their SMS and the shift is full again; Saskia's
calendar feed (parsed with ``icalendar``) shows the event confirmed before and
cancelled after.

The times are relative to the moment the fixture runs (never "tomorrow 07:00"),
so the outcome does not depend on the hour the suite runs at.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest

from tests.browser.test_callup_flow_browser import PHONE, wait_for_sms
from tests.browser.test_request_flow_browser import sign_in

pytestmark = pytest.mark.browser

T = TypeVar("T")

INSTITUTION = "Meander Medisch Centrum (shifts browser)"
STAFF_EMAIL = "shifts-planner@meander.example"
SASKIA_EMAIL = "saskia.shifts@example.org"
SASKIA_PHONE = "+31687650001"
NEWCOMER_PHONES = ("+31687650002", "+31687650003")
SHIFT_HOURS = 8


def _past_start(now: datetime) -> datetime:
    """The start of an 8-hour shift that ended an hour ago.

    When the clocks change in or near it, the shift moves 11 hours earlier, so
    the local times typed into the roster are neither ambiguous nor missing.
    """
    from zorgreserve.coordination.filters import LOCAL

    start = now - timedelta(hours=SHIFT_HOURS + 1)
    if (start - timedelta(hours=1)).astimezone(LOCAL).utcoffset() != now.astimezone(LOCAL).utcoffset():
        start -= timedelta(hours=11)
    return start


@pytest.fixture(scope="module")
def setting(live_server: Any) -> SimpleNamespace:
    """The hospital, its planner, a coordinator, Saskia booked and approved on three shifts, and two
    other qualified reservists (by SMS) for the new wave.

    Saskia's offer is written in the same transaction that opens the request, as wave 1, so the
    worker's hand-off finds the wave and calls nobody else up before her bookings are made.
    """
    import uuid

    from sqlalchemy import select, update

    from tests.deployments_support import day_pattern, details_for, location_for
    from tests.factories import password_hash
    from tests.test_matching import person
    from zorgreserve import db
    from zorgreserve.accounts.models import User
    from zorgreserve.accounts.services import new_nonce
    from zorgreserve.callups import approval, booking
    from zorgreserve.callups.models import Booking, Offer, OfferShift, OfferStatus, Wave
    from zorgreserve.callups.waves import new_codes
    from zorgreserve.db import utcnow
    from zorgreserve.deployments import services
    from zorgreserve.deployments.models import Shift
    from zorgreserve.institutions.models import Institution
    from zorgreserve.reference.models import Region
    from zorgreserve.reservists.models import Reservist

    def named(reservist_id: int, first: str, last: str, phone: str, channels: str) -> Reservist:
        reservist = db.session.get(Reservist, reservist_id)
        reservist.channels = channels
        user = db.session.get(User, reservist.user_id)
        user.first_name, user.last_name, user.locale, user.phone = first, last, "en", phone
        return reservist

    with live_server.app.test_request_context():
        region = db.session.scalar(select(Region).where(Region.name == "Netwerk Acute Zorg Midden-Nederland"))
        hospital = Institution(name=INSTITUTION, kind="hospital", region_id=region.id)
        db.session.add(hospital)
        db.session.flush()
        common = {"password_hash": password_hash(), "email_verified_at": utcnow(), "locale": "en"}
        staff = User(
            email=STAFF_EMAIL,
            role="institution_staff",
            institution_id=hospital.id,
            first_name="Iris",
            last_name="Planner",
            session_nonce=new_nonce(),
            **common,
        )
        coordinator = User(
            email="shifts-coordinator@example.org",
            role="regional_coordinator",
            region_id=region.id,
            first_name="Cor",
            last_name="Dinator",
            session_nonce=new_nonce(),
            **common,
        )
        db.session.add_all([staff, coordinator])
        db.session.flush()
        # Three day shifts a week ahead (moved to their real times once booked and approved).
        request, _ = services.create_request(
            staff,
            details_for(location_for(hospital, "3584")),
            day_pattern(date.today() + timedelta(days=7), days=3, places=1),
            idempotency_key=uuid.uuid4().hex,
            submit=True,
        )
        saskia = named(person(), "Saskia", "Reservewacht", SASKIA_PHONE, "both")
        db.session.get(User, saskia.user_id).email = SASKIA_EMAIL
        newcomers = [
            named(person(), first, "Invaller", phone, "sms")
            for first, phone in zip(("Bram", "Joost"), NEWCOMER_PHONES, strict=True)
        ]
        services.approve(coordinator, request)
        shifts = sorted(request.shifts, key=lambda s: s.start_at)
        now = utcnow()
        wave = Wave(request_id=request.id, number=1, status="sent", expires_at=now + timedelta(hours=2))
        db.session.add(wave)
        db.session.flush()
        offer = Offer(
            wave_id=wave.id,
            request_id=request.id,
            reservist_id=saskia.id,
            code=new_codes(1)[0],
            status=OfferStatus.SENT.value,
            expires_at=now + timedelta(hours=2),
        )
        offer.shifts = [OfferShift(shift_id=s.id) for s in shifts]
        db.session.add(offer)
        db.session.commit()

        result = booking.accept(db.session, offer.id, [s.id for s in shifts], channel="web", now=utcnow())
        assert sorted(result.booked) == sorted(s.id for s in shifts), result
        db.session.commit()
        bookings = {
            b.shift_id: b
            for b in db.session.scalars(select(Booking).where(Booking.reservist_id == saskia.id))
        }
        for shift in shifts:
            assert approval.approve(coordinator, bookings[shift.id])
        db.session.commit()

        # Now put them where the story needs them: ended an hour ago, in 23 hours, in 3 days.
        base = utcnow().replace(second=0, microsecond=0)
        starts = [_past_start(base), base + timedelta(hours=23), base + timedelta(hours=72)]
        for shift, start in zip(shifts, starts, strict=True):
            end = start + timedelta(hours=SHIFT_HOURS)
            db.session.execute(update(Shift).where(Shift.id == shift.id).values(start_at=start, end_at=end))
            db.session.execute(
                update(Booking).where(Booking.shift_id == shift.id).values(start_at=start, end_at=end)
            )
        db.session.commit()
        past, soon, later = shifts
        result = SimpleNamespace(
            request_id=request.id,
            past=SimpleNamespace(id=past.id, booking=bookings[past.id].id, start=starts[0]),
            soon=SimpleNamespace(id=soon.id, booking=bookings[soon.id].id, start=starts[1]),
            later=SimpleNamespace(id=later.id, booking=bookings[later.id].id, start=starts[2]),
            saskia=saskia.id,
            newcomers=[n.id for n in newcomers],
        )
        db.session.remove()
    return result


def wait_for(find: Callable[[], T | None], what: str, timeout: float = 20) -> T:
    """The first non-empty answer of ``find``, waiting for the worker thread."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = find()
        if found:
            return found
        time.sleep(0.1)
    pytest.fail(f"{what} within {timeout} s")


def _local(moment: datetime) -> datetime:
    from zorgreserve.coordination.filters import LOCAL

    return moment.astimezone(LOCAL)


def _new_context(chromium: Any, live_server: Any) -> Any:
    context = chromium.new_context(base_url=live_server.url, locale="en-GB")
    context.set_default_timeout(10_000)
    return context


def test_reminder_check_in_and_out_confirmed_hours_and_the_timesheet(
    chromium, browser_page, live_server, setting, tmp_path
):
    import openpyxl
    from playwright.sync_api import expect
    from sqlalchemy import select

    from zorgreserve import db
    from zorgreserve.callups.models import Message
    from zorgreserve.notifications.sms import recorder
    from zorgreserve.shifts import reminders

    # The reminder clock, as the worker runs it every minute: the shift in 23 hours is reminded.
    soon_key = f"reminder24:{setting.soon.booking}"
    with live_server.app.app_context():
        reminders.tick()
        db.session.remove()
    sms = wait_for(
        lambda: next((m for m in list(recorder().messages) if m.idempotency_key == f"{soon_key}:sms"), None),
        "no reminder SMS",
    )
    assert sms.to == SASKIA_PHONE
    assert "Zorgreserve reminder" in sms.body and INSTITUTION in sms.body and "Hoofdingang" in sms.body
    assert _local(setting.soon.start).strftime("%H:%M") in sms.body
    outbox = live_server.app.extensions["mailman"].outbox
    mail = wait_for(
        lambda: next(
            (m for m in list(outbox) if m.extra_headers.get("X-Zorgreserve-Message") == f"{soon_key}:email"),
            None,
        ),
        "no reminder e-mail",
    )
    assert mail.to == [SASKIA_EMAIL] and mail.subject.startswith("Reminder: your shift")
    assert INSTITUTION in mail.subject

    # Another tick sends nothing twice, and neither the past shift nor the one in 3 days is reminded.
    def reminder_rows() -> list[Any] | None:
        with live_server.app.app_context():
            reminders.tick()
            rows = db.session.execute(
                select(Message.booking_id, Message.channel, Message.status).where(
                    Message.kind.in_(["reminder24", "reminder2"])
                )
            ).all()
            db.session.remove()
        # The worker's own tick may still be marking a message it sent.
        return sorted(rows) if all(row.status != "queued" for row in rows) else None

    assert wait_for(reminder_rows, "reminders still queued") == [
        (setting.soon.booking, "email", "sent"),
        (setting.soon.booking, "sms", "sent"),
    ]

    # The hospital's planner opens the roster from the request and records the day.
    staff = browser_page
    sign_in(staff, STAFF_EMAIL)
    staff.goto(f"/requests/{setting.request_id}")
    staff.get_by_test_id("roster-link").click()
    expect(staff).to_have_url(re.compile(rf"/requests/{setting.request_id}/roster$"))
    bid = setting.past.booking
    row = staff.get_by_test_id(f"booking-{bid}")
    expect(row).to_contain_text("Saskia Reservewacht")
    expect(row).to_contain_text("Expected")

    arrived = _local(setting.past.start + timedelta(minutes=15))
    left = _local(setting.past.start + timedelta(hours=SHIFT_HOURS))
    staff.fill(f"#start-{bid}", arrived.strftime("%Y-%m-%dT%H:%M"))
    row.get_by_role("button", name="Check in").click()
    expect(row).to_contain_text(f"Checked in at {arrived:%H:%M}")
    staff.fill(f"#end-{bid}", left.strftime("%Y-%m-%dT%H:%M"))
    staff.fill(f"#break_minutes-{bid}", "30")
    row.get_by_role("button", name="Check out").click()
    expect(row).to_contain_text(f"Completed: {arrived:%H:%M} – {left:%H:%M}, break 30 min")
    expect(row).to_contain_text("7.25")  # 8 h − 15 min late − 30 min break
    expect(row).to_contain_text("Hours not confirmed yet")
    row.get_by_role("button", name="Confirm hours").click()
    expect(row.get_by_test_id(f"confirmed-{bid}")).to_contain_text("Confirmed by Iris Planner")
    expect(row.get_by_role("button", name="Confirm hours")).to_have_count(0)

    # The timesheet of the day of that shift, downloaded as CSV and as XLSX and opened.
    day = _local(setting.past.start).date().isoformat()
    staff.fill("#start", day)
    staff.fill("#end", day)
    with staff.expect_download() as download:
        staff.get_by_role("button", name="Download CSV").click()
    assert download.value.suggested_filename == f"timesheet-{setting.request_id}.csv"
    csv_path = tmp_path / "timesheet.csv"
    download.value.save_as(csv_path)
    text = csv_path.read_bytes().decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    blank = rows.index([])
    lines = [dict(zip(rows[0], r, strict=True)) for r in rows[1:blank]]
    totals = [dict(zip(rows[blank + 1], r, strict=True)) for r in rows[blank + 2 :]]
    assert len(lines) == 1, lines  # only the shift of that day
    (line,) = lines
    recorded = {
        "Reservist number": str(setting.saskia),
        "First name": "Saskia",
        "Surname": "Reservewacht",
        "Planned start": f"{_local(setting.past.start):%Y-%m-%d %H:%M}",
        "Planned hours": "8.00",
        "Actual start": f"{arrived:%Y-%m-%d %H:%M}",
        "Actual end": f"{left:%Y-%m-%d %H:%M}",
        "Break (minutes)": "30",
        "Actual hours": "7.25",
        "Status": "Completed",
        "Hours confirmed": "Yes",
        "Confirmed by": "Iris Planner",
    }
    assert {key: line[key] for key in recorded} == recorded
    assert len(totals) == 1
    assert {k: totals[0][k] for k in list(totals[0])[1:]} == {
        "First name": "Saskia",
        "Surname": "Reservewacht",
        "Shifts": "1",
        "Planned hours": "8.00",
        "Confirmed hours": "7.25",
        "Unconfirmed hours": "0.00",
        "No-shows": "0",
        "All confirmed": "Yes",
    }

    with staff.expect_download() as download:
        staff.get_by_role("button", name="Download Excel (XLSX)").click()
    assert download.value.suggested_filename == f"timesheet-{setting.request_id}.xlsx"
    xlsx_path = tmp_path / "timesheet.xlsx"
    download.value.save_as(xlsx_path)
    book = openpyxl.load_workbook(xlsx_path)
    assert book.sheetnames == ["Timesheet", "Totals"]
    sheet_rows = list(book["Timesheet"].iter_rows(values_only=True))
    assert len(sheet_rows) == 2
    cells = dict(zip(sheet_rows[0], sheet_rows[1], strict=True))
    assert {key: cells[key] for key in recorded} == {
        **recorded,
        "Reservist number": setting.saskia,
        "Planned start": _local(setting.past.start).replace(tzinfo=None),
        "Planned hours": 8,
        "Actual start": arrived.replace(tzinfo=None),
        "Actual end": left.replace(tzinfo=None),
        "Break (minutes)": 30,
        "Actual hours": pytest.approx(7.25),
    }
    total_rows = list(book["Totals"].iter_rows(values_only=True))
    assert len(total_rows) == 2
    total = dict(zip(total_rows[0], total_rows[1], strict=True))
    assert (total["First name"], total["Shifts"], total["No-shows"], total["All confirmed"]) == (
        "Saskia",
        1,
        0,
        "Yes",
    )
    assert total["Planned hours"] == 8 and total["Confirmed hours"] == pytest.approx(7.25)
    assert total["Unconfirmed hours"] == 0

    # Saskia sees the confirmed hours count for her deployment.
    context = _new_context(chromium, live_server)
    try:
        saskia = context.new_page()
        sign_in(saskia, SASKIA_EMAIL)
        saskia.locator("nav").get_by_role("link", name="My shifts").click()
        saskia.get_by_role("link", name="Hours worked and certificate").click()
        done = saskia.get_by_test_id(f"done-{bid}")
        expect(done).to_contain_text("7.25")
        basis = saskia.get_by_test_id(f"basis-{bid}")
        expect(basis).to_have_text("actual hours, confirmed by the institution")
    finally:
        context.close()


def _feed_events(page: Any, url: str) -> dict[str, Any]:
    """The feed at ``url``, fetched as a calendar app would and parsed with ``icalendar``: events by UID."""
    from icalendar import Calendar

    response = page.request.get(url)
    assert response.status == 200 and response.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.body())
    return {str(event["uid"]): event for event in calendar.walk("VEVENT")}


def test_a_cancellation_three_days_ahead_is_filled_by_a_new_wave_and_the_calendar_follows(
    chromium, browser_page, live_server, setting
):
    from playwright.sync_api import expect
    from sqlalchemy import select

    from zorgreserve import db
    from zorgreserve.callups.confirmations import calendar_uid
    from zorgreserve.callups.models import Booking, Offer, Wave
    from zorgreserve.deployments.models import Shift

    with live_server.app.app_context():
        later_uid, soon_uid = calendar_uid(setting.later.booking), calendar_uid(setting.soon.booking)

    saskia = browser_page
    sign_in(saskia, SASKIA_EMAIL)

    # Saskia makes her calendar link; the feed lists the shift three days ahead as confirmed.
    saskia.locator("nav").get_by_role("link", name="My shifts").click()
    saskia.get_by_role("link", name="Calendar subscription").click()
    saskia.get_by_role("button", name="Make a calendar link").click()
    url = saskia.get_by_test_id("feed-url").locator("code").inner_text().strip()
    assert re.fullmatch(rf"{re.escape(live_server.url)}/calendar/[\w-]+\.ics", url), url
    events = _feed_events(saskia, url)
    assert {later_uid, soon_uid} <= set(events)
    event = events[later_uid]
    assert str(event["status"]) == "CONFIRMED" and int(event["sequence"]) == 0
    assert event.decoded("dtstart") == setting.later.start
    assert event.decoded("dtend") == setting.later.start + timedelta(hours=SHIFT_HOURS)
    assert INSTITUTION in str(event["summary"]) and "Heidelberglaan 100" in str(event["location"])

    # She cannot come after all and cancels through My shifts, three days ahead, with a reason.
    saskia.locator("nav").get_by_role("link", name="My shifts").click()
    upcoming = saskia.get_by_test_id(f"upcoming-{setting.later.booking}")
    expect(upcoming).to_contain_text("Confirmed")
    upcoming.get_by_role("heading").get_by_role("link").click()
    saskia.get_by_test_id("cancel-link").click()
    saskia.get_by_role("button", name="Cancel this shift").click()  # no reason: refused
    expect(saskia.locator("main")).to_contain_text("Tell us briefly why you cannot come.")
    saskia.fill("#reason", "Mijn moeder is opgenomen; ik moet die dagen voor haar zorgen")
    saskia.get_by_role("button", name="Cancel this shift").click()
    expect(saskia).to_have_url(re.compile(r"/me/shifts/$"))
    expect(saskia.locator("main")).to_contain_text("Your shift is cancelled")
    expect(saskia.get_by_test_id(f"upcoming-{setting.later.booking}")).to_contain_text("Cancelled")

    # The place is open again: the hospital sees it.
    hospital_context = _new_context(chromium, live_server)
    try:
        hospital = hospital_context.new_page()
        sign_in(hospital, STAFF_EMAIL)
        hospital.goto(f"/requests/{setting.request_id}")
        expect(hospital.get_by_test_id("request-status")).to_have_text("Partially filled")
        expect(hospital.get_by_test_id("request-totals")).to_have_text("3 shifts, 2 of 3 places accepted")

        # The worker takes the call-up clock's next step at once: a new wave to the other two reservists.
        sms = wait_for_sms(NEWCOMER_PHONES[0])
        link = re.search(r"https?://\S+/o/\S+", sms.body).group(0)
        with live_server.app.app_context():
            second = db.session.scalar(
                select(Wave).where(Wave.request_id == setting.request_id, Wave.number == 2)
            )
            offered = set(db.session.scalars(select(Offer.reservist_id).where(Offer.wave_id == second.id)))
            db.session.remove()
        assert offered == set(setting.newcomers)  # not Saskia, who was offered the shift before

        # Bram accepts on his phone through the link in his SMS.
        phone = chromium.new_context(viewport=PHONE, locale="en-GB", is_mobile=True, has_touch=True)
        try:
            bram = phone.new_page()
            bram.goto(link)
            expect(bram.get_by_test_id("shift-checkbox")).to_have_count(1)
            bram.get_by_test_id("accept-button").click()
            expect(bram.get_by_test_id("outcome-booked")).to_have_count(1)
        finally:
            phone.close()

        # The shift is full again.
        hospital.reload()
        expect(hospital.get_by_test_id("request-status")).to_have_text("Filled")
        expect(hospital.get_by_test_id("request-totals")).to_have_text("3 shifts, 3 of 3 places accepted")
    finally:
        hospital_context.close()
    with live_server.app.app_context():
        shift = db.session.get(Shift, setting.later.id)
        booked = db.session.execute(
            select(Booking.reservist_id, Booking.status, Booking.cancel_reason).where(
                Booking.shift_id == setting.later.id
            )
        ).all()
        assert (shift.places, shift.booked) == (1, 1)
        db.session.remove()
    assert sorted(booked) == sorted(
        [
            (setting.saskia, "cancelled", "Mijn moeder is opgenomen; ik moet die dagen voor haar zorgen"),
            (setting.newcomers[0], "accepted", None),
        ]
    )

    # Saskia's calendar now shows that shift cancelled (same UID, higher sequence); the others stay.
    events = _feed_events(saskia, url)
    event = events[later_uid]
    assert str(event["status"]) == "CANCELLED" and int(event["sequence"]) == 1
    assert str(event["summary"]).startswith("Cancelled: ")
    assert event.decoded("dtstart") == setting.later.start
    assert str(events[soon_uid]["status"]) == "CONFIRMED"
