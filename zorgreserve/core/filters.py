"""Template helpers: times in Europe/Amsterdam, phone numbers in national format."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from flask_babel import format_datetime

from zorgreserve.phones import display_phone


def local_datetime(value: datetime | None, fmt: str = "medium") -> str:
    """Show a stored UTC time in Europe/Amsterdam (Flask-Babel's configured zone)."""
    if value is None:
        return ""
    return format_datetime(value, fmt)


def role_label(value: str) -> str:
    from zorgreserve.accounts.roles import Role

    return Role(value).label


def has_endpoint(name: str) -> bool:
    """Whether a route exists, so shared navigation can link to modules as they arrive."""
    from flask import current_app

    return name in current_app.view_functions


def register(app: Flask) -> None:
    from zorgreserve.i18n import current_language

    app.add_template_global(has_endpoint, "has_endpoint")
    app.add_template_filter(local_datetime, "datetime")
    app.add_template_filter(display_phone, "phone")
    app.add_template_filter(role_label, "role_label")
    app.add_template_global(current_language, "current_language")
