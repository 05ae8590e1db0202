"""Encryption of second-factor secrets at rest (Fernet, key derived from configuration)."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet
from flask import current_app


def _fernet() -> Fernet:
    material = current_app.config.get("TOTP_ENCRYPTION_KEY") or current_app.config["SECRET_KEY"]
    key = hashlib.sha256(("zorgreserve.totp:" + material).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt(value: str) -> str:
    return _fernet().decrypt(value.encode()).decode()
