"""Text messages behind one small protocol, so providers can be swapped by configuration.

Backends: ``console`` (development: prints to the log, number masked), ``file``
(one JSON line per message in ``SMS_FILE_PATH``), ``recorder`` (keeps messages
in memory for tests). A provider backend is added by the call-up work; it must
accept an idempotency key so a retried send never reaches a phone twice.
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


class SmsBackend(Protocol):
    def send(self, message: SmsMessage) -> str:
        """Hand the message to the provider; return the provider's message id."""


class ConsoleBackend:
    def send(self, message: SmsMessage) -> str:
        log.info("SMS to …%s (%s chars): %s", message.to[-2:], len(message.body), message.body)
        return f"console-{message.idempotency_key}"


class FileBackend:
    """Writes each message as a JSON line; like a provider, a repeated idempotency key is accepted once.

    A sender that crashed after the hand-off and before recording it sends again with the
    same key; the file (shared by every worker process, hence the lock) then shows what a
    phone would receive.
    """

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
    raise ValueError(f"unknown SMS_BACKEND {name!r} (console, file or recorder)")


def recorder() -> RecorderBackend:
    return _recorder
