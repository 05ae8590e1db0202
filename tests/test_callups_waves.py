"""Call-up waves: the first wave from matching, sending in batches, and a sender killed mid-wave."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.callups_support import approved_request, messages_of, offers_of, reservists, waves_of
from tests.deployments_support import in_english_fixture, world_fixture  # noqa: F401
from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.callups import sending
from zorgreserve.callups.models import Message, OfferShift, Wave
from zorgreserve.callups.waves import CODE_ALPHABET, Step, create_wave, start_callups
from zorgreserve.db import utcnow
from zorgreserve.deployments import handoff
from zorgreserve.matching.engine import ProposedOffer, WaveProposal
from zorgreserve.notifications.sms import recorder
from zorgreserve.reference.models import Reach
from zorgreserve.reservists.models import Reservist


@pytest.fixture(autouse=True)
def _clear_recorder():
    recorder().messages.clear()
    yield
    recorder().messages.clear()


@pytest.fixture
def config(app):
    saved = dict(app.config)
    yield app.config
    app.config.clear()
    app.config.update(saved)


def sms_by_key() -> Counter:
    return Counter(m.idempotency_key for m in recorder().messages)


def test_approving_a_request_sends_wave_one_through_the_reservists_channels(app, w, run_jobs, mail_outbox):
    people = reservists(4)
    request = approved_request(w, days=2, places=1)
    run_jobs()
    db.session.expire_all()

    [wave] = waves_of(request.id)
    assert wave.number == 1 and wave.status == "sent"
    offers = offers_of(request.id)
    assert {o.reservist_id for o in offers} <= set(people) and len(offers) >= 2
    for offer in offers:
        assert offer.status == "sent"
        assert len(offer.code) == 5 and set(offer.code) <= set(CODE_ALPHABET)
        assert offer.expires_at > utcnow() + timedelta(minutes=4)
        assert db.session.scalars(select(OfferShift).where(OfferShift.offer_id == offer.id)).all()
    assert len({o.code for o in offers}) == len(offers)
    # One SMS and one e-mail per offer, each carrying the code and the answer link.
    assert len(recorder().messages) == len(offers)
    assert len([mail for mail in mail_outbox if "/o/" in mail.body]) == len(offers)
    for offer in offers:
        [sms] = [m for m in recorder().messages if m.idempotency_key == f"offer:{offer.id}:sms"]
        assert len(sms.body) <= sending.SMS_MAX_CHARS
        assert f"YES {offer.code}" in sms.body and "http://zorgreserve.test/o/" in sms.body
    assert any("/o/" in mail.body and "Shifts:" in mail.body for mail in mail_outbox)
    assert all(m.status == "sent" for m in messages_of(request.id))


def test_starting_twice_makes_one_wave(app, w, run_jobs):
    reservists(3)
    request = approved_request(w)
    run_jobs()
    first = waves_of(request.id)
    with app.test_request_context():
        again = start_callups(request.id)
        db.session.commit()
    assert [w.id for w in waves_of(request.id)] == [w.id for w in first] == [again.id]
    run_jobs()
    assert Counter(sms_by_key()).most_common(1)[0][1] == 1


def test_a_wave_from_a_hand_made_proposal_skips_people_offered_before(app, w):
    people = reservists(3)
    request = approved_request(w)
    shift_id = request.active_shifts[0].id
    now = utcnow()

    def proposal(ids):
        return WaveProposal(
            request_id=request.id,
            offers=tuple(ProposedOffer(rid, (shift_id,), 1.0, {"distance": 1.0}) for rid in ids),
            open_places={shift_id: 1},
        )

    step = Step(3, Reach.OWN_REGION, None)
    first = create_wave(request, proposal(people[:2]), step, now=now)
    second = create_wave(request, proposal(people), step, now=now)
    assert first.number == 1 and second.number == 2
    assert [o.reservist_id for o in second.offers] == [people[2]]
    assert create_wave(request, proposal(people), step, now=now) is None
    db.session.expire_all()
    assert db.session.get(type(request.active_shifts[0]), shift_id).offered == 3  # offers out, counted


def test_sending_goes_in_batches_and_reaches_everyone_once(app, w, run_jobs, config):
    config["CALLUP_BATCH_SIZE"] = 2
    reservists(7, channels="sms")
    request = approved_request(w, days=3, places=2)
    run_jobs()
    db.session.expire_all()
    offers = offers_of(request.id)
    assert len(offers) >= 5
    assert sorted(sms_by_key()) == sorted(f"offer:{o.id}:sms" for o in offers)
    assert set(sms_by_key().values()) == {1}
    [wave] = waves_of(request.id)
    assert wave.status == "sent"
    from zorgreserve.jobs.models import OutboxJob

    send_jobs = db.session.scalars(select(OutboxJob).where(OutboxJob.job == "callups.send_wave")).all()
    assert len(send_jobs) >= len(offers) // 2  # one job per batch, not per message


class Killed(BaseException):
    """Stands for SIGKILL: nothing in the sender may catch it."""


def test_a_sender_killed_mid_wave_is_finished_by_the_next_without_doubles(
    app, w, run_jobs, config, monkeypatch
):
    reservists(6, channels="sms")
    config["INPROCESS_WORKER"] = False
    request = approved_request(w, days=3, places=2)
    # Run the hand-off only (wave written, its send job queued), then kill the sender after 3 messages.
    real_send = recorder().send
    calls = {"n": 0}

    def dying_send(message):
        calls["n"] += 1
        if calls["n"] == 4:
            raise Killed()
        return real_send(message)

    monkeypatch.setattr(recorder(), "send", dying_send)
    with pytest.raises(Killed), app.app_context():
        from zorgreserve.deployments.handoff import request_opened

        request_opened(request.id)
        db.session.commit()
        wave = waves_of(request.id)[0]
        sending.send_wave(wave.id)
    db.session.rollback()
    monkeypatch.setattr(recorder(), "send", real_send)
    wave = waves_of(request.id)[0]
    assert db.session.get(Wave, wave.id).status == "sending"
    assert len(recorder().messages) == 3

    config["CALLUP_CLAIM_STALE_SECONDS"] = 0  # the dead sender's claims count as abandoned at once
    time.sleep(0.01)
    with app.app_context():
        sending.send_wave(wave.id)
        db.session.commit()
    db.session.expire_all()
    offers = offers_of(request.id)
    assert sorted(sms_by_key()) == sorted(f"offer:{o.id}:sms" for o in offers)
    assert set(sms_by_key().values()) == {1}
    assert Counter(m.dedupe_key for m in messages_of(request.id)).most_common(1)[0][1] == 1
    assert all(m.status == "sent" for m in messages_of(request.id))
    assert db.session.get(Wave, wave.id).status == "sent"


def test_a_failing_provider_is_retried_later_and_the_error_recorded(app, w, config, monkeypatch):
    reservists(2, channels="sms")
    request = approved_request(w)
    real_send = recorder().send

    def down(message):
        raise ConnectionError("provider down")

    monkeypatch.setattr(recorder(), "send", down)
    with app.app_context():
        from zorgreserve.deployments.handoff import request_opened

        request_opened(request.id)
        db.session.commit()
        wave = waves_of(request.id)[0]
        sending.send_wave(wave.id)
        db.session.commit()
    db.session.expire_all()
    queued = [m for m in messages_of(request.id) if m.status == "queued"]
    assert queued and any("provider down" in (m.error or "") for m in queued)
    assert recorder().messages == []

    monkeypatch.setattr(recorder(), "send", real_send)
    with app.app_context():
        sending.send_wave(wave.id)
        db.session.commit()
    db.session.expire_all()
    assert all(m.status == "sent" for m in messages_of(request.id))
    assert set(sms_by_key().values()) == {1}


def test_the_sender_keeps_to_the_provider_rate(app, w, config, monkeypatch):
    reservists(6, channels="sms")
    request = approved_request(w, days=3, places=2)
    config["SMS_RATE_PER_SECOND"] = 4
    handed: list[float] = []
    backend = recorder()

    class Timed:
        def send(self, message):
            handed.append(time.monotonic())
            return backend.send(message)

    monkeypatch.setattr(sending, "get_backend", Timed)
    with app.app_context():
        from zorgreserve.deployments.handoff import request_opened

        request_opened(request.id)
        db.session.commit()
        wave = waves_of(request.id)[0]
        sending.send_wave(wave.id)
        db.session.commit()
    assert len(recorder().messages) == len(handed) == 6
    # Never more than 4 handed over within any one second: the last 2 wait for the first ones.
    assert max(sum(1 for u in handed if t - 1.0 < u <= t) for t in handed) <= 4
    assert handed[-1] - handed[0] >= 1.0


def test_an_sms_fits_two_segments_whatever_the_names():
    head = "Zorgreserve call-up: " + "Intensive Care " * 40
    tail = "Reply YES K7P2Q or NO K7P2Q, or answer at https://zorgreserve.example/o/" + "x" * 60
    body = sending.fit_sms(head, tail)
    assert len(body) <= sending.SMS_MAX_CHARS and body.endswith(tail)


def test_message_rows_are_unique_per_offer_and_channel(app, w, run_jobs):
    reservists(2)
    request = approved_request(w)
    run_jobs()
    wave = waves_of(request.id)[0]
    with app.app_context():
        assert sending.ensure_offer_messages(db.session.get(Wave, wave.id)) == 0
    keys = [m.dedupe_key for m in db.session.scalars(select(Message))]
    assert len(keys) == len(set(keys))


def test_texts_rendered_once_per_wave_read_exactly_as_rendered_per_message(app, w, run_jobs, monkeypatch):
    from flask_babel import force_locale

    from zorgreserve.accounts.models import User
    from zorgreserve.callups import links
    from zorgreserve.callups.models import Offer
    from zorgreserve.notifications.mail import public_url_context
    from zorgreserve.reservists.models import Reservist

    people = reservists(2, locale="en") + reservists(2, locale="nl")
    for reservist_id, name in zip(people, ["Anne-Marie", "Ömer", "Jan", "Zoë"], strict=True):
        db.session.get(User, db.session.get(Reservist, reservist_id).user_id).first_name = name
    db.session.commit()
    request = approved_request(w, days=3, places=2)
    run_jobs()
    monkeypatch.setattr(links, "make_token", lambda offer: f"token-{offer.id}-{offer.code}")
    messages = messages_of(request.id)
    assert {m.channel for m in messages} == {"sms", "email"}
    with app.test_request_context(), public_url_context():
        texts = sending.OfferTexts()
        for message in messages:
            offer = db.session.get(Offer, message.offer_id)
            user = db.session.get(User, db.session.get(Reservist, message.reservist_id).user_id)
            with force_locale(user.locale):
                if message.channel == "sms":
                    body = texts.sms(message, offer, user)
                    assert body == sending.render_sms(message, offer, user)
                    assert offer.code in body and f"token-{offer.id}-" in body
                else:
                    subject, body = texts.email(message, offer, user)
                    assert (subject, body) == sending.render_email(message, offer, user)
                    assert user.first_name in body and offer.code in body


def test_a_dutch_call_up_subject_reaches_the_mail_client_intact(app, w, run_jobs, mail_outbox):
    """The subject is encoded once per wave; a mail client must still read "vóór" as written."""
    from email import message_from_bytes
    from email.policy import default as default_policy

    people = reservists(2)
    for reservist_id in people:
        reservist = db.session.get(Reservist, reservist_id)
        db.session.get(User, reservist.user_id).locale = "nl"
    db.session.commit()
    approved_request(w, days=1, places=1)
    run_jobs()
    offers = [mail for mail in mail_outbox if "/o/" in mail.body]
    assert offers
    for mail in offers:
        assert "vóór" in mail.subject
        parsed = message_from_bytes(mail.message().as_bytes(), policy=default_policy)
        assert parsed["Subject"].strip() == mail.subject
        assert parsed.get_content().strip() == mail.body.strip()


def test_a_wave_starts_one_sender_chain_per_configured_sender(app, w, run_jobs, config, mail_outbox):
    """Several worker processes send one wave side by side; each message still goes out once."""
    from zorgreserve.jobs.models import OutboxJob

    config["CALLUP_SENDERS"] = 3
    config["CALLUP_BATCH_SIZE"] = 2
    reservists(7)
    request = approved_request(w, days=2, places=2)
    run_jobs()
    db.session.expire_all()
    [wave] = waves_of(request.id)
    assert wave.status == "sent"
    helpers = [
        job
        for job in db.session.scalars(select(OutboxJob).where(OutboxJob.job == "callups.send_wave"))
        if job.description.endswith("(another sender)")
    ]
    assert len(helpers) == 2 and all(job.args["channel"] is None for job in helpers)
    offers = offers_of(request.id)
    assert set(sms_by_key().values()) == {1} and len(sms_by_key()) == len(offers)
    keys = Counter(mail.extra_headers["X-Zorgreserve-Key"] for mail in mail_outbox if "/o/" in mail.body)
    assert set(keys.values()) == {1} and len(keys) == len(offers)


def test_with_a_provider_rate_only_one_chain_sends_sms(app, w, config):
    """Extra senders take e-mail only, so a single sender paces the SMS and the limit holds."""
    config["CALLUP_SENDERS"] = 2
    config["SMS_RATE_PER_SECOND"] = 1000
    reservists(4)
    request = approved_request(w, days=1, places=2)
    with app.test_request_context():
        handoff.request_opened(request.id)  # writes wave 1 and queues its first sender
        db.session.commit()
    [wave] = waves_of(request.id)
    with app.app_context():
        sending.send_wave(wave.id, channel="email")  # a helper chain running first
        db.session.commit()
    db.session.expire_all()
    by_channel = Counter((m.channel, m.status) for m in messages_of(request.id))
    offers = len(offers_of(request.id))
    assert by_channel == {("email", "sent"): offers, ("sms", "queued"): offers}
    assert recorder().messages == [] and db.session.get(Wave, wave.id).status == "sending"
    with app.app_context():
        sending.send_wave(wave.id)  # the lead chain: the SMS, and the wave is done
        db.session.commit()
    db.session.expire_all()
    assert len(recorder().messages) == offers
    assert db.session.get(Wave, wave.id).status == "sent"


def test_message_rows_follow_each_reservists_channel_choice(app, w):
    """Rows written in SQL follow the rule of ``channels_of``: the chosen channels, e-mail as fallback."""
    choices = [(channels, phone) for channels in ("sms", "email", "both") for phone in (True, False)]
    people = [reservists(1, channels=channels, phone=phone)[0] for channels, phone in choices]
    request = approved_request(w, days=1, places=1)
    shift_id = request.active_shifts[0].id
    proposal = WaveProposal(
        request_id=request.id,
        offers=tuple(ProposedOffer(p, (shift_id,), 1.0, {"distance": 1.0}) for p in people),
        open_places={shift_id: 1},
    )
    with app.test_request_context():
        wave = create_wave(request, proposal, Step(9, Reach.OWN_REGION, None), now=utcnow())
        written = sending.ensure_offer_messages(wave)
        again = sending.ensure_offer_messages(wave)
        db.session.commit()
    rows = {(m.reservist_id, m.channel) for m in messages_of(request.id)}
    expected = set()
    for reservist_id in people:
        reservist = db.session.get(Reservist, reservist_id)
        for channel in sending.channels_of(reservist, db.session.get(User, reservist.user_id)):
            expected.add((reservist_id, channel.value))
    assert rows == expected and written == len(expected) and again == 0
    # SMS-only without a number still hears by e-mail; nobody is left without a channel.
    assert {r for r, _ in rows} == set(people)
