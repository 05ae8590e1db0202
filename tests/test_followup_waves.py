"""Follow-up waves: a reopened place goes to the stand-by list first, then to new people; too near a
shift start it raises the coordinators' alert instead; a no-show on a multi-day request releases the
person's later bookings and their places go to others."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import time_machine
from sqlalchemy import select

from tests.callups_support import reservists
from tests.changes_support import book, fresh, person, sent_offers, sms_to
from tests.conftest import login
from tests.deployments_support import day_pattern, english, new_request, world_fixture  # noqa: F401
from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.callups import approval, booking, escalation, followup
from zorgreserve.callups.models import Booking, CallupControl, Offer, StandbyEntry, Wave
from zorgreserve.db import utcnow
from zorgreserve.deployments import services
from zorgreserve.deployments.models import DeploymentRequest, Shift
from zorgreserve.reservists.models import Reservist
from zorgreserve.shifts import roster
from zorgreserve.shifts import services as shift_services


def _open(w: Any, *, first_day: date | None = None, days: int = 1, places: int = 1) -> DeploymentRequest:
    req = new_request(w.staff_a, w.loc_a, pattern=day_pattern(first_day, days=days, places=places))
    services.approve(w.coordinator_x, req)
    db.session.commit()
    return req


def _full_with_standby(w: Any, *, first_day: date | None = None) -> tuple[DeploymentRequest, Shift, Any, Any]:
    """One place, booked by one person; a second said yes just after it filled (on the stand-by list)."""
    req = _open(w, first_day=first_day)
    shift = req.shifts[0]
    booked, waiting = person(), person()
    (first,) = sent_offers(req, [booked], [shift])
    book(first, [shift])
    (late,) = sent_offers(req, [waiting], [shift])
    result = booking.accept(db.session, late.id, [shift.id], channel="sms", now=utcnow())
    db.session.commit()
    assert result.standby == [shift.id]
    assert (
        db.session.scalar(select(StandbyEntry.reservist_id).where(StandbyEntry.shift_id == shift.id))
        == waiting.id
    )
    return req, shift, booked, waiting


def _waves(req_id: int) -> list[Wave]:
    db.session.expire_all()
    return list(db.session.scalars(select(Wave).where(Wave.request_id == req_id).order_by(Wave.number)))


def _tick(app: Any, when: Any) -> escalation.TickReport:
    with app.app_context(), time_machine.travel(when, tick=False):
        return escalation.tick(when)


def test_a_place_a_reservist_gives_back_goes_to_the_standby_list_before_anyone_new(app, world, ctx, run_jobs):
    w = world
    with english(ctx):
        reservists(8)  # people matching would call up
        req, shift, booked, waiting = _full_with_standby(w, first_day=date.today() + timedelta(days=3))
        run_jobs()  # the request's hand-off finds its first wave; nothing else happens while it is full
        assert len(_waves(req.id)) == 2
        own = db.session.get(Reservist, booked.id)
        item = shift_services.my_shift(
            own, db.session.scalar(select(Booking.id).where(Booking.reservist_id == booked.id))
        )
        shift_services.cancel(own, item, "Ziek geworden")
        db.session.commit()
    assert fresh(Shift, shift.id).booked == 0
    run_jobs()  # the change is handled at once, not at the next tick

    waves = _waves(req.id)
    assert len(waves) == 3
    standby_wave = waves[-1]
    assert [o.reservist_id for o in standby_wave.offers] == [waiting.id]
    assert standby_wave.offers[0].score_parts == {"standby_list": 1.0}
    assert len(sms_to(waiting, f"offer:{standby_wave.offers[0].id}:")) == 1  # sent like any call-up

    # While the stand-by offer is out, no new people are asked, and nobody is asked twice.
    report = _tick(app, utcnow() + timedelta(minutes=1))
    assert report.new_waves == [] and len(_waves(req.id)) == 3

    # Unanswered: after its expiry the next wave goes to new people (never the two asked before).
    later = standby_wave.offers[0].expires_at + timedelta(minutes=1)
    report = _tick(app, later)
    assert len(report.new_waves) == 1
    newest = _waves(req.id)[-1]
    asked = {o.reservist_id for o in newest.offers}
    assert asked and not asked & {booked.id, waiting.id}


def test_an_added_place_is_offered_to_the_standby_list_first(world, ctx, client, login_as, run_jobs):
    w = world
    with english(ctx):
        reservists(6)
        req, shift, _booked, waiting = _full_with_standby(w)
        run_jobs()
    login_as(w.staff_a)
    assert (
        client.post(f"/requests/{req.id}/shifts/{shift.id}/places", data={"places": "2"}).status_code == 302
    )
    run_jobs()
    newest = _waves(req.id)[-1]
    assert [o.reservist_id for o in newest.offers] == [waiting.id]
    # The stand-by person says yes this time: booked.
    with english(ctx):
        result = booking.accept(db.session, newest.offers[0].id, [shift.id], channel="web", now=utcnow())
        db.session.commit()
    assert result.booked == [shift.id] and fresh(Shift, shift.id).booked == 2


def test_someone_on_the_standby_list_who_paused_is_passed_over_for_a_new_wave(
    world, ctx, client, login_as, run_jobs
):
    w = world
    with english(ctx):
        reservists(6)
        req, shift, booked, waiting = _full_with_standby(w)
        run_jobs()
        paused = db.session.get(Reservist, waiting.id)
        paused.status, paused.paused_until = "paused", date.today() + timedelta(days=30)
        db.session.commit()
    login_as(w.staff_a)
    client.post(f"/requests/{req.id}/shifts/{shift.id}/places", data={"places": "2"})
    run_jobs()
    asked = {o.reservist_id for o in _waves(req.id)[-1].offers}
    assert asked and waiting.id not in asked and booked.id not in asked


def test_too_near_the_start_a_reopened_place_raises_the_alert_and_no_wave(app, world, ctx, client, run_jobs):
    w = world
    with english(ctx):
        reservists(6)
        req, shift, _booked, waiting = _full_with_standby(w)
        request_id, shift_id, start, staff_id = req.id, shift.id, shift.start_at, w.staff_a.id
        run_jobs()
    waves_before = len(_waves(request_id))
    near = start - timedelta(minutes=app.config["CALLUP_MIN_LEAD_MINUTES"] - 20)
    with english(ctx), time_machine.travel(near, tick=False):
        staff = db.session.get(User, staff_id)
        services.set_shift_places(staff, fresh(DeploymentRequest, request_id), fresh(Shift, shift_id), 2)
        db.session.commit()
        run_jobs()
        _tick(app, near)
    assert fresh(Shift, shift_id).places == 2
    assert len(_waves(request_id)) == waves_before  # nobody asked: not the stand-by list, not new people
    assert db.session.scalars(select(Offer.status).where(Offer.reservist_id == waiting.id)).all() == [
        "accepted"
    ]
    assert fresh(CallupControl, request_id).alert == "too_near"
    login(client, db.session.get(User, w.coordinator_x.id))
    page = client.get("/requests/overview").text
    assert 'data-testid="attention"' in page and "starts too soon" in page


def test_a_no_show_on_a_multi_day_request_gives_the_later_shifts_to_others(
    app, world, ctx, client, login_as, run_jobs, mail_outbox
):
    w = world
    with english(ctx):
        reservists(6)  # people matching would call up
        req = _open(w, days=3, places=1)
        first, second, third = req.shifts
        someone = person()
        (offer,) = sent_offers(req, [someone], req.shifts)
        result = booking.accept(db.session, offer.id, [s.id for s in req.shifts], channel="web", now=utcnow())
        db.session.commit()
        assert approval.approve_all(w.coordinator_x, req) == 3
        db.session.commit()
        run_jobs()  # the hand-off finds the first wave; the confirmations go out
        recorder_before = len(sms_to(someone, "booking_no_show:"))
        missed = db.session.scalar(select(Booking).where(Booking.shift_id == first.id))
        during = first.start_at + timedelta(hours=1)
        roster.no_show(w.staff_a, missed, first, now=during)
        db.session.commit()
    assert len(result.booked) == 3 and recorder_before == 0
    # The later bookings are given back at once; the missed one stays a no-show.
    assert fresh(Booking, missed.id).status == "no_show"
    assert {fresh(Booking, b).status for b in result.booking_ids[1:]} == {"cancelled"}
    assert [(s.places, s.booked) for s in fresh(DeploymentRequest, req.id).shifts] == [(1, 1), (1, 0), (1, 0)]
    assert followup.at_risk([req.id], during) == {}
    with english(ctx), time_machine.travel(during, tick=True):  # the worker, an hour into the first shift
        run_jobs()
    # Told once per channel, per released booking, with whom to call if it was a mistake.
    assert len(sms_to(someone, "booking_no_show:")) == 2
    mails = [m for m in mail_outbox if "given to others" in m.subject and someone.email in m.to]
    assert len(mails) == 2 and req.contact_name in mails[0].body
    # The reopened places went out at once, in a new wave to other people.
    newest = _waves(req.id)[-1]
    assert newest.number > 1 and newest.offers
    assert someone.id not in {o.reservist_id for o in newest.offers}
    assert {s.shift_id for o in newest.offers for s in o.shifts} == {second.id, third.id}
    assert escalation.alerts_for([req.id], during) == {}


def test_a_one_day_no_show_flags_nothing(world, ctx):
    w = world
    with english(ctx):
        req = _open(w, days=1, places=1)
        shift = req.shifts[0]
        (offer,) = sent_offers(req, [person()], [shift])
        made = book(offer, [shift])
        approval.approve(w.coordinator_x, made)
        db.session.commit()
        roster.no_show(w.staff_a, fresh(Booking, made.id), shift, now=shift.start_at + timedelta(hours=1))
        db.session.commit()
        request_id, start, booking_id = req.id, shift.start_at, made.id
    assert fresh(Booking, booking_id).status == "no_show"
    assert followup.at_risk([request_id], start) == {}
    assert escalation.alerts_for([request_id], start) == {}
