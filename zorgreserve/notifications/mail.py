"""Sending e-mail through Flask-Mailman (console, file, locmem or SMTP backend by config).

Messages are rendered in the recipient's language from templates under
``templates/<module>/email/``; links are absolute, built from ``PUBLIC_URL``,
because jobs run outside any request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from email.header import Header
from functools import lru_cache
from typing import Any

from flask import current_app, render_template, url_for
from flask_babel import force_locale
from flask_mailman import EmailMessage


@lru_cache(maxsize=256)
def _encoded_subject(subject: str) -> str:
    """``subject`` as RFC 2047 encoded words on one line (ASCII, so Flask-Mailman only folds it)."""
    try:
        subject.encode("ascii")
    except UnicodeEncodeError:
        return " ".join(Header(subject, "utf-8").encode().split())
    return subject


class PreparedEmail(EmailMessage):
    """An e-mail whose non-ASCII subject is encoded once per text, not once per message.

    Encoding a header such as "reageer vóór" (the standard library measures every
    possible split of the quoted-printable form) cost more CPU than everything else
    in building a call-up e-mail; a wave sends the same subject thousands of times.
    ``subject`` keeps the readable text (the locmem outbox of the tests shows it);
    only the MIME message carries the encoded form.
    """

    def message(self) -> Any:
        readable = self.subject
        self.subject = _encoded_subject(str(readable))
        try:
            return super().message()
        finally:
            self.subject = readable


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
    message = PreparedEmail(
        subject=subject,
        body=body,
        from_email=current_app.config["MAIL_DEFAULT_SENDER"],
        to=[to],
    )
    message.send()
