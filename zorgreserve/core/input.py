"""Input no part of the application can store: refused once, before any view runs.

PostgreSQL text cannot hold a NUL character (``\\x00``); a value carrying one made the
database refuse the insert and the page answer with a server error, after the form
had been accepted. No person types it, so a request with one anywhere in its query
string, form fields (not uploads: see below) or JSON body is answered 400 with a page that says what is wrong,
and nothing is changed.
"""

from __future__ import annotations

from typing import Any

from flask import request
from werkzeug.exceptions import BadRequest


class UnstorableCharacter(BadRequest):
    """A NUL character in the input (the error page explains it)."""


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def refuse_nul_characters() -> None:
    """``before_request`` hook: raise :class:`UnstorableCharacter` for a NUL anywhere in the input."""
    values: list[Any] = list(request.args.listvalues())
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        if request.is_json:
            values.append(request.get_json(silent=True))
        elif request.mimetype == "application/x-www-form-urlencoded":
            values += list(request.form.listvalues())
        # Uploads (multipart) are left to their views, which cap the body's size before it is read;
        # their other fields are dates and choices, and file names are cleaned where they are kept.
    if any(_holds_nul(v) for v in values):
        raise UnstorableCharacter()
