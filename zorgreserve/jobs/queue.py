"""The one way to enqueue work, on Redis or on the embedded in-process queue.

With ``REDIS_URL`` set, jobs go to real RQ queues served by ``zorgreserve worker``.
Without it, the same RQ code runs against one in-memory fakeredis server per
process, worked by a background thread (``InProcessWorker``), so the embedded
default needs no Redis server. Either way the database outbox is the source of
truth; Redis only carries the nudge to run a row now.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from flask import Flask, current_app
from redis import Redis
from rq import Queue, Retry, SimpleWorker
from rq.timeouts import TimerDeathPenalty

log = logging.getLogger(__name__)

QUEUE_NAMES = ("default", "messages")
_fake_server: Any = None
_fake_lock = threading.Lock()


def _embedded_connection() -> Redis:
    """One fakeredis server per process: two separate FakeRedis objects do not share data."""
    global _fake_server
    import fakeredis

    with _fake_lock:
        if _fake_server is None:
            _fake_server = fakeredis.FakeServer()
    return fakeredis.FakeRedis(server=_fake_server)


def redis_connection(app: Flask | None = None) -> Redis:
    """The Redis connection jobs go through (real or embedded)."""
    app = app or current_app
    url = app.config.get("REDIS_URL")
    if url:
        return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    return _embedded_connection()


def is_embedded(app: Flask | None = None) -> bool:
    app = app or current_app
    return not app.config.get("REDIS_URL")


def get_queue(name: str = "default", app: Flask | None = None) -> Queue:
    app = app or current_app
    kwargs: dict[str, Any] = {"connection": redis_connection(app)}
    if is_embedded(app):
        # A thread cannot use SIGALRM: timeouts need the timer-based death penalty.
        kwargs["death_penalty_class"] = TimerDeathPenalty
    return Queue(name, default_timeout=app.config["QUEUE_DEFAULT_TIMEOUT"], **kwargs)


def enqueue(
    func: str,
    *args: Any,
    queue: str = "default",
    description: str = "",
    job_id: str | None = None,
    timeout: int | None = None,
    retries: int = 3,
    at: datetime | None = None,
) -> Any:
    """Enqueue ``func`` (a dotted path) with plain-id arguments.

    Every job in the code base goes through here so queue, timeout, retry policy
    and the human description in ``meta`` are set the same way. Arguments are
    ids, never objects or personal data: a job payload outlives the request.
    """
    q = get_queue(queue)
    options: dict[str, Any] = {
        "job_timeout": timeout or current_app.config["QUEUE_DEFAULT_TIMEOUT"],
        "retry": Retry(max=retries, interval=[10, 60, 300][:retries]) if retries else None,
        "meta": {"description": description or func},
        "description": description or func,
        "result_ttl": 3600,
        "failure_ttl": 7 * 86400,
    }
    if job_id:
        options["job_id"] = job_id
    if at is not None:
        return q.enqueue_at(at, func, *args, **options)
    return q.enqueue(func, *args, **options)


class ThreadSafeWorker(SimpleWorker):
    """An RQ worker that can run in a background thread of the web process.

    Signal handlers only work on the main thread, so it installs none, and it
    uses the timer-based death penalty instead of SIGALRM.
    """

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        return None


class InProcessWorker:
    """Works the embedded queue from a daemon thread, with the same periodic jobs as production.

    A forked scheduler could not see the in-memory Redis, so instead of
    ``work(with_scheduler=True)`` forever this loops short burst runs, each of
    which also moves due scheduled jobs, after letting the production cron
    schedule enqueue whatever periodic job is due.
    """

    def __init__(self, app: Flask, poll_seconds: float = 0.5) -> None:
        self.app = app
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="zorgreserve-inprocess-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        from worker.jobs import use_app
        from worker.main import build_cron

        use_app(self.app)
        queues = [get_queue(name, self.app) for name in QUEUE_NAMES]
        worker = ThreadSafeWorker(queues, connection=queues[0].connection)
        cron = build_cron(self.app)
        while not self._stop.is_set():
            try:
                with self.app.app_context():
                    cron.enqueue_jobs()
                    worker.work(burst=True, with_scheduler=True, logging_level="WARNING")
            except Exception:  # a crash here must not stop the only worker we have
                log.exception("in-process worker loop failed; continuing")
            self._stop.wait(self.poll_seconds)
