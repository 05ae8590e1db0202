"""Job functions RQ calls. Thin on purpose: load ids, call one service, commit.

Each runs inside an application context with its own database session, so a
job behaves the same in a forked work horse, a spawned process or the in-process
thread of the embedded default.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, current_app, has_app_context

from zorgreserve import db

F = TypeVar("F", bound=Callable[..., Any])
_app: Flask | None = None


def use_app(app: Flask) -> None:
    """Tell jobs which application to run in (set once by the worker at start)."""
    global _app
    _app = app


def _application() -> Flask:
    global _app
    if has_app_context():
        return current_app._get_current_object()  # type: ignore[attr-defined]
    if _app is None:
        from zorgreserve import create_app

        _app = create_app()
    return _app


def job(func: F) -> F:
    """Run ``func`` in an app context, commit once at the end, roll back on error."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        app = _application()
        with app.app_context():
            try:
                result = func(*args, **kwargs)
                db.session.commit()
                return result
            except BaseException:
                db.session.rollback()
                raise
            finally:
                db.session.remove()

    return wrapper  # type: ignore[return-value]


@job
def run_outbox(outbox_id: int) -> str:
    from zorgreserve.jobs.services import run_outbox_job

    return run_outbox_job(outbox_id)


@job
def sweep_outbox() -> int:
    from zorgreserve.jobs.services import sweep

    return sweep(db.session)


@job
def heartbeat() -> None:
    from zorgreserve.jobs.heartbeat import record_heartbeat

    record_heartbeat()


@job
def daily_expiry_reminders() -> None:
    """Record the daily reminder run in the outbox, so a lost queue or a crash cannot skip a day."""
    from zorgreserve.jobs.services import add_job

    add_job(db.session, "privacy.expiry_reminders", {}, description="daily expiry reminders")


@job
def daily_reregistration_flags() -> int:
    """Return BIG registrations due for re-registration to the verification queue.

    Needs no outbox row: it looks at the database each run, so a skipped day is caught up
    by the next one, and running it twice changes nothing.
    """
    from zorgreserve.verification.services import flag_due_reregistrations

    return flag_due_reregistrations()


@job
def close_finished_requests() -> int:
    """Close requests whose last shift has ended, so nobody has to remember to do it."""
    from zorgreserve.deployments.services import close_finished_requests as close

    return close()


@job
def callups_tick() -> None:
    """Every minute: expire offers, close waves, send next waves (commits per request)."""
    from zorgreserve.callups.escalation import tick

    tick()


@job
def shifts_reminders_tick() -> int:
    """Every minute: queue the 24-hour and 2-hour shift reminders due and send them (each once)."""
    from zorgreserve.shifts.reminders import tick

    return tick()
