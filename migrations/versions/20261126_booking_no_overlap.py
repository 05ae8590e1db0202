"""Refuse overlapping active bookings of one reservist in PostgreSQL itself.

An exclusion constraint over (reservist, time range) for bookings that occupy
the reservist's time: two concurrent accepts of overlapping shifts cannot both
commit, whatever the application does. SQLite serialises writers, and booking
checks the same inside its transaction there.

Revision ID: 20261126_booking_no_overlap
Revises: 20261124_audit_append_only
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "20261126_booking_no_overlap"
down_revision = "20261124_audit_append_only"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.execute(
        "ALTER TABLE booking ADD CONSTRAINT booking_no_overlap EXCLUDE USING gist "
        "(reservist_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&) "
        "WHERE (status IN ('accepted', 'approved', 'checked_in', 'completed'))"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE booking DROP CONSTRAINT IF EXISTS booking_no_overlap")
