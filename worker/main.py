"""The production worker and cron processes (``zorgreserve worker`` / ``zorgreserve cron``).

The app and its config are built once in the parent; the database pool is
dropped in every forked work horse so no connection is shared across processes.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from rq import Worker
from rq.cron import CronScheduler

from worker import jobs
from zorgreserve import db
from zorgreserve.jobs.queue import QUEUE_NAMES, get_queue, redis_connection


class ZorgreserveWorker(Worker):
    """A forking RQ worker whose work horses start with a fresh database pool."""

    def main_work_horse(self, *args: Any, **kwargs: Any) -> None:
        db.dispose_engine_after_fork()
        return super().main_work_horse(*args, **kwargs)


def run_worker(app: Flask, queues: tuple[str, ...] = QUEUE_NAMES, burst: bool = False) -> bool:
    """Work the given queues with RQ's scheduler (delayed jobs) until stopped."""
    jobs.use_app(app)
    rq_queues = [get_queue(name, app) for name in queues]
    worker = ZorgreserveWorker(rq_queues, connection=redis_connection(app))
    return worker.work(burst=burst, with_scheduler=True, logging_level=app.config["LOG_LEVEL"])


def build_cron(app: Flask) -> CronScheduler:
    """The periodic jobs, as data: each entry says what runs how often."""
    cron = CronScheduler(connection=redis_connection(app), logging_level=app.config["LOG_LEVEL"])
    cron.register(jobs.sweep_outbox, queue_name="default", interval=app.config["OUTBOX_SWEEP_INTERVAL"])
    cron.register(jobs.heartbeat, queue_name="default", interval=60)
    # Daily at 07:00 UTC: e-mail reservists whose qualification, training or BIG
    # re-registration expires within 30 days (once per item, recorded in the database).
    cron.register(jobs.daily_expiry_reminders, queue_name="default", cron="0 7 * * *")
    # Daily at 06:30 UTC: BIG registrations due for re-registration go back to the queue.
    cron.register(jobs.daily_reregistration_flags, queue_name="default", cron="30 6 * * *")
    # Hourly: requests whose last shift has ended are closed.
    cron.register(jobs.close_finished_requests, queue_name="default", cron="5 * * * *")
    # Every minute: call-up offers expire, waves close, the next wave goes out (docs/callups.md).
    cron.register(jobs.callups_tick, queue_name="default", interval=60)
    cron.register(jobs.shifts_reminders_tick, queue_name="default", interval=60)
    return cron


def run_cron(app: Flask) -> None:
    jobs.use_app(app)
    build_cron(app).start()
