"""Deployment requests (inzetverzoeken), their shifts and the history of their states.

A request belongs to one institution and one of its locations; its region is the
location's region at the time it was made (the region whose coordinator decides
and whose surge phase applies). The shifts carry the counters later modules
fill: ``offered`` (call-ups out), ``booked`` (accepted, never more than the
places: booking is one conditional update of this column) and ``approved``
(deployments a coordinator approved).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from zorgreserve.db import Base, utcnow


class Urgency(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"


#: Sort order: the most urgent first.
URGENCY_ORDER = {Urgency.CRITICAL.value: 0, Urgency.HIGH.value: 1, Urgency.NORMAL.value: 2}


class RequestStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CLOSED = "closed"
    CANCELLED = "cancelled"


#: States in which the request is looking for people (or has found them) and still runs.
RUNNING = frozenset({RequestStatus.OPEN, RequestStatus.PARTIALLY_FILLED, RequestStatus.FILLED})
#: States before a coordinator's decision, in which the whole request may still be edited.
EDITABLE = frozenset({RequestStatus.DRAFT, RequestStatus.SUBMITTED})
#: States from which nothing changes any more.
FINAL = frozenset({RequestStatus.REJECTED, RequestStatus.CLOSED, RequestStatus.CANCELLED})


class ShiftState(StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"


def _values(enum: type[StrEnum]) -> str:
    return ", ".join(f"'{member.value}'" for member in enum)


request_skill = Table(
    "deployment_request_skill",
    Base.metadata,
    Column("request_id", ForeignKey("deployment_request.id", ondelete="CASCADE"), primary_key=True),
    Column("skill_id", ForeignKey("skill.id"), primary_key=True),
)


class DeploymentRequest(Base):
    """An institution's request for reservists, from draft to closed.

    ``idempotency_key`` comes from a hidden field of the form: the same form
    sent twice (double click, retry after a time-out) finds the first request
    instead of making a second, and the unique constraint holds even when the
    two submissions race. ``version`` is bumped on every change, so a form made
    from an older state is refused instead of silently undoing a change.
    """

    __tablename__ = "deployment_request"
    __table_args__ = (
        UniqueConstraint("created_by_id", "idempotency_key"),
        CheckConstraint(f"status IN ({_values(RequestStatus)})", name="status_known"),
        CheckConstraint(f"urgency IN ({_values(Urgency)})", name="urgency_known"),
        Index("ix_deployment_request_region_status", "region_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("institution_location.id"))
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"))
    department: Mapped[str] = mapped_column(String(120))
    qualification_id: Mapped[int] = mapped_column(ForeignKey("qualification.id"))
    urgency: Mapped[str] = mapped_column(String(10), default=Urgency.NORMAL.value)
    status: Mapped[str] = mapped_column(String(20), default=RequestStatus.DRAFT.value)
    # Briefing: what a reservist needs to know before arriving.
    report_to: Mapped[str] = mapped_column(Text)
    bring: Mapped[str | None] = mapped_column(Text)
    contact_name: Mapped[str] = mapped_column(String(200))
    contact_phone: Mapped[str] = mapped_column(String(20))
    notes: Mapped[str | None] = mapped_column(Text)

    idempotency_key: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    __mapper_args__ = {"version_id_col": version}
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    #: ``manual`` or ``automatic`` (under the surge phase named in ``decided_in_phase``).
    decision_mode: Mapped[str | None] = mapped_column(String(10))
    decided_in_phase: Mapped[str | None] = mapped_column(String(4))
    #: Why it was rejected or cancelled (the history keeps every reason given).
    reason: Mapped[str | None] = mapped_column(Text)
    opened_at: Mapped[datetime | None]
    #: When the open request was handed to matching (set by the outbox job).
    handed_off_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    institution = relationship("Institution", lazy="joined")
    location = relationship("InstitutionLocation", lazy="joined")
    region = relationship("Region", lazy="joined")
    qualification = relationship("Qualification", lazy="joined")
    skills = relationship("Skill", secondary=request_skill, order_by="Skill.name")
    created_by = relationship("User", foreign_keys=[created_by_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])
    shifts: Mapped[list[Shift]] = relationship(
        back_populates="request", order_by="(Shift.start_at, Shift.id)", cascade="all, delete-orphan"
    )
    events: Mapped[list[RequestEvent]] = relationship(
        back_populates="request", order_by="(RequestEvent.at, RequestEvent.id)", cascade="all, delete-orphan"
    )

    @property
    def status_enum(self) -> RequestStatus:
        return RequestStatus(self.status)

    @property
    def active_shifts(self) -> list[Shift]:
        return [shift for shift in self.shifts if shift.state == ShiftState.ACTIVE.value]

    def __repr__(self) -> str:
        return f"<DeploymentRequest {self.id} {self.status}>"


class Shift(Base):
    """One shift of a request: a UTC time range and the number of people it needs."""

    __tablename__ = "shift"
    __table_args__ = (
        CheckConstraint("end_at > start_at", name="ends_after_start"),
        CheckConstraint("places BETWEEN 1 AND 1000", name="places_range"),
        CheckConstraint("booked BETWEEN 0 AND places", name="booked_within_places"),
        CheckConstraint("approved BETWEEN 0 AND booked", name="approved_within_booked"),
        CheckConstraint("offered >= 0", name="offered_positive"),
        CheckConstraint(f"state IN ({_values(ShiftState)})", name="state_known"),
        Index("ix_shift_request_start", "request_id", "start_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("deployment_request.id", ondelete="CASCADE"))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    places: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(10), default=ShiftState.ACTIVE.value)
    #: Call-ups out for this shift (matching keeps this up to date).
    offered: Mapped[int] = mapped_column(Integer, default=0)
    #: Accepted places; raised only by ``UPDATE ... SET booked = booked + 1 WHERE booked < places``.
    booked: Mapped[int] = mapped_column(Integer, default=0)
    #: Accepted deployments a coordinator approved.
    approved: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(Text)

    request: Mapped[DeploymentRequest] = relationship(back_populates="shifts")

    @property
    def is_active(self) -> bool:
        return self.state == ShiftState.ACTIVE.value

    @property
    def open_places(self) -> int:
        return self.places - self.booked if self.is_active else 0

    @property
    def duration_hours(self) -> float:
        """Real elapsed time (not the wall-clock span: they differ on the nights the clocks change)."""
        return (self.end_at - self.start_at).total_seconds() / 3600


class RequestEvent(Base):
    """One step in a request's life: who did what, when, why, and the state before and after."""

    __tablename__ = "deployment_request_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("deployment_request.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    #: Empty for decisions the system took under the surge policy.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    actor_role: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)

    request: Mapped[DeploymentRequest] = relationship(back_populates="events")
    actor = relationship("User")
