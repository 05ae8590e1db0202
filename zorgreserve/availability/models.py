"""When a reservist can be called: weekly windows, dated periods and a stand-by switch.

Weekly windows are local wall-clock times in Europe/Amsterdam (that is what
people mean by "Monday 07:00–17:00"), so they are stored as minutes of the day,
not as UTC; an end at or before the start means the window runs past midnight.
Dated periods are concrete instants and stored in UTC.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from zorgreserve.db import Base, utcnow


class PeriodKind(StrEnum):
    AVAILABLE = "available"
    UNAVAILABLE = "unavailable"


class PeriodReason(StrEnum):
    """Why a reservist is away. ``work`` (their own roster) is what matching counts as hours worked
    elsewhere for the working-time rules; a holiday is not work."""

    HOLIDAY = "holiday"
    WORK = "work"
    OTHER = "other"


class WeeklyWindow(Base):
    __tablename__ = "availability_weekly"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("start_minute BETWEEN 0 AND 1439", name="start_range"),
        CheckConstraint("end_minute BETWEEN 1 AND 1440", name="end_range"),
        CheckConstraint("start_minute <> end_minute", name="not_empty"),
        # Availability search: "windows on this weekday starting by then", answered from the index.
        Index("ix_availability_weekly_slot", "weekday", "start_minute", "end_minute", "reservist_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reservist_id: Mapped[int] = mapped_column(ForeignKey("reservist.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)  # 0 = Monday, as datetime.weekday()
    start_minute: Mapped[int] = mapped_column(Integer)
    end_minute: Mapped[int] = mapped_column(Integer)

    @property
    def crosses_midnight(self) -> bool:
        return self.end_minute <= self.start_minute


class AvailabilityPeriod(Base):
    __tablename__ = "availability_period"
    __table_args__ = (
        CheckConstraint("kind IN ('available', 'unavailable')", name="kind_known"),
        CheckConstraint("reason IN ('holiday', 'work', 'other')", name="reason_known"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_availability_period_range", "reservist_id", "starts_at", "ends_at"),
        # Availability search: periods of a kind not over by a given time (past rows skipped).
        Index("ix_availability_period_kind_end", "kind", "ends_at", "starts_at", "reservist_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reservist_id: Mapped[int] = mapped_column(ForeignKey("reservist.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str] = mapped_column(
        String(12), default=PeriodReason.OTHER.value, server_default=PeriodReason.OTHER.value
    )
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
