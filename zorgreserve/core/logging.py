"""Logging that keeps personal data and secrets out of log files.

Request lines carry signed tokens in their paths (e-mail verification,
invitations, call-up links); log records may mention phone numbers or e-mail
addresses. A filter on every handler masks all three before anything is written.
"""

from __future__ import annotations

import logging
import re

# Signed tokens (itsdangerous: payload.timestamp.signature) as a path segment. A short
# payload (a call-up link for offer 1) is still masked: the three-part shape gives it away.
TOKEN = re.compile(
    r"(?<=/)(?:[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-.]{10,}|[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]{10,})"
)
PHONE = re.compile(r"\+?\d[\d \-]{7,}\d(\d{2})\b")
EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")


def redact(text: str) -> str:
    """Mask signed tokens, phone numbers (all but the last two digits) and e-mail addresses."""
    text = TOKEN.sub("[token]", text)
    text = EMAIL.sub("[e-mail]", text)
    return PHONE.sub(lambda m: "[phone …" + m.group(1) + "]", text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    if not any(isinstance(h, logging.StreamHandler) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(level)
    # The cron scheduler logs every enqueue (twice a minute); only its problems are news.
    logging.getLogger("rq.cron").setLevel(max(logging.WARNING, root.level))
    install_filter()


def install_filter() -> None:
    """Attach the redacting filter to every handler that exists now (root, werkzeug, rq, gunicorn)."""
    names = [None, "werkzeug", "rq.worker", "gunicorn.error", "gunicorn.access"]
    for name in names:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())
