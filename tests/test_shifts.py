"""Shifts after booking: my shifts, cancellation that reopens the place, calendar feed, reminders, hours."""

from __future__ import annotations

from datetime import date, timedelta

from icalendar import Calendar
from sqlalchemy import select, update

from tests.callups_support import reservists, waves_of
from tests.deployments_support import day_pattern, english, world_fixture  # noqa: F401
from tests.test_booking import accept, fresh, offer_for, open_request, reservist
from zorgreserve import db
from zorgreserve.audit.models import AuditEvent
from zorgreserve.callups import approval, escalation
from zorgreserve.callups.models import Booking, Message, Offer
from zorgreserve.db import utcnow
from zorgreserve.deployments.models import DeploymentRequest, RequestStatus, Shift
from zorgreserve.notifications.sms import recorder
from zorgreserve.shifts import reminders


def _booked(w, ctx, *, in_days: int = 3, approve: bool = True, person=None):
    """An approved booking of a fresh reservist on a one-shift request starting ``in_days`` from today."""
    with english(ctx):
        pattern = day_pattern(date.today() + timedelta(days=in_days), days=1, places=1)
        req = open_request(w, pattern=pattern)
        shift = req.shifts[0]
        person = person or reservist(user__first_name="Fenna")
        accept(offer_for(person, req, [shift]), [shift])
        item = db.session.scalar(select(Booking).where(Booking.shift_id == shift.id))
        if approve:
            approval.approve(w.coordinator_x, item)
            db.session.commit()
    return req, shift, person, item


def _feed(client, url: str) -> Calendar:
    response = client.get(url.replace("http://localhost", ""))
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    return Calendar.from_ical(response.data)


def test_my_shifts_shows_location_briefing_and_contact_and_only_my_own(world, ctx, client, login_as):
    _req, _shift, person, item = _booked(world, ctx)
    _req2, _shift2, _other, other_item = _booked(world, ctx, in_days=4)
    login_as(person.user)
    page = client.get("/me/shifts/").get_data(as_text=True)
    assert f'data-testid="upcoming-{item.id}"' in page
    assert "Heidelberglaan 100" in page and "Hoofdingang, balie IC" in page and "Teamleider IC" in page
    assert f'data-testid="upcoming-{other_item.id}"' not in page
    assert client.get(f"/me/shifts/{item.id}").status_code == 200
    # Another reservist's booking is not found, whatever the page.
    assert client.get(f"/me/shifts/{other_item.id}").status_code == 404
    assert client.get(f"/me/shifts/{other_item.id}/cancel").status_code == 404
    response = client.post(f"/me/shifts/{other_item.id}/cancel", data={"reason": "Ziek geworden"})
    assert response.status_code == 404 and fresh(Booking, other_item.id).status == "approved"


def test_cancelling_three_days_ahead_reopens_the_place_and_a_new_wave_follows(world, ctx, client, login_as):
    w = world
    req, shift, person, item = _booked(w, ctx, in_days=3)
    candidates = reservists(3)
    assert fresh(DeploymentRequest, req.id).status == RequestStatus.FILLED.value
    assert (fresh(Shift, shift.id).booked, fresh(Shift, shift.id).approved) == (1, 1)
    login_as(person.user)
    # Without a reason nothing changes.
    response = client.post(f"/me/shifts/{item.id}/cancel", data={"reason": ""})
    assert response.status_code == 200 and fresh(Booking, item.id).status == "approved"
    response = client.post(f"/me/shifts/{item.id}/cancel", data={"reason": "Ziek geworden"})
    assert response.status_code == 302
    cancelled = fresh(Booking, item.id)
    assert cancelled.status == "cancelled" and cancelled.cancel_reason == "Ziek geworden"
    assert (fresh(Shift, shift.id).booked, fresh(Shift, shift.id).approved) == (0, 0)
    assert fresh(DeploymentRequest, req.id).status == RequestStatus.OPEN.value
    assert db.session.scalar(
        select(AuditEvent.id).where(
            AuditEvent.action == "booking.cancelled_by_reservist", AuditEvent.subject_id == str(item.id)
        )
    )
    # Cancelling again changes nothing (the booking is no longer booked).
    assert client.post(f"/me/shifts/{item.id}/cancel", data={"reason": "Nog eens"}).status_code == 409
    assert fresh(Shift, shift.id).booked == 0
    # The call-up clock sees the open place and sends a new wave to other reservists.
    with english(ctx):
        report = escalation.tick()
    assert report.new_waves, report
    assert len(waves_of(req.id)) == 2
    offered = set(db.session.scalars(select(Offer.reservist_id).where(Offer.wave_id == report.new_waves[0])))
    assert offered and person.id not in offered and offered <= set(candidates)


def test_too_late_to_cancel_shows_whom_to_call_and_changes_nothing(world, ctx, client, login_as, app):
    _req, shift, person, item = _booked(world, ctx, in_days=2)
    app.config["SHIFT_CANCEL_MIN_HOURS"] = 24 * 5
    try:
        login_as(person.user)
        page = client.get(f"/me/shifts/{item.id}/cancel").get_data(as_text=True)
        assert 'data-testid="call-contact"' in page and "Teamleider IC" in page and "030" in page
        assert "<textarea" not in page
        response = client.post(f"/me/shifts/{item.id}/cancel", data={"reason": "Ziek geworden"})
        assert response.status_code == 409
        assert fresh(Booking, item.id).status == "approved" and fresh(Shift, shift.id).booked == 1
    finally:
        app.config["SHIFT_CANCEL_MIN_HOURS"] = 24


def test_a_past_shift_cannot_be_cancelled(world, ctx, client, login_as):
    _req, shift, person, item = _booked(world, ctx, in_days=3)
    past = utcnow() - timedelta(days=1)
    db.session.execute(
        update(Shift).where(Shift.id == shift.id).values(start_at=past, end_at=past + timedelta(hours=8))
    )
    db.session.execute(
        update(Booking).where(Booking.id == item.id).values(start_at=past, end_at=past + timedelta(hours=8))
    )
    db.session.commit()
    login_as(person.user)
    response = client.post(f"/me/shifts/{item.id}/cancel", data={"reason": "Ziek geworden"})
    assert response.status_code == 409 and "can no longer be cancelled" in response.get_data(as_text=True)
    assert fresh(Booking, item.id).status == "approved" and fresh(Shift, shift.id).booked == 1


def test_calendar_feed_lists_my_shifts_marks_cancellations_and_dies_when_renewed_or_revoked(
    world, ctx, client, login_as
):
    _req, shift, person, item = _booked(world, ctx, in_days=3)
    _req2, _shift2, _other, _other_item = _booked(world, ctx, in_days=4)
    login_as(person.user)
    assert client.get("/me/shifts/calendar").status_code == 200
    page = client.post("/me/shifts/calendar").get_data(as_text=True)
    url = page.split("<code>")[1].split("</code>")[0]
    assert "/calendar/" in url and url.endswith(".ics")
    events = list(_feed(client, url).walk("VEVENT"))
    assert [str(e["uid"]) for e in events] == [f"booking-{item.id}@zorgreserve.test"]
    (event,) = events
    assert event.decoded("dtstart") == shift.start_at and event.decoded("dtend") == shift.end_at
    assert str(event["status"]) == "CONFIRMED" and "Heidelberglaan 100" in str(event["location"])
    # No personal data of others: the contact person's name and number are not in the feed.
    assert "Teamleider" not in str(event["description"]) and "250 9111" not in str(event["description"])
    # After a cancellation the event is marked cancelled (with a higher sequence) ...
    client.post(f"/me/shifts/{item.id}/cancel", data={"reason": "Ziek geworden"})
    (event,) = _feed(client, url).walk("VEVENT")
    assert str(event["status"]) == "CANCELLED" and int(event["sequence"]) == 1
    # ... and drops out once the shift would have ended.
    from zorgreserve.shifts import calendar as feeds

    later = shift.end_at + timedelta(minutes=1)
    (subscription,) = [f for f in db.session.scalars(select(feeds.CalendarFeed)) if f.revoked_at is None]
    assert list(Calendar.from_ical(feeds.feed_ics(subscription, later)).walk("VEVENT")) == []
    # Renewing gives a new URL; the old one answers 404. Revoking ends the new one too.
    page = client.post("/me/shifts/calendar").get_data(as_text=True)
    new_url = page.split("<code>")[1].split("</code>")[0]
    assert new_url != url
    assert client.get(url.replace("http://localhost", "")).status_code == 404
    assert client.get(new_url.replace("http://localhost", "")).status_code == 200
    assert client.post("/me/shifts/calendar/revoke").status_code == 302
    assert client.get(new_url.replace("http://localhost", "")).status_code == 404
    assert client.get("/calendar/made-up-token.ics").status_code == 404
    actions = set(
        db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("calendar_feed.%")))
    )
    assert actions == {"calendar_feed.created", "calendar_feed.renewed", "calendar_feed.revoked"}


def _reminders(booking_id: int) -> list[tuple[str, str, str]]:
    return sorted(
        db.session.execute(
            select(Message.kind, Message.channel, Message.status).where(
                Message.booking_id == booking_id, Message.kind.like("reminder%")
            )
        ).all()
    )


def test_reminders_go_out_24_and_2_hours_before_by_each_channel_once(world, ctx, mail_outbox):
    _req, _shift, person, item = _booked(world, ctx, in_days=3)
    email, phone = person.user.email, person.user.phone
    recorder().messages.clear()
    start = item.start_at
    with english(ctx):
        assert reminders.tick(start - timedelta(hours=30)) == 0
        assert _reminders(item.id) == []
        assert reminders.tick(start - timedelta(hours=23, minutes=59)) == 2
        # The tick again (or a second worker) sends nothing more.
        assert reminders.tick(start - timedelta(hours=23, minutes=58)) == 0
    assert _reminders(item.id) == [("reminder24", "email", "sent"), ("reminder24", "sms", "sent")]
    assert len([m for m in mail_outbox if email in m.to]) == 1
    sms = [m for m in recorder().messages if m.to == phone]
    assert len(sms) == 1 and "reminder" in sms[0].body and "Hoofdingang" in sms[0].body
    with english(ctx):
        assert reminders.tick(start - timedelta(hours=1, minutes=59)) == 2
        assert reminders.tick(start - timedelta(hours=1, minutes=30)) == 0
    assert [k for k, _c, _s in _reminders(item.id)].count("reminder2") == 2
    assert len([m for m in mail_outbox if email in m.to]) == 2
    assert len([m for m in recorder().messages if m.to == phone]) == 2


def test_a_reminder_claimed_by_a_worker_that_died_is_sent_once_after_the_restart(
    world, ctx, mail_outbox, app
):
    _req, _shift, person, item = _booked(world, ctx, in_days=3)
    start = item.start_at
    now = start - timedelta(hours=23)
    with english(ctx):
        reminders.queue_due(now)
        db.session.commit()
        # A worker claimed both messages and died before sending.
        claimed = reminders._claim(now)
        assert len(claimed) == 2
        # Before the claim goes stale nobody else sends them ...
        assert reminders.tick(now + timedelta(seconds=30)) == 0
        # ... afterwards the next tick does, once.
        stale = now + timedelta(seconds=app.config["CALLUP_CLAIM_STALE_SECONDS"] + 1)
        assert reminders.tick(stale) == 2
        assert reminders.tick(stale + timedelta(minutes=5)) == 0
    assert len([m for m in mail_outbox if person.user.email in m.to]) == 1


def test_no_reminder_for_a_cancelled_booking_or_one_not_yet_approved(world, ctx, client, login_as):
    _req, _shift, person, item = _booked(world, ctx, in_days=3)
    _req2, _shift2, _p2, pending = _booked(world, ctx, in_days=3, approve=False)
    login_as(person.user)
    assert client.post(f"/me/shifts/{item.id}/cancel", data={"reason": "Ziek geworden"}).status_code == 302
    with english(ctx):
        assert reminders.tick(item.start_at - timedelta(hours=23)) == 0
    assert _reminders(item.id) == [] and _reminders(pending.id) == []


def test_hours_worked_and_the_certificate_count_deployments_done(world, ctx, client, login_as):
    _req, shift, person, item = _booked(world, ctx, in_days=3)
    past = utcnow() - timedelta(days=2)
    db.session.execute(
        update(Shift).where(Shift.id == shift.id).values(start_at=past, end_at=past + timedelta(hours=8))
    )
    db.session.execute(
        update(Booking).where(Booking.id == item.id).values(start_at=past, end_at=past + timedelta(hours=8))
    )
    db.session.commit()
    _req2, _shift2, _same, upcoming = _booked(world, ctx, in_days=5, person=person)
    login_as(person.user)
    page = client.get("/me/shifts/hours").get_data(as_text=True)
    assert f'data-testid="done-{item.id}"' in page and f'data-testid="done-{upcoming.id}"' not in page
    assert "1 deployment, 8.0 hours" in page
    certificate = client.get("/me/shifts/certificate").get_data(as_text=True)
    assert 'data-testid="certificate"' in certificate and person.user.last_name in certificate
    assert "Ziekenhuis A" in certificate
