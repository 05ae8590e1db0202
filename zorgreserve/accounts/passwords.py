"""Password hashing (Argon2id) and the password policy (OWASP ASVS level 2).

The policy: at least 12 characters, at most 128, and not on the shipped list of
common and breached passwords (no network call). Variants made by adding
digits or symbols to a listed password, or by repeating a short string, are
refused too.
"""

from __future__ import annotations

import gzip
import re
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_gettext as _l

MIN_LENGTH = 12
MAX_LENGTH = 128
DATA = Path(__file__).parent / "data"

_hasher = PasswordHasher()
#: A hash of a random password, verified against when no account matches, so an
#: unknown address costs the same time as a wrong password (no enumeration by timing).
DUMMY_HASH = _hasher.hash("zorgreserve-timing-equaliser-8c1f")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


@cache
def common_passwords() -> frozenset[str]:
    words: set[str] = set()
    with gzip.open(DATA / "common-passwords.txt.gz", "rt", encoding="utf-8") as handle:
        words.update(line.strip().lower() for line in handle if line.strip())
    with open(DATA / "common-passwords-nl.txt", encoding="utf-8") as handle:
        words.update(line.strip().lower() for line in handle if line.strip() and not line.startswith("#"))
    return frozenset(words)


_DECORATION = re.compile(r"^[\W\d_]*(.*?)[\W\d_]*$")


def password_problem(password: str, personal: tuple[str, ...] = ()) -> str | None:
    """Why ``password`` is not acceptable (translated), or None when it is."""
    if len(password) < MIN_LENGTH:
        return str(_l("Use at least %(n)s characters.", n=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        return str(_l("Use at most %(n)s characters.", n=MAX_LENGTH))
    lowered = password.lower()
    core = _DECORATION.match(lowered).group(1)  # type: ignore[union-attr]
    listed = common_passwords()
    repeated = re.fullmatch(r"(.+?)\1+", core)
    if lowered in listed or core in listed or len(set(lowered)) <= 3 or repeated:
        return str(_l("This password is too common or appears in lists of leaked passwords. Choose another."))
    for part in personal:
        part = part.lower().strip()
        if len(part) >= 4 and part in lowered:
            return str(_l("Do not use your name or e-mail address in your password."))
    return None
