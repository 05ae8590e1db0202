"""Reference data: regions, municipalities, postcodes, professions, qualifications, skills, phases.

All of it is data, not code, because much of it is uncertain or changes over time
(see ``docs/reference-data.md``): regions and the municipality → region mapping
are versioned with valid-from/valid-to dates, and administrators correct them.
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


class Region(Base):
    """A ROAZ region (regional acute-care network), versioned by validity dates."""

    __tablename__ = "region"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    trauma_centre: Mapped[str | None] = mapped_column(String(120))
    successor_name: Mapped[str | None] = mapped_column(String(120))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)

    def is_active_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)

    def __repr__(self) -> str:
        return f"<Region {self.code}>"


class RegionNeighbour(Base):
    """An undirected pair of neighbouring regions, stored once with the lower id first."""

    __tablename__ = "region_neighbour"
    __table_args__ = (CheckConstraint("region_a_id < region_b_id", name="ordered_pair"),)

    region_a_id: Mapped[int] = mapped_column(ForeignKey("region.id", ondelete="CASCADE"), primary_key=True)
    region_b_id: Mapped[int] = mapped_column(ForeignKey("region.id", ondelete="CASCADE"), primary_key=True)


class Municipality(Base):
    __tablename__ = "municipality"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    province: Mapped[str] = mapped_column(String(40))
    safety_region_code: Mapped[str] = mapped_column(String(4))
    safety_region_name: Mapped[str] = mapped_column(String(120))


class MunicipalityRegion(Base):
    """Which region a municipality belongs to, from when to when.

    Exactly one open row (``valid_to`` empty) per municipality, enforced by a
    partial unique index. ``derived`` marks rows inferred from the safety region
    rather than from a municipality-level source.
    """

    __tablename__ = "municipality_region"
    __table_args__ = (
        Index(
            "uq_municipality_region_open",
            "municipality_code",
            unique=True,
            postgresql_where=text("valid_to IS NULL"),
            sqlite_where=text("valid_to IS NULL"),
        ),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="valid_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_code: Mapped[str] = mapped_column(
        ForeignKey("municipality.code", ondelete="CASCADE"), index=True
    )
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    derived: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str | None] = mapped_column(Text)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    municipality = relationship("Municipality")
    region = relationship("Region")


class Postcode(Base):
    """A four-digit postcode area with a representative point (GeoNames, CC BY 4.0)."""

    __tablename__ = "postcode"
    __table_args__ = (
        CheckConstraint("latitude BETWEEN 50 AND 54", name="latitude_nl"),
        CheckConstraint("longitude BETWEEN 3 AND 8", name="longitude_nl"),
    )

    pc4: Mapped[str] = mapped_column(String(4), primary_key=True)
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    place: Mapped[str] = mapped_column(String(120))
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"), index=True)

    municipality = relationship("Municipality")


class Profession(Base):
    """A care profession: BIG article 3 (registered), article 34 (title only) or neither."""

    __tablename__ = "profession"
    __table_args__ = (
        CheckConstraint("big_article IS NULL OR big_article IN ('3', '34')", name="big_article_known"),
        CheckConstraint("NOT has_big_register OR big_article = '3'", name="register_only_article_3"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    big_article: Mapped[str | None] = mapped_column(String(3))
    has_big_register: Mapped[bool] = mapped_column(Boolean, default=False)
    reregistration_hours: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)


class QualificationInclusion(Base):
    """Holding ``qualification`` counts as holding ``includes`` (IC-vpk includes vpk)."""

    __tablename__ = "qualification_inclusion"
    __table_args__ = (CheckConstraint("qualification_id <> includes_id", name="not_self"),)

    qualification_id: Mapped[int] = mapped_column(
        ForeignKey("qualification.id", ondelete="CASCADE"), primary_key=True
    )
    includes_id: Mapped[int] = mapped_column(
        ForeignKey("qualification.id", ondelete="CASCADE"), primary_key=True
    )


class Qualification(Base):
    """A qualification reservists hold and requests ask for.

    ``profession`` is the BIG registration it needs (if that profession has a
    register); ``further_evidence`` names extra proof such as a CZO diploma.
    """

    __tablename__ = "qualification"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    profession_id: Mapped[int | None] = mapped_column(ForeignKey("profession.id"))
    further_evidence: Mapped[str | None] = mapped_column(String(200))
    has_expiry: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str | None] = mapped_column(Text)
    #: Inactive qualifications are no longer offered for new records or requests; rows that
    #: reference them keep them (reference rows are deactivated, never deleted).
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    profession = relationship("Profession", lazy="joined")
    includes = relationship(
        "Qualification",
        secondary="qualification_inclusion",
        primaryjoin="Qualification.id == QualificationInclusion.qualification_id",
        secondaryjoin="Qualification.id == QualificationInclusion.includes_id",
        order_by="Qualification.name",
    )

    @property
    def needs_big_registration(self) -> bool:
        return self.profession is not None and self.profession.has_big_register


class Skill(Base):
    """A skill reservists declare and requests ask for; ``code`` is the loader's stable key."""

    __tablename__ = "skill"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    #: Inactive skills are no longer offered; reservists and requests that have one keep it.
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ApprovalMode(StrEnum):
    MANUAL = "manual"
    AUTOMATIC = "automatic"


class Reach(StrEnum):
    OWN_REGION = "own_region"
    NEIGHBOURS = "neighbours"
    NATIONAL = "national"


class SurgePhase(Base):
    """A phase of the LNAZ opschalingsplan, with the policy it carries as editable data."""

    __tablename__ = "surge_phase"
    __table_args__ = (
        UniqueConstraint("ordinal"),
        CheckConstraint("request_approval IN ('manual', 'automatic')", name="request_approval_known"),
        CheckConstraint("deployment_approval IN ('manual', 'automatic')", name="deployment_approval_known"),
        CheckConstraint("reach IN ('own_region', 'neighbours', 'national')", name="reach_known"),
        CheckConstraint("offer_expiry_minutes BETWEEN 5 AND 10080", name="offer_expiry_range"),
    )

    code: Mapped[str] = mapped_column(String(4), primary_key=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text)
    national_only: Mapped[bool] = mapped_column(Boolean, default=False)
    request_approval: Mapped[str] = mapped_column(String(10), default=ApprovalMode.MANUAL.value)
    deployment_approval: Mapped[str] = mapped_column(String(10), default=ApprovalMode.MANUAL.value)
    reach: Mapped[str] = mapped_column(String(12), default=Reach.OWN_REGION.value)
    offer_expiry_minutes: Mapped[int] = mapped_column(Integer, default=240)
