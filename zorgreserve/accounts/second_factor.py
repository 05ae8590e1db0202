"""TOTP second factor for coordinators and administrators, with recovery codes.

Secrets are stored encrypted; a code's time step is remembered so the same
code cannot be replayed within its validity window; recovery codes are random
(high entropy), so a fast SHA-256 digest is enough to store them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

import pyotp
import segno

from zorgreserve import db
from zorgreserve.accounts import crypto
from zorgreserve.accounts.models import RecoveryCode, User
from zorgreserve.audit.services import record
from zorgreserve.db import utcnow

ISSUER = "Zorgreserve"
RECOVERY_CODE_COUNT = 10


def begin_enrolment(user: User) -> str:
    """Give the user a fresh (not yet active) secret and return it."""
    secret = pyotp.random_base32()
    user.totp_secret_encrypted = crypto.encrypt(secret)
    user.totp_enabled_at = None
    user.totp_last_step = None
    return secret


def pending_secret(user: User) -> str | None:
    return crypto.decrypt(user.totp_secret_encrypted) if user.totp_secret_encrypted else None


def provisioning_qr(user: User, secret: str) -> str:
    """The otpauth URI as an SVG data URI (no Pillow, no inline script; CSP allows data: images)."""
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    svg = segno.make(uri, error="m").svg_inline(scale=5)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _matching_step(secret: str, code: str, at: float | None = None) -> int | None:
    code = "".join(ch for ch in code if ch.isdigit())
    if len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    now_step = int((at or time.time()) // totp.interval)
    for step in (now_step - 1, now_step, now_step + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _accept_code(user: User, code: str) -> bool:
    secret = pending_secret(user)
    if secret is None:
        return False
    step = _matching_step(secret, code)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return False
    user.totp_last_step = step
    return True


def _digest(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").strip().lower().encode()).hexdigest()


def confirm_enrolment(user: User, code: str) -> list[str] | None:
    """Activate the second factor if ``code`` is right; returns new recovery codes to show once."""
    if not _accept_code(user, code):
        return None
    user.totp_enabled_at = utcnow()
    user.recovery_codes.clear()
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODE_COUNT)]
    user.recovery_codes.extend(RecoveryCode(code_hash=_digest(code)) for code in codes)
    record("account.second_factor_enabled", subject_type="user", subject_id=user.id, subject_user_id=user.id)
    return codes


def verify(user: User, code: str) -> bool:
    """A current TOTP code (never one already used) or an unused recovery code."""
    if not user.has_second_factor:
        return False
    if _accept_code(user, code):
        return True
    wanted = _digest(code)
    for recovery in user.recovery_codes:
        if recovery.used_at is None and hmac.compare_digest(recovery.code_hash, wanted):
            recovery.used_at = utcnow()
            record(
                "account.recovery_code_used", subject_type="user", subject_id=user.id, subject_user_id=user.id
            )
            return True
    return False


def reset(user: User) -> None:
    """Remove the second factor (administrators do this for someone who lost both device and codes)."""
    user.totp_secret_encrypted = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    user.recovery_codes.clear()
    db.session.flush()
