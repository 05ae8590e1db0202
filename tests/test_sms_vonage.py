"""The Vonage SMS adapter against a loopback HTTPS stand-in for rest.nexmo.com, and Vonage's signed webhooks.

The stand-in answers ``POST /sms/json`` as Vonage does (a status per message, a new
message id each time); the SDK under test speaks real HTTPS to it, trusting a
certificate made here. Webhooks are signed with the SDK's own signer.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import ssl
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select
from vonage_http_client import Auth
from werkzeug import Request, Response

from tests.callups_support import approved_request, messages_of, offers_of, phone_of, reservists, waves_of
from tests.deployments_support import english, in_english_fixture, world_fixture  # noqa: F401
from zorgreserve import db
from zorgreserve.audit.models import AuditEvent
from zorgreserve.callups import sending
from zorgreserve.callups.models import Booking, InboundSms, Message, Offer
from zorgreserve.config import ConfigError, load_config
from zorgreserve.db import utcnow
from zorgreserve.jobs.models import OutboxJob
from zorgreserve.notifications.sms import SmsMessage, SmsRejected, SmsTemporaryFailure, get_backend, recorder
from zorgreserve.notifications.vonage import VonageBackend, needs_unicode

API_KEY, API_SECRET, SIGNATURE_SECRET = "zrtestkey", "zr-test-api-secret", "zr-test-signature-secret"
VIRTUAL_NUMBER = "3197010000001"


# A loopback Vonage ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """A self-signed certificate for 127.0.0.1: the SDK only speaks HTTPS."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("vonage-tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return SimpleNamespace(cert=str(cert_file), context=context)


@pytest.fixture(scope="module")
def api_server(tls: SimpleNamespace) -> Any:
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=tls.context)
    server.start()
    yield server
    server.clear()
    server.stop()


class FakeVonage:
    """Answers ``/sms/json`` like Vonage: status ``default`` unless ``statuses`` names the recipient."""

    ERRORS = {"1": "Throughput Rate Exceeded", "6": "Unroutable message", "7": "Number barred"}

    def __init__(self) -> None:
        self.default = "0"
        self.statuses: dict[str, str] = {}
        self.http_status = 200
        self.requests: list[dict[str, str]] = []
        self.authorization: list[str | None] = []
        self._ids = itertools.count(1)

    def accepted(self) -> list[dict[str, str]]:
        return [r for r in self.requests if r["status"] == "0"]

    def handler(self, request: Request) -> Response:
        form = request.form.to_dict()
        status = self.statuses.get(form.get("to", ""), self.default)
        self.authorization.append(request.headers.get("Authorization"))
        if self.http_status != 200:
            self.requests.append(form | {"status": "http"})
            return Response("Service Unavailable", status=self.http_status)
        answer: dict[str, Any] = {"to": form.get("to"), "status": status}
        if status == "0":
            answer["message-id"] = f"1A{next(self._ids):014X}"
        self.requests.append(form | {"status": status, "message-id": answer.get("message-id", "")})
        if status == "0":
            answer |= {
                "remaining-balance": "12.50000000",
                "message-price": "0.07300000",
                "network": "20408",
                "client-ref": form.get("client-ref"),
            }
        else:
            answer["error-text"] = self.ERRORS.get(status, "Error")
        return Response(
            json.dumps({"message-count": "1", "messages": [answer]}), content_type="application/json"
        )


@pytest.fixture
def vonage_keys(app: Any) -> Any:
    """Vonage's webhook settings (the sending backend stays the recorder)."""
    saved = dict(app.config)
    app.config.update(
        VONAGE_API_KEY=API_KEY,
        VONAGE_API_SECRET=API_SECRET,
        VONAGE_SIGNATURE_SECRET=SIGNATURE_SECRET,
        VONAGE_SIGNATURE_METHOD="sha256",
        VONAGE_WEBHOOK_MAX_AGE_SECONDS=300,
    )
    recorder().messages.clear()
    yield app.config
    recorder().messages.clear()
    app.config.clear()
    app.config.update(saved)


@pytest.fixture
def vonage_api(
    app: Any, vonage_keys: Any, api_server: Any, tls: SimpleNamespace, monkeypatch: Any
) -> FakeVonage:
    """``SMS_BACKEND=vonage`` pointed at the loopback stand-in."""
    fake = FakeVonage()
    api_server.clear()
    api_server.expect_request("/sms/json", method="POST").respond_with_handler(fake.handler)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls.cert)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    vonage_keys.update(SMS_BACKEND="vonage", VONAGE_API_HOST=f"127.0.0.1:{api_server.port}")
    return fake


# Webhook helpers ----------------------------------------------------------------------------


def signed(
    params: dict[str, str], *, secret: str = SIGNATURE_SECRET, at: float | None = None
) -> dict[str, str]:
    """``params`` as Vonage signs them (the SDK's signer, SHA-256 HMAC)."""
    params = params | {
        "timestamp": str(int(at if at is not None else time.time())),
        "nonce": str(uuid.uuid4()),
    }
    signer = Auth(api_key=API_KEY, signature_secret=secret, signature_method="sha256")
    return params | {"sig": signer.sign_params(dict(params))}


def inbound_params(message_id: str, sender: str, text: str) -> dict[str, str]:
    return {
        "msisdn": sender.lstrip("+"),
        "to": VIRTUAL_NUMBER,
        "messageId": message_id,
        "text": text,
        "type": "text",
        "keyword": text.split()[0].upper(),
        "api-key": API_KEY,
        "message-timestamp": utcnow().strftime("%Y-%m-%d %H:%M:%S"),
    }


def receipt_params(message_id: str, status: str, client_ref: str | None = None, err_code: str = "0") -> dict:
    params = {
        "msisdn": "31612345678",
        "to": "Zorgreserve",
        "network-code": "20408",
        "messageId": message_id,
        "price": "0.07300000",
        "status": status,
        "scts": "2611201030",
        "err-code": err_code,
        "api-key": API_KEY,
        "message-timestamp": utcnow().strftime("%Y-%m-%d %H:%M:%S"),
    }
    if client_ref:
        params["client-ref"] = client_ref
    return params


def deliver(client: Any, path: str, params: dict[str, str], style: str = "form") -> Any:
    url = f"/sms/vonage/{path}"
    if style == "get":
        return client.get(url, query_string=params)
    if style == "json":
        return client.post(url, json=params)
    return client.post(url, data=params)


def count(model: Any, *where: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def offered(world: SimpleNamespace, ctx: Any, run_jobs: Any, vonage_keys: Any) -> tuple[Any, Offer]:
    with english(ctx):
        reservists(2, channels="sms")
        request = approved_request(world, days=2, places=1)
    run_jobs()
    db.session.expire_all()
    recorder().messages.clear()
    return request, offers_of(request.id)[0]


# Sending -------------------------------------------------------------------------------------


def test_the_request_carries_key_sender_number_text_and_our_reference(app, vonage_api):
    with app.app_context():
        provider_id = get_backend().send(
            SmsMessage(
                to="+31612345678", body="Zorgreserve call-up: IC, Utrecht.", idempotency_key="offer:7:sms"
            )
        )
    [sent] = vonage_api.requests
    assert provider_id.startswith("1A")
    assert sent["to"] == "31612345678"
    assert sent["from"] == "Zorgreserve"
    assert sent["text"] == "Zorgreserve call-up: IC, Utrecht."
    assert sent["client-ref"] == "offer:7:sms"
    assert sent["callback"] == "http://zorgreserve.test/sms/vonage/status"
    assert "type" not in sent  # plain GSM text: 160 characters a segment
    assert vonage_api.authorization == [
        "Basic " + base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()
    ]


@pytest.mark.parametrize(
    ("text", "unicode"),
    [("Café in Zwolle, 5 € per uur [test]", False), ("Dienst beëindigd", True), ("Zorg – nu", True)],
)
def test_only_text_outside_the_gsm_alphabet_goes_as_unicode(app, vonage_api, text, unicode):
    assert needs_unicode(text) is unicode
    with app.app_context():
        get_backend().send(SmsMessage(to="+31612345678", body=text, idempotency_key="offer:8:sms"))
    [sent] = vonage_api.requests
    assert sent["text"] == text
    assert sent.get("type") == ("unicode" if unicode else None)


def test_refusals_are_sorted_into_permanent_and_temporary(app, vonage_api):
    message = SmsMessage(to="+31612345678", body="Hallo", idempotency_key="offer:9:sms")
    with app.app_context():
        backend = get_backend()
        vonage_api.default = "7"
        with pytest.raises(SmsRejected, match="barred"):
            backend.send(message)
        vonage_api.default = "1"
        with pytest.raises(SmsTemporaryFailure, match="throttled"):
            backend.send(message)
        vonage_api.default, vonage_api.http_status = "0", 503
        with pytest.raises(SmsTemporaryFailure, match="503"):
            backend.send(message)


def _start_wave(app: Any, request: Any) -> Any:
    with app.app_context():
        from zorgreserve.deployments.handoff import request_opened

        request_opened(request.id)
        db.session.commit()
        wave = waves_of(request.id)[0]
        sending.send_wave(wave.id)
        db.session.commit()
    db.session.expire_all()
    return wave


def test_a_throttled_wave_is_retried_later_and_reaches_everyone_once(app, w, vonage_api):
    reservists(3, channels="sms")
    request = approved_request(w, days=2, places=1)
    vonage_api.default = "1"  # Vonage: throttled
    before = utcnow()
    wave = _start_wave(app, request)

    messages = messages_of(request.id)
    assert messages and all(m.status == "queued" for m in messages)
    assert any("throttled" in (m.error or "") for m in messages)
    assert len(vonage_api.requests) == 1  # the batch stops at the first refusal and backs off
    retry = db.session.scalars(
        select(OutboxJob).where(OutboxJob.job == "callups.send_wave", OutboxJob.done_at.is_(None))
    ).all()
    assert any(job.due_at >= before + timedelta(seconds=10) for job in retry)  # backoff, not at once

    vonage_api.default = "0"
    with app.app_context():
        sending.send_wave(wave.id)
        db.session.commit()
    db.session.expire_all()
    messages = messages_of(request.id)
    assert all(m.status == "sent" and m.provider_id for m in messages)
    accepted = Counter(r["client-ref"] for r in vonage_api.accepted())
    assert sorted(accepted) == sorted(m.dedupe_key for m in messages)
    assert set(accepted.values()) == {1}


def test_a_barred_number_fails_at_once_is_listed_and_the_rest_goes_out(
    app, world, ctx, run_jobs, vonage_api, login_as, client
):
    with english(ctx):
        people = reservists(3, channels="sms")
        barred = phone_of(people[0]).lstrip("+")
        vonage_api.statuses[barred] = "7"  # Vonage: number barred
        request = approved_request(world, days=2, places=1)
    run_jobs()
    db.session.expire_all()

    messages = messages_of(request.id)
    failed = [m for m in messages if m.status == "failed"]
    assert len(failed) == 1 and failed[0].reservist_id == people[0]
    assert "barred" in failed[0].error and failed[0].attempts == 1  # not retried
    assert all(m.status == "sent" for m in messages if m is not failed[0])
    assert waves_of(request.id)[0].status == "sent"
    assert [r["to"] for r in vonage_api.requests].count(barred) == 1

    login_as(world.coordinator_x)
    page = client.get(f"/requests/{request.id}/callups")
    assert page.status_code == 200
    assert "1 message could not be delivered" in page.get_data(as_text=True)


class Killed(BaseException):
    """Stands for SIGKILL: nothing in the sender may catch it."""


def test_a_receipt_for_a_message_the_crashed_sender_never_marked_stops_a_second_sms(
    app, world, ctx, vonage_api, client, monkeypatch
):
    """Vonage accepted the SMS, the sender died before committing "sent": the receipt marks it instead."""
    with english(ctx):
        reservists(1, channels="sms")
        request = approved_request(world, days=1, places=1)
    real_send = VonageBackend.send

    def dies_after_handing_over(self, message):
        real_send(self, message)
        raise Killed()

    monkeypatch.setattr(VonageBackend, "send", dies_after_handing_over)
    with pytest.raises(Killed), app.app_context():
        _start_wave(app, request)
    db.session.rollback()
    monkeypatch.setattr(VonageBackend, "send", real_send)
    [message] = messages_of(request.id)
    assert message.status == "queued" and message.provider_id is None
    [accepted] = vonage_api.accepted()
    provider_id = accepted["message-id"]

    receipt = signed(receipt_params(provider_id, "delivered", message.dedupe_key))
    assert deliver(client, "status", receipt).status_code == 200
    app.config["CALLUP_CLAIM_STALE_SECONDS"] = 0  # the dead sender's claim counts as abandoned at once
    time.sleep(0.01)
    with app.app_context():
        sending.send_wave(waves_of(request.id)[0].id)
        db.session.commit()
    db.session.expire_all()
    message = db.session.get(Message, message.id)
    assert message.status == "delivered" and message.provider_id == provider_id
    assert db.session.get(Offer, message.offer_id).status == "sent"
    assert len(vonage_api.accepted()) == 1  # no second SMS


def test_a_receipt_that_beats_the_senders_commit_is_not_undone(app, w, vonage_api, monkeypatch):
    """Vonage's "delivered" can arrive before the sender has committed "sent": it must stay delivered."""
    from zorgreserve.callups.delivery import record_delivery

    reservists(1, channels="sms")
    request = approved_request(w, days=1, places=1)
    real_send = VonageBackend.send

    def send_and_receipt_first(self, message):
        provider_id = real_send(self, message)
        record_delivery(
            provider_id=provider_id, state="delivered", dedupe_key=message.idempotency_key, now=utcnow()
        )
        return provider_id

    monkeypatch.setattr(VonageBackend, "send", send_and_receipt_first)
    _start_wave(app, request)
    [message] = messages_of(request.id)
    assert message.status == "delivered" and message.delivered_at is not None


# Webhooks ------------------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["form", "get", "json"])
def test_the_same_signed_yes_delivered_three_times_books_once(client, offered, run_jobs, style):
    _request, offer = offered
    offered_shifts = len(offer.shifts)
    params = signed(inbound_params("0B00000012345678", phone_of(offer.reservist_id), f"Ja {offer.code}"))
    answers = [deliver(client, "inbound", params, style) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.get_json()["duplicate"] for a in answers] == [False, True, True]
    assert count(InboundSms) == 1
    assert count(Booking, Booking.offer_id == offer.id) == offered_shifts
    run_jobs()
    replies = [m for m in recorder().messages if m.idempotency_key.startswith("reply:")]
    assert len(replies) == 1 and replies[0].to == phone_of(offer.reservist_id)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda p: {k: v for k, v in p.items() if k != "sig"}, "unsigned"),
        (lambda p: p | {"sig": "0" * 64}, "bad_signature"),
        (lambda p: p | {"text": "NEE " + p["text"].split()[1]}, "bad_signature"),  # tampered after signing
        (
            lambda p: signed(
                {k: v for k, v in p.items() if k not in ("sig", "timestamp", "nonce")}, secret="other"
            ),
            "bad_signature",
        ),
    ],
    ids=["missing", "wrong", "tampered", "other-secret"],
)
def test_a_delivery_without_vonages_signature_is_refused_and_recorded(client, offered, change, reason):
    _request, offer = offered
    params = change(
        signed(inbound_params("0B000000AAAA0001", phone_of(offer.reservist_id), f"JA {offer.code}"))
    )
    assert deliver(client, "inbound", params).status_code == 403
    assert count(InboundSms) == 0 and count(Booking) == 0
    db.session.expire_all()
    assert db.session.get(Offer, offer.id).status == "sent"
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "security.bad_webhook_signature")
    ).one()
    assert event.details["reason"] == reason and event.details["webhook"] == "inbound"


def test_odd_json_deliveries_are_refused_not_crashed(client, offered):
    _request, offer = offered
    params = signed(inbound_params("0B000000AAAA0005", phone_of(offer.reservist_id), f"JA {offer.code}"))
    assert deliver(client, "inbound", params | {"sig": 12345}, "json").status_code == 403
    assert client.post("/sms/vonage/inbound", json=["not", "an", "object"]).status_code == 403
    assert client.post("/sms/vonage/status", data=b"{", content_type="application/json").status_code == 403
    assert count(InboundSms) == 0


def test_a_recorded_delivery_played_back_later_is_refused(client, offered):
    _request, offer = offered
    old = signed(
        inbound_params("0B000000AAAA0002", phone_of(offer.reservist_id), f"JA {offer.code}"),
        at=time.time() - 600,
    )
    assert deliver(client, "inbound", old).status_code == 403
    assert count(InboundSms) == 0 and count(Booking) == 0
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "security.bad_webhook_signature")
    ).one()
    assert event.details["reason"] == "stale"


def test_without_a_signature_secret_every_delivery_is_refused(client, offered, vonage_keys):
    _request, offer = offered
    params = signed(inbound_params("0B000000AAAA0003", phone_of(offer.reservist_id), f"JA {offer.code}"))
    vonage_keys["VONAGE_SIGNATURE_SECRET"] = None
    assert deliver(client, "inbound", params).status_code == 403
    assert count(InboundSms) == 0


def test_refused_deliveries_are_rate_limited_per_address(client, offered):
    _request, offer = offered
    unsigned = inbound_params("0B000000AAAA0004", phone_of(offer.reservist_id), f"JA {offer.code}")
    codes = [deliver(client, "inbound", unsigned).status_code for _ in range(31)]
    assert codes[:30] == [403] * 30 and codes[30] == 429
    assert count(AuditEvent, AuditEvent.action == "security.bad_webhook_signature") == 30


def test_receipts_out_of_order_never_take_a_delivered_message_back(client, offered):
    _request, offer = offered
    message = db.session.scalar(select(Message).where(Message.offer_id == offer.id))
    for status in ("delivered", "accepted", "buffered", "failed", "unknown"):
        params = signed(receipt_params(message.provider_id, status, message.dedupe_key, err_code="1"))
        assert deliver(client, "status", params, "get").status_code == 200
    db.session.expire_all()
    message = db.session.get(Message, message.id)
    assert message.status == "delivered" and message.delivered_at is not None and message.error is None


def test_a_failed_receipt_is_recorded_for_coordinators(client, offered):
    _request, offer = offered
    message = db.session.scalar(select(Message).where(Message.offer_id == offer.id))
    for status in ("accepted", "failed", "delivered"):
        deliver(client, "status", signed(receipt_params(message.provider_id, status, err_code="6")), "json")
    db.session.expire_all()
    message = db.session.get(Message, message.id)
    assert message.status == "failed" and "err-code 6" in message.error


def test_a_receipt_with_a_bad_signature_changes_nothing(client, offered):
    _request, offer = offered
    message = db.session.scalar(select(Message).where(Message.offer_id == offer.id))
    params = signed(receipt_params(message.provider_id, "delivered"), secret="guessed")
    assert deliver(client, "status", params).status_code == 403
    db.session.expire_all()
    assert db.session.get(Message, message.id).status == "sent"


# End to end -----------------------------------------------------------------------------------


def test_a_wave_through_vonage_and_a_yes_through_its_webhook_books_the_place(
    app, world, ctx, run_jobs, vonage_api, client
):
    with english(ctx):
        people = reservists(2, channels="sms")
        request = approved_request(world, days=1, places=1)
    run_jobs()
    db.session.expire_all()
    offers = {o.reservist_id: o for o in offers_of(request.id)}
    assert set(offers) == set(people)
    texts = {r["to"]: r for r in vonage_api.accepted()}
    assert set(texts) == {phone_of(p).lstrip("+") for p in people}

    person = people[0]
    sent = texts[phone_of(person).lstrip("+")]
    code = re.search(r"YES (\w{5})", sent["text"]).group(1)
    assert code == offers[person].code and sent["client-ref"] == f"offer:{offers[person].id}:sms"

    params = signed(inbound_params("0B0000001E2E0001", phone_of(person), f"JA {code}"))
    for _ in range(3):
        assert deliver(client, "inbound", params).status_code == 200
    assert count(Booking, Booking.reservist_id == person) == 1
    run_jobs()
    replies = [r for r in vonage_api.accepted() if r["client-ref"].startswith("reply:")]
    assert len(replies) == 1 and replies[0]["to"] == phone_of(person).lstrip("+")

    message = db.session.scalar(select(Message).where(Message.offer_id == offers[person].id))
    receipt = signed(receipt_params(message.provider_id, "delivered", message.dedupe_key))
    assert deliver(client, "status", receipt).status_code == 200
    db.session.expire_all()
    assert db.session.get(Message, message.id).status == "delivered"


# Configuration -----------------------------------------------------------------------------


def test_vonage_without_credentials_stops_the_start(tmp_path):
    with pytest.raises(ConfigError, match="VONAGE_API_SECRET, VONAGE_SIGNATURE_SECRET"):
        load_config(tmp_path, env={"SMS_BACKEND": "vonage", "VONAGE_API_KEY": "k"})
    keys = {"VONAGE_API_KEY": "k", "VONAGE_API_SECRET": "s", "VONAGE_SIGNATURE_SECRET": "x"}
    with pytest.raises(ConfigError, match="VONAGE_SIGNATURE_METHOD"):
        load_config(tmp_path, env={"SMS_BACKEND": "vonage", "VONAGE_SIGNATURE_METHOD": "md5hash", **keys})
    with pytest.raises(ConfigError, match="SMS_SENDER"):
        load_config(tmp_path, env={"SMS_BACKEND": "vonage", "SMS_SENDER": "Nationale Zorgreserve", **keys})
    config = load_config(tmp_path, env={"SMS_BACKEND": "vonage", **keys})
    assert config["VONAGE_SIGNATURE_METHOD"] == "sha256" and config["VONAGE_API_HOST"] == "rest.nexmo.com"
    assert load_config(tmp_path, env={})["VONAGE_API_KEY"] is None  # other backends need no Vonage keys
