"""Tables of the shifts module: personal calendar feeds, timesheet entries and check-in codes.

A feed URL carries a random token; only its SHA-256 is stored, so a copy of the
database does not hand out anyone's calendar. Renewing revokes the previous
token (its URL answers 404 from then on); revoking keeps the row for the audit
trail with ``revoked_at`` set.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
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
    ``break_minutes`` are set at check-out. ``confirmed_at`` is set once when
    the institution confirms the hours; from then on (and already before) the
    times change only through a :class:`TimesheetCorrection`, which keeps the
    previous values.
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
    confirmed_at: Mapped[datetime | None]
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    @property
    def worked_hours(self) -> float | None:
        """Actual end − actual start − break, in hours (2 decimals); None before check-out.

        Both times are UTC, so a shift across a clock change counts the hours really worked.
        """
        if self.actual_end_at is None:
            return None
        seconds = (self.actual_end_at - self.actual_start_at).total_seconds() - self.break_minutes * 60
        return round(seconds / 3600, 2)


class TimesheetCorrection(Base):
    """One change of a checked-out timesheet entry: the values before and after, why, by whom.

    Rows are only ever added: the entry holds the current values, these rows
    the history, so a confirmed entry is never overwritten without a trace.
    """

    __tablename__ = "timesheet_correction"
    __table_args__ = (
        CheckConstraint("new_end_at > new_start_at", name="ends_after_start"),
        CheckConstraint("new_break_minutes >= 0", name="break_not_negative"),
        Index("ix_timesheet_correction_entry", "entry_id", "corrected_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("timesheet_entry.id", ondelete="CASCADE"))
    previous_start_at: Mapped[datetime]
    previous_end_at: Mapped[datetime]
    previous_break_minutes: Mapped[int] = mapped_column(Integer)
    new_start_at: Mapped[datetime]
    new_end_at: Mapped[datetime]
    new_break_minutes: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    #: Whether the hours had been confirmed when they were corrected.
    was_confirmed: Mapped[bool]
    corrected_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    corrected_by_role: Mapped[str | None] = mapped_column(String(32))
    corrected_at: Mapped[datetime] = mapped_column(default=utcnow)


class CheckinCode(Base):
    """The short code a shift's reservists enter (or scan) at the location to check themselves in.

    Made when the institution first asks for it (``shifts.checkin.code_for``) and
    shown or printed at the location. It is not a secret of the reservist: it
    only works for someone booked on that very shift, within its check-in window.
    """

    __tablename__ = "shift_checkin_code"
    __table_args__ = (UniqueConstraint("shift_id"), UniqueConstraint("code"))

    id: Mapped[int] = mapped_column(primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("shift.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
