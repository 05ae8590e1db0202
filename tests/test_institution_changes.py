"""Changes after booking by the institution: a cancelled shift or request, fewer places than booked.

Booked people are told at once, once per booking and channel; holders of outstanding offers are
told the offer was withdrawn; a job run twice changes nothing; an accept racing a cancellation
never leaves a booking on the cancelled shift (PostgreSQL, threads).
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError

from tests.changes_support import book, fresh, mail_to, messages, person, sent_offers, sms_to
from tests.deployments_support import (  # noqa: F401
    day_pattern,
    details_for,
    english,
    new_request,
    world_fixture,
)
from tests.test_booking_reliability import live_db  # noqa: F401 (the fixture)
from zorgreserve import db
from zorgreserve.audit.models import AuditEvent
from zorgreserve.callups import approval, confirmations, sending
from zorgreserve.callups.models import Booking, Message, Offer, OfferShift
from zorgreserve.core.filters import local_datetime
from zorgreserve.db import utcnow
from zorgreserve.deployments import handoff, services
from zorgreserve.deployments.models import DeploymentRequest, RequestEvent, Shift
from zorgreserve.notifications.sms import recorder


def _open(w: Any, *, days: int = 2, places: int = 5) -> DeploymentRequest:
    req = new_request(w.staff_a, w.loc_a, pattern=day_pattern(days=days, places=places))
    services.approve(w.coordinator_x, req)
    db.session.commit()
    return req


def _send_everything() -> None:
    """Run the two sending jobs over every message, as the outbox would (twice is harmless)."""
    ids = list(db.session.scalars(select(Message.id)))
    confirmations.send_messages(ids)
    sending.send_messages(ids)
    db.session.commit()


def _audit(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# A cancelled shift -------------------------------------------------------------------------------


def test_cancelling_a_shift_cancels_its_bookings_and_tells_everyone_once(
    world, ctx, client, login_as, mail_outbox, run_jobs
):
    w = world
    with english(ctx):
        req = _open(w)
        shift, other = req.shifts
        first, second = person(), person(locale="nl")
        waiting = [person(), person(), person(channels="sms")]
        offers = sent_offers(req, [first, second, *waiting], [shift])
        first_booking, second_booking = book(offers[0], [shift]), book(offers[1], [shift])
        assert approval.approve(w.coordinator_x, first_booking)
        db.session.commit()
        _send_everything()  # the confirmation goes out before the change
    assert (fresh(Shift, shift.id).booked, fresh(Shift, shift.id).approved) == (2, 1)
    recorder().messages.clear()
    mail_outbox.clear()

    login_as(w.staff_a)
    response = client.post(
        f"/requests/{req.id}/shifts/{shift.id}/cancel", data={"reason": "Afdeling gaat dicht"}
    )
    assert response.status_code == 302
    assert "2 booked people are told at once" in client.get(f"/requests/{req.id}").text

    # In the same transaction: bookings cancelled, places given back, offers withdrawn.
    cancelled = fresh(Shift, shift.id)
    assert cancelled.state == "cancelled" and (cancelled.booked, cancelled.approved) == (0, 0)
    assert {fresh(Booking, b.id).status for b in (first_booking, second_booking)} == {"cancelled"}
    assert fresh(Booking, first_booking.id).cancel_reason == "Afdeling gaat dicht"
    assert {fresh(Offer, o.id).status for o in offers[2:]} == {"withdrawn"}
    assert fresh(Shift, other.id).state == "active"
    assert len(_audit("booking.cancelled_with_shift")) == 2

    run_jobs()
    with english(ctx):
        _send_everything()
    for someone, cancelled_text in ((first, "has been cancelled"), (second, "is geannuleerd")):
        (sms,) = sms_to(someone, "booking_cancelled:")
        assert cancelled_text in sms.body and len(sms.body) <= 306
        assert len(mail_to(mail_outbox, someone, cancelled_text)) == 1
    (email,) = mail_to(mail_outbox, first, "has been cancelled")
    assert "Afdeling gaat dicht" in email.body and w.inst_a.name in email.body
    # In the reservist's own language: the Dutch reservist's text names the day the Dutch way.
    with english(ctx), force_locale("nl"):
        dutch_day = local_datetime(shift.start_at, "EEE d MMM HH:mm")
    assert dutch_day in sms_to(second, "booking_cancelled:")[0].body
    # The holders of the outstanding offers: told it was withdrawn, once per channel they were reached on.
    for someone in waiting:
        (sms,) = sms_to(someone, "withdrawn:")
        assert "has been withdrawn" in sms.body and "No need to answer" in sms.body and len(sms.body) <= 306
    assert [len(mail_to(mail_outbox, someone, "withdrawn")) for someone in waiting] == [1, 1, 0]

    # Everything again — the jobs, the change, the sending — changes and sends nothing more.
    counts = (len(recorder().messages), len(mail_outbox), len(messages("booking_cancelled")))
    handoff.request_changed(req.id, "shift_cancelled", [shift.id])
    db.session.commit()
    run_jobs()
    with english(ctx):
        _send_everything()
    again = client.post(f"/requests/{req.id}/shifts/{shift.id}/cancel", data={"reason": "Nog een keer"})
    assert again.status_code == 400 and "cancelled already" in again.text
    assert (len(recorder().messages), len(mail_outbox), len(messages("booking_cancelled"))) == counts
    assert len(messages("offer_withdrawn")) == 5  # 2 + 2 + 1 channels
    assert fresh(Shift, shift.id).booked == 0


def test_an_offer_the_reservist_answered_or_never_received_brings_no_withdrawal_notice(world, ctx, run_jobs):
    w = world
    with english(ctx):
        req = _open(w)
        shift = req.shifts[0]
        answered, reached = person(), person()
        offers = sent_offers(req, [answered, reached], [shift])
        book(offers[0], [shift])
        # An offer never handed to a channel (its messages still queued and unclaimed).
        unsent = Offer(
            wave_id=offers[0].wave_id,
            request_id=req.id,
            reservist_id=person().id,
            code="UNSENT01",
            status="pending",
            expires_at=offers[0].expires_at,
        )
        unsent.shifts = [OfferShift(shift_id=shift.id)]
        db.session.add(unsent)
        db.session.commit()
        services.cancel_shift(w.staff_a, req, shift, "Geen bedden meer")
        db.session.commit()
    assert fresh(Offer, unsent.id).status == "withdrawn"
    told = {m.reservist_id for m in messages("offer_withdrawn")}
    assert told == {reached.id}
    assert {m.reservist_id for m in messages("booking_cancelled")} == {answered.id}


def test_cancelling_a_running_request_cancels_every_booking_ahead_and_tells_each(
    world, ctx, client, login_as, mail_outbox, run_jobs
):
    w = world
    with english(ctx):
        req = _open(w, days=2, places=2)
        someone = person()
        (offer,) = sent_offers(req, [someone], req.shifts)
        book(offer, req.shifts)
        recorder().messages.clear()
    login_as(w.staff_a)
    assert (
        client.post(f"/requests/{req.id}/cancel", data={"reason": "Patiënten verplaatst"}).status_code == 302
    )
    assert {(s.state, s.booked) for s in fresh(DeploymentRequest, req.id).shifts} == {("cancelled", 0)}
    assert db.session.scalars(select(Booking.status).where(Booking.reservist_id == someone.id)).all() == [
        "cancelled",
        "cancelled",
    ]
    run_jobs()
    with english(ctx):
        _send_everything()
    assert len(sms_to(someone, "booking_cancelled:")) == 2  # one per booking
    assert len(mail_to(mail_outbox, someone, "has been cancelled")) == 2


# Fewer places ----------------------------------------------------------------------------------


def _three_booked(w: Any) -> tuple[DeploymentRequest, Shift, list[Any], list[Booking]]:
    req = _open(w, days=1, places=3)
    shift = req.shifts[0]
    people = [person(), person(), person()]
    offers = sent_offers(req, people, [shift])
    bookings = [book(offer, [shift]) for offer in offers]  # booked in this order
    assert approval.approve(w.coordinator_x, bookings[0])
    db.session.commit()
    return req, shift, people, bookings


def test_fewer_places_than_booked_releases_the_latest_bookings_after_confirming(
    world, ctx, client, login_as, mail_outbox, run_jobs
):
    w = world
    with english(ctx):
        req, shift, people, bookings = _three_booked(w)
        recorder().messages.clear()
    login_as(w.staff_a)
    url = f"/requests/{req.id}/shifts/{shift.id}/places"

    # First the institution sees what it would mean; nothing changes yet.
    ask = client.post(url, data={"places": "1"})
    assert ask.status_code == 200 and 'data-testid="release-form"' in ask.text
    assert "2 bookings will be cancelled: the ones made last" in ask.text
    assert fresh(Shift, shift.id).places == 3 and fresh(Shift, shift.id).booked == 3
    # A confirmation for another number than it takes now (the page was out of date) asks again.
    assert 'data-testid="release-form"' in client.post(url, data={"places": "1", "release": "1"}).text
    assert fresh(Shift, shift.id).booked == 3

    done = client.post(url, data={"places": "1", "release": "2", "reason": "Minder patiënten"})
    assert done.status_code == 302
    after = fresh(Shift, shift.id)
    assert (after.places, after.booked, after.approved) == (1, 1, 1)
    statuses = [fresh(Booking, b.id).status for b in bookings]
    assert statuses == ["approved", "cancelled", "cancelled"]  # last in, first out
    assert fresh(Booking, bookings[2].id).cancel_reason == "Minder patiënten"
    assert {e.details["reservist_id"] for e in _audit("booking.released_by_institution")} == {
        people[1].id,
        people[2].id,
    }
    assert _audit("deployment_request.shift_places")[0].details["before"] == 3
    page = client.get(f"/requests/{req.id}").text
    assert "places of a shift changed" in page and "2 booked people are told at once" in page

    run_jobs()
    with english(ctx):
        _send_everything()
        _send_everything()
    for someone in people[1:]:
        (sms,) = sms_to(someone, "booking_released:")
        assert "needs fewer people" in sms.body and len(sms.body) <= 306
        assert len(mail_to(mail_outbox, someone, "no longer needed")) == 1
    assert sms_to(people[0], "booking_") == []
    assert fresh(DeploymentRequest, req.id).status == "filled"


def test_fewer_places_but_not_fewer_than_booked_closes_open_places_and_withdraws_when_full(
    world, ctx, client, login_as, run_jobs
):
    w = world
    with english(ctx):
        req = _open(w, days=1, places=3)
        shift = req.shifts[0]
        booked_person, *others = person(), person(), person()
        offers = sent_offers(req, [booked_person, *others], [shift])
        kept = book(offers[0], [shift])
    login_as(w.staff_a)
    url = f"/requests/{req.id}/shifts/{shift.id}/places"
    assert client.post(url, data={"places": "2"}).status_code == 302
    assert (fresh(Shift, shift.id).places, fresh(Shift, shift.id).booked) == (2, 1)
    assert {fresh(Offer, o.id).status for o in offers[1:]} == {"sent"}  # a place is still open
    assert client.post(url, data={"places": "2"}).status_code == 302  # the same again: nothing changes
    assert len(_audit("deployment_request.shift_places")) == 1

    assert client.post(url, data={"places": "1"}).status_code == 302  # exactly the booked number: full
    assert (fresh(Shift, shift.id).places, fresh(Shift, shift.id).booked) == (1, 1)
    assert fresh(Booking, kept.id).status == "accepted"
    assert {fresh(Offer, o.id).status for o in offers[1:]} == {"withdrawn"}
    assert fresh(Shift, shift.id).offered == 0
    run_jobs()
    run_jobs()
    assert sorted(m.reservist_id for m in messages("offer_withdrawn")) == sorted(
        [o.id for o in others] * 2  # SMS and e-mail each
    )
    assert messages("booking_released") == []

    # Up again: a place more, and the call-up clock is asked at once.
    assert client.post(url, data={"places": "4"}).status_code == 302
    assert fresh(Shift, shift.id).places == 4
    from zorgreserve.jobs.models import OutboxJob

    changes = db.session.scalars(
        select(OutboxJob.args).where(OutboxJob.job == "deployments.request_changed").order_by(OutboxJob.id)
    ).all()
    assert [c["change"] for c in changes] == ["places_reduced", "places_reduced", "headcount"]


@pytest.mark.parametrize(
    ("places", "message"),
    [
        ("0", "Ask for at least 1 person"),
        ("-2", "Ask for at least 1 person"),
        ("101", "between 1 and 100 people"),
        ("many", "Not a valid integer value"),
        ("", "Enter the number of people needed"),
    ],
)
def test_bad_numbers_are_refused_with_a_message_and_change_nothing(
    world, ctx, client, login_as, places, message
):
    w = world
    with english(ctx):
        req, shift, _people, bookings = _three_booked(w)
    events = db.session.scalar(select(func.count()).select_from(RequestEvent))
    login_as(w.staff_a)
    response = client.post(f"/requests/{req.id}/shifts/{shift.id}/places", data={"places": places})
    assert response.status_code == 400 and message in response.text
    assert (fresh(Shift, shift.id).places, fresh(Shift, shift.id).booked) == (3, 3)
    assert {fresh(Booking, b.id).status for b in bookings[1:]} == {"accepted"}
    assert db.session.scalar(select(func.count()).select_from(RequestEvent)) == events


def test_a_started_or_cancelled_shift_and_an_ended_request_keep_their_places(world, ctx, client, login_as):
    w = world
    with english(ctx):
        req = _open(w, days=2, places=3)
        first, second = req.shifts
        services.cancel_shift(w.staff_a, req, second, "Niet meer nodig")
        db.session.commit()
    login_as(w.staff_a)
    refused = client.post(f"/requests/{req.id}/shifts/{second.id}/places", data={"places": "2"})
    assert refused.status_code == 400 and "This shift has been cancelled" in refused.text
    # The first shift has begun (moved to now rather than travelling: staff sessions expire when idle).
    now = utcnow()
    db.session.execute(
        update(Shift)
        .where(Shift.id == first.id)
        .values(start_at=now - timedelta(hours=1), end_at=now + timedelta(hours=7))
    )
    db.session.commit()
    started = client.post(f"/requests/{req.id}/shifts/{first.id}/places", data={"places": "2"})
    assert started.status_code == 400 and "started already" in started.text
    assert fresh(Shift, first.id).places == 3
    with english(ctx):
        services.close(w.staff_a, fresh(DeploymentRequest, req.id))
        db.session.commit()
    ended = client.post(f"/requests/{req.id}/shifts/{first.id}/places", data={"places": "2"})
    assert ended.status_code == 400 and "can no longer be changed" in ended.text
    assert fresh(Shift, first.id).places == 3


def test_another_institutions_request_or_shift_answers_404_and_changes_nothing(world, ctx, client, login_as):
    w = world
    with english(ctx):
        req = _open(w, days=1, places=3)
        own = req.shifts[0]
        theirs = new_request(w.staff_b, w.loc_b, pattern=day_pattern(days=1, places=3))
        db.session.commit()
    login_as(w.staff_b)
    assert client.post(f"/requests/{req.id}/shifts/{own.id}/places", data={"places": "1"}).status_code == 404
    assert (
        client.post(f"/requests/{req.id}/shifts/{own.id}/cancel", data={"reason": "Weg ermee"}).status_code
        == 404
    )
    # Their own request with our shift id: still 404.
    mixed = client.post(f"/requests/{theirs.id}/shifts/{own.id}/places", data={"places": "1"})
    assert mixed.status_code == 404
    login_as(w.coordinator_x)  # coordinators follow requests; the institution decides its places
    assert client.post(f"/requests/{req.id}/shifts/{own.id}/places", data={"places": "1"}).status_code == 403
    assert (fresh(Shift, own.id).places, fresh(Shift, own.id).state) == (3, "active")


def test_the_page_offers_the_places_form_to_the_institution_only(world, ctx, client, login_as):
    w = world
    with english(ctx):
        req = _open(w, days=1, places=3)
    login_as(w.staff_a)
    assert 'data-testid="shift-places-form"' in client.get(f"/requests/{req.id}").text
    login_as(w.coordinator_x)
    assert 'data-testid="shift-places-form"' not in client.get(f"/requests/{req.id}").text


def test_sms_texts_stay_within_two_segments_with_long_names(world, ctx, run_jobs):
    w = world
    with english(ctx):
        w.inst_a.name = "Stichting Universitair Medisch Centrum " + "Zeer Lange Naam " * 4
        req = _open(w, days=2, places=2)
        req.department = "Intensive care, cohortafdeling " + "x" * 80
        db.session.commit()
        shift = req.shifts[0]
        booked, waiting = person(), person()
        offers = sent_offers(req, [booked, waiting], [shift])
        book(offers[0], [shift])
        recorder().messages.clear()
        services.cancel_shift(w.staff_a, req, shift, "Afdeling dicht")
        db.session.commit()
    run_jobs()
    with english(ctx):
        _send_everything()
    texts = sms_to(booked, "booking_cancelled:") + sms_to(waiting, "withdrawn:")
    assert len(texts) == 2 and all(len(m.body) <= 306 for m in texts)


# An accept racing a cancellation (PostgreSQL) ----------------------------------------------------


def _accept(app: Any, offer_id: int, shift_id: int, barrier: threading.Barrier) -> Any:
    from zorgreserve.callups import booking

    with app.test_request_context():
        try:
            barrier.wait(timeout=30)
            result = booking.accept(db.session, offer_id, [shift_id], channel="web", now=utcnow())
            db.session.commit()
            return result
        except Exception as exc:  # collected and asserted on
            db.session.rollback()
            return exc
        finally:
            db.session.remove()


def _cancel(app: Any, staff_id: int, request_id: int, shift_id: int, barrier: threading.Barrier) -> Any:
    from zorgreserve.accounts.models import User

    with app.test_request_context():
        try:
            barrier.wait(timeout=30)
            for _attempt in range(20):  # "changed in the meantime" / "try again": the user tries again
                try:
                    staff = db.session.get(User, staff_id)
                    req = db.session.get(DeploymentRequest, request_id)
                    told = services.cancel_shift(
                        staff, req, db.session.get(Shift, shift_id), "Afdeling dicht"
                    )
                    db.session.commit()
                    return told
                except (StaleDataError, OperationalError):
                    db.session.rollback()
                    db.session.expire_all()
            return RuntimeError("could not cancel")
        finally:
            db.session.remove()


@pytest.mark.postgres_only
@pytest.mark.parametrize("live_db", ["postgres"], indirect=True)
def test_accepts_racing_a_cancellation_never_leave_a_booking_on_the_cancelled_shift(live_db):  # noqa: F811
    from tests.test_booking_reliability import _offers, _world
    from zorgreserve.callups.booking import OfferClosed, TryAgain

    app = live_db.app
    world = _world()
    for _round in range(4):
        req, _ = services.create_request(
            world.staff,
            details_for(world.location),
            day_pattern(days=2, places=5),
            idempotency_key=uuid.uuid4().hex,
            submit=True,
        )
        services.approve(world.coordinator, req)
        db.session.commit()
        shift_id = req.shifts[0].id
        people = [person() for _ in range(16)]
        offer_ids = _offers(req, people, [shift_id])
        barrier = threading.Barrier(len(offer_ids) + 1)
        with ThreadPoolExecutor(max_workers=len(offer_ids) + 1) as pool:
            cancel = pool.submit(_cancel, app, world.staff.id, req.id, shift_id, barrier)
            accepts = [pool.submit(_accept, app, oid, shift_id, barrier) for oid in offer_ids]
            results = [f.result(timeout=120) for f in accepts]
            told = cancel.result(timeout=120)
        assert isinstance(told, int), told
        unexpected = [
            r for r in results if isinstance(r, Exception) and not isinstance(r, OfferClosed | TryAgain)
        ]
        assert unexpected == []
        db.session.remove()
        shift = db.session.get(Shift, shift_id)
        assert shift.state == "cancelled" and (shift.booked, shift.approved) == (0, 0)
        statuses = db.session.scalars(select(Booking.status).where(Booking.shift_id == shift_id)).all()
        assert set(statuses) <= {"cancelled"}
        assert len(statuses) == told
        # Each cancelled booking's person is told once per channel (SMS and e-mail).
        keys = db.session.scalars(
            select(Message.dedupe_key).where(
                Message.kind == "booking_cancelled", Message.request_id == req.id
            )
        ).all()
        assert len(keys) == len(set(keys)) == 2 * told
        db.session.remove()
