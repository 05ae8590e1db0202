"""The reservist's record: where they live (PC4), how far they travel, what they hold.

Kept to what matching and the demo need; the registry issue extends it
(BIG registration, skills, training, availability).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from zorgreserve.db import Base, utcnow


class ReservistStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    WITHDRAWN = "withdrawn"


class Verification(StrEnum):
    UNVERIFIED = "unverified"
    VERIFIED = "verified"
    REJECTED = "rejected"


class Reservist(Base):
    __tablename__ = "reservist"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'paused', 'withdrawn')", name="status_known"),
        CheckConstraint("max_travel_km BETWEEN 1 AND 400", name="travel_range"),
        CheckConstraint(
            "max_hours_per_week IS NULL OR max_hours_per_week BETWEEN 1 AND 60", name="hours_range"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), unique=True)
    pc4: Mapped[str | None] = mapped_column(String(4), ForeignKey("postcode.pc4"), index=True)
    max_travel_km: Mapped[int] = mapped_column(Integer, default=50)
    max_hours_per_week: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default=ReservistStatus.ACTIVE.value, index=True)
    paused_until: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user = relationship("User")
    qualifications: Mapped[list[ReservistQualification]] = relationship(
        back_populates="reservist", cascade="all, delete-orphan"
    )


class ReservistQualification(Base):
    __tablename__ = "reservist_qualification"
    __table_args__ = (
        UniqueConstraint("reservist_id", "qualification_id"),
        CheckConstraint("verification IN ('unverified', 'verified', 'rejected')", name="verification_known"),
        CheckConstraint("expires_on IS NULL OR expires_on >= obtained_on", name="expiry_after_obtained"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reservist_id: Mapped[int] = mapped_column(ForeignKey("reservist.id", ondelete="CASCADE"), index=True)
    qualification_id: Mapped[int] = mapped_column(ForeignKey("qualification.id"), index=True)
    obtained_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)
    verification: Mapped[str] = mapped_column(String(10), default=Verification.UNVERIFIED.value)

    reservist: Mapped[Reservist] = relationship(back_populates="qualifications")
    qualification = relationship("Qualification")
