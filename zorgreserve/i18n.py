"""Language and time zone selection: Dutch by default, English on request."""

from __future__ import annotations

from flask import current_app, request
from flask_login import current_user

LANGUAGE_COOKIE = "zr_lang"


def select_locale() -> str:
    """The signed-in user's choice, else the language cookie, else Dutch.

    The browser's Accept-Language is deliberately ignored: the reserve is a Dutch
    public service and speaks Dutch until someone chooses otherwise.
    """
    languages = current_app.config["LANGUAGES"]
    if current_user and getattr(current_user, "is_authenticated", False) and current_user.locale in languages:
        return current_user.locale
    chosen = request.cookies.get(LANGUAGE_COOKIE) if request else None
    if chosen in languages:
        return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return "Europe/Amsterdam"


def current_language() -> str:
    """The language of the current request as a plain code ("nl" or "en")."""
    from flask_babel import get_locale

    locale = get_locale()
    return locale.language if locale else "nl"
