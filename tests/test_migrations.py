"""Upgrading an empty database yields exactly the models' schema (no drift)."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from tests.conftest import _TMP, scratch_postgres_database
from zorgreserve import db
from zorgreserve.cli import alembic_config


def upgrade_and_diff(app, url: str) -> list:
    engine = db.make_engine(url)
    config = alembic_config(app)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    db.import_models()
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, db.Base.metadata)
        tables = set(inspect(connection).get_table_names())
    engine.dispose()
    assert set(db.Base.metadata.tables) <= tables
    return diff


def test_postgres_upgrade_from_empty_matches_models(app, postgres_url):
    url = scratch_postgres_database(postgres_url, "zorgreserve_migration_check")
    assert upgrade_and_diff(app, url) == []


def test_sqlite_upgrade_from_empty_matches_models(app):
    path = _TMP / "migration-check.sqlite3"
    path.unlink(missing_ok=True)
    assert upgrade_and_diff(app, f"sqlite:///{path}") == []


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_audit_trail_is_append_only_after_migration(app, backend, request):
    if backend == "postgres":
        url = scratch_postgres_database(request.getfixturevalue("postgres_url"), "zorgreserve_append_only")
    else:
        path = _TMP / "append-only.sqlite3"
        path.unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    upgrade_and_diff(app, url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_event (occurred_at, action, details) VALUES (CURRENT_TIMESTAMP, 'x', '{}')"
            )
        )
    for statement in ("UPDATE audit_event SET action = 'y'", "DELETE FROM audit_event"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    engine.dispose()


def test_migrated_postgres_refuses_overlapping_bookings_of_one_reservist(app, postgres_url):
    """The exclusion constraint comes with the migrations, not only with create_all."""
    url = scratch_postgres_database(postgres_url, "zorgreserve_no_overlap")
    upgrade_and_diff(app, url)
    engine = create_engine(url)
    with engine.connect() as conn:
        names = conn.execute(
            text("SELECT conname FROM pg_constraint WHERE conname = 'booking_no_overlap'")
        ).scalars()
        assert list(names) == ["booking_no_overlap"]
    engine.dispose()
