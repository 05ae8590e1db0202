"""Messages about bookings: the confirmation (e-mail with an iCalendar file, and SMS), stand-by and rejection.

Writing a :class:`Message` row is the decision to send; its ``dedupe_key``
(``confirmation:<booking>:email`` ...) is unique, so approving twice, or a
booking transaction retried, queues nothing new. The outbox job
``callups.booking_messages`` then sends every listed message that is still
``queued`` and marks it sent, so running the job twice sends once. The SMS
provider gets the dedupe key as its idempotency key, so even a crash between
the provider's acceptance and the commit does not reach the phone twice.

Kinds handled here (and only here): ``confirmation``, ``standby``, ``rejected``, and
``booking_cancelled`` / ``booking_released`` (the institution cancelled the shift or
lowered its places; written by :mod:`zorgreserve.callups.changes`).
Texts are templates in ``templates/callups/email/confirmation*.txt`` and
``templates/callups/sms/confirmation*.txt``, rendered in the reservist's language.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, render_template
from flask_babel import force_locale
from icalendar import Calendar, Event
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from zorgreserve import db
from zorgreserve.callups.models import Booking, Channel, Message, MessageStatus, Offer
from zorgreserve.db import utcnow
from zorgreserve.deployments.models import DeploymentRequest, Shift
from zorgreserve.notifications.mail import PreparedEmail, public_url_context
from zorgreserve.reservists.models import Reservist

log = logging.getLogger(__name__)

#: Message kind → template name under templates/callups/{email,sms}/.
TEMPLATES = {
    "confirmation": "confirmation",
    "standby": "confirmation_standby",
    "rejected": "confirmation_rejected",
    "booking_cancelled": "booking_cancelled",
    "booking_released": "booking_released",
    "booking_no_show": "booking_no_show",
}


def _channels(reservist: Reservist, kind: str) -> list[str]:
    """E-mail always carries a confirmation (it holds the calendar file); SMS where the reservist chose it."""
    user = reservist.user
    if user is None:
        return []
    chosen = reservist.channels or "both"
    channels = []
    if user.email and (kind == "confirmation" or chosen in ("email", "both")):
        channels.append(Channel.EMAIL.value)
    if user.phone and chosen in ("sms", "both"):
        channels.append(Channel.SMS.value)
    return channels


def queue_messages(
    session: Session,
    reservist: Reservist,
    kind: str,
    key: str,
    *,
    request_id: int | None,
    booking_id: int | None = None,
) -> list[int]:
    """Write one queued message per channel for ``key``; returns the ids of those new now.

    ``offer_id`` stays empty on these rows on purpose: the wave sender claims a
    wave's messages by offer, and these are not offers (the stand-by message
    finds its offer through its key, ``standby:<offer id>``).
    """
    rows = [
        {
            "dedupe_key": f"{key}:{channel}",
            "kind": kind,
            "channel": channel,
            "reservist_id": reservist.id,
            "request_id": request_id,
            "booking_id": booking_id,
            "status": MessageStatus.QUEUED.value,
            "attempts": 0,
            "created_at": utcnow(),
        }
        for channel in _channels(reservist, kind)
    ]
    if not rows:
        return []
    # One statement; a key written before (or by a concurrent run, which then sends it) is skipped.
    statement = (
        db.insert_ignoring_duplicates(session, Message.__table__)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(Message.id)
    )
    return sorted(session.scalars(statement))


def send_standby_messages(offer_id: int) -> int:
    """Outbox job ``callups.standby_messages``: tell an offer's holder they are on the stand-by list.

    Written by the job, not by the accept that put them there (the burst of answers to a
    wave is the moment to do least). Writing is idempotent by dedupe key and sending
    takes only messages still queued, so a second run, or a run after a crash between
    the two steps, sends each message once.
    """
    session = db.session
    offer = session.get(Offer, offer_id)
    if offer is None:
        return 0
    reservist = session.get(Reservist, offer.reservist_id)
    if reservist is None:
        return 0
    key = f"standby:{offer.id}"
    queue_messages(session, reservist, "standby", key, request_id=offer.request_id)
    session.commit()
    waiting = session.scalars(
        select(Message.id).where(
            Message.dedupe_key.in_([f"{key}:{channel}" for channel in Channel]),
            Message.status == MessageStatus.QUEUED.value,
        )
    ).all()
    return send_messages(list(waiting))


# iCalendar -----------------------------------------------------------------------------------


def calendar_uid(booking_id: int) -> str:
    """Stable per booking, so an updated or repeated invitation replaces the event instead of adding one."""
    host = urlsplit(current_app.config.get("PUBLIC_URL") or "http://zorgreserve.invalid").hostname
    return f"booking-{booking_id}@{host or 'zorgreserve.invalid'}"


def booking_calendar(booking: Booking, shift: Shift, request: DeploymentRequest, summary: str) -> bytes:
    """One VEVENT for the booked shift: times in UTC, the location's address, the briefing."""
    location = request.location
    address = ", ".join(
        part
        for part in (location.name, location.street_address, f"{location.postcode} {location.city}")
        if part
    )
    briefing = [request.report_to]
    if request.bring:
        briefing.append(request.bring)
    briefing.append(f"{request.contact_name} {request.contact_phone}")
    calendar = Calendar()
    calendar.add("prodid", "-//Zorgreserve//Inzet//NL")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", calendar_uid(booking.id))
    event.add("dtstamp", booking.decided_at or utcnow())
    event.add("dtstart", shift.start_at)
    event.add("dtend", shift.end_at)
    event.add("summary", summary)
    event.add("location", address)
    event.add("description", "\n".join(briefing))
    event.add("sequence", 0)
    calendar.add_component(event)
    return calendar.to_ical()


# Sending -------------------------------------------------------------------------------------


def _context(message: Message) -> dict[str, Any]:
    session = db.session
    booking = session.get(Booking, message.booking_id) if message.booking_id else None
    offer = None
    if message.kind == "standby":
        offer = session.get(Offer, int(message.dedupe_key.split(":")[1]))
    reservist = session.get(Reservist, message.reservist_id) if message.reservist_id else None
    shift = session.get(Shift, booking.shift_id) if booking is not None else None
    request_id = (
        shift.request_id if shift is not None else (offer.request_id if offer else message.request_id)
    )
    request = session.get(DeploymentRequest, request_id) if request_id else None
    standby_shifts: list[Shift] = []
    if message.kind == "standby" and offer is not None:
        from zorgreserve.callups.models import OfferShift, OfferShiftStatus

        standby_shifts = list(
            session.scalars(
                select(Shift)
                .join(OfferShift, OfferShift.shift_id == Shift.id)
                .where(OfferShift.offer_id == offer.id, OfferShift.status == OfferShiftStatus.STANDBY.value)
                .order_by(Shift.start_at)
            )
        )
    return {
        "message": message,
        "booking": booking,
        "shift": shift,
        "request": request,
        "reservist": reservist,
        "user": reservist.user if reservist is not None else None,
        "standby_shifts": standby_shifts,
    }


def _send_one(message: Message) -> str:
    ctx = _context(message)
    user = ctx["user"]
    if user is None:
        raise LookupError("no recipient")
    template = TEMPLATES[message.kind]
    with public_url_context(), force_locale(user.locale or "nl"):
        if message.channel == Channel.SMS.value:
            from zorgreserve.notifications.sms import SmsMessage, get_backend

            body = render_template(f"callups/sms/{template}.txt", **ctx).strip()
            return get_backend().send(
                SmsMessage(to=user.phone, body=body, idempotency_key=message.dedupe_key)
            )
        subject = render_template(f"callups/email/{template}.subject.txt", **ctx).strip()
        body = render_template(f"callups/email/{template}.txt", **ctx)
        email = PreparedEmail(
            subject=subject,
            body=body,
            from_email=current_app.config["MAIL_DEFAULT_SENDER"],
            to=[user.email],
            headers={"X-Zorgreserve-Message": message.dedupe_key},
        )
        if message.kind == "confirmation" and ctx["booking"] is not None:
            ics = booking_calendar(ctx["booking"], ctx["shift"], ctx["request"], subject)
            email.attach("inzet.ics", ics, "text/calendar; charset=utf-8; method=PUBLISH")
        email.send()
        return f"email-{message.id}"


def _claim(message_ids: list[int], now: datetime) -> list[int]:
    """Claim the listed messages still queued (and not claimed by a live sender); commits the claim."""
    stale = now - timedelta(seconds=current_app.config.get("CALLUP_CLAIM_STALE_SECONDS", 120))
    claimed = db.session.scalars(
        update(Message)
        .where(
            Message.id.in_(message_ids),
            Message.kind.in_(list(TEMPLATES)),
            Message.status == MessageStatus.QUEUED.value,
            or_(Message.claimed_at.is_(None), Message.claimed_at < stale),
        )
        .values(claimed_at=now, attempts=Message.attempts + 1)
        .returning(Message.id)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    return sorted(claimed)


def send_messages(message_ids: list[int]) -> int:
    """Outbox job ``callups.booking_messages``: send each listed message still queued; returns how many.

    Each message is marked sent (and committed) as soon as its channel accepted
    it. A channel failure leaves the message queued and raises at the end, so the
    outbox retries with backoff; after ``CALLUP_MESSAGE_MAX_ATTEMPTS`` the message
    is marked failed and listed for coordinators with the other failed messages.
    """
    session = db.session
    max_attempts = current_app.config.get("CALLUP_MESSAGE_MAX_ATTEMPTS", 5)
    sent, problem = 0, None
    for message_id in _claim(sorted(set(message_ids)), utcnow()):
        message = session.get(Message, message_id, populate_existing=True)
        assert message is not None
        try:
            provider_id = _send_one(message)
        except Exception as exc:  # the channel refused or is down: retry later, never silently
            log.warning("booking message %s could not be sent: %s", message.id, type(exc).__name__)
            message.claimed_at = None
            message.error = f"{type(exc).__name__}: {str(exc)[:150]}"
            if message.attempts >= max_attempts or isinstance(exc, LookupError):
                message.status = MessageStatus.FAILED.value
            else:
                problem = type(exc).__name__
            session.commit()
            continue
        message.status, message.sent_at = MessageStatus.SENT.value, utcnow()
        message.provider_id, message.error = provider_id, None
        session.commit()
        sent += 1
    if problem:
        raise RuntimeError(f"channel failed: {problem}")  # the outbox retries with backoff
    return sent
