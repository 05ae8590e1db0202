"""Answers by SMS reply through the signed webhook: one answer however often it is delivered."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from tests.callups_support import approved_request, offers_of, phone_of, reservists
from tests.deployments_support import english, world_fixture  # noqa: F401
from zorgreserve import db
from zorgreserve.callups.inbound import parse, sign
from zorgreserve.callups.models import Booking, InboundSms, Message, Offer
from zorgreserve.notifications.sms import recorder

SECRET = "webhook-test-secret"


@pytest.fixture(autouse=True)
def _secret(app):
    app.config["SMS_WEBHOOK_SECRET"] = SECRET
    recorder().messages.clear()
    yield
    app.config["SMS_WEBHOOK_SECRET"] = None
    recorder().messages.clear()


@pytest.fixture
def offered(world, ctx, run_jobs):
    with english(ctx):
        reservists(2, channels="sms")
        request = approved_request(world, days=2, places=1)
    run_jobs()
    db.session.expire_all()
    recorder().messages.clear()
    return request, offers_of(request.id)[0]


def deliver(client, payload: dict, secret: str | None = SECRET):
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Zorgreserve-Signature"] = sign(body, secret)
    return client.post("/sms/inbound", data=body, headers=headers)


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("JA K7P2Q", (True, "K7P2Q")),
        ("  ja   k7p2q ", (True, "K7P2Q")),
        ("Nee, K7P2Q.", (False, "K7P2Q")),
        ("yes k7p2q", (True, "K7P2Q")),
        ("JA", None),
        ("misschien K7P2Q", None),
    ],
)
def test_replies_are_read_tolerantly(text, expected):
    assert parse(text) == expected


def test_unsigned_or_badly_signed_deliveries_are_refused(client, offered):
    _request, offer = offered
    payload = {"id": "p-1", "from": phone_of(offer.reservist_id), "body": f"JA {offer.code}"}
    assert deliver(client, payload, secret=None).status_code == 403
    assert deliver(client, payload, secret="wrong").status_code == 403
    assert count(InboundSms) == 0 and count(Booking) == 0


def test_the_same_yes_delivered_three_times_books_once_and_replies_once(client, offered, run_jobs):
    _request, offer = offered
    offered_shifts = len(offer.shifts)
    payload = {"id": "p-1", "from": phone_of(offer.reservist_id), "body": f"ja {offer.code.lower()}"}
    answers = [deliver(client, payload) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.get_json()["duplicate"] for a in answers] == [False, True, True]
    assert count(InboundSms) == 1
    assert count(Booking, Booking.offer_id == offer.id) == offered_shifts
    run_jobs()
    replies = [m for m in recorder().messages if m.idempotency_key.startswith("reply:")]
    assert len(replies) == 1 and "booked" in replies[0].body and replies[0].to == phone_of(offer.reservist_id)
    db.session.expire_all()
    assert db.session.get(Offer, offer.id).answer_channel == "sms"


def test_no_declines(client, offered):
    _request, offer = offered
    deliver(client, {"id": "p-2", "from": phone_of(offer.reservist_id), "body": f"NEE {offer.code}"})
    db.session.expire_all()
    assert db.session.get(Offer, offer.id).status == "declined"
    assert count(Booking) == 0


def test_a_code_from_another_number_changes_nothing(client, offered):
    _request, offer = offered
    deliver(client, {"id": "p-3", "from": "+31699999999", "body": f"JA {offer.code}"})
    db.session.expire_all()
    assert db.session.get(Offer, offer.id).status == "sent"
    assert count(Booking) == 0
    assert db.session.scalar(select(InboundSms.outcome)) == "wrong_sender"
    assert count(Message, Message.kind == "answer_reply") == 0


def test_delivery_reports_move_forward_only(client, offered):
    _request, offer = offered
    message = db.session.scalar(select(Message).where(Message.offer_id == offer.id))
    for status in ("delivered", "failed"):
        body = json.dumps({"id": message.provider_id, "status": status}).encode()
        client.post(
            "/sms/status",
            data=body,
            headers={"Content-Type": "application/json", "X-Zorgreserve-Signature": sign(body, SECRET)},
        )
    db.session.expire_all()
    assert db.session.get(Message, message.id).status == "delivered"
