"""The reservist's record: where they live, how far they travel, what they hold and when.

The record is kept by the reservist and trusted because coordinators verify the
parts that matter (BIG registration, qualifications). Personal data sits on the
user account and here; erasure removes it and keeps an anonymous shell (region,
qualification codes) so capacity figures and past deployments still add up.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
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


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    BOTH = "both"


VERIFICATION_CHECK = "IN ('unverified', 'verified', 'rejected')"


class Reservist(Base):
    """One reservist. ``user_id`` is emptied on erasure; the anonymous rest stays for counts."""

    __tablename__ = "reservist"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'paused', 'withdrawn')", name="status_known"),
        CheckConstraint("channels IN ('sms', 'email', 'both')", name="channels_known"),
        CheckConstraint("max_travel_km BETWEEN 1 AND 400", name="travel_range"),
        CheckConstraint(
            "max_hours_per_week IS NULL OR max_hours_per_week BETWEEN 1 AND 60", name="hours_range"
        ),
        CheckConstraint("status <> 'paused' OR paused_until IS NOT NULL", name="pause_has_end"),
        Index("ix_reservist_search", "home_region_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), unique=True
    )
    pc4: Mapped[str | None] = mapped_column(String(4), ForeignKey("postcode.pc4"), index=True)
    # Copied from the postcode so matching can prefilter by region and bounding box in SQL.
    home_region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    max_travel_km: Mapped[int] = mapped_column(Integer, default=50)
    max_hours_per_week: Mapped[int | None] = mapped_column(Integer)
    channels: Mapped[str] = mapped_column(String(5), default=Channel.BOTH.value)
    languages: Mapped[str] = mapped_column(String(60), default="nl")
    status: Mapped[str] = mapped_column(String(10), default=ReservistStatus.ACTIVE.value, index=True)
    paused_until: Mapped[date | None] = mapped_column(Date)
    standby_until: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    erased_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    user = relationship("User")
    home_region = relationship("Region", foreign_keys=[home_region_id])
    qualifications: Mapped[list[ReservistQualification]] = relationship(
        back_populates="reservist", cascade="all, delete-orphan"
    )
    big_registrations: Mapped[list[BigRegistration]] = relationship(
        back_populates="reservist", cascade="all, delete-orphan"
    )
    skills = relationship("Skill", secondary="reservist_skill", order_by="Skill.name")
    regions = relationship("Region", secondary="reservist_region", order_by="Region.name")
    trainings: Mapped[list[TrainingRecord]] = relationship(
        back_populates="reservist", cascade="all, delete-orphan", order_by="TrainingRecord.completed_on"
    )

    def is_active_on(self, day: date) -> bool:
        if self.status == ReservistStatus.WITHDRAWN or self.erased_at is not None:
            return False
        if self.status == ReservistStatus.PAUSED and self.paused_until is not None:
            return day > self.paused_until
        return True


class ReservistRegion(Base):
    """A region the reservist is willing to serve in (besides reach by travel distance)."""

    __tablename__ = "reservist_region"

    reservist_id: Mapped[int] = mapped_column(
        ForeignKey("reservist.id", ondelete="CASCADE"), primary_key=True
    )
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), primary_key=True, index=True)


class ReservistSkill(Base):
    __tablename__ = "reservist_skill"

    reservist_id: Mapped[int] = mapped_column(
        ForeignKey("reservist.id", ondelete="CASCADE"), primary_key=True
    )
    skill_id: Mapped[int] = mapped_column(ForeignKey("skill.id"), primary_key=True, index=True)


class Evidence(Base):
    """An uploaded document (PDF, JPEG, PNG), stored outside the web root under a random key."""

    __tablename__ = "evidence"
    __table_args__ = (
        CheckConstraint("content_type IN ('application/pdf', 'image/jpeg', 'image/png')", name="type_known"),
        CheckConstraint("size_bytes > 0", name="not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reservist_id: Mapped[int] = mapped_column(ForeignKey("reservist.id", ondelete="CASCADE"), index=True)
    storage_key: Mapped[str] = mapped_column(String(64), unique=True)
    filename: Mapped[str] = mapped_column(String(120))
    content_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class BigRegistration(Base):
    """A BIG registration (11-digit number, kept as text) for one profession.

    ``lookup_result`` records what the register said the last time it was
    asked: ``verified``, ``not_found`` or ``unavailable``; unavailable never
    counts as verified. The coordinator's decision is ``verification``.
    """

    __tablename__ = "big_registration"
    __table_args__ = (
        UniqueConstraint("reservist_id", "profession_id"),
        CheckConstraint("length(big_number) = 11", name="big_number_length"),
        CheckConstraint(f"verification {VERIFICATION_CHECK}", name="verification_known"),
        CheckConstraint(
            "lookup_result IS NULL OR lookup_result IN ('verified', 'not_found', 'unavailable')",
            name="lookup_known",
        ),
        Index("ix_big_registration_queue", "verification"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reservist_id: Mapped[int] = mapped_column(ForeignKey("reservist.id", ondelete="CASCADE"), index=True)
    profession_id: Mapped[int] = mapped_column(ForeignKey("profession.id"))
    big_number: Mapped[str] = mapped_column(String(11), index=True)
    verification: Mapped[str] = mapped_column(String(10), default=Verification.UNVERIFIED.value)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    reregistration_due: Mapped[date | None] = mapped_column(Date)
    lookup_result: Mapped[str | None] = mapped_column(String(12))
    lookup_at: Mapped[datetime | None]
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    verified_at: Mapped[datetime | None]
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    reservist: Mapped[Reservist] = relationship(back_populates="big_registrations")
    profession = relationship("Profession", lazy="joined")

    def is_due_for_reregistration(self, on: date) -> bool:
        return self.reregistration_due is not None and self.reregistration_due <= on


class ReservistQualification(Base):
    """A qualification the reservist holds; needs a coordinator's verification.

    A change by the reservist (dates, evidence) returns it to unverified.
    ``evidence_verified`` is the coordinator's confirmation of the further
    evidence the catalogue asks for (e.g. a CZO diploma); a qualification that
    needs it cannot be verified without it.
    """

    __tablename__ = "reservist_qualification"
    __table_args__ = (
        UniqueConstraint("reservist_id", "qualification_id"),
        CheckConstraint(f"verification {VERIFICATION_CHECK}", name="verification_known"),
        CheckConstraint("expires_on IS NULL OR expires_on >= obtained_on", name="expiry_after_obtained"),
        Index("ix_reservist_qualification_match", "qualification_id", "verification", "reservist_id"),
        # The coordinators' search for holders of a verified, unexpired qualification.
        Index(
            "ix_reservist_qualification_verified",
            "qualification_id",
            "reservist_id",
            "expires_on",
            postgresql_where=text("verification = 'verified'"),
            sqlite_where=text("verification = 'verified'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reservist_id: Mapped[int] = mapped_column(ForeignKey("reservist.id", ondelete="CASCADE"), index=True)
    qualification_id: Mapped[int] = mapped_column(ForeignKey("qualification.id"))
    obtained_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence.id", ondelete="SET NULL"))
    evidence_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    verification: Mapped[str] = mapped_column(String(10), default=Verification.UNVERIFIED.value)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    verified_at: Mapped[datetime | None]
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    reservist: Mapped[Reservist] = relationship(back_populates="qualifications")
    qualification = relationship("Qualification", lazy="joined")
    evidence = relationship("Evidence")


class TrainingRecord(Base):
    __tablename__ = "training_record"
    __table_args__ = (
        CheckConstraint("expires_on IS NULL OR expires_on >= completed_on", name="expiry_after_completion"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reservist_id: Mapped[int] = mapped_column(ForeignKey("reservist.id", ondelete="CASCADE"), index=True)
    course: Mapped[str] = mapped_column(String(200))
    completed_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)

    reservist: Mapped[Reservist] = relationship(back_populates="trainings")


class ExpiryReminder(Base):
    """That the 30-day expiry reminder for one item and expiry date was sent (once per item)."""

    __tablename__ = "expiry_reminder"
    __table_args__ = (UniqueConstraint("item_type", "item_id", "expires_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reservist_id: Mapped[int] = mapped_column(ForeignKey("reservist.id", ondelete="CASCADE"), index=True)
    item_type: Mapped[str] = mapped_column(String(20))  # qualification, training, big
    item_id: Mapped[int] = mapped_column(Integer)
    expires_on: Mapped[date] = mapped_column(Date)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
