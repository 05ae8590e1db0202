"""Answering a call-up through its link: accept some shifts, decline, and links that no longer work."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.callups_support import approved_request, offers_of, reservists
from tests.deployments_support import english, world_fixture  # noqa: F401
from zorgreserve import db
from zorgreserve.callups.links import make_token
from zorgreserve.callups.models import Booking, Offer, OfferShift
from zorgreserve.db import utcnow


@pytest.fixture(autouse=True)
def english_reader(client):
    """The answer page is public: its language comes from the cookie (Dutch pages: test_i18n)."""
    client.set_cookie("zr_lang", "en")


@pytest.fixture
def offered(app, world, ctx, run_jobs):
    """Wave 1 of an approved two-day request is out; returns (request, an offer with two shifts, its link)."""
    with english(ctx):
        reservists(2)
        request = approved_request(world, days=2, places=1)
    run_jobs()
    db.session.expire_all()
    offer = next(o for o in offers_of(request.id) if len(o.shifts) == 2)
    with app.test_request_context():
        link = f"/o/{make_token(offer)}"
    return request, offer, link


def bookings(offer_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Booking).where(Booking.offer_id == offer_id))


def test_the_link_shows_the_request_briefing_and_shifts(client, offered):
    _request, _offer, link = offered
    page = client.get(link)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Ziekenhuis A" in html and "Heidelberglaan 100" in html
    assert "Hoofdingang, balie IC" in html and "Legitimatie en BIG-pas" in html and "Teamleider IC" in html
    assert html.count('data-testid="shift-checkbox"') == 2
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"


def test_accepting_two_shifts_books_them_and_posting_again_changes_nothing(client, offered):
    _request, offer, link = offered
    shift_ids = [s.shift_id for s in offer.shifts]
    answer = client.post(link, data={"shifts": shift_ids, "accept": "1"})
    assert answer.status_code == 303
    page = client.get(link).get_data(as_text=True)
    assert page.count('data-testid="outcome-booked"') == 2
    assert "answer-form" not in page  # the recorded answer, not a new form
    assert bookings(offer.id) == 2

    again = client.post(link, data={"shifts": shift_ids[:1], "accept": "1"})
    assert again.status_code == 303
    assert bookings(offer.id) == 2
    db.session.expire_all()
    assert db.session.get(Offer, offer.id).answer_channel == "web"


def test_declining_with_a_reason_books_nothing(client, offered):
    _request, offer, link = offered
    client.post(link, data={"decline": "1", "reason": "Ik werk die week"})
    db.session.expire_all()
    row = db.session.get(Offer, offer.id)
    assert row.status == "declined" and row.decline_reason == "Ik werk die week"
    assert bookings(offer.id) == 0
    page = client.get(link).get_data(as_text=True)
    assert "you declined this call-up" in page


def test_accepting_nothing_asks_to_choose(client, offered):
    _request, offer, link = offered
    page = client.post(link, data={"accept": "1"})
    assert page.status_code == 400
    assert "Choose at least one shift" in page.get_data(as_text=True)
    assert bookings(offer.id) == 0


def test_an_expired_offer_shows_a_clear_page_and_books_nothing(client, offered):
    _request, offer, link = offered
    row = db.session.get(Offer, offer.id)
    row.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    page = client.get(link)
    assert "This call-up has expired" in page.get_data(as_text=True)
    client.post(link, data={"shifts": [s.shift_id for s in offer.shifts], "accept": "1"})
    assert bookings(offer.id) == 0


@pytest.mark.parametrize("mangle", ["flip", "other_offer", "garbage"])
def test_a_tampered_or_mixed_link_is_not_found_and_changes_nothing(client, offered, app, mangle):
    _request, offer, link = offered
    token = link.removeprefix("/o/")
    if mangle == "flip":
        token = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    elif mangle == "other_offer":
        from itsdangerous import URLSafeTimedSerializer

        token = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="offer").dumps([offer.id, "WRONG"])
    else:
        token = "not-a-token"
    assert client.get(f"/o/{token}").status_code == 404
    assert client.post(f"/o/{token}", data={"shifts": [1], "accept": "1"}).status_code == 404
    assert bookings(offer.id) == 0
    from zorgreserve.audit.models import AuditEvent

    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "security.bad_offer_link"))


def test_a_withdrawn_offer_cannot_be_accepted(client, offered, app):
    request, offer, link = offered
    with app.test_request_context():
        from zorgreserve.callups.escalation import withdraw_open_offers

        withdraw_open_offers(request.id, utcnow())
        db.session.commit()
    client.post(link, data={"shifts": [s.shift_id for s in offer.shifts], "accept": "1"})
    assert bookings(offer.id) == 0
    page = client.get(link).get_data(as_text=True)
    assert "has been withdrawn" in page
    statuses = set(db.session.scalars(select(OfferShift.status).where(OfferShift.offer_id == offer.id)))
    assert statuses == {"withdrawn"}


def test_the_institution_sees_first_names_of_accepted_people_only(client, offered, login_as, world):
    from zorgreserve.accounts.models import User
    from zorgreserve.reservists.models import Reservist

    request, offer, link = offered
    client.post(link, data={"shifts": [s.shift_id for s in offer.shifts], "accept": "1"})
    user = db.session.get(User, db.session.get(Reservist, offer.reservist_id).user_id)
    others = [o for o in offers_of(request.id) if o.id != offer.id]
    other_user = db.session.get(User, db.session.get(Reservist, others[0].reservist_id).user_id)

    login_as(world.staff_a)
    page = client.get(f"/requests/{request.id}/callups").get_data(as_text=True)
    assert user.first_name in page and user.last_name not in page
    assert other_user.last_name not in page
    assert client.get(f"/requests/{request.id}/callups").status_code == 200

    login_as(world.coordinator_x)
    page = client.get(f"/requests/{request.id}/callups").get_data(as_text=True)
    assert user.full_name in page and other_user.full_name in page
    # States in words: the accepted offer, the other withdrawn (the place filled), each message's channel.
    rows = page.split('data-testid="offer-row"')[1:]
    assert any(">accepted (" in row for row in rows) and any(">withdrawn<" in row for row in rows)
    assert "SMS: sent" in page and "e-mail: sent" in page


def test_other_institutions_and_regions_do_not_see_the_call_ups(client, offered, login_as, world):
    request, _offer, _link = offered
    for user in (world.staff_b, world.coordinator_y):
        login_as(user)
        assert client.get(f"/requests/{request.id}/callups").status_code == 404
    login_as(world.coordinator_y)
    assert client.post(f"/requests/{request.id}/callups/stop").status_code == 404


def test_a_coordinator_stops_call_ups_and_open_offers_are_withdrawn(client, offered, login_as, world):
    request, _offer, _link = offered
    login_as(world.coordinator_x)
    assert client.post(f"/requests/{request.id}/callups/stop").status_code == 303
    db.session.expire_all()
    assert {o.status for o in offers_of(request.id)} == {"withdrawn"}


def test_with_redis_down_the_answer_still_books_and_the_follow_up_waits_for_the_sweeper(
    app, client, offered, run_jobs
):
    """QUALITY: answer pages and bookings need only the database. With Redis unreachable the
    accept books and says so; the follow-up job written with the booking is kept in the outbox,
    and once Redis is back the sweeper hands it over and it runs."""
    from zorgreserve.jobs import services as jobs
    from zorgreserve.jobs.models import OutboxJob

    _request, offer, link = offered
    shift_ids = [s.shift_id for s in offer.shifts]
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        answer = client.post(link, data={"shifts": shift_ids, "accept": "1"})
        page = client.get(link)
    finally:
        app.config["REDIS_URL"] = None
    assert answer.status_code == 303 and page.status_code == 200
    assert page.get_data(as_text=True).count('data-testid="outcome-booked"') == 2
    assert bookings(offer.id) == 2
    waiting = db.session.scalars(
        select(OutboxJob).where(OutboxJob.job == "callups.after_booking", OutboxJob.done_at.is_(None))
    ).all()
    assert [w.args["offer_id"] for w in waiting] == [offer.id]

    app.config["OUTBOX_STALE_SECONDS"] = 0
    try:
        with app.test_request_context():
            assert jobs.sweep(db.session) >= 1
            db.session.commit()
    finally:
        app.config["OUTBOX_STALE_SECONDS"] = 120
    run_jobs()
    db.session.expire_all()
    assert db.session.get(OutboxJob, waiting[0].id).done_at is not None
