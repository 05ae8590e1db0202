"""Deployment approval: manual or automatic by phase, confirmations with a calendar file, rejection."""

from __future__ import annotations

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from tests.deployments_support import english, world_fixture  # noqa: F401
from tests.test_booking import accept, fresh, offer_for, open_request, reservist
from zorgreserve import db
from zorgreserve.callups import approval
from zorgreserve.callups.confirmations import send_messages
from zorgreserve.callups.models import Booking, Message
from zorgreserve.deployments.models import DeploymentRequest, RequestStatus, Shift
from zorgreserve.notifications.sms import recorder
from zorgreserve.surge import services as surge


def _booked(w, places=1):
    req = open_request(w, places=places)
    shift = req.shifts[0]
    person = reservist(user__first_name="Fenna")
    accept(offer_for(person, req, [shift]), [shift])
    item = db.session.scalar(select(Booking).where(Booking.shift_id == shift.id))
    person.email, person.phone, person.last_name = person.user.email, person.user.phone, person.user.last_name
    return req, shift, person, item


def _send_all():
    ids = list(db.session.scalars(select(Message.id)))
    send_messages(ids)
    db.session.commit()


def test_a_booking_waits_for_the_coordinator_who_approves_it_on_the_page(
    world, ctx, client, login_as, mail_outbox
):
    w = world
    with english(ctx):
        req, shift, person, item = _booked(w)
    assert item.status == "accepted"
    login_as(w.coordinator_y)
    assert client.get("/coordination/approvals/").status_code == 200
    assert client.post(f"/coordination/approvals/{item.id}/approve").status_code == 404
    assert fresh(Booking, item.id).status == "accepted"
    login_as(w.coordinator_x)
    page = client.get("/coordination/approvals/").get_data(as_text=True)
    assert f'data-testid="approval-{item.id}"' in page and "Fenna" in page
    assert client.post(f"/coordination/approvals/{item.id}/approve").status_code == 302
    assert fresh(Booking, item.id).status == "approved"
    assert fresh(Shift, shift.id).approved == 1
    recorder().messages.clear()
    with english(ctx):
        _send_all()
    # The confirmation e-mail carries a valid calendar file with the shift, place and briefing.
    (email,) = [m for m in mail_outbox if person.email in m.to]
    (name, content, mimetype) = email.attachments[0]
    assert name == "inzet.ics" and mimetype.startswith("text/calendar")
    event = next(iter(Calendar.from_ical(content).walk("VEVENT")))
    assert str(event["uid"]) == f"booking-{item.id}@zorgreserve.test"
    assert event.decoded("dtstart") == shift.start_at and event.decoded("dtend") == shift.end_at
    assert "Heidelberglaan 100" in str(event["location"])
    assert "Hoofdingang" in str(event["description"])
    sms = [m for m in recorder().messages if m.to == person.phone]
    assert len(sms) == 1 and "confirmed" in sms[0].body
    # Approving again and running the sending again sends nothing more.
    client.post(f"/coordination/approvals/{item.id}/approve")
    with english(ctx):
        _send_all()
    assert len([m for m in mail_outbox if person.email in m.to]) == 1
    assert len([m for m in recorder().messages if m.to == person.phone]) == 1
    assert fresh(Shift, shift.id).approved == 1
    # The institution sees who is coming: first name and qualification.
    login_as(w.staff_a)
    detail = client.get(f"/requests/{req.id}").get_data(as_text=True)
    assert 'data-testid="approved-person"' in detail and "Fenna" in detail
    assert person.last_name not in detail


def test_the_phase_policy_approves_deployments_automatically(world, ctx):
    w = world
    with english(ctx):
        surge.declare(w.coordinator_x, region_id=w.region_x.id, phase_code="2B", reason="Golf van patiënten")
        db.session.commit()
        _req, shift, _person, item = _booked(w)
    assert fresh(Booking, item.id).status == "approved" and fresh(Booking, item.id).decided_by_id is None
    assert fresh(Shift, shift.id).approved == 1
    kinds = db.session.scalars(select(Message.kind).where(Message.booking_id == item.id)).all()
    assert sorted(kinds) == ["confirmation", "confirmation"]


def test_rejecting_reopens_the_place_and_tells_the_reservist(world, ctx, client, login_as, mail_outbox):
    w = world
    with english(ctx):
        req, shift, person, item = _booked(w)
    assert fresh(DeploymentRequest, req.id).status == RequestStatus.FILLED.value
    login_as(w.coordinator_x)
    response = client.post(f"/coordination/approvals/{item.id}/reject", data={"reason": "x"})
    assert response.status_code == 200 and fresh(Booking, item.id).status == "accepted"
    response = client.post(
        f"/coordination/approvals/{item.id}/reject", data={"reason": "Niet passend bij deze afdeling"}
    )
    assert response.status_code == 302
    assert fresh(Booking, item.id).status == "rejected"
    assert fresh(Shift, shift.id).booked == 0
    assert fresh(DeploymentRequest, req.id).status == RequestStatus.OPEN.value
    with english(ctx):
        _send_all()
    (email,) = [m for m in mail_outbox if person.email in m.to]
    assert "Niet passend bij deze afdeling" in email.body and not email.attachments
    # A reopened place can be booked again by someone else.
    other = reservist()
    with english(ctx):
        assert accept(offer_for(other, req, [shift], wave_number=2), [shift]).booked == [shift.id]


def test_bulk_approval_of_a_request_approves_its_pending_bookings(world, ctx):
    w = world
    with english(ctx):
        req = open_request(w, places=3)
        shift = req.shifts[0]
        for number in range(3):
            accept(offer_for(reservist(), req, [shift], wave_number=1 + number), [shift])
    coordinator = fresh(type(w.national), w.national.id)
    with english(ctx):
        assert approval.approve_all(coordinator, req) == 3
        db.session.commit()
    assert fresh(Shift, shift.id).approved == 3
    assert (
        db.session.scalar(select(func.count()).select_from(Booking).where(Booking.status == "approved")) == 3
    )
    assert [p.first_name for p in approval.approved_people(req.id)] != []


class Died(BaseException):
    """Stands for the web process dying: nothing in the accept may catch it."""


def test_a_follow_up_lost_after_the_booking_committed_is_done_by_its_job(world, ctx, monkeypatch, run_jobs):
    """The booking commits with a job that repeats its follow-up: automatic approval is not lost."""
    from zorgreserve.callups import booking
    from zorgreserve.callups.models import Offer

    w = world
    with english(ctx):
        surge.declare(w.coordinator_x, region_id=w.region_x.id, phase_code="2B", reason="Golf van patiënten")
        db.session.commit()
        req = open_request(w, places=1)
        shift = req.shifts[0]
        person, waiting = reservist(), reservist()
        offer, other = offer_for(person, req, [shift]), offer_for(waiting, req, [shift])

    def dies(*_args, **_kwargs):
        raise Died

    monkeypatch.setattr(booking, "_after_booking", dies)
    with english(ctx), pytest.raises(Died):
        accept(offer, [shift])
    db.session.rollback()
    item = db.session.scalar(select(Booking).where(Booking.shift_id == shift.id))
    assert item is not None and item.status == "accepted"  # committed, follow-up lost
    assert fresh(Offer, other.id).status == "sent"
    monkeypatch.undo()

    run_jobs()
    db.session.expire_all()
    assert fresh(Booking, item.id).status == "approved" and fresh(Shift, shift.id).approved == 1
    assert fresh(Offer, other.id).status == "withdrawn"
    assert fresh(DeploymentRequest, req.id).status == RequestStatus.FILLED.value
    kinds = db.session.scalars(select(Message.kind).where(Message.booking_id == item.id)).all()
    assert sorted(kinds) == ["confirmation", "confirmation"]
    run_jobs()  # once more: nothing changes, nothing is sent twice
    assert len(db.session.scalars(select(Message.id).where(Message.booking_id == item.id)).all()) == 2
