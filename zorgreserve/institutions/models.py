"""Care institutions and their locations. Staff accounts are bound to exactly one institution."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from zorgreserve.db import Base, utcnow


class InstitutionKind(StrEnum):
    HOSPITAL = "hospital"
    NURSING_HOME = "nursing_home"
    GGD = "ggd"
    MENTAL_HEALTH = "mental_health"
    OTHER = "other"


KIND_VALUES = ", ".join(f"'{kind.value}'" for kind in InstitutionKind)


class Institution(Base):
    __tablename__ = "institution"
    __table_args__ = (CheckConstraint(f"kind IN ({KIND_VALUES})", name="kind_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default=InstitutionKind.HOSPITAL.value)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    postcode: Mapped[str | None] = mapped_column(String(4), ForeignKey("postcode.pc4"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    region = relationship("Region")
    locations: Mapped[list[InstitutionLocation]] = relationship(
        back_populates="institution", order_by="InstitutionLocation.name"
    )


class InstitutionLocation(Base):
    """A site of an institution where reservists report for work.

    The region and the coordinates come from the four-digit postcode area when
    the location is saved (``region_id`` is the ROAZ region of that area, which
    may differ from the institution's: a hospital group can span two networks).
    Deployment requests take their region from the location, because the
    region in which people work is the one whose coordinator and surge phase
    apply. Locations are never deleted once used; ``active`` hides them from
    new requests.
    """

    __tablename__ = "institution_location"
    __table_args__ = (
        UniqueConstraint("institution_id", "name"),
        CheckConstraint("length(postcode) = 4 OR length(postcode) = 7", name="postcode_shape"),
        CheckConstraint("substr(postcode, 1, 4) = pc4", name="postcode_matches_pc4"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    street_address: Mapped[str] = mapped_column(String(200))
    #: As written on letters: "3584 CX", or only the four digits when the letters are unknown.
    postcode: Mapped[str] = mapped_column(String(7))
    pc4: Mapped[str] = mapped_column(String(4), ForeignKey("postcode.pc4"), index=True)
    city: Mapped[str] = mapped_column(String(120))
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    institution: Mapped[Institution] = relationship(back_populates="locations")
    region = relationship("Region")

    def __repr__(self) -> str:
        return f"<InstitutionLocation {self.id} of {self.institution_id}>"
