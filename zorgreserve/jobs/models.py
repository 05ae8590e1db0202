"""The transactional outbox: work recorded in the same transaction as its cause."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from zorgreserve.db import Base, utcnow


class OutboxJob(Base):
    """A job the worker must run, committed with the change that needs it.

    The row is the source of truth, not Redis: ``done_at`` says it ran, and the
    sweeper re-enqueues rows that are due and not done when their last dispatch
    is older than the stale interval (queue lost, worker killed).
    """

    __tablename__ = "outbox_job"
    __table_args__ = (Index("ix_outbox_job_pending", "done_at", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(80))
    args: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    queue: Mapped[str] = mapped_column(String(40), default="default")
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    dispatched_at: Mapped[datetime | None]
    dispatch_count: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    done_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
