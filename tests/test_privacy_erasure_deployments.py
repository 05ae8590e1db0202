"""Erasure of a reservist who has been called up and deployed (``callups.erasure``): bookings ahead
cancelled with their places reopened, open offers withdrawn, free text and SMS removed, and the
past deployment kept on the institution's roster and timesheet without a name."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from sqlalchemy import func, select

from tests.deployments_support import day_pattern, english, world_fixture  # noqa: F401
from tests.factories import PASSWORD
from tests.test_booking import fresh, offer_for, open_request, reservist
from tests.test_shifts import _booked
from tests.test_timesheets import _worked
from zorgreserve import db
from zorgreserve.audit.models import AuditEvent
from zorgreserve.callups import booking
from zorgreserve.callups.models import (
    Booking,
    InboundSms,
    Message,
    Offer,
    OfferShift,
    StandbyEntry,
)
from zorgreserve.db import utcnow
from zorgreserve.deployments.models import Shift
from zorgreserve.jobs.models import OutboxJob
from zorgreserve.shifts.models import CalendarFeed, TimesheetEntry

PHONE = "+31687654321"


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_erasure_cancels_what_lies_ahead_and_keeps_past_hours_without_a_name(world, ctx, client, login_as):
    person = reservist(user__first_name="Fenna", user__last_name="Verbeek", user__phone=PHONE)
    institution = world.loc_a.institution.name
    req_past, shift_past, _person, worked, _start, _end = _worked(world, ctx, client, login_as, person=person)
    client.post(f"/requests/{req_past.id}/roster/{worked.id}/confirm", data={})
    _req_ahead, shift_ahead, _p, ahead = _booked(world, ctx, in_days=5, person=person)
    with english(ctx):
        later = open_request(world, pattern=day_pattern(date.today() + timedelta(days=7), days=1, places=2))
        waiting = offer_for(person, later, [later.shifts[0]])
        other = reservist(user__first_name="Gijs")
        others_offer = offer_for(other, later, [later.shifts[0]])
        refused = open_request(world, pattern=day_pattern(date.today() + timedelta(days=8), days=1, places=1))
        declined = offer_for(person, refused, [refused.shifts[0]])
        booking.decline(db.session, declined.id, reason="Mijn moeder is ziek", channel="web", now=utcnow())
    db.session.add_all(
        [
            InboundSms(provider_message_id="in-1", sender=PHONE, body="NEE ik ben ziek", offer_id=None),
            InboundSms(
                provider_message_id="in-2", sender="+31611111111", body="JA", offer_id=others_offer.id
            ),
            Message(
                dedupe_key="test:queued:sms",
                kind="standby",
                channel="sms",
                reservist_id=person.id,
                status="queued",
            ),
            Message(
                dedupe_key="test:sent:sms",
                kind="confirmation",
                channel="sms",
                reservist_id=person.id,
                status="sent",
                provider_id="prov-1",
                error="refused for +31687654321",
            ),
            StandbyEntry(shift_id=later.shifts[0].id, reservist_id=person.id),
            CalendarFeed(reservist_id=person.id, token_hash="f" * 64),
        ]
    )
    db.session.commit()
    assert fresh(Shift, shift_ahead.id).booked == 1
    # Opening the requests may have called this person up too: every open offer counts.
    still_open = (Offer.reservist_id == person.id, Offer.status.in_(["pending", "sent"]))
    open_before = _count(Offer, *still_open)
    assert open_before >= 1

    login_as(person.user)
    warning = client.get("/me/data/erase").get_data(as_text=True)
    assert "You are booked on these shifts" in warning and institution in warning
    done = client.post("/me/data/erase", data={"email": person.user.email, "password": PASSWORD})
    assert done.status_code == 200
    page = done.get_data(as_text=True)
    # Signed out by then, so in Dutch, the default.
    assert "Diensten waarvoor je was ingepland en die nog niet waren begonnen: 1, geannuleerd." in page
    assert f"Oproepen die nog op je antwoord wachtten: {open_before}, ingetrokken." in page

    db.session.expire_all()
    # The booking ahead is cancelled and its place open again, for the call-up clock to fill.
    assert fresh(Booking, ahead.id).status == "cancelled"
    assert fresh(Shift, shift_ahead.id).booked == 0
    assert _count(AuditEvent, AuditEvent.action == "booking.cancelled_by_erasure") == 1
    jobs = db.session.scalars(select(OutboxJob).where(OutboxJob.job == "deployments.request_changed")).all()
    reopened = [j.args for j in jobs if j.args.get("change") == "booking_cancelled"]
    assert any(shift_ahead.id in args["shift_ids"] for args in reopened)
    # The open offer is withdrawn; another reservist's offer on the same shift is untouched.
    assert fresh(Offer, waiting.id).status == "withdrawn" and _count(Offer, *still_open) == 0
    assert fresh(OfferShift, (waiting.id, later.shifts[0].id)).status == "withdrawn"
    assert fresh(Offer, others_offer.id).status == "sent"
    assert fresh(Shift, later.shifts[0].id).offered == _count(
        Offer, Offer.request_id == later.id, Offer.status.in_(["pending", "sent"])
    )
    # Free text, their SMS, unsent messages, stand-by entries and calendar links are gone.
    assert fresh(Offer, declined.id).decline_reason is None
    assert _count(InboundSms, InboundSms.sender == PHONE) == 0
    assert _count(InboundSms, InboundSms.provider_message_id == "in-2") == 1
    assert _count(Message, Message.reservist_id == person.id, Message.status == "queued") == 0
    sent = db.session.scalar(select(Message).where(Message.dedupe_key == "test:sent:sms"))
    assert sent.provider_id is None and sent.error is None and sent.status == "sent"
    assert _count(StandbyEntry, StandbyEntry.reservist_id == person.id) == 0
    assert _count(CalendarFeed, CalendarFeed.reservist_id == person.id) == 0
    # The past deployment stays, with its hours, for the institution's records.
    assert fresh(Booking, worked.id).status == "completed"
    assert db.session.scalar(select(TimesheetEntry).where(TimesheetEntry.booking_id == worked.id)) is not None

    login_as(world.staff_a)
    roster = client.get(f"/requests/{req_past.id}/roster").get_data(as_text=True)
    assert "Erased reservist" in roster and "Verbeek" not in roster and "Fenna" not in roster
    response = client.get(f"/requests/{req_past.id}/timesheet.csv")
    assert response.status_code == 200
    text = response.get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    header, lines = rows[0], [dict(zip(rows[0], r, strict=False)) for r in rows[1:] if r]
    assert "Surname" in header
    mine = [line for line in lines if line.get("Surname") == "Erased reservist"]
    assert mine and mine[0]["Actual hours"] not in ("", None) and mine[0]["First name"] == ""
    assert "Verbeek" not in text
    assert shift_past.id  # the shift itself is untouched


def test_erasing_someone_with_nothing_ahead_changes_no_shift(world, ctx, client, login_as):
    person = reservist(user__phone=PHONE)
    req, shift, _person, worked, _start, _end = _worked(world, ctx, client, login_as, person=person)
    booked_before = fresh(Shift, shift.id).booked
    login_as(person.user)
    page = client.get("/me/data/erase").get_data(as_text=True)
    assert "You are booked on these shifts" not in page
    done = client.post("/me/data/erase", data={"email": person.user.email, "password": PASSWORD})
    done_page = done.get_data(as_text=True)
    assert "Diensten waarvoor je was ingepland en die nog niet waren begonnen: 0, geannuleerd." in done_page
    db.session.expire_all()
    assert fresh(Shift, shift.id).booked == booked_before
    assert fresh(Booking, worked.id).status == "completed"
    assert _count(AuditEvent, AuditEvent.action == "booking.cancelled_by_erasure") == 0
    assert req.id
