"""Signed, expiring tokens for links sent by e-mail.

itsdangerous gives integrity and expiry, not single use: each token also binds
server-side state (the password hash, the e-mail address, the invitation row)
so that using it once makes it worthless. Tokens hold ids and short digests
only, never an e-mail address in the clear, because they travel in URLs.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

SALTS = {
    "verify": "zorgreserve.verify-email",
    "reset": "zorgreserve.reset-password",
    "invite": "zorgreserve.invitation",
    "activate": "zorgreserve.activate-account",
}


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALTS[purpose])


def make_token(purpose: str, payload: dict[str, Any]) -> str:
    return _serializer(purpose).dumps(payload)


class TokenInvalid(Exception):
    """Tampered, for another purpose, or malformed."""


class TokenExpired(Exception):
    pass


def read_token(purpose: str, token: str, max_age: int) -> dict[str, Any]:
    try:
        payload = _serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise TokenExpired from exc
    except BadSignature as exc:
        raise TokenInvalid from exc
    if not isinstance(payload, dict):
        raise TokenInvalid
    return payload
