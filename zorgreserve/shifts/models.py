"""Tables of the shifts module: personal calendar feeds and timesheet entries.

A feed URL carries a random token; only its SHA-256 is stored, so a copy of the
database does not hand out anyone's calendar. Renewing revokes the previous
token (its URL answers 404 from then on); revoking keeps the row for the audit
trail with ``revoked_at`` set.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
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


class TimesheetEntry(Base):
    """The actual times of one booking, recorded by the institution on the roster.

    Kept apart from the booking (which holds the planned times and the status)
    so the hours worked can grow corrections and confirmation without widening
    the table every call-up query reads. ``actual_end_at`` and
    ``break_minutes`` are set at check-out.
    """

    __tablename__ = "timesheet_entry"
    __table_args__ = (
        UniqueConstraint("booking_id"),
        CheckConstraint("break_minutes >= 0", name="break_not_negative"),
        CheckConstraint("actual_end_at IS NULL OR actual_end_at > actual_start_at", name="ends_after_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("booking.id", ondelete="CASCADE"))
    actual_start_at: Mapped[datetime]
    actual_end_at: Mapped[datetime | None]
    break_minutes: Mapped[int] = mapped_column(Integer, default=0)
    checked_in_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    checked_out_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
