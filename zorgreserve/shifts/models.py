"""Tables of the shifts module: personal calendar feeds.

A feed URL carries a random token; only its SHA-256 is stored, so a copy of the
database does not hand out anyone's calendar. Renewing revokes the previous
token (its URL answers 404 from then on); revoking keeps the row for the audit
trail with ``revoked_at`` set.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zorgreserve.db import Base, utcnow


class CalendarFeed(Base):
    """A secret iCalendar subscription URL of one reservist (at most one not revoked, kept by code)."""

    __tablename__ = "calendar_feed"
    __table_args__ = (
        UniqueConstraint("token_hash"),
        Index("ix_calendar_feed_reservist", "reservist_id", "revoked_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reservist_id: Mapped[int] = mapped_column(ForeignKey("reservist.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
