"""The worker heartbeat: proof that jobs are being run, shown on the health page."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from zorgreserve import db
from zorgreserve.db import Base, utcnow


class WorkerHeartbeat(Base):
    __tablename__ = "worker_heartbeat"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    beats: Mapped[int] = mapped_column(Integer, default=0)


def record_heartbeat(name: str = "worker") -> None:
    """Record that a worker ran a job just now (the demo job of the outbox path)."""
    row = db.session.get(WorkerHeartbeat, name)
    if row is None:
        row = WorkerHeartbeat(name=name, beats=0)
        db.session.add(row)
    row.last_seen_at = utcnow()
    row.beats += 1
    db.session.flush()


def last_heartbeat(name: str = "worker") -> datetime | None:
    row = db.session.get(WorkerHeartbeat, name)
    return row.last_seen_at if row else None
