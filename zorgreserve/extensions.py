"""Flask extension objects, created without an app and bound in ``create_app``."""

from __future__ import annotations

from flask import request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mailman import Mail
from flask_wtf.csrf import CSRFProtect

babel = Babel()
csrf = CSRFProtect()
login_manager = LoginManager()
mail = Mail()


def _limit_key() -> str:
    return get_remote_address() or request.remote_addr or "unknown"


# Default limits are off; the routes that need one (login, sign-up, reset) declare it.
limiter = Limiter(key_func=_limit_key, default_limits=[], strategy="moving-window")
