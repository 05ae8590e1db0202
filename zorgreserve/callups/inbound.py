"""Answers by SMS reply ("JA K7P2Q", "NEE K7P2Q") received through the provider's webhook.

The webhook is public, so three checks stand between a text message and a booking:

1. the request carries the provider's HMAC-SHA256 signature of its raw body,
   made with ``SMS_WEBHOOK_SECRET`` (header ``X-Zorgreserve-Signature``,
   ``sha256=<hex>``); without a configured secret every delivery is refused;
2. each provider message id is stored once (:class:`InboundSms` is unique on it),
   so a provider delivering the same message again changes nothing;
3. the sender's number must be the phone of the reservist the offer was sent to:
   knowing a code is not enough to answer someone else's offer.

``JA`` (or ``YES``) accepts every shift still offered; ``NEE`` (or ``NO``) declines.
The outcome is answered with one SMS.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.callups import booking
from zorgreserve.callups.models import Channel, InboundSms, Offer, OfferShift, OfferShiftStatus
from zorgreserve.phones import InvalidPhoneNumber, normalise_phone
from zorgreserve.reservists.models import Reservist

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Zorgreserve-Signature"
_ANSWER = re.compile(r"^\W*(JA|YES|NEE|NO)\W+([A-Z0-9]{4,8})\W*$", re.IGNORECASE)
YES_WORDS = {"JA", "YES"}


def sign(body: bytes, secret: str) -> str:
    """The signature header value a provider (or a test) sends with ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(body: bytes, header: str | None) -> bool:
    secret = current_app.config.get("SMS_WEBHOOK_SECRET")
    if not secret or not header:
        return False
    return hmac.compare_digest(sign(body, secret), header.strip())


def parse(text: str) -> tuple[bool, str] | None:
    """``(yes, code)`` from a reply, tolerant of case, spaces and punctuation; ``None`` if not an answer."""
    match = _ANSWER.match(" ".join((text or "").split()))
    if match is None:
        return None
    return match.group(1).upper() in YES_WORDS, match.group(2).upper()


@dataclass(frozen=True)
class Inbound:
    provider_message_id: str
    sender: str
    body: str


def receive(message: Inbound, *, now: datetime) -> InboundSms | None:
    """Store and act on one inbound SMS; ``None`` when this provider message was handled before.

    The caller commits. The row is written first, in a savepoint, so that two
    deliveries of one message racing each other store (and answer) it once.
    """
    try:
        sender = normalise_phone(message.sender)
    except InvalidPhoneNumber:
        sender = message.sender[:20]
    if db.session.scalar(
        select(InboundSms.id).where(InboundSms.provider_message_id == message.provider_message_id)
    ):
        return None
    try:
        with db.session.begin_nested():
            row = InboundSms(
                provider_message_id=message.provider_message_id[:80],
                sender=sender[:20],
                body=message.body[:480],
                received_at=now,
            )
            db.session.add(row)
            db.session.flush()
    except IntegrityError:
        return None
    row.outcome = _act(row, now)
    log.info("inbound SMS %s: %s", row.id, row.outcome)
    return row


def _act(row: InboundSms, now: datetime) -> str:
    parsed = parse(row.body)
    if parsed is None:
        return "unparsed"
    yes, code = parsed
    offer = db.session.scalar(select(Offer).where(Offer.code == code))
    if offer is None:
        return "unknown_code"
    phone = db.session.scalar(
        select(User.phone)
        .join(Reservist, Reservist.user_id == User.id)
        .where(Reservist.id == offer.reservist_id)
    )
    if not phone or phone != row.sender:
        return "wrong_sender"  # no reply: we do not tell a stranger anything about the offer
    row.offer_id = offer.id
    try:
        if yes:
            shift_ids = list(
                db.session.scalars(
                    select(OfferShift.shift_id).where(
                        OfferShift.offer_id == offer.id, OfferShift.status == OfferShiftStatus.OFFERED.value
                    )
                )
            )
            if not shift_ids:
                outcome = "closed"
            else:
                result = booking.accept(db.session, offer.id, shift_ids, channel=Channel.SMS.value, now=now)
                if result.repeated:
                    outcome = "repeated"
                elif result.booked:
                    outcome = "accepted"
                elif result.standby:
                    outcome = "standby"
                else:
                    outcome = "refused"
        else:
            booking.decline(db.session, offer.id, reason=None, channel=Channel.SMS.value, now=now)
            outcome = "declined"
    except booking.OfferClosed as closed:
        outcome = "closed" if closed.reason != "expired" else "expired"
    except booking.TryAgain:
        outcome = "try_again"
    _reply(row, offer)
    return outcome


def _reply(row: InboundSms, offer: Offer) -> None:
    from zorgreserve.callups.sending import queue_message

    queue_message(
        kind="answer_reply",
        channel=Channel.SMS,
        key=f"reply:{row.id}",
        reservist_id=offer.reservist_id,
        request_id=offer.request_id,
        offer_id=offer.id,
    )
