"""Declarations of surge phases, per region and nationally, kept as history.

A declaration is never changed or removed: the current phase of a region is
its latest declaration, and the sequence of declarations is the history
coordinators read back (who declared what, when and why).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from zorgreserve.db import Base, utcnow


class PhaseDeclaration(Base):
    """One declared phase. ``region_id`` empty means the national phase."""

    __tablename__ = "phase_declaration"
    __table_args__ = (
        Index("ix_phase_declaration_region_declared", "region_id", "declared_at"),
        CheckConstraint("length(reason) > 0", name="reason_given"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    phase_code: Mapped[str] = mapped_column(String(4), ForeignKey("surge_phase.code"))
    #: The phase this one replaced (for reading the history without recomputing it).
    previous_phase_code: Mapped[str | None] = mapped_column(String(4), ForeignKey("surge_phase.code"))
    reason: Mapped[str] = mapped_column(Text)
    declared_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    declared_at: Mapped[datetime] = mapped_column(default=utcnow)

    region = relationship("Region")
    phase = relationship("SurgePhase", foreign_keys=[phase_code], lazy="joined")
    previous_phase = relationship("SurgePhase", foreign_keys=[previous_phase_code], lazy="joined")
    declared_by = relationship("User")

    @property
    def is_national(self) -> bool:
        return self.region_id is None
