"""Booking under real concurrency (QUALITY.md, "Booking under concurrency"): threads, each with its
own session and connection, calling the real service on a scratch database that commits for real.

PostgreSQL is the target (row locks, the exclusion constraint); the SQLite variants run the same
scenarios against a file database, where writers are serialised.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select, text

from tests.conftest import _TMP, scratch_postgres_database
from tests.deployments_support import day_pattern, details_for, location_for
from tests.factories import InstitutionFactory, ReservistFactory, UserFactory, region_named
from zorgreserve import db
from zorgreserve.accounts.roles import Role
from zorgreserve.callups import booking
from zorgreserve.callups.models import Booking, Offer, OfferShift, StandbyEntry, Wave
from zorgreserve.db import utcnow
from zorgreserve.deployments import services
from zorgreserve.deployments.models import Shift


@pytest.fixture(params=["postgres", "sqlite"])
def live_db(request: pytest.FixtureRequest, app: Any) -> Iterator[SimpleNamespace]:
    """A scratch database bound to the scoped session (one session per thread), restored afterwards."""
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
        url = scratch_postgres_database(request.getfixturevalue("postgres_url"), "zorgreserve_booking_live")
        engine = db.make_engine(url, pool_size=20, max_overflow=0, pool_timeout=120)
    else:
        path = _TMP / f"booking-live-{uuid.uuid4().hex[:6]}.sqlite3"
        engine = db.make_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False, "timeout": 60})
    db.import_models()
    db.Base.metadata.create_all(engine)
    previous = db.get_engine()
    db.session.remove()
    db.session.configure(bind=engine)
    try:
        with app.app_context():
            from zorgreserve.reference.loader import load_all

            load_all(db.session)
            db.session.commit()
            yield SimpleNamespace(app=app, engine=engine, backend=request.param)
    finally:
        db.session.remove()
        db.session.configure(bind=previous)
        engine.dispose()


def _world() -> SimpleNamespace:
    region = region_named("Netwerk Acute Zorg Midden-Nederland")
    inst = InstitutionFactory(name=f"Ziekenhuis {uuid.uuid4().hex[:6]}", region_id=region.id)
    staff = UserFactory(role=Role.INSTITUTION_STAFF.value, institution_id=inst.id)
    coordinator = UserFactory(role=Role.REGIONAL_COORDINATOR.value, region_id=region.id)
    location = location_for(inst, "3584")
    db.session.commit()
    return SimpleNamespace(staff=staff, coordinator=coordinator, location=location)


def _open_request(world: SimpleNamespace, places: int, days: int = 1) -> Any:
    req, _ = services.create_request(
        world.staff,
        details_for(world.location),
        day_pattern(days=days, places=places),
        idempotency_key=uuid.uuid4().hex,
        submit=True,
    )
    services.approve(world.coordinator, req)
    db.session.commit()
    return req


def _offers(req: Any, people: list[Any], shift_ids: list[int]) -> list[int]:
    wave = Wave(request_id=req.id, number=1, status="sent", expires_at=utcnow() + timedelta(hours=1))
    db.session.add(wave)
    db.session.flush()
    offers = []
    for person in people:
        offer = Offer(
            wave_id=wave.id,
            request_id=req.id,
            reservist_id=person.id,
            code=uuid.uuid4().hex[:8].upper(),
            status="sent",
            expires_at=utcnow() + timedelta(hours=1),
        )
        offer.shifts = [OfferShift(shift_id=sid) for sid in shift_ids]
        db.session.add(offer)
        offers.append(offer)
    db.session.commit()
    return [o.id for o in offers]


def _accept_in_thread(
    app: Any, offer_id: int, shift_ids: list[int], barrier: threading.Barrier | None
) -> Any:
    with app.test_request_context():
        try:
            if barrier is not None:
                barrier.wait(timeout=30)
            result = booking.accept(db.session, offer_id, shift_ids, channel="web", now=utcnow())
            db.session.commit()
            return result
        except Exception as exc:  # collected and asserted on: no error may escape
            db.session.rollback()
            return exc
        finally:
            db.session.remove()


def _run(app: Any, calls: list[tuple[int, list[int]]], workers: int) -> list[Any]:
    barrier = threading.Barrier(min(workers, len(calls)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(_accept_in_thread, app, offer_id, shift_ids, barrier if i < workers else None)
            for i, (offer_id, shift_ids) in enumerate(calls)
        ]
        return [f.result(timeout=300) for f in futures]


def test_200_concurrent_accepts_on_five_places_book_exactly_five(live_db):
    world = _world()
    req = _open_request(world, places=5)
    shift_id = req.shifts[0].id
    people = [ReservistFactory() for _ in range(200)]
    offer_ids = _offers(req, people, [shift_id])
    results = _run(live_db.app, [(oid, [shift_id]) for oid in offer_ids], workers=20)
    errors = [r for r in results if isinstance(r, Exception)]
    # An offer withdrawn because its shift filled is a clear "already filled" answer too.
    closed = [e for e in errors if isinstance(e, booking.OfferClosed) and e.reason == "withdrawn"]
    assert len(errors) == len(closed), [repr(e) for e in errors if e not in closed][:3]
    booked = [r for r in results if not isinstance(r, Exception) and r.booked]
    standby = [r for r in results if not isinstance(r, Exception) and r.standby]
    assert len(booked) == 5
    assert len(standby) + len(closed) == 195
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 5
    assert db.session.get(Shift, shift_id).booked == 5


def test_one_reservist_accepting_two_overlapping_shifts_at_once_gets_at_most_one(live_db):
    world = _world()
    first, second = _open_request(world, places=3), _open_request(world, places=3)
    person = ReservistFactory()
    calls = []
    for req in (first, second):
        (offer_id,) = _offers(req, [person], [req.shifts[0].id])
        calls.append((offer_id, [req.shifts[0].id]))
    for _ in range(5):  # repeated, since one run may happen not to interleave
        results = _run(live_db.app, calls, workers=2)
        assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, booking.OfferClosed)]
    db.session.remove()
    active = db.session.scalars(select(Booking).where(Booking.reservist_id == person.id)).all()
    assert len(active) == 1
    assert sum(db.session.get(Shift, r.shifts[0].id).booked for r in (first, second)) == 1


def test_two_accepts_legal_alone_but_not_together_book_one_and_name_the_rule(live_db):
    """Two requests, a shift on consecutive days, a reservist who works at most 10 hours a week:
    each 8.5-hour shift fits alone, both do not. Accepted at the same moment, at most one is booked
    and the other is refused with the rule it breaks (the reservist lock orders the checks)."""
    world = _world()
    first = _open_request(world, places=10, days=1)
    second = _open_request(world, places=10, days=2)
    day_one = first.shifts[0].id
    day_two = max(second.shifts, key=lambda s: s.start_at).id
    for _ in range(5):  # five people, since one run may happen not to interleave
        person = ReservistFactory(max_hours_per_week=10)
        (offer_one,) = _offers_in_wave(first, [person], [day_one])
        (offer_two,) = _offers_in_wave(second, [person], [day_two])
        results = _run(live_db.app, [(offer_one, [day_one]), (offer_two, [day_two])], workers=2)
        assert not [r for r in results if isinstance(r, Exception)], results
        booked = [sid for r in results for sid in r.booked]
        assert len(booked) == 1, [(r.booked, r.standby, r.refused, r.rules) for r in results]
        refused = [r for r in results if r.refused]
        assert len(refused) == 1, [(r.booked, r.standby, r.refused, r.rules) for r in results]
        assert list(refused[0].refused.values()) == [booking.WORKTIME]
        assert "own_weekly_max" in next(iter(refused[0].rules.values()))
        db.session.remove()
        active = db.session.scalars(
            select(Booking).where(
                Booking.reservist_id == person.id, Booking.status.in_(["accepted", "approved"])
            )
        ).all()
        assert len(active) == 1


def test_fifty_concurrent_accepts_of_one_offer_book_once_and_all_say_accepted(live_db):
    world = _world()
    req = _open_request(world, places=2)
    shift_id = req.shifts[0].id
    (offer_id,) = _offers(req, [ReservistFactory()], [shift_id])
    results = _run(live_db.app, [(offer_id, [shift_id])] * 50, workers=20)
    assert all(not isinstance(r, Exception) and r.booked == [shift_id] for r in results), results[:3]
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 1
    assert db.session.get(Shift, shift_id).booked == 1


def _offers_in_wave(req: Any, people: list[Any], shift_ids: list[int]) -> list[int]:
    """Offers for ``people`` in the request's first wave, made on the first call."""
    if db.session.scalar(select(Wave.id).where(Wave.request_id == req.id)) is None:
        return _offers(req, people, shift_ids)
    return [_another_offer(req.id, person.id, shift_ids) for person in people]


def _another_offer(request_id: int, reservist_id: int, shift_ids: list[int]) -> int:
    """One more offer in the request's first wave."""
    offer = Offer(
        wave_id=db.session.scalar(select(Wave.id).where(Wave.request_id == request_id, Wave.number == 1)),
        request_id=request_id,
        reservist_id=reservist_id,
        code=uuid.uuid4().hex[:8].upper(),
        status="sent",
        expires_at=utcnow() + timedelta(hours=1),
    )
    offer.shifts = [OfferShift(shift_id=sid) for sid in shift_ids]
    db.session.add(offer)
    db.session.commit()
    return offer.id


@pytest.mark.parametrize("live_db", ["postgres"], indirect=True)
def test_an_accept_finding_every_free_place_being_taken_goes_on_stand_by_without_waiting(live_db):
    """The place tokens: while other accepts hold every free place of a shift, an accept books
    nothing there and is answered "stand-by" at once; its other shift is booked; once a holder
    gives up, the next accept takes the place."""
    world = _world()
    req = _open_request(world, places=2, days=2)
    busy, other = sorted(s.id for s in req.shifts)
    first, second = ReservistFactory(), ReservistFactory()
    (offer_busy,) = _offers(req, [first], [busy])
    db.session.commit()
    holder = live_db.engine.connect()
    transaction = holder.begin()
    try:
        for place in (1, 2):  # two accepts in flight, one per free place
            holder.execute(text("SELECT pg_advisory_xact_lock(:s, :k)"), {"s": busy, "k": place})
        result = _accept_in_thread(live_db.app, offer_busy, [busy], None)
        assert not isinstance(result, Exception), result
        assert result.booked == [] and result.standby == [busy]
        # An offer with both shifts: the free one is booked, the busy one is stand-by.
        both_id = _another_offer(req.id, second.id, [busy, other])
        mixed = _accept_in_thread(live_db.app, both_id, [busy, other], None)
        assert not isinstance(mixed, Exception), mixed
        assert mixed.booked == [other] and mixed.standby == [busy]
    finally:
        transaction.rollback()  # the accepts in flight gave up: their places are free again
        holder.close()
    db.session.remove()
    assert db.session.get(Shift, busy).booked == 0
    standby = db.session.scalars(select(StandbyEntry.reservist_id).where(StandbyEntry.shift_id == busy)).all()
    assert sorted(standby) == sorted([first.id, second.id])
    offer_third = _another_offer(req.id, ReservistFactory().id, [busy])
    later = _accept_in_thread(live_db.app, offer_third, [busy], None)
    assert not isinstance(later, Exception) and later.booked == [busy]
    db.session.remove()
    assert db.session.get(Shift, busy).booked == 1


def test_two_coordinators_asking_for_the_next_wave_at_once_get_one_wave(live_db):
    """QUALITY: coordinators pressing "send next wave" at the same moment: one wave, no error."""
    from tests.callups_support import reservists
    from zorgreserve.accounts.models import User
    from zorgreserve.callups import escalation
    from zorgreserve.deployments.models import DeploymentRequest

    world = _world()
    reservists(6)
    req = _open_request(world, places=2, days=1)
    coordinator_id, request_id = world.coordinator.id, req.id
    db.session.remove()
    barrier = threading.Barrier(8)

    def press() -> Any:
        with live_db.app.test_request_context():
            try:
                barrier.wait(timeout=30)
                user = db.session.get(User, coordinator_id)
                wave = escalation.send_next_wave_now(
                    db.session.get(DeploymentRequest, request_id), user, utcnow()
                )
                db.session.commit()
                return wave.number if wave is not None else None
            except Exception as exc:  # collected and asserted on: no error may escape
                db.session.rollback()
                return exc
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [f.result(timeout=120) for f in [pool.submit(press) for _ in range(8)]]
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(r for r in results if r is not None) == [1]
    assert db.session.scalar(select(func.count()).select_from(Wave).where(Wave.request_id == request_id)) == 1


@pytest.mark.parametrize("live_db", ["postgres"], indirect=True)
def test_a_shift_held_by_a_stuck_transaction_makes_an_accept_say_try_again_and_change_nothing(live_db):
    """QUALITY: another transaction holds the shift's row and does not finish. The accept gives up
    after the lock timeout (it would otherwise wait for ever: the holder lets go only after the
    answer came back) with the "try again" page, not an error, and nothing is written; once the
    row is free the same link books."""
    from zorgreserve.callups.links import make_token

    world = _world()
    req = _open_request(world, places=3)
    shift_id = req.shifts[0].id
    (offer_id,) = _offers(req, [ReservistFactory()], [shift_id])
    with live_db.app.test_request_context():
        link = f"/o/{make_token(db.session.get(Offer, offer_id))}"
    db.session.remove()
    client = live_db.app.test_client()
    client.set_cookie("zr_lang", "en")
    holder = live_db.engine.connect()
    stuck = holder.begin()
    try:
        holder.execute(text("SELECT id FROM shift WHERE id = :s FOR UPDATE"), {"s": shift_id})
        response = client.post(link, data={"shifts": [shift_id], "accept": "1"})
    finally:
        stuck.rollback()
        holder.close()
    assert response.status_code == 409
    assert 'data-testid="try-again"' in response.get_data(as_text=True)
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 0
    assert db.session.get(Offer, offer_id).status == "sent"
    assert db.session.get(Shift, shift_id).booked == 0
    db.session.remove()
    again = client.post(link, data={"shifts": [shift_id], "accept": "1"})
    assert again.status_code == 303
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 1
