"""SQLAlchemy 2 engine, session and declarative base, shared by web and worker.

The web app and the worker both call :func:`init_engine` once; everything else
uses :data:`session`, a scoped session that is removed at the end of every request
and job. Services only ``flush()``; the request or job commits once at its
boundary, so a failure never leaves half a change behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, scoped_session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (what every timestamp column stores)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always stored and returned as aware UTC.

    SQLite has no timezone type; without this, values read back naive and
    comparisons with aware datetimes fail or silently shift by an hour or two.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations get stable names."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


session: scoped_session = scoped_session(sessionmaker(expire_on_commit=False))
_engine: Engine | None = None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin:
    # otherwise SAVEPOINT and rollback do not work as they should.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock when the transaction starts. A deferred one that reads and
    # then writes (a page that records an access-log row) fails at once with "database is locked"
    # when another connection, such as the in-process worker, committed in between; an immediate
    # one waits its turn (busy_timeout) instead.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the settings each backend needs to be safe under load."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(parsed.database)), exist_ok=True)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 5})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    # Fail fast on a stuck lock instead of hanging a request (QUALITY.md, booking).
    kwargs.setdefault("connect_args", {"options": "-c lock_timeout=3000 -c statement_timeout=30000"})
    return create_engine(url, **kwargs)


def init_engine(url: str, **kwargs: Any) -> Engine:
    """Create the process-wide engine and bind the scoped session to it."""
    global _engine
    if _engine is not None:
        _engine.dispose()
    _engine = make_engine(url, **kwargs)
    session.remove()
    session.configure(bind=_engine)
    return _engine


def get_engine() -> Engine:
    if _engine is None:
        raise RuntimeError("database engine not initialised; call init_engine() first")
    return _engine


def dispose_engine_after_fork() -> None:
    """Drop pooled connections inherited from a parent process without closing them.

    A forked RQ work horse must not reuse the parent's sockets, or two processes
    talk over one PostgreSQL connection.
    """
    if _engine is not None:
        _engine.dispose(close=False)


@contextmanager
def transaction() -> Iterator[Any]:
    """Run a unit of work outside a request (CLI, jobs): commit on success, roll back on error."""
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.remove()


def insert_ignoring_duplicates(session: Any, table: Any) -> Any:
    """An ``INSERT`` for the session's dialect, to finish with ``.on_conflict_do_nothing(...)``.

    Both PostgreSQL and SQLite know ``ON CONFLICT DO NOTHING``; writing rows that
    may exist already (messages by dedupe key) this way takes one statement instead of
    a look-up, a savepoint and an insert per row.
    """
    from sqlalchemy.dialects.postgresql import insert as postgresql_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    if session.get_bind().dialect.name == "postgresql":
        return postgresql_insert(table)
    return sqlite_insert(table)


def import_models() -> None:
    """Import every model module so the metadata is complete (Alembic, create_all)."""
    from zorgreserve import models  # noqa: F401
