"""Session rules applied before every request: access, idle time-out, second factor.

Flask-Login ids carry a per-user nonce (``id:nonce``); rotating the nonce on
logout or password change ends every other session of that user.
"""

from __future__ import annotations

import time
from typing import Any

from flask import current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.accounts.roles import enforce

LAST_SEEN = "last_seen"


def load_user(user_id: str) -> User | None:
    raw_id, _sep, nonce = user_id.partition(":")
    if not raw_id.isdigit() or not nonce:
        return None
    user = db.session.get(User, int(raw_id))
    if user is None or user.session_nonce != nonce or not user.is_active_account:
        return None
    return user


def _idle_expired() -> bool:
    if not current_user.is_authenticated or not current_user.role_enum.is_staff:
        return False
    last_seen = session.get(LAST_SEEN)
    limit = current_app.config["STAFF_IDLE_MINUTES"] * 60
    return last_seen is not None and time.time() - float(last_seen) > limit


def enforce_session_rules() -> Any:
    """Run before every request; returns a response to stop the request, else None."""
    if request.endpoint is None:
        return None  # 404 or 405: the error handler answers
    if request.endpoint == "static":
        return None
    if _idle_expired():
        logout_user()
        session.clear()
        flash(_("You were signed out after 30 minutes without activity. Please sign in again."), "info")
        return redirect(
            url_for("accounts.login", next=request.full_path if request.method == "GET" else None)
        )
    if current_user.is_authenticated:
        session[LAST_SEEN] = time.time()
    return enforce(current_app.view_functions.get(request.endpoint))
