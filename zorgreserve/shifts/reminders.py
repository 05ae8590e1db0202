"""Reminders 24 hours and 2 hours before a shift, by the reservist's channels, each sent once.

Driven from the database by :func:`tick` (cron, every minute): for each approved
booking of an active shift that starts within the window, a :class:`Message`
row is written with the dedupe key ``reminder24:<booking>:<channel>`` (or
``reminder2:...``). The unique key makes writing it twice a no-op, so a tick
that runs twice, or a worker restarted mid-run, queues each reminder once.
The same tick then sends every queued reminder: a sender claims rows with one
conditional update (a claim older than ``CALLUP_CLAIM_STALE_SECONDS`` belongs to
a dead worker and is taken over) and marks each sent after its channel
accepted it; the SMS provider gets the dedupe key as idempotency key.

A booking made less than two hours before its shift gets only the 2-hour
reminder (the confirmation has just told them the rest); a reminder whose
shift has started, been cancelled or whose booking was cancelled meanwhile is
not sent (marked failed with the reason).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.callups.models import Booking, BookingStatus, Message, MessageStatus
from zorgreserve.callups.sending import channels_of
from zorgreserve.db import utcnow
from zorgreserve.deployments.models import DeploymentRequest, Shift, ShiftState
from zorgreserve.notifications.mail import PreparedEmail, public_url_context
from zorgreserve.reservists.models import Reservist

log = logging.getLogger(__name__)

#: Message kind → how long before the start it goes out.
REMINDERS: dict[str, timedelta] = {"reminder24": timedelta(hours=24), "reminder2": timedelta(hours=2)}
#: Bookings that get reminders: confirmed ones (a pending booking has had no confirmation yet).
REMINDED = (BookingStatus.APPROVED.value,)


def due_reminders(now: datetime) -> list[tuple[str, Booking, Reservist, User]]:
    """(kind, booking, reservist, user) of each reminder due now; a 24-hour one is skipped when too late."""
    rows = db.session.execute(
        select(Booking, Reservist, User)
        .join(Shift, Shift.id == Booking.shift_id)
        .join(Reservist, Reservist.id == Booking.reservist_id)
        .join(User, User.id == Reservist.user_id)
        .where(
            Booking.status.in_(REMINDED),
            Shift.state == ShiftState.ACTIVE.value,
            Booking.start_at > now,
            Booking.start_at <= now + REMINDERS["reminder24"],
        )
        .order_by(Booking.start_at, Booking.id)
    ).all()
    due = []
    for booking, reservist, user in rows:
        kind = "reminder2" if booking.start_at <= now + REMINDERS["reminder2"] else "reminder24"
        due.append((kind, booking, reservist, user))
    return due


def queue_due(now: datetime) -> int:
    """Write the message rows of reminders due now that do not exist yet; returns how many."""
    existing_keys: set[str] = set()
    due = due_reminders(now)
    if due:
        existing_keys = set(
            db.session.scalars(
                select(Message.dedupe_key).where(
                    Message.booking_id.in_([b.id for _k, b, _r, _u in due]),
                    Message.kind.in_(list(REMINDERS)),
                )
            )
        )
    new = 0
    for kind, booking, reservist, user in due:
        for channel in channels_of(reservist, user):
            key = f"{kind}:{booking.id}:{channel.value}"
            if key in existing_keys:
                continue
            try:
                with db.session.begin_nested():
                    db.session.add(
                        Message(
                            dedupe_key=key,
                            kind=kind,
                            channel=channel.value,
                            reservist_id=reservist.id,
                            booking_id=booking.id,
                            request_id=db.session.scalar(
                                select(Shift.request_id).where(Shift.id == booking.shift_id)
                            ),
                        )
                    )
                    db.session.flush()
            except IntegrityError:
                continue  # written by a concurrent tick: sent once, by whichever claims it
            new += 1
    return new


def _claim(now: datetime, limit: int = 200) -> list[int]:
    stale = now - timedelta(seconds=current_app.config.get("CALLUP_CLAIM_STALE_SECONDS", 120))
    free = and_(
        Message.kind.in_(list(REMINDERS)),
        Message.status == MessageStatus.QUEUED.value,
        or_(Message.claimed_at.is_(None), Message.claimed_at < stale),
    )
    candidates = list(db.session.scalars(select(Message.id).where(free).order_by(Message.id).limit(limit)))
    if not candidates:
        return []
    claimed = db.session.scalars(
        update(Message)
        .where(Message.id.in_(candidates), free)
        .values(claimed_at=now, attempts=Message.attempts + 1)
        .returning(Message.id)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()  # visible to other senders before anything goes out
    return sorted(claimed)


def _context(message: Message) -> dict[str, Any] | None:
    booking = db.session.get(Booking, message.booking_id) if message.booking_id else None
    if booking is None:
        return None
    shift = db.session.get(Shift, booking.shift_id)
    assert shift is not None
    request = db.session.get(DeploymentRequest, shift.request_id)
    reservist = db.session.get(Reservist, booking.reservist_id)
    return {
        "message": message,
        "booking": booking,
        "shift": shift,
        "request": request,
        "user": reservist.user if reservist is not None else None,
    }


def _still_relevant(ctx: dict[str, Any], now: datetime) -> str | None:
    booking, shift = ctx["booking"], ctx["shift"]
    if booking.status not in REMINDED or shift.state != ShiftState.ACTIVE.value:
        return "booking no longer active"
    if booking.start_at <= now:
        return "shift started"
    return None


def _send_one(message: Message, ctx: dict[str, Any]) -> str | None:
    user = ctx["user"]
    with public_url_context(), force_locale(user.locale or "nl"):
        if message.channel == "sms":
            from zorgreserve.notifications.sms import SmsMessage, get_backend

            body = " ".join(render_template(f"shifts/sms/{message.kind}.txt", **ctx).split())
            return get_backend().send(
                SmsMessage(to=user.phone or "", body=body, idempotency_key=message.dedupe_key)
            )
        subject = render_template(f"shifts/email/{message.kind}.subject.txt", **ctx).strip()
        body = render_template(f"shifts/email/{message.kind}.txt", **ctx)
        PreparedEmail(
            subject=subject,
            body=body,
            from_email=current_app.config["MAIL_DEFAULT_SENDER"],
            to=[user.email],
            headers={"X-Zorgreserve-Message": message.dedupe_key},
        ).send()
        return None


def send_queued(now: datetime) -> int:
    """Send every queued reminder this sender can claim; commits after each. Returns how many went out."""
    max_attempts = current_app.config.get("CALLUP_MESSAGE_MAX_ATTEMPTS", 5)
    sent = 0
    for message_id in _claim(now):
        message = db.session.get(Message, message_id, populate_existing=True)
        assert message is not None
        ctx = _context(message)
        reason = "no recipient" if ctx is None or ctx["user"] is None else _still_relevant(ctx, now)
        if reason:
            message.status, message.error, message.claimed_at = MessageStatus.FAILED.value, reason, None
            db.session.commit()
            continue
        try:
            provider_id = _send_one(message, ctx)  # type: ignore[arg-type]
        except Exception as exc:  # the channel refused or is down: the next tick retries
            log.warning("reminder %s could not be sent: %s", message.id, type(exc).__name__)
            message.claimed_at = None
            message.error = f"{type(exc).__name__}: {str(exc)[:150]}"
            if message.attempts >= max_attempts:
                message.status = MessageStatus.FAILED.value
            db.session.commit()
            continue
        message.status, message.sent_at = MessageStatus.SENT.value, utcnow()
        message.provider_id, message.error = provider_id, None
        db.session.commit()
        sent += 1
    return sent


def tick(now: datetime | None = None) -> int:
    """One run of the reminder clock (cron, every minute): queue what is due, send what is queued."""
    now = now or utcnow()
    queue_due(now)
    db.session.commit()
    return send_queued(now)
