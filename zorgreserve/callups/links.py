"""The answer link of an offer: signed, expiring with the offer, single use through the offer's state.

The token carries only the offer id and the offer's code as a nonce, signed with
itsdangerous (salt ``offer``). The signature gives integrity; the expiry that
counts is the offer's own ``expires_at`` (checked against the database, so a
shortened or extended offer is honoured); single use is the offer's answered
state: once answered, the link shows the recorded answer and never a new form.
"""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from zorgreserve import db
from zorgreserve.callups.models import Offer

SALT = "offer"
#: Upper bound for the signature's age; the offer's own expiry is what really ends the link.
MAX_AGE_SECONDS = 8 * 86400


class LinkInvalid(Exception):
    """Tampered, mixed up, or for an offer that does not exist."""


class LinkTooOld(Exception):
    """Genuine but older than any offer can last: the offer has expired."""


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def make_token(offer: Offer) -> str:
    return _serializer().dumps([offer.id, offer.code])


def offer_for_token(token: str) -> Offer:
    """The offer a token names, or :class:`LinkInvalid`. Expiry is the caller's check (offer state)."""
    try:
        payload = _serializer().loads(token, max_age=MAX_AGE_SECONDS)
    except SignatureExpired as exc:
        raise LinkTooOld from exc
    except BadSignature as exc:
        raise LinkInvalid from exc
    if not (isinstance(payload, list) and len(payload) == 2 and isinstance(payload[0], int)):
        raise LinkInvalid
    offer = db.session.get(Offer, payload[0])
    if offer is None or offer.code != payload[1]:
        raise LinkInvalid
    return offer
