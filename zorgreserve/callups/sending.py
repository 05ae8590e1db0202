"""Handing call-up messages to SMS and e-mail, in batches, never twice.

Writing a :class:`Message` row (unique ``dedupe_key`` such as ``offer:17:sms``) is
the decision to send. A sender then claims a batch of queued rows with one
conditional UPDATE (only rows still queued and unclaimed, or claimed so long
ago that their worker must have died), commits the claim, hands each message
to its channel and marks it sent only after the channel accepted it.

What this guarantees when a worker is killed at any point:

* before the claim commits: nothing happened; the next run claims the rows;
* after the claim, before the channel accepted: the claim goes stale after
  ``CALLUP_CLAIM_STALE_SECONDS`` and the next run sends;
* after the channel accepted, before "sent" was committed: the next run sends
  again with the same idempotency key (the dedupe key), which the SMS provider
  (and the recorder) accept once. Marking commits after every few e-mails to
  keep that window small for e-mail, where SMTP knows no idempotency key (and
  after ``SMS_COMMIT_EVERY`` messages otherwise).

A failing channel (an exception from the backend) releases the claim, records
the error and retries the rest of the wave later with backoff; after
``CALLUP_MESSAGE_MAX_ATTEMPTS`` a message is marked failed and listed for coordinators.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, render_template, url_for
from flask_babel import force_locale
from flask_mailman import EmailMessage
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import selectinload

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.callups.models import (
    OPEN_OFFER,
    Channel,
    Message,
    MessageStatus,
    Offer,
    OfferStatus,
    Wave,
    WaveStatus,
)
from zorgreserve.db import utcnow
from zorgreserve.jobs.services import add_job
from zorgreserve.notifications.mail import public_url_context
from zorgreserve.notifications.sms import SmsMessage, get_backend
from zorgreserve.reservists.models import Reservist

log = logging.getLogger(__name__)

#: Two concatenated GSM-7 segments.
SMS_MAX_CHARS = 306
#: Marking sent commits after this many e-mails (SMTP knows no idempotency key: a crash resends them) ...
COMMIT_EVERY = 25
#: ... or this many messages in all: an SMS resent after a crash carries the same idempotency key,
#: which the provider accepts once, so SMS marks can wait longer (a commit per 25 SMS cost a third
#: of the sending time of a 10,000-offer wave).
SMS_COMMIT_EVERY = 200


def channels_of(reservist: Reservist, user: User | None) -> list[Channel]:
    """The channels a reservist chose that we can reach them on."""
    if user is None:
        return []
    chosen = reservist.channels
    result = []
    if chosen in ("sms", "both") and user.phone:
        result.append(Channel.SMS)
    if chosen in ("email", "both") and user.email:
        result.append(Channel.EMAIL)
    if not result and user.email:
        result.append(Channel.EMAIL)  # SMS chosen but no number: e-mail rather than nothing
    return result


def ensure_offer_messages(wave: Wave) -> int:
    """Write the queued message rows of a wave's offers that do not exist yet; returns how many."""
    rows = db.session.execute(
        select(Offer.id, Offer.reservist_id, Reservist, User)
        .join(Reservist, Reservist.id == Offer.reservist_id)
        .outerjoin(User, User.id == Reservist.user_id)
        .where(Offer.wave_id == wave.id)
    ).all()
    existing = set(
        db.session.scalars(
            select(Message.dedupe_key)
            .join(Offer, Offer.id == Message.offer_id)
            .where(Offer.wave_id == wave.id)
        )
    )
    new = []
    now = utcnow()
    for offer_id, reservist_id, reservist, user in rows:
        for channel in channels_of(reservist, user):
            key = f"offer:{offer_id}:{channel.value}"
            if key not in existing:
                new.append(
                    {
                        "dedupe_key": key,
                        "kind": "offer",
                        "channel": channel.value,
                        "reservist_id": reservist_id,
                        "request_id": wave.request_id,
                        "offer_id": offer_id,
                        "status": MessageStatus.QUEUED.value,
                        "attempts": 0,
                        "created_at": now,
                    }
                )
    if new:
        db.session.execute(Message.__table__.insert(), new)
    return len(new)


class Pacer:
    """Keeps SMS hand-offs of this process under ``SMS_RATE_PER_SECOND`` (0: no limit)."""

    def __init__(self, rate: int) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.next_at = time.monotonic()

    def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        if self.next_at > now:
            time.sleep(self.next_at - now)
        self.next_at = max(self.next_at, now) + self.interval


# Rendering ---------------------------------------------------------------------------


def answer_link(offer: Offer) -> str:
    from zorgreserve.callups.links import make_token

    return url_for("callups.answer", token=make_token(offer), _external=True)


def fit_sms(head: str, tail: str) -> str:
    """``head`` shortened so that ``head + tail`` fits two SMS segments (the tail holds code and link)."""
    room = SMS_MAX_CHARS - len(tail) - 1
    if len(head) > room:
        head = head[: max(room - 3, 0)].rstrip() + "..."
    return f"{head} {tail}"


def _context(message: Message, offer: Offer | None, user: User | None) -> dict[str, Any]:
    context: dict[str, Any] = {
        "message": message,
        "offer": offer,
        "first_name": user.first_name if user else "",
    }
    if offer is not None:
        from zorgreserve.deployments.models import DeploymentRequest, Shift

        request = db.session.get(DeploymentRequest, offer.request_id)
        shift_ids = [s.shift_id for s in offer.shifts]
        shifts = sorted(
            (db.session.get(Shift, shift_id) for shift_id in shift_ids), key=lambda s: (s.start_at, s.id)
        )
        context.update(
            request=request,
            shifts=shifts,
            link=answer_link(offer),
            code=offer.code,
        )
    return context


def render_sms(message: Message, offer: Offer | None, user: User | None = None) -> str:
    context = _context(message, offer, user)
    head = render_template(f"callups/sms/{message.kind}.txt", part="head", **context).strip()
    tail = render_template(f"callups/sms/{message.kind}.txt", part="tail", **context).strip()
    return (
        fit_sms(" ".join(head.split()), " ".join(tail.split()))
        if tail
        else " ".join(head.split())[:SMS_MAX_CHARS]
    )


def render_email(message: Message, offer: Offer | None, user: User | None = None) -> tuple[str, str]:
    context = _context(message, offer, user)
    subject = render_template(f"callups/email/{message.kind}.subject.txt", **context).strip()
    body = render_template(f"callups/email/{message.kind}.txt", **context)
    return subject, body


# Sending -----------------------------------------------------------------------------


@dataclass
class BatchResult:
    sent: int = 0
    failed: int = 0
    claimed: int = 0
    error: str | None = None


def _claim(condition: Any, limit: int, now: datetime) -> list[int]:
    stale = now - timedelta(seconds=current_app.config["CALLUP_CLAIM_STALE_SECONDS"])
    free = and_(
        Message.status == MessageStatus.QUEUED.value,
        or_(Message.claimed_at.is_(None), Message.claimed_at < stale),
    )
    candidates = list(
        db.session.scalars(select(Message.id).where(condition, free).order_by(Message.id).limit(limit))
    )
    if not candidates:
        return []
    claimed = db.session.scalars(
        update(Message)
        .where(Message.id.in_(candidates), free)
        .values(claimed_at=now, attempts=Message.attempts + 1)
        .returning(Message.id)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()  # the claim must be visible to other senders before anything goes out
    return sorted(claimed)


def send_claimed(message_ids: Sequence[int]) -> BatchResult:
    """Hand claimed messages to their channels; mark each sent once accepted. Commits as it goes."""
    result = BatchResult(claimed=len(message_ids))
    if not message_ids:
        return result
    backend = get_backend()
    pacer = Pacer(current_app.config["SMS_RATE_PER_SECOND"])
    max_attempts = current_app.config["CALLUP_MESSAGE_MAX_ATTEMPTS"]
    messages = list(
        db.session.scalars(select(Message).where(Message.id.in_(message_ids)).order_by(Message.id))
    )
    offers = {
        o.id: o
        for o in db.session.scalars(
            select(Offer)
            .where(Offer.id.in_({m.offer_id for m in messages if m.offer_id}))
            .options(selectinload(Offer.shifts))
        )
    }
    users = dict(
        db.session.execute(
            select(Reservist.id, User)
            .join(User, User.id == Reservist.user_id)
            .where(Reservist.id.in_({m.reservist_id for m in messages if m.reservist_id}))
        ).all()
    )
    # The requests and shifts the texts describe, loaded once per batch and held here: the session's
    # identity map keeps objects only while they are referenced, so without this every message's
    # rendering read them again (four queries a message for a request of three shifts).
    _described = _load_described(offers.values())
    done: list[dict[str, Any]] = []
    sent_offers: set[int] = set()
    unmarked_emails = 0

    def flush() -> None:
        if done:
            db.session.execute(update(Message), done)
            done.clear()
        if sent_offers:
            db.session.execute(
                update(Offer)
                .where(Offer.id.in_(sent_offers), Offer.status == OfferStatus.PENDING.value)
                .values(status=OfferStatus.SENT.value, sent_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            sent_offers.clear()
        db.session.commit()

    with public_url_context():
        for message in messages:
            user = users.get(message.reservist_id)
            offer = offers.get(message.offer_id) if message.offer_id else None
            if user is None:
                done.append({"id": message.id, "status": MessageStatus.FAILED.value, "error": "no recipient"})
                result.failed += 1
                continue
            if message.kind == "offer" and offer is not None and offer.status not in OPEN_OFFER:
                # Withdrawn (or answered through another channel) before this message went out.
                done.append({"id": message.id, "status": MessageStatus.FAILED.value, "error": "offer closed"})
                continue
            try:
                with force_locale(user.locale or "nl"):
                    if message.channel == Channel.SMS.value:
                        body = render_sms(message, offer, user)
                        pacer.wait()
                        provider_id = backend.send(
                            SmsMessage(to=user.phone or "", body=body, idempotency_key=message.dedupe_key)
                        )
                    else:
                        subject, body = render_email(message, offer, user)
                        EmailMessage(
                            subject=subject,
                            body=body,
                            from_email=current_app.config["MAIL_DEFAULT_SENDER"],
                            to=[user.email],
                            headers={"X-Zorgreserve-Key": message.dedupe_key},
                        ).send()
                        provider_id = None
            except Exception as exc:  # the channel refused or is down: retry later, never silently
                flush()
                log.warning("message %s could not be sent: %s", message.id, type(exc).__name__)
                failed_for_good = message.attempts >= max_attempts
                db.session.execute(
                    update(Message)
                    .where(Message.id == message.id)
                    .values(
                        claimed_at=None,
                        error=f"{type(exc).__name__}: {str(exc)[:150]}",
                        status=MessageStatus.FAILED.value if failed_for_good else MessageStatus.QUEUED.value,
                    )
                )
                # Release the rest of the batch for the retry.
                rest = [m.id for m in messages if m.id > message.id]
                if rest:
                    db.session.execute(
                        update(Message)
                        .where(Message.id.in_(rest), Message.status == MessageStatus.QUEUED.value)
                        .values(claimed_at=None, attempts=Message.attempts - 1)
                        .execution_options(synchronize_session=False)
                    )
                db.session.commit()
                result.error = type(exc).__name__
                result.failed += int(failed_for_good)
                return result
            done.append(
                {
                    "id": message.id,
                    "status": MessageStatus.SENT.value,
                    "provider_id": provider_id,
                    "sent_at": utcnow(),
                    "error": None,
                }
            )
            if offer is not None and message.kind == "offer":
                sent_offers.add(offer.id)
            result.sent += 1
            unmarked_emails += message.channel == Channel.EMAIL.value
            if unmarked_emails >= COMMIT_EVERY or len(done) >= SMS_COMMIT_EVERY:
                flush()
                unmarked_emails = 0
    flush()
    return result


def _load_described(offers: Iterable[Offer]) -> list[Any]:
    from zorgreserve.deployments.models import DeploymentRequest, Shift

    offers = list(offers)
    request_ids = {o.request_id for o in offers}
    shift_ids = {s.shift_id for o in offers for s in o.shifts}
    loaded: list[Any] = []
    if request_ids:
        loaded += db.session.scalars(select(DeploymentRequest).where(DeploymentRequest.id.in_(request_ids)))
    if shift_ids:
        loaded += db.session.scalars(select(Shift).where(Shift.id.in_(shift_ids)))
    return loaded


def _retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=min(10 * 2 ** max(attempts - 1, 0), 900))


def send_wave(wave_id: int) -> None:
    """Outbox job: send one batch of a wave's messages; schedule the next batch until none is left.

    Safe to run any number of times, at once on several workers: rows are written
    once (dedupe keys) and each message is claimed by exactly one sender.
    """
    wave = db.session.get(Wave, wave_id)
    if wave is None:
        return
    if wave.status == WaveStatus.PLANNED.value:
        ensure_offer_messages(wave)
        db.session.execute(
            update(Wave)
            .where(Wave.id == wave_id, Wave.status == WaveStatus.PLANNED.value)
            .values(status=WaveStatus.SENDING.value)
        )
        db.session.commit()
    condition = Message.offer_id.in_(select(Offer.id).where(Offer.wave_id == wave_id))
    now = utcnow()
    claimed = _claim(condition, current_app.config["CALLUP_BATCH_SIZE"], now)
    result = send_claimed(claimed)
    _follow_up(wave_id, condition, result)


def _follow_up(wave_id: int, condition: Any, result: BatchResult) -> None:
    """Schedule the rest of the wave, or mark it sent when nothing is queued any more."""
    pending = db.session.execute(
        select(Message.claimed_at, Message.attempts)
        .where(condition, Message.status == MessageStatus.QUEUED.value)
        .order_by(Message.claimed_at.desc())
        .limit(1)
    ).first()
    now = utcnow()
    if pending is None:
        db.session.execute(
            update(Wave)
            .where(Wave.id == wave_id, Wave.status == WaveStatus.SENDING.value)
            .values(status=WaveStatus.SENT.value, sent_at=now)
        )
        return
    if result.error:
        due = now + _retry_delay(pending.attempts)
    elif result.claimed:
        due = now
    else:
        # Everything left is claimed by another sender (or a dead one): look again when the claims go stale.
        due = now + timedelta(seconds=current_app.config["CALLUP_CLAIM_STALE_SECONDS"] + 1)
    add_job(
        db.session,
        "callups.send_wave",
        {"wave_id": wave_id},
        queue="messages",
        due_at=due,
        description=f"send call-up wave {wave_id} (next batch)",
    )


def queue_message(
    *,
    kind: str,
    channel: Channel,
    key: str,
    reservist_id: int | None,
    request_id: int | None,
    offer_id: int | None = None,
    booking_id: int | None = None,
) -> Message | None:
    """Write a message row once (a second call with the same key returns ``None``) and a job to send it."""
    existing = db.session.scalar(select(Message.id).where(Message.dedupe_key == key))
    if existing is not None:
        return None
    with db.session.begin_nested():
        message = Message(
            dedupe_key=key,
            kind=kind,
            channel=channel.value,
            reservist_id=reservist_id,
            request_id=request_id,
            offer_id=offer_id,
            booking_id=booking_id,
        )
        db.session.add(message)
        db.session.flush()
    add_job(
        db.session,
        "callups.send_messages",
        {"message_ids": [message.id]},
        queue="messages",
        description=f"send {kind} message",
    )
    return message


def send_messages(message_ids: list[int]) -> None:
    """Outbox job: send single messages (replies, notices); retried by the outbox when a channel fails."""
    claimed = _claim(Message.id.in_(message_ids), len(message_ids), utcnow())
    result = send_claimed(claimed)
    if result.error:
        raise RuntimeError(f"channel failed: {result.error}")  # the outbox retries with backoff


def retry_stuck_messages(now: datetime) -> int:
    """Waves with queued offer messages nobody is working on: give each another job.

    Two cases, both from the database alone (the call-up clock runs this every minute):

    * a sent wave with messages released again (a failed channel's retry whose job was lost);
    * a wave still sending whose sender died: no message of it claimed for
      ``CALLUP_CLAIM_STALE_SECONDS`` and none waiting out a retry backoff. Without this
      the outbox sweeper would restart the dead job only after ``QUEUE_DEFAULT_TIMEOUT``
      plus a minute. A second sender on a live wave would be harmless (claims keep
      every message to one sender), only wasteful.
    """
    stale = now - timedelta(seconds=current_app.config["CALLUP_CLAIM_STALE_SECONDS"])
    free = and_(
        Message.status == MessageStatus.QUEUED.value,
        or_(Message.claimed_at.is_(None), Message.claimed_at < stale),
    )
    waves = db.session.execute(
        select(Offer.wave_id, Wave.status)
        .join(Message, Message.offer_id == Offer.id)
        .join(Wave, Wave.id == Offer.wave_id)
        .where(free, Wave.status.in_([WaveStatus.SENT.value, WaveStatus.SENDING.value]))
        .distinct()
    ).all()
    restarted = 0
    for wave_id, status in waves:
        if status == WaveStatus.SENDING.value:
            of_wave = Message.offer_id.in_(select(Offer.id).where(Offer.wave_id == wave_id))
            latest, backing_off = db.session.execute(
                select(
                    func.max(Message.claimed_at),
                    func.count().filter(
                        Message.status == MessageStatus.QUEUED.value, Message.error.is_not(None)
                    ),
                ).where(of_wave)
            ).one()
            if latest is None or latest >= stale or backing_off:
                continue  # not started yet (its first job is on its way), being sent, or waiting to retry
        db.session.execute(update(Wave).where(Wave.id == wave_id).values(status=WaveStatus.SENDING.value))
        add_job(db.session, "callups.send_wave", {"wave_id": wave_id}, queue="messages")
        restarted += 1
    return restarted
