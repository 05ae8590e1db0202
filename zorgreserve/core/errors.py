"""Translated error pages; a server error shows an incident id, never a traceback."""

from __future__ import annotations

import logging
import uuid

from flask import Flask, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


def _page(status: int, title: str, message: str, incident: str | None = None) -> tuple[str, int]:
    return (
        render_template("core/error.html", status=status, title=title, message=message, incident=incident),
        status,
    )


def handle_http(error: HTTPException) -> tuple[str, int]:
    from zorgreserve.core.input import UnstorableCharacter

    status = error.code or 500
    if isinstance(error, UnstorableCharacter):
        return _page(
            400,
            _("Invalid character"),
            _(
                "What you sent contains an invisible control character (a null character) that "
                "cannot be saved. Nothing was changed. Go back, retype the text instead of pasting "
                "it, and try again."
            ),
        )
    titles = {
        400: (_("Bad request"), _("The request could not be understood. Please try again.")),
        403: (_("No access"), _("You do not have permission to open this page.")),
        404: (_("Page not found"), _("This page does not exist, or it is not available to you.")),
        405: (_("Not allowed"), _("This action is not possible on this page.")),
        413: (_("File too large"), _("The file you sent is too large.")),
        429: (
            _("Too many attempts"),
            _("You have tried this too often. Please wait a few minutes and try again."),
        ),
    }
    title, message = titles.get(status, (_("Something went wrong"), _("Please try again later.")))
    return _page(status, title, message)


def handle_csrf(_error: CSRFError) -> tuple[str, int]:
    return _page(
        400,
        _("Form expired"),
        _("The form was open too long or was sent from elsewhere. Go back, reload the page and try again."),
    )


def handle_exception(error: Exception) -> tuple[str, int]:
    if isinstance(error, HTTPException):
        return handle_http(error)
    incident = uuid.uuid4().hex[:12]
    log.exception("unhandled error, incident %s, endpoint %s", incident, request.endpoint)
    from zorgreserve import db

    db.session.rollback()
    return _page(
        500,
        _("Something went wrong"),
        _("An unexpected error occurred. Nothing was saved. Quote this incident number if you contact us."),
        incident,
    )


def register(app: Flask) -> None:
    app.register_error_handler(CSRFError, handle_csrf)
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(Exception, handle_exception)
