"""Sending e-mail through Flask-Mailman (console, file, locmem or SMTP backend by config).

Messages are rendered in the recipient's language from templates under
``templates/<module>/email/``; links are absolute, built from ``PUBLIC_URL``,
because jobs run outside any request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import current_app, render_template, url_for
from flask_babel import force_locale
from flask_mailman import EmailMessage


@contextmanager
def public_url_context() -> Iterator[None]:
    """A request context whose ``url_for(..., _external=True)`` gives public links."""
    with current_app.test_request_context(base_url=current_app.config["PUBLIC_URL"]):
        yield


def external_url(endpoint: str, **values: Any) -> str:
    with public_url_context():
        return url_for(endpoint, _external=True, **values)


def send_mail(*, to: str, template: str, locale: str, **context: Any) -> None:
    """Render ``template`` (``<name>.subject.txt`` and ``<name>.txt``) in ``locale`` and send it."""
    with public_url_context(), force_locale(locale):
        subject = render_template(f"{template}.subject.txt", **context).strip()
        body = render_template(f"{template}.txt", **context)
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=current_app.config["MAIL_DEFAULT_SENDER"],
        to=[to],
    )
    message.send()
