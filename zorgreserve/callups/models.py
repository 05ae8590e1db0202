"""Call-ups: waves of offers, the shifts each offer lists, bookings, stand-by and messages.

These tables are the contract between matching (which reads bookings and held
offers to respect overlap and working-time rules), the call-up worker (which
writes waves, offers and messages) and booking (which turns accepted offer
shifts into bookings without ever exceeding a shift's places).

Invariants kept by the database, not only by code:

* one offer per reservist per wave (``uq_offer_wave_id``): a worker killed in the
  middle of a wave and restarted cannot send anyone a second offer for it;
* one booking per reservist per shift, and (PostgreSQL) no two active bookings
  of one reservist that overlap in time (an exclusion constraint installed by the
  migration and by ``create_all``; SQLite serialises writers and booking checks the
  same in its transaction);
* one message per (purpose, channel, subject) through ``dedupe_key``, so a job
  that runs twice sends once.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from zorgreserve.db import Base, utcnow


def _values(enum: type[StrEnum]) -> str:
    return ", ".join(f"'{member.value}'" for member in enum)


class WaveStatus(StrEnum):
    PLANNED = "planned"  # rows written, offers not yet handed to the channels
    SENDING = "sending"
    SENT = "sent"  # every offer handed to its channels; waiting for answers
    CLOSED = "closed"  # expired or all answered; the next wave may follow


class Reach(StrEnum):
    OWN_REGION = "own_region"
    NEIGHBOURS = "neighbours"
    NATIONAL = "national"


class OfferStatus(StrEnum):
    PENDING = "pending"  # created, not yet sent
    SENT = "sent"
    ACCEPTED = "accepted"  # every offered shift accepted (some may have been filled meanwhile)
    PARTIALLY_ACCEPTED = "partially_accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"  # its shifts filled or were cancelled before an answer


#: Offers still waiting for an answer: their shifts are "held" for the reservist.
OPEN_OFFER = frozenset({OfferStatus.PENDING, OfferStatus.SENT})


class OfferShiftStatus(StrEnum):
    OFFERED = "offered"
    ACCEPTED = "accepted"  # booked
    STANDBY = "standby"  # accepted after the shift filled: on the stand-by list
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class BookingStatus(StrEnum):
    ACCEPTED = "accepted"  # waiting for a coordinator (or automatic) approval
    APPROVED = "approved"
    REJECTED = "rejected"  # coordinator refused the deployment; the place reopened
    CANCELLED = "cancelled"
    CHECKED_IN = "checked_in"
    COMPLETED = "completed"
    NO_SHOW = "no_show"


#: Bookings that occupy the reservist's time and a place of the shift.
ACTIVE_BOOKING = frozenset(
    {BookingStatus.ACCEPTED, BookingStatus.APPROVED, BookingStatus.CHECKED_IN, BookingStatus.COMPLETED}
)


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"


class MessageStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"  # handed to the provider
    DELIVERED = "delivered"  # the provider reported delivery
    FAILED = "failed"


class Wave(Base):
    """One round of offers for a request, with how far it reached."""

    __tablename__ = "callup_wave"
    __table_args__ = (
        UniqueConstraint("request_id", "number"),
        CheckConstraint(f"status IN ({_values(WaveStatus)})", name="status_known"),
        CheckConstraint(f"reach IN ({_values(Reach)})", name="reach_known"),
        CheckConstraint("number >= 1", name="number_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("deployment_request.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default=WaveStatus.PLANNED.value)
    reach: Mapped[str] = mapped_column(String(12), default=Reach.OWN_REGION.value)
    radius_km: Mapped[int | None] = mapped_column(Integer)
    candidates_per_place: Mapped[int] = mapped_column(Integer, default=3)
    phase_code: Mapped[str | None] = mapped_column(String(4))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    expires_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    offers: Mapped[list[Offer]] = relationship(back_populates="wave", order_by="Offer.id")


class Offer(Base):
    """A call-up to one reservist, listing the shifts of one request proposed to them."""

    __tablename__ = "callup_offer"
    __table_args__ = (
        UniqueConstraint("wave_id", "reservist_id"),
        UniqueConstraint("code"),
        CheckConstraint(f"status IN ({_values(OfferStatus)})", name="status_known"),
        Index("ix_callup_offer_open_expiry", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("callup_wave.id", ondelete="CASCADE"), index=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("deployment_request.id", ondelete="CASCADE"), index=True
    )
    reservist_id: Mapped[int] = mapped_column(ForeignKey("reservist.id", ondelete="CASCADE"), index=True)
    #: Short code quoted in SMS replies ("JA K7P2Q"); unique so a reply maps to one offer.
    code: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(20), default=OfferStatus.PENDING.value)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    expires_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    answer_channel: Mapped[str | None] = mapped_column(String(8))
    decline_reason: Mapped[str | None] = mapped_column(Text)
    #: Score and its parts at the time of the offer, for "why this person" afterwards.
    score: Mapped[float | None]
    score_parts: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    wave: Mapped[Wave] = relationship(back_populates="offers")
    shifts: Mapped[list[OfferShift]] = relationship(
        back_populates="offer", cascade="all, delete-orphan", order_by="OfferShift.shift_id"
    )


class OfferShift(Base):
    """One shift listed in an offer, and what became of it."""

    __tablename__ = "callup_offer_shift"
    __table_args__ = (
        CheckConstraint(f"status IN ({_values(OfferShiftStatus)})", name="status_known"),
        Index("ix_callup_offer_shift_shift_status", "shift_id", "status"),
    )

    offer_id: Mapped[int] = mapped_column(ForeignKey("callup_offer.id", ondelete="CASCADE"), primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("shift.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(10), default=OfferShiftStatus.OFFERED.value)
    answered_at: Mapped[datetime | None]
    #: Why an accepted shift could not be booked (``overlap``, ``worktime``, ``cancelled`` ...);
    #: the status is then ``declined``. Kept so a repeated accept gives the same answer.
    refusal: Mapped[str | None] = mapped_column(String(20))

    offer: Mapped[Offer] = relationship(back_populates="shifts")


class Booking(Base):
    """A reservist booked on a shift (a deployment), from acceptance to hours worked.

    ``start_at``/``end_at`` copy the shift's times so the database can refuse
    overlapping active bookings of one reservist without a join.
    """

    __tablename__ = "booking"
    __table_args__ = (
        UniqueConstraint("shift_id", "reservist_id"),
        CheckConstraint(f"status IN ({_values(BookingStatus)})", name="status_known"),
        CheckConstraint("end_at > start_at", name="ends_after_start"),
        Index("ix_booking_reservist_time", "reservist_id", "start_at", "end_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("shift.id", ondelete="CASCADE"), index=True)
    reservist_id: Mapped[int] = mapped_column(ForeignKey("reservist.id", ondelete="CASCADE"))
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("callup_offer.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(12), default=BookingStatus.ACCEPTED.value)
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(Text)


class StandbyEntry(Base):
    """A reservist who accepted a shift that had just filled: first in line if a place reopens."""

    __tablename__ = "callup_standby"
    __table_args__ = (UniqueConstraint("shift_id", "reservist_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("shift.id", ondelete="CASCADE"), index=True)
    reservist_id: Mapped[int] = mapped_column(ForeignKey("reservist.id", ondelete="CASCADE"))
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("callup_offer.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Message(Base):
    """One SMS or e-mail to a reservist about a call-up, with its delivery state.

    ``dedupe_key`` names the purpose and subject (e.g. ``offer:17:sms``): writing
    the row is the decision to send, and the unique key makes a second attempt a
    no-op. The text itself is not stored (it is personal and can be re-rendered).
    """

    __tablename__ = "callup_message"
    __table_args__ = (
        UniqueConstraint("dedupe_key"),
        CheckConstraint(f"channel IN ({_values(Channel)})", name="channel_known"),
        CheckConstraint(f"status IN ({_values(MessageStatus)})", name="status_known"),
        Index("ix_callup_message_status", "status", "created_at"),
        # What a wave's senders claim from: its queued messages in id order, without reading the rest.
        Index(
            "ix_callup_message_wave_queued",
            "wave_id",
            "id",
            postgresql_where=text("status = 'queued'"),
            sqlite_where=text("status = 'queued'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(30))
    channel: Mapped[str] = mapped_column(String(6))
    reservist_id: Mapped[int | None] = mapped_column(
        ForeignKey("reservist.id", ondelete="SET NULL"), index=True
    )
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("deployment_request.id", ondelete="CASCADE"), index=True
    )
    offer_id: Mapped[int | None] = mapped_column(
        ForeignKey("callup_offer.id", ondelete="CASCADE"), index=True
    )
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("booking.id", ondelete="CASCADE"))
    #: The wave an offer message belongs to (``None`` for every other kind).
    wave_id: Mapped[int | None] = mapped_column(ForeignKey("callup_wave.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(10), default=MessageStatus.QUEUED.value)
    provider_id: Mapped[str | None] = mapped_column(String(80), index=True)
    error: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: Set by the one conditional UPDATE that lets a sender hand the message to its channel;
    #: a claim older than ``CALLUP_CLAIM_STALE_SECONDS`` belongs to a dead worker and is taken over.
    claimed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]


class CallupState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"  # no new wave until resumed; offers out stay valid
    STOPPED = "stopped"  # no new wave any more; open offers withdrawn


class CallupControl(Base):
    """Per request: whether call-ups run, how far up the escalation ladder they are, and alerts.

    Written by the escalation tick and by coordinators (pause, resume, stop). ``alert``
    names why call-ups stopped on their own (``too_near``: the first open shift starts
    within ``CALLUP_MIN_LEAD_MINUTES``; ``no_candidates``: the ladder is exhausted)
    so coordinators see it on their overview.
    """

    __tablename__ = "callup_control"
    __table_args__ = (CheckConstraint(f"state IN ({_values(CallupState)})", name="state_known"),)

    request_id: Mapped[int] = mapped_column(
        ForeignKey("deployment_request.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(10), default=CallupState.RUNNING.value)
    #: Index into the escalation ladder of the latest wave (``waves.ladder``).
    ladder_step: Mapped[int] = mapped_column(Integer, default=0)
    alert: Mapped[str | None] = mapped_column(String(20))
    alert_at: Mapped[datetime | None]
    #: The last time the tick found nobody to call up (retried after ``CALLUP_RETRY_MINUTES``).
    searched_at: Mapped[datetime | None]
    changed_at: Mapped[datetime | None]
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))


class InboundSms(Base):
    """A text message received from the provider's webhook, kept once per provider message id."""

    __tablename__ = "inbound_sms"
    __table_args__ = (UniqueConstraint("provider_message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_message_id: Mapped[str] = mapped_column(String(80))
    sender: Mapped[str] = mapped_column(String(20))  # E.164
    body: Mapped[str] = mapped_column(String(480))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("callup_offer.id", ondelete="SET NULL"))
    outcome: Mapped[str | None] = mapped_column(String(20))


#: Active bookings of one reservist never overlap (PostgreSQL; needs btree_gist).
#: Back-to-back shifts ('[)' ranges) do not overlap.
NO_OVERLAP_DDL = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    "ALTER TABLE booking ADD CONSTRAINT booking_no_overlap EXCLUDE USING gist "
    "(reservist_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&) "
    "WHERE (status IN ('accepted', 'approved', 'checked_in', 'completed'))",
]


def _install_no_overlap(table: Any, connection: Any, **_kw: Any) -> None:
    if connection.dialect.name == "postgresql":
        for statement in NO_OVERLAP_DDL:
            connection.execute(DDL(statement))


event.listen(Booking.__table__, "after_create", _install_no_overlap)
