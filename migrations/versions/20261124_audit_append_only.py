"""Make the audit trail and the access log append-only with database triggers.

The application's own connection cannot update or delete their rows: the
triggers refuse it on PostgreSQL and SQLite alike (NEN 7513: the log cannot be
altered by the application). Written by hand; the statements are frozen here
rather than imported, so later code changes never alter this revision.

Revision ID: 20261124_audit_append_only
Revises: 20261124_initial_schema
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "20261124_audit_append_only"
down_revision = "20261124_initial_schema"
branch_labels = None
depends_on = None

TABLES = ("audit_event", "access_log")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE OR REPLACE FUNCTION zr_refuse_change() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION USING MESSAGE = 'table ' || TG_TABLE_NAME || ' is append-only';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION zr_refuse_change()"
            )
        return
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, 'table {table} is append-only'); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, 'table {table} is append-only'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS zr_refuse_change()")
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
