"""Text messages behind one small protocol, so providers can be swapped by configuration.

Backends: ``console`` (development: prints to the log, number masked), ``file``
(one JSON line per message in ``SMS_FILE_PATH``), ``recorder`` (keeps messages
in memory for tests) and ``vonage`` (the Vonage SMS API, :mod:`zorgreserve.notifications.vonage`;
its signed webhooks are read in ``zorgreserve/callups/views.py``).

A backend tells the sender how a refusal should be treated: :class:`SmsRejected`
means this message can never go out (an invalid or barred number), so it is marked
failed at once; any other exception (:class:`SmsTemporaryFailure` for a provider
that is throttling or down) is retried with backoff. ``idempotent`` says whether
the backend accepts a repeated idempotency key once. The development backends do;
Vonage has no send-side idempotency key, so for it the sender commits "sent" after
every message and the dedupe row and claim are what keep a message to one phone
(docs/callups.md, "Provider set-up: Vonage").
"""

from __future__ import annotations

import fcntl
import json
import logging
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from flask import current_app

from zorgreserve.db import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmsMessage:
    to: str  # E.164
    body: str
    idempotency_key: str
    sent_at: datetime = field(default_factory=utcnow)


class SmsRejected(Exception):
    """The provider refused this message for good (invalid or barred number, ...): retrying cannot help."""


class SmsTemporaryFailure(Exception):
    """The provider could not take the message now (throttled, down, credit or credentials): retry later."""


class SmsBackend(Protocol):
    #: A repeated idempotency key reaches the phone once (the sender may then batch its "sent" commits).
    idempotent: bool

    def send(self, message: SmsMessage) -> str:
        """Hand the message to the provider; return the provider's message id.

        Raises :class:`SmsRejected` when this message can never be sent, anything else
        (preferably :class:`SmsTemporaryFailure`) when a later attempt may succeed.
        """


class ConsoleBackend:
    idempotent = True

    def send(self, message: SmsMessage) -> str:
        log.info("SMS to …%s (%s chars): %s", message.to[-2:], len(message.body), message.body)
        return f"console-{message.idempotency_key}"


class FileBackend:
    """Writes each message as a JSON line; like a provider, a repeated idempotency key is accepted once.

    A sender that crashed after the hand-off and before recording it sends again with the
    same key; the file (shared by every worker process, hence the lock) then shows what a
    phone would receive.
    """

    idempotent = True

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def send(self, message: SmsMessage) -> str:
        self.path.mkdir(parents=True, exist_ok=True)
        record = asdict(message) | {"sent_at": message.sent_at.isoformat()}
        needle = json.dumps({"idempotency_key": message.idempotency_key})[1:-1]
        with open(self.path / "messages.jsonl", "a+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            if not any(needle in line for line in handle):
                handle.write(json.dumps(record) + "\n")
        return f"file-{message.idempotency_key}"


class RecorderBackend:
    """Keeps every message; a repeated idempotency key is accepted but not stored twice."""

    idempotent = True

    def __init__(self) -> None:
        self.messages: list[SmsMessage] = []
        self._lock = threading.Lock()

    def send(self, message: SmsMessage) -> str:
        with self._lock:
            if all(m.idempotency_key != message.idempotency_key for m in self.messages):
                self.messages.append(message)
        return f"recorded-{message.idempotency_key}"


_recorder = RecorderBackend()


def get_backend() -> SmsBackend:
    name = current_app.config["SMS_BACKEND"]
    if name == "console":
        return ConsoleBackend()
    if name == "file":
        return FileBackend(current_app.config["SMS_FILE_PATH"])
    if name == "recorder":
        return _recorder
    if name == "vonage":
        from zorgreserve.notifications.vonage import backend_from_config

        return backend_from_config(current_app.config)
    raise ValueError(f"unknown SMS_BACKEND {name!r} (console, file, recorder or vonage)")


def recorder() -> RecorderBackend:
    return _recorder
