"""Escalation driven from the database: expiry, the ladder, the lead-time stop, pause, and a lost queue."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import time_machine
from sqlalchemy import select

from tests.callups_support import approved_request, offers_of, reservists, waves_of
from tests.conftest import login
from tests.deployments_support import in_english_fixture, world_fixture  # noqa: F401
from zorgreserve import db
from zorgreserve.callups import escalation
from zorgreserve.callups.models import CallupControl, CallupState, OfferShift
from zorgreserve.db import utcnow
from zorgreserve.jobs import services as outbox
from zorgreserve.jobs.queue import redis_connection

#: Later than one phase-0 offer expiry (24 h) plus the lead-time cut-off from any hour of today.
IN_THREE_DAYS = date.today() + timedelta(days=3)


def tick(app, when):
    with app.app_context(), time_machine.travel(when, tick=False):
        return escalation.tick(when)


def test_expired_wave_is_followed_by_a_wider_wave_of_new_people(app, w, run_jobs):
    reservists(12)
    request = approved_request(w, days=1, places=1, first_day=IN_THREE_DAYS)
    run_jobs()
    [first] = waves_of(request.id)
    first_people = {o.reservist_id for o in first.offers}
    assert len(first_people) == 3  # CALLUP_FIRST_K × 1 open place

    # Before expiry nothing happens.
    report = tick(app, utcnow() + timedelta(minutes=1))
    assert report.new_waves == [] and report.expired == 0

    later = first.expires_at + timedelta(minutes=1)
    report = tick(app, later)
    db.session.expire_all()
    assert report.expired == 3 and report.closed_waves == 1
    waves = waves_of(request.id)
    assert [wave.number for wave in waves] == [1, 2]
    assert waves[0].status == "closed"
    second = waves[1]
    assert second.candidates_per_place == app.config["CALLUP_MORE_K"]
    assert {o.reservist_id for o in second.offers}.isdisjoint(first_people)
    statuses = set(
        db.session.scalars(
            select(OfferShift.status).where(OfferShift.offer_id.in_([o.id for o in waves[0].offers]))
        )
    )
    assert statuses == {"expired"}

    # The tick running twice at the same moment makes no third wave.
    tick(app, later)
    assert len(waves_of(request.id)) == 2


def test_no_wave_when_the_first_shift_is_too_near_and_coordinators_are_alerted(app, w, run_jobs, client):
    reservists(6)
    request = approved_request(w, days=1, places=1, first_day=IN_THREE_DAYS)
    run_jobs()
    first = waves_of(request.id)[0]
    start = request.active_shifts[0].start_at
    too_near = start - timedelta(minutes=app.config["CALLUP_MIN_LEAD_MINUTES"] - 5)
    assert too_near > first.expires_at
    report = tick(app, too_near)
    assert report.new_waves == []
    assert report.alerts == {request.id: "too_near"}
    assert db.session.get(CallupControl, request.id).alert == "too_near"
    login(client, w.coordinator_x)
    overview = client.get("/requests/overview")
    assert overview.status_code == 200
    page = overview.get_data(as_text=True)
    assert 'data-testid="attention"' in page and f"/requests/{request.id}/callups" in page


def test_a_paused_request_gets_no_next_wave_until_resumed(app, w, run_jobs):
    reservists(8)
    request = approved_request(w, days=1, places=1, first_day=IN_THREE_DAYS)
    run_jobs()
    first = waves_of(request.id)[0]
    escalation.set_state(request, CallupState.PAUSED, w.coordinator_x, utcnow())
    db.session.commit()
    later = first.expires_at + timedelta(minutes=1)
    assert tick(app, later).new_waves == []
    escalation.set_state(request, CallupState.RUNNING, w.coordinator_x, utcnow())
    db.session.commit()
    assert len(tick(app, later).new_waves) == 1


def test_when_nobody_is_left_the_ladder_ends_with_an_alert(app, w, run_jobs):
    reservists(3)
    request = approved_request(w, days=1, places=1, first_day=IN_THREE_DAYS)
    run_jobs()
    first = waves_of(request.id)[0]
    report = tick(app, first.expires_at + timedelta(minutes=1))
    assert report.new_waves == [] and report.alerts == {request.id: "no_candidates"}


def test_cancelling_the_request_withdraws_open_offers(app, w, run_jobs):
    from zorgreserve.deployments import services

    reservists(3)
    request = approved_request(w, days=1, places=1, first_day=IN_THREE_DAYS)
    run_jobs()
    services.cancel(w.staff_a, request, "Niet meer nodig")
    db.session.commit()
    run_jobs()
    db.session.expire_all()
    assert {o.status for o in offers_of(request.id)} == {"withdrawn"}


@pytest.mark.redis
def test_flushall_while_escalating_the_sweeper_restores_the_work(app, w, run_jobs, real_redis):
    reservists(9, channels="sms")
    request = approved_request(w, days=1, places=1, first_day=IN_THREE_DAYS)
    redis_connection(app).flushall()  # the request_opened job is gone from Redis
    run_jobs()
    assert waves_of(request.id) == []
    app.config["OUTBOX_STALE_SECONDS"] = 0
    try:
        with app.app_context():
            assert outbox.sweep(db.session) >= 1
            db.session.commit()
        run_jobs()
        [first] = waves_of(request.id)
        assert first.status == "sent"

        # Escalation: the tick writes wave 2 and its send job; Redis is emptied again before it runs.
        later = first.expires_at + timedelta(minutes=1)
        report = tick(app, later)
        assert len(report.new_waves) == 1
        redis_connection(app).flushall()
        run_jobs()
        db.session.expire_all()
        assert waves_of(request.id)[1].status == "planned"
        with app.app_context(), time_machine.travel(later + timedelta(seconds=1), tick=False):
            assert outbox.sweep(db.session) >= 1
            db.session.commit()
        run_jobs()
        db.session.expire_all()
        assert [wave.status for wave in waves_of(request.id)] == ["closed", "sent"]
    finally:
        app.config["OUTBOX_STALE_SECONDS"] = 120
