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
  after ``SMS_COMMIT_EVERY`` messages otherwise). An SMS backend without an
  idempotency key (``idempotent = False``: Vonage) has each mark committed at
  once, and a delivery report of a message still queued marks it instead
  (``callups.delivery``): only a crash (or an answer lost to a timeout) between
  the provider's acceptance and that commit, with no report before the claim
  goes stale, can still send one SMS twice.

A backend raising ``SmsRejected`` (an invalid or barred number) fails that
message at once and goes on with the batch.

A failing channel (an exception from the backend) releases the claim, records
the error and retries the rest of the wave later with backoff; after
``CALLUP_MESSAGE_MAX_ATTEMPTS`` a message is marked failed and listed for coordinators.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, render_template, url_for
from flask_babel import force_locale
from sqlalchemy import String, and_, cast, func, literal, or_, select, update
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
from zorgreserve.notifications.mail import PreparedEmail, public_url_context
from zorgreserve.notifications.sms import SmsMessage, SmsRejected, get_backend
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
    return _channels(reservist.channels, user.phone, user.email)


def _channels(chosen: str | None, phone: str | None, email: str | None) -> list[Channel]:
    result = []
    if chosen in ("sms", "both") and phone:
        result.append(Channel.SMS)
    if chosen in ("email", "both") and email:
        result.append(Channel.EMAIL)
    if not result and email:
        result.append(Channel.EMAIL)  # SMS chosen but no number: e-mail rather than nothing
    return result


def ensure_offer_messages(wave: Wave) -> int:
    """Write the queued message rows of a wave's offers that do not exist yet; returns how many.

    Two ``INSERT ... SELECT`` statements (one per channel) that skip existing dedupe keys: the
    database builds the rows from the offers, so a wave of 10,000 offers costs two statements
    instead of 20,000 rows sent over. The channel rule is :func:`_channels` in SQL.
    """
    chosen = func.coalesce(Reservist.channels, "")
    has_phone = and_(User.phone.is_not(None), User.phone != "")
    has_email = and_(User.email.is_not(None), User.email != "")
    sms = and_(chosen.in_(("sms", "both")), has_phone)
    by_channel = {
        Channel.SMS: sms,
        # Chosen, or the fallback when SMS was chosen but there is no number (e-mail rather than nothing).
        Channel.EMAIL: and_(has_email, or_(chosen.in_(("email", "both")), ~sms)),
    }
    now = utcnow()
    written = 0
    for channel, condition in by_channel.items():
        rows = (
            select(
                literal("offer:") + cast(Offer.id, String) + literal(f":{channel.value}"),
                literal("offer"),
                literal(channel.value),
                Offer.reservist_id,
                Offer.request_id,
                Offer.id,
                Offer.wave_id,
                literal(MessageStatus.QUEUED.value),
                literal(0),
                literal(now, type_=Message.created_at.type),
            )
            .join(Reservist, Reservist.id == Offer.reservist_id)
            .join(User, User.id == Reservist.user_id)
            .where(Offer.wave_id == wave.id, condition)
        )
        columns = ["dedupe_key", "kind", "channel", "reservist_id", "request_id", "offer_id", "wave_id"]
        statement = (
            db.insert_ignoring_duplicates(db.session, Message.__table__)
            .from_select([*columns, "status", "attempts", "created_at"], rows)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(Message.id)
        )
        written += len(db.session.execute(statement).all())
    return written


class Pacer:
    """At most ``rate`` SMS hand-offs in any one-second window (``rate`` 0: no limit).

    A sliding window rather than a fixed rhythm: a strict slot every ``1/rate`` s
    loses every slot missed while the process is off the CPU (or between batches),
    and on a busy machine that cost a quarter of the provider-bound time. Here the
    sender catches up after a pause, in a burst of at most what the last second
    left free, and never hands over more than ``rate`` in any one second.
    ``recent`` seeds the window with the monotonic times of SMS already handed over
    in the last second (by the previous batch, or another sender), so the limit
    also holds across batches.
    """

    #: Waiting a little past the window's edge keeps a clock that stamps a moment later
    #: (the provider's) under the limit too.
    MARGIN = 0.002

    def __init__(self, rate: int, recent: Iterable[float] = ()) -> None:
        self.rate = max(rate, 0)
        self.window: deque[float] = deque(sorted(recent)[-self.rate :] if self.rate else ())

    def wait(self) -> None:
        if not self.rate:
            return
        window = self.window
        while True:
            now = time.monotonic()
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) < self.rate:
                break
            time.sleep(window[0] + 1.0 + self.MARGIN - now)
        window.append(time.monotonic())


def _recent_sms(rate: int) -> list[float]:
    """Monotonic times of the SMS marked sent in the last second (seed of :class:`Pacer`)."""
    if not rate:
        return []
    now_utc, now_mono = utcnow(), time.monotonic()
    sent = db.session.scalars(
        select(Message.sent_at)
        .where(Message.channel == Channel.SMS.value, Message.sent_at >= now_utc - timedelta(seconds=1))
        .order_by(Message.sent_at.desc())
        .limit(rate)
    ).all()
    return [now_mono - (now_utc - at).total_seconds() for at in sent if at is not None]


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


class OfferTexts:
    """Offer texts rendered once per locale, request, shift set and expiry, then personalised.

    In a wave every offer of a request describes the same shifts, so rendering the
    templates (two for an SMS, two for an e-mail, with Babel's date formatting) for each
    message was most of the sending time. Here they are rendered once with markers
    for what differs per message — first name, code and answer link — and the markers
    replaced. The answer link is built once with a marker for its token as well. A text
    in which a marker did not come through unchanged (a template applying a filter to
    the name, say) is rendered per message as before.
    """

    NAME, CODE, LINK, TOKEN = "\x00name\x00", "\x00code\x00", "\x00link\x00", "ZRTOKENMARKER"

    def __init__(self) -> None:
        self._texts: dict[tuple[Any, ...], tuple[str, ...] | None] = {}
        self._link: str | None = None
        self._links: dict[int, str] = {}

    def link(self, offer: Offer) -> str:
        """The offer's answer link, signed once per offer (its SMS and e-mail carry the same link)."""
        from zorgreserve.callups.links import make_token

        if offer.id not in self._links:
            if self._link is None:
                self._link = url_for("callups.answer", token=self.TOKEN, _external=True)
            self._links[offer.id] = self._link.replace(self.TOKEN, make_token(offer))
        return self._links[offer.id]

    def _fill(self, text: str, offer: Offer, user: User) -> str:
        text = text.replace(self.NAME, user.first_name or "").replace(self.CODE, offer.code)
        return text.replace(self.LINK, self.link(offer)) if self.LINK in text else text

    def _templates(self, message: Message, offer: Offer, locale: str) -> tuple[str, ...] | None:
        key = (message.kind, message.channel, locale, offer.request_id, offer.expires_at, _shift_ids(offer))
        if key not in self._texts:
            context = _context(message, offer, None) | {
                "first_name": self.NAME,
                "code": self.CODE,
                "link": self.LINK,
            }
            if message.channel == Channel.SMS.value:
                texts: tuple[str, ...] = tuple(
                    render_template(f"callups/sms/{message.kind}.txt", part=part, **context)
                    for part in ("head", "tail")
                )
            else:
                texts = (
                    render_template(f"callups/email/{message.kind}.subject.txt", **context),
                    render_template(f"callups/email/{message.kind}.txt", **context),
                )
            markers_intact = all(
                text.count("\x00") == 2 * sum(text.count(m) for m in (self.NAME, self.CODE, self.LINK))
                for text in texts
            )
            self._texts[key] = texts if markers_intact else None
        return self._texts[key]

    def sms(self, message: Message, offer: Offer, user: User) -> str:
        texts = self._templates(message, offer, user.locale or "nl")
        if texts is None:
            return render_sms(message, offer, user)
        head, tail = (" ".join(self._fill(text, offer, user).split()) for text in texts)
        return fit_sms(head, tail) if tail else head[:SMS_MAX_CHARS]

    def email(self, message: Message, offer: Offer, user: User) -> tuple[str, str]:
        texts = self._templates(message, offer, user.locale or "nl")
        if texts is None:
            return render_email(message, offer, user)
        subject, body = (self._fill(text, offer, user) for text in texts)
        return subject.strip(), body


def _shift_ids(offer: Offer) -> tuple[int, ...]:
    return tuple(sorted(s.shift_id for s in offer.shifts))


# Sending -----------------------------------------------------------------------------


@dataclass
class BatchResult:
    sent: int = 0
    failed: int = 0
    claimed: int = 0
    error: str | None = None
    #: Attempts of the message whose channel failed (the backoff grows with them).
    attempts: int = 0


def _claim(condition: Any, limit: int, now: datetime) -> list[int]:
    stale = now - timedelta(seconds=current_app.config["CALLUP_CLAIM_STALE_SECONDS"])
    free = and_(
        Message.status == MessageStatus.QUEUED.value,
        or_(Message.claimed_at.is_(None), Message.claimed_at < stale),
    )
    # SKIP LOCKED: rows another sender is claiming at this moment are passed over, not waited for
    # (waiting, this sender would find them all claimed when the other commits, and stop).
    candidates = list(
        db.session.scalars(
            select(Message.id)
            .where(condition, free)
            .order_by(Message.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
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
    # A provider without an idempotency key (Vonage) would deliver a resent SMS twice: mark each at once.
    sms_marks_wait = getattr(backend, "idempotent", True)
    max_attempts = current_app.config["CALLUP_MESSAGE_MAX_ATTEMPTS"]
    messages = list(
        db.session.scalars(select(Message).where(Message.id.in_(message_ids)).order_by(Message.id))
    )
    rate = current_app.config["SMS_RATE_PER_SECOND"]
    has_sms = any(m.channel == Channel.SMS.value for m in messages)
    pacer = Pacer(rate, _recent_sms(rate) if has_sms else ())
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
    texts = OfferTexts()
    connections: list[Any] = []
    closing = ExitStack()

    def mail_connection() -> Any:
        """One connection for the batch's e-mails (a new SMTP session per message was the default)."""
        if not connections:
            connections.append(current_app.extensions["mailman"].get_connection())
            connections[0].open()
            closing.callback(connections[0].close)
        return connections[0]

    done: list[dict[str, Any]] = []
    by_id = {m.id: m for m in messages}
    sent_offers: set[int] = set()
    unmarked_emails = 0

    def flush() -> None:
        if done:
            # Only rows still queued: a provider's delivery report may have moved one on already
            # (callups.delivery), and a delivered message never goes back to sent.
            db.session.execute(
                update(Message)
                .where(Message.status == MessageStatus.QUEUED.value)
                .execution_options(synchronize_session=None),
                done,
            )
            for row in done:
                db.session.expire(by_id[row["id"]], [key for key in row if key != "id"])
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

    with public_url_context(), closing:
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
            cached = offer is not None and message.kind == "offer"
            try:
                with force_locale(user.locale or "nl"):
                    if message.channel == Channel.SMS.value:
                        body = texts.sms(message, offer, user) if cached else render_sms(message, offer, user)
                        pacer.wait()
                        provider_id = backend.send(
                            SmsMessage(to=user.phone or "", body=body, idempotency_key=message.dedupe_key)
                        )
                    else:
                        subject, body = (
                            texts.email(message, offer, user)
                            if cached
                            else render_email(message, offer, user)
                        )
                        PreparedEmail(
                            connection=mail_connection(),
                            subject=subject,
                            body=body,
                            from_email=current_app.config["MAIL_DEFAULT_SENDER"],
                            to=[user.email],
                            headers={"X-Zorgreserve-Key": message.dedupe_key},
                        ).send()
                        provider_id = None
            except SmsRejected as exc:  # refused for good (invalid or barred number): failed now, no retry
                log.warning("message %s refused by the SMS provider: %s", message.id, exc)
                done.append(
                    {
                        "id": message.id,
                        "status": MessageStatus.FAILED.value,
                        "error": f"SmsRejected: {exc}"[:200],
                    }
                )
                result.failed += 1
                continue
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
                result.attempts = message.attempts
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
            if (
                unmarked_emails >= COMMIT_EVERY
                or len(done) >= SMS_COMMIT_EVERY
                or (message.channel == Channel.SMS.value and not sms_marks_wait)
            ):
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


def send_wave(wave_id: int, channel: str | None = None) -> None:
    """Outbox job: send one batch of a wave's messages; schedule the next batch until none is left.

    Safe to run any number of times, at once on several workers: rows are written
    once (dedupe keys) and each message is claimed by exactly one sender. When the
    wave starts, ``CALLUP_SENDERS`` chains of these jobs are started, so that as many
    worker processes send it side by side (one process uses one core; a wave of
    10,000 offers needs more than one core to go out within seconds). With a
    provider rate limit (``SMS_RATE_PER_SECOND``) the extra chains send e-mail only
    (``channel="email"``): one sender paces the SMS, so the limit holds without the
    senders having to share a clock.
    """
    wave = db.session.get(Wave, wave_id)
    if wave is None:
        return
    if wave.status == WaveStatus.PLANNED.value:
        ensure_offer_messages(wave)
        started = db.session.execute(
            update(Wave)
            .where(Wave.id == wave_id, Wave.status == WaveStatus.PLANNED.value)
            .values(status=WaveStatus.SENDING.value)
        ).rowcount
        helpers = max(current_app.config["CALLUP_SENDERS"], 1) - 1 if started else 0
        helper_channel = Channel.EMAIL.value if current_app.config["SMS_RATE_PER_SECOND"] else None
        for _ in range(helpers):
            add_job(
                db.session,
                "callups.send_wave",
                {"wave_id": wave_id, "channel": helper_channel},
                queue="messages",
                description=f"send call-up wave {wave_id} (another sender)",
            )
        db.session.commit()
    condition = Message.wave_id == wave_id
    if channel is not None:
        condition = and_(condition, Message.channel == channel)
    claimed = _claim(condition, current_app.config["CALLUP_BATCH_SIZE"], utcnow())
    result = send_claimed(claimed)
    _follow_up(wave_id, channel, result)


def _follow_up(wave_id: int, channel: str | None, result: BatchResult) -> None:
    """Continue this chain while its messages are queued; mark the wave sent when none of it is."""
    queued = Message.status == MessageStatus.QUEUED.value
    of_wave = Message.wave_id == wave_id
    mine = and_(of_wave, queued) if channel is None else and_(of_wave, queued, Message.channel == channel)
    now = utcnow()
    if db.session.scalar(select(Message.id).where(mine).limit(1)) is None:
        if channel is None or db.session.scalar(select(Message.id).where(of_wave, queued).limit(1)) is None:
            db.session.execute(
                update(Wave)
                .where(Wave.id == wave_id, Wave.status == WaveStatus.SENDING.value)
                .values(status=WaveStatus.SENT.value, sent_at=now)
            )
        return
    if result.error:
        due = now + _retry_delay(result.attempts)
    elif result.claimed:
        due = now
    else:
        # Everything left is claimed by another sender (or a dead one): look again when the claims go stale.
        due = now + timedelta(seconds=current_app.config["CALLUP_CLAIM_STALE_SECONDS"] + 1)
    add_job(
        db.session,
        "callups.send_wave",
        {"wave_id": wave_id, "channel": channel},
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
        select(Message.wave_id, Wave.status)
        .join(Wave, Wave.id == Message.wave_id)
        .where(free, Wave.status.in_([WaveStatus.SENT.value, WaveStatus.SENDING.value]))
        .distinct()
    ).all()
    restarted = 0
    for wave_id, status in waves:
        if status == WaveStatus.SENDING.value:
            of_wave = Message.wave_id == wave_id
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
