"""Test fixtures: one database per session, each test rolled back; factories; per-role log-ins.

The backend is chosen by ``ZR_TEST_DB`` (``sqlite``, the default, or ``postgres``
with ``ZR_TEST_POSTGRES_URL``). Tests that need a real Redis use the
``real_redis`` fixture (``ZR_TEST_REDIS_URL``). Under ``CI=true`` a missing
PostgreSQL, Redis or Chromium fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from zorgreserve import db

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
BACKEND = os.environ.get("ZR_TEST_DB", "sqlite")
POSTGRES_URL = os.environ.get(
    "ZR_TEST_POSTGRES_URL", "postgresql+psycopg://zorgreserve:zorgreserve@127.0.0.1:5432/zorgreserve_test"
)
REDIS_URL = os.environ.get("ZR_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
_TMP = Path(tempfile.mkdtemp(prefix="zorgreserve-test-"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """PostgreSQL-only behaviour is tested in the PostgreSQL pass and left out (not skipped) on SQLite."""
    if BACKEND == "postgres":
        return
    kept = [item for item in items if item.get_closest_marker("postgres_only") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


def unavailable(what: str, why: str) -> None:
    """Skip on a laptop without the service; fail in CI, where it must be there."""
    message = f"{what} is not available: {why}"
    if IN_CI:
        pytest.fail(message + " (CI=true: tests never skip for a missing service)")
    pytest.skip(message)


def postgres_ready(url: str) -> str | None:
    from sqlalchemy import create_engine

    try:
        engine = create_engine(url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"


def database_url() -> str:
    if BACKEND == "postgres":
        return POSTGRES_URL
    return f"sqlite:///{_TMP / 'test.sqlite3'}"


def base_config() -> dict[str, Any]:
    return {
        "TESTING": True,
        "ZORGRESERVE_ENV": "test",
        "SECRET_KEY": "test-secret-key-not-for-production",
        "DATABASE_URL": database_url(),
        "REDIS_URL": None,
        "MAIL_BACKEND": "locmem",
        "SMS_BACKEND": "recorder",
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        "PUBLIC_URL": "http://zorgreserve.test",
        "SERVER_NAME": None,
    }


def reset_schema(engine: Any) -> None:
    """Drop and recreate every table (and, on PostgreSQL, the whole public schema)."""
    db.import_models()
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    else:
        db.Base.metadata.drop_all(engine)
    db.Base.metadata.create_all(engine)


@pytest.fixture(scope="session")
def app() -> Iterator[Flask]:
    if BACKEND == "postgres":
        problem = postgres_ready(POSTGRES_URL)
        if problem:
            unavailable("PostgreSQL", problem)
    os.environ["ZORGRESERVE_ENV"] = "test"
    from zorgreserve import create_app

    application = create_app(base_config(), instance_path=str(_TMP / "instance"))
    engine = db.get_engine()
    reset_schema(engine)
    with application.app_context():
        from zorgreserve.reference.loader import load_all

        with db.transaction() as session:
            load_all(session)
    yield application
    db.session.remove()
    engine.dispose()


@pytest.fixture(autouse=True)
def _isolation(request: pytest.FixtureRequest) -> Iterator[None]:
    """Reset rate limits, the embedded queue and captured mail before every test."""
    if "app" not in request.fixturenames and "live_server" not in request.fixturenames:
        yield
        return
    application: Flask = request.getfixturevalue("app")
    from zorgreserve.extensions import limiter
    from zorgreserve.jobs.queue import redis_connection

    with application.app_context():
        limiter.reset()
        if not application.config.get("REDIS_URL"):
            redis_connection(application).flushall()
    application.extensions["mailman"].outbox = []
    yield


@pytest.fixture
def database(app: Flask) -> Iterator[Any]:
    """Bind the scoped session to a connection whose outer transaction is rolled back.

    Services and views commit as usual; those commits only release savepoints,
    so every test starts from the same reference data.
    """
    engine = db.get_engine()
    connection = engine.connect()
    outer = connection.begin()
    db.session.remove()
    db.session.configure(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield db.session
    finally:
        db.session.remove()
        if outer.is_active:
            outer.rollback()
        connection.close()
        db.session.configure(bind=engine, join_transaction_mode="conditional_savepoint")


@pytest.fixture
def ctx(app: Flask, database: Any) -> Any:
    """Open a request context over the rolled-back database, for calling services directly.

    Use it as ``with ctx():``. It is deliberately not held open for the whole
    test: the test client's requests would then share its ``g`` (and the
    signed-in user cached there) instead of getting their own.
    """
    return app.test_request_context


@pytest.fixture
def client(app: Flask, database: Any) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def mail_outbox(app: Flask) -> list[Any]:
    return app.extensions["mailman"].outbox


@pytest.fixture
def run_jobs(app: Flask) -> Any:
    """Run every queued job now, in this process, against the current (test) database."""
    from zorgreserve.jobs.queue import QUEUE_NAMES, ThreadSafeWorker, get_queue

    def _run() -> None:
        with app.app_context():
            queues = [get_queue(name, app) for name in QUEUE_NAMES]
            ThreadSafeWorker(queues, connection=queues[0].connection).work(
                burst=True, logging_level="WARNING"
            )

    return _run


@pytest.fixture
def real_redis(app: Flask) -> Iterator[str]:
    """Point the queue at a real Redis server for one test, flushed before and after."""
    from redis import Redis

    try:
        connection = Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        connection.ping()
    except Exception as exc:
        unavailable("Redis", f"{REDIS_URL}: {type(exc).__name__}")
    connection.flushdb()
    previous = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = REDIS_URL
    try:
        yield REDIS_URL
    finally:
        app.config["REDIS_URL"] = previous
        connection.flushdb()


@pytest.fixture
def postgres_url() -> str:
    """A PostgreSQL server URL for tests that need one whatever ZR_TEST_DB says."""
    problem = postgres_ready(POSTGRES_URL)
    if problem:
        unavailable("PostgreSQL", problem)
    return POSTGRES_URL


def scratch_postgres_database(base_url: str, name: str) -> str:
    """Create an empty PostgreSQL database next to the test one and return its URL."""
    from sqlalchemy import create_engine

    url = make_url(base_url)
    if url.database and url.database != "zorgreserve_test":
        # A run on a test database of its own gets scratch databases of its own: another run
        # dropping the shared name would cut this one's connections.
        name = f"{name}_{url.database.removeprefix('zorgreserve_test_')}"[:63]
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for attempt in range(20):
            try:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                break
            except ProgrammingError as exc:
                if getattr(exc.orig, "sqlstate", None) != "42501":  # insufficient privilege
                    raise
                # An autovacuum worker (a superuser's process) was busy in the old database: the
                # test role may not end it. It finishes within moments; try again.
                if attempt == 19:
                    raise
                time.sleep(0.5)
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


# Log-ins ---------------------------------------------------------------------------


def login(client: FlaskClient, user: Any) -> FlaskClient:
    """Sign ``user`` in on ``client`` as after a complete sign-in (password and second factor)."""
    from zorgreserve.accounts.models import User
    from zorgreserve.accounts.sessions import LAST_SEEN

    # Re-read the user: an earlier sign-out in the same test rotates the session nonce.
    user = db.session.get(User, user.id, populate_existing=True)
    with client.session_transaction() as session:
        session.permanent = True
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
        session[LAST_SEEN] = time.time()
    return client


@pytest.fixture
def login_as(client: FlaskClient) -> Any:
    def _login(user: Any) -> FlaskClient:
        return login(client, user)

    return _login


pytest_plugins = ["tests.factories"]
