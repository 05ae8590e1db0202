"""The append-only audit trail and the access log of personal data.

Rows are never updated or deleted by the application: database triggers refuse
it (see ``APPEND_ONLY_DDL``), so even a bug or an injected statement through the
application's own connection cannot rewrite history. Details hold ids and codes,
never personal data, so erasure of a person never has to touch this table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DDL, JSON, ForeignKey, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column

from zorgreserve.db import Base, utcnow


class AuditEvent(Base):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String(60), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    actor_role: Mapped[str | None] = mapped_column(String(32))
    organisation: Mapped[str | None] = mapped_column(String(120))
    subject_type: Mapped[str | None] = mapped_column(String(40))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    subject_user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


POSTGRES_FUNCTION = DDL(
    """
    CREATE OR REPLACE FUNCTION zr_refuse_change() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION USING MESSAGE = 'table ' || TG_TABLE_NAME || ' is append-only';
    END;
    $$ LANGUAGE plpgsql
    """
)


def append_only_ddl(table: str, dialect: str) -> list[str]:
    """Statements that make ``table`` append-only; shared by the models and the migrations."""
    if dialect == "postgresql":
        return [
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION zr_refuse_change()"
        ]
    return [
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'table {table} is append-only'); END",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'table {table} is append-only'); END",
    ]


def _install(table: Any, connection: Any, **_kw: Any) -> None:
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(POSTGRES_FUNCTION)
    for statement in append_only_ddl(table.name, dialect):
        connection.exec_driver_sql(statement)


event.listen(AuditEvent.__table__, "after_create", _install)


class AccessLogEntry(Base):
    """One view or change of a reservist's personal data by someone else (NEN 7513 style).

    What happened, when (UTC), whose data, who did it, on behalf of which
    organisation and in which role, and the context (which page or export).
    Append-only like the audit trail; reading the log is itself logged.
    """

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String(20))  # view, change, export, verify, download
    subject_reservist_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    actor_role: Mapped[str | None] = mapped_column(String(32))
    organisation: Mapped[str | None] = mapped_column(String(120))
    context: Mapped[str] = mapped_column(String(120))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


event.listen(AccessLogEntry.__table__, "after_create", _install)
