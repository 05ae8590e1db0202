"""The outbox path end to end, on the embedded queue and on a real Redis.

A job exists only if its transaction committed; it runs once however often it
is enqueued; a lost queue is restored from the database by the sweeper.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from zorgreserve import db
from zorgreserve.jobs import services
from zorgreserve.jobs.heartbeat import WorkerHeartbeat
from zorgreserve.jobs.models import OutboxJob
from zorgreserve.jobs.queue import get_queue, redis_connection


@pytest.fixture(params=["embedded", "redis"])
def queue_kind(request, app):
    """Run each test on the in-process fakeredis queue and on a real Redis server."""
    if request.param == "redis":
        request.getfixturevalue("real_redis")
    return request.param


def add_heartbeat(app) -> int:
    with app.test_request_context():
        row = services.add_job(db.session, "system.heartbeat", {"name": "demo"}, description="demo heartbeat")
        db.session.commit()
        return row.id


def beats() -> int:
    row = db.session.get(WorkerHeartbeat, "demo")
    return row.beats if row else 0


def queued(app) -> int:
    with app.app_context():
        return sum(get_queue(name, app).count for name in ("default", "messages"))


def test_committed_job_is_enqueued_and_run_once(app, database, run_jobs, queue_kind):
    outbox_id = add_heartbeat(app)
    assert queued(app) == 1
    with app.app_context():
        job = get_queue("default", app).jobs[0]
        assert job.meta["description"] == "demo heartbeat"
        assert job.args == (outbox_id,)  # ids only, never objects or personal data
    run_jobs()
    db.session.expire_all()
    assert beats() == 1
    row = db.session.get(OutboxJob, outbox_id)
    assert row.done_at is not None and row.attempts == 1


def test_rolled_back_change_leaves_no_job(app, database, queue_kind):
    with app.test_request_context():
        services.add_job(db.session, "system.heartbeat", {"name": "demo"})
        db.session.rollback()
    assert queued(app) == 0
    assert db.session.scalars(select(OutboxJob)).all() == []


def test_job_enqueued_twice_runs_once(app, database, run_jobs, queue_kind):
    outbox_id = add_heartbeat(app)
    with app.test_request_context():
        services._enqueue_rows([(outbox_id, "default", "again", db.session.get(OutboxJob, outbox_id).due_at)])
    assert queued(app) == 2
    run_jobs()
    db.session.expire_all()
    assert beats() == 1
    # And a job marked abandoned after it succeeded, run again by hand, changes nothing.
    with app.app_context():
        assert services.run_outbox_job(outbox_id) == "skipped"
    assert beats() == 1


def test_sweeper_restores_work_after_the_queue_is_emptied(app, database, run_jobs, queue_kind):
    outbox_id = add_heartbeat(app)
    with app.app_context():
        redis_connection(app).flushall() if queue_kind == "embedded" else redis_connection(app).flushdb()
    assert queued(app) == 0
    run_jobs()
    assert beats() == 0

    app.config["OUTBOX_STALE_SECONDS"] = 0
    try:
        with app.test_request_context():
            assert services.sweep(db.session) == 1
            db.session.commit()
    finally:
        app.config["OUTBOX_STALE_SECONDS"] = 120
    run_jobs()
    db.session.expire_all()
    assert beats() == 1
    assert db.session.get(OutboxJob, outbox_id).done_at is not None


def test_sweeper_leaves_recent_and_done_rows_alone(app, database, run_jobs):
    add_heartbeat(app)
    with app.test_request_context():
        assert services.sweep(db.session) == 0  # just dispatched: not stale yet
    run_jobs()
    app.config["OUTBOX_STALE_SECONDS"] = 0
    try:
        with app.test_request_context():
            assert services.sweep(db.session) == 0  # done
    finally:
        app.config["OUTBOX_STALE_SECONDS"] = 120


def test_failing_job_is_retried_with_backoff_then_marked_failed(app, database, monkeypatch):
    calls = []

    def broken(**kwargs):
        calls.append(kwargs)
        raise ConnectionError("provider down")

    monkeypatch.setattr(services, "resolve_handler", lambda job: broken)
    outbox_id = add_heartbeat(app)
    with app.app_context():
        outcomes = [services.run_outbox_job(outbox_id) for _ in range(services.MAX_ATTEMPTS)]
        row = db.session.get(OutboxJob, outbox_id)
        assert outcomes[:-1] == ["retry"] * (services.MAX_ATTEMPTS - 1)
        assert outcomes[-1] == "failed"
        assert row.failed_at is not None and "provider down" in row.last_error
        assert services.run_outbox_job(outbox_id) == "skipped"
    assert len(calls) == services.MAX_ATTEMPTS


def test_redis_down_does_not_break_the_request_and_the_sweeper_catches_up(app, database, run_jobs):
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        outbox_id = add_heartbeat(app)  # commit succeeds although enqueueing fails
    finally:
        app.config["REDIS_URL"] = None
    assert db.session.get(OutboxJob, outbox_id).done_at is None
    app.config["OUTBOX_STALE_SECONDS"] = 0
    try:
        with app.test_request_context():
            assert services.sweep(db.session) == 1
            db.session.commit()
    finally:
        app.config["OUTBOX_STALE_SECONDS"] = 120
    run_jobs()
    db.session.expire_all()
    assert beats() == 1


def test_unknown_job_names_are_refused(app, database):
    with app.test_request_context(), pytest.raises(ValueError):
        services.add_job(db.session, "os.system", {"command": "rm -rf /"})


def test_in_process_worker_runs_jobs_in_the_background(app):
    """The embedded default: a thread works the fakeredis queue inside the web process.

    Real commits here (no rolled-back connection): the worker thread needs its own
    connection, as it has in production. The rows are removed afterwards.
    """
    import time

    from sqlalchemy import delete

    from zorgreserve.jobs.queue import InProcessWorker

    outbox_id = add_heartbeat(app)
    worker = InProcessWorker(app, poll_seconds=0.05)
    worker.start()
    try:
        deadline = time.monotonic() + 10
        done = None
        while time.monotonic() < deadline and done is None:
            time.sleep(0.05)
            with db.transaction() as session:
                done = session.get(OutboxJob, outbox_id).done_at
    finally:
        worker.stop()
        with db.transaction() as session:
            session.execute(delete(OutboxJob))
            session.execute(delete(WorkerHeartbeat))
    assert done is not None
