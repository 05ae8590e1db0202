"""Care institutions. Staff accounts are bound to exactly one of them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String
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
