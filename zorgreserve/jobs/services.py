"""Outbox services: record work with its cause, dispatch after commit, sweep, run once.

Guarantees:
- ``add_job`` writes the outbox row in the caller's transaction, so the job
  exists if and only if the change that needs it was committed.
- After commit the new rows are enqueued; if Redis is unreachable nothing is
  lost: every row counts as dispatched when written, and the sweeper enqueues
  again whatever is due, not done and untouched for the stale interval.
- ``run_outbox_job`` claims a row with one conditional UPDATE, so two copies of
  the same RQ job (RQ does not deduplicate ids; an abandoned job may re-run)
  never run the handler twice, and marks it done in the handler's transaction.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from zorgreserve import db
from zorgreserve.db import utcnow
from zorgreserve.jobs.models import OutboxJob

log = logging.getLogger(__name__)

#: Job name → "module:function" of the service that does the work. Explicit, so
#: the worker can only ever run what is listed here, whatever a payload says.
HANDLERS: dict[str, str] = {
    "system.heartbeat": "zorgreserve.jobs.heartbeat:record_heartbeat",
    "accounts.send_email": "zorgreserve.accounts.emails:send_account_email",
    "verification.notify": "zorgreserve.verification.emails:send_verification_email",
    "privacy.expiry_reminders": "zorgreserve.privacy.reminders:send_expiry_reminders",
    "deployments.request_opened": "zorgreserve.deployments.handoff:request_opened",
    "deployments.request_changed": "zorgreserve.deployments.handoff:request_changed",
    "deployments.notify": "zorgreserve.deployments.emails:send_request_email",
    "callups.send_wave": "zorgreserve.callups.sending:send_wave",
    "callups.send_messages": "zorgreserve.callups.sending:send_messages",
    "callups.booking_messages": "zorgreserve.callups.confirmations:send_messages",
    "callups.standby_messages": "zorgreserve.callups.confirmations:send_standby_messages",
    "callups.withdraw_filled": "zorgreserve.callups.booking:withdraw_filled_job",
    "callups.after_booking": "zorgreserve.callups.booking:after_booking_job",
}

MAX_ATTEMPTS = 6
RUNNER = "worker.jobs.run_outbox"
_PENDING_KEY = "zorgreserve_outbox_pending"


def add_job(
    session: Session,
    job: str,
    args: dict[str, Any] | None = None,
    *,
    description: str = "",
    queue: str = "default",
    due_at: datetime | None = None,
) -> OutboxJob:
    """Record ``job`` to run after the current transaction commits (or at ``due_at``)."""
    if job not in HANDLERS:
        raise ValueError(f"unknown job {job!r}")
    row = OutboxJob(
        job=job,
        args=args or {},
        description=description or job,
        queue=queue,
        due_at=due_at or utcnow(),
        dispatched_at=utcnow(),
        dispatch_count=1,
    )
    session.add(row)
    session.flush()
    session.info.setdefault(_PENDING_KEY, []).append((row.id, row.queue, row.description, row.due_at))
    return row


def resolve_handler(job: str) -> Callable[..., Any]:
    module_name, _, func_name = HANDLERS[job].partition(":")
    return getattr(importlib.import_module(module_name), func_name)


def _enqueue_rows(rows: list[tuple[int, str, str, datetime]]) -> list[int]:
    """Hand rows to RQ; returns the ids that were enqueued. Failures are logged, not raised."""
    from zorgreserve.jobs.queue import enqueue

    enqueued: list[int] = []
    now = utcnow()
    for outbox_id, queue, description, due_at in rows:
        try:
            enqueue(
                RUNNER,
                outbox_id,
                queue=queue,
                description=description,
                job_id=f"outbox-{outbox_id}-{int(now.timestamp() * 1000)}",
                at=due_at if due_at > now + timedelta(seconds=1) else None,
                retries=0,  # retries are the outbox's business: the row knows its attempts
            )
            enqueued.append(outbox_id)
        except Exception as exc:  # Redis down: the sweeper will try again
            log.warning("could not enqueue outbox job %s: %s", outbox_id, type(exc).__name__)
            break
    return enqueued


def _mark_dispatched(session: Session, ids: list[int]) -> None:
    if ids:
        session.execute(
            update(OutboxJob)
            .where(OutboxJob.id.in_(ids))
            .values(dispatched_at=utcnow(), dispatch_count=OutboxJob.dispatch_count + 1)
        )


def sweep(session: Session, limit: int = 500) -> int:
    """Re-enqueue outbox rows that are due, not done and not recently dispatched or started.

    This is what makes a lost Redis queue, a killed worker or a failed enqueue
    delay work without losing it. Returns how many rows were enqueued.
    """
    now = utcnow()
    stale = now - timedelta(seconds=current_app.config["OUTBOX_STALE_SECONDS"])
    rows = session.execute(
        select(OutboxJob.id, OutboxJob.queue, OutboxJob.description, OutboxJob.due_at)
        .where(
            OutboxJob.done_at.is_(None),
            OutboxJob.failed_at.is_(None),
            OutboxJob.due_at < stale,
            or_(OutboxJob.dispatched_at.is_(None), OutboxJob.dispatched_at < stale),
            or_(OutboxJob.started_at.is_(None), OutboxJob.started_at < _running_stale(now)),
        )
        .order_by(OutboxJob.due_at, OutboxJob.id)
        .limit(limit)
    ).all()
    enqueued = _enqueue_rows([(r[0], r[1], r[2], now) for r in rows])
    _mark_dispatched(session, enqueued)
    return len(enqueued)


def sweep_and_commit() -> int:
    with db.transaction() as session:
        return sweep(session)


def _running_stale(now: datetime) -> datetime:
    """Before this, a started row counts as abandoned (its worker died): past any job timeout."""
    return now - timedelta(seconds=current_app.config["QUEUE_DEFAULT_TIMEOUT"] + 60)


def _claim(session: Session, outbox_id: int) -> bool:
    now = utcnow()
    stale = _running_stale(now)
    result = session.execute(
        update(OutboxJob)
        .where(
            OutboxJob.id == outbox_id,
            OutboxJob.done_at.is_(None),
            OutboxJob.failed_at.is_(None),
            or_(OutboxJob.started_at.is_(None), OutboxJob.started_at < stale),
        )
        .values(started_at=now, attempts=OutboxJob.attempts + 1)
    )
    return result.rowcount == 1


def run_outbox_job(outbox_id: int) -> str:
    """Run one outbox row's handler exactly once; safe to call any number of times.

    Returns what happened: ``done``, ``skipped`` (already done, running elsewhere
    or failed for good), ``retry`` (handler raised; rescheduled with backoff) or
    ``failed`` (raised for the ``MAX_ATTEMPTS``-th time; listed for people to act on).
    """
    session = db.session
    if not _claim(session, outbox_id):
        session.rollback()
        return "skipped"
    session.commit()  # make the claim visible before the (possibly slow) handler runs

    row = session.get(OutboxJob, outbox_id)
    assert row is not None
    try:
        resolve_handler(row.job)(**row.args)
        row.done_at = utcnow()
        row.last_error = None
        session.commit()
        return "done"
    except Exception as exc:
        session.rollback()
        row = session.get(OutboxJob, outbox_id)
        assert row is not None
        log.exception("outbox job %s (%s) failed on attempt %s", outbox_id, row.job, row.attempts)
        row.last_error = f"{type(exc).__name__}: {str(exc)[:500]}"
        row.started_at = None
        if row.attempts >= MAX_ATTEMPTS:
            row.failed_at = utcnow()
            session.commit()
            return "failed"
        row.due_at = utcnow() + timedelta(seconds=10 * 2 ** (row.attempts - 1))
        row.dispatched_at = utcnow()
        retry = (row.id, row.queue, row.description, row.due_at)
        session.commit()
        _enqueue_rows([retry])
        return "retry"


def install_session_hooks(session_factory: Any) -> None:
    """Dispatch outbox rows after the transaction that created them commits."""
    from sqlalchemy import event

    @event.listens_for(session_factory, "after_commit")
    def _after_commit(sess: Session) -> None:
        rows = sess.info.pop(_PENDING_KEY, None)
        if rows:
            try:
                _enqueue_rows(rows)
            except Exception:
                log.exception("dispatch after commit failed; the sweeper will pick the jobs up")

    @event.listens_for(session_factory, "after_soft_rollback")
    def _after_rollback(sess: Session, _previous: Any) -> None:
        sess.info.pop(_PENDING_KEY, None)
