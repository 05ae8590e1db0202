"""The reservist's own deployment data for the "my data" page and the export (AVG/GDPR art. 15, 20).

Call-up offers with the shifts they listed, bookings with the hours the
institution recorded and every correction of them, stand-by entries, the
messages sent to the reservist, the text messages they sent and their calendar
feeds. :func:`deployment_data` reads them with a fixed number of queries (one per
kind, however many rows) and :func:`export_deployments` turns them into the keys
of the export document.

Only the reservist's own rows are read: every query is bounded by their
reservist id, or for text messages by their own offers and their own phone
number. Other people booked on the same shift, the staff who recorded or
corrected the hours (only their role is shown), a calendar feed's token hash,
a message's provider id and the text of messages sent (not stored) never appear.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select

from zorgreserve import db
from zorgreserve.callups.models import Booking, InboundSms, Message, Offer, OfferShift, StandbyEntry
from zorgreserve.deployments.models import DeploymentRequest, Shift
from zorgreserve.institutions.models import Institution
from zorgreserve.shifts.models import CalendarFeed, TimesheetCorrection, TimesheetEntry


@dataclass(frozen=True)
class OfferedShift:
    """One shift listed in an offer, and what became of it."""

    start_at: datetime
    end_at: datetime
    status: str
    refusal: str | None
    answered_at: datetime | None


@dataclass
class OfferRecord:
    """An offer with the institution and department of its request and the shifts it listed."""

    offer: Offer
    institution: str
    department: str
    shifts: list[OfferedShift] = field(default_factory=list)


@dataclass
class BookingRecord:
    """A booking with its shift's times and place, and the hours recorded for it (once checked in)."""

    booking: Booking
    timesheet: TimesheetEntry | None
    start_at: datetime
    end_at: datetime
    institution: str
    department: str
    corrections: list[TimesheetCorrection] = field(default_factory=list)


@dataclass(frozen=True)
class StandbyRecord:
    entry: StandbyEntry
    start_at: datetime
    end_at: datetime
    institution: str
    department: str


@dataclass
class DeploymentData:
    """Everything held about one reservist's call-ups and deployments, newest first."""

    offers: list[OfferRecord] = field(default_factory=list)
    bookings: list[BookingRecord] = field(default_factory=list)
    standby: list[StandbyRecord] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    sms: list[InboundSms] = field(default_factory=list)
    calendar_feeds: list[CalendarFeed] = field(default_factory=list)


def _at_shift(*entities: Any, shift_id: Any) -> Select[Any]:
    """``entities`` with the start and end, institution name and department of the shift ``shift_id``."""
    return (
        select(*entities, Shift.start_at, Shift.end_at, Institution.name, DeploymentRequest.department)
        .join(Shift, Shift.id == shift_id)
        .join(DeploymentRequest, DeploymentRequest.id == Shift.request_id)
        .join(Institution, Institution.id == DeploymentRequest.institution_id)
    )


def _offers(reservist_id: int) -> list[OfferRecord]:
    offers = [
        OfferRecord(offer, institution, department)
        for offer, institution, department in db.session.execute(
            select(Offer, Institution.name, DeploymentRequest.department)
            .join(DeploymentRequest, DeploymentRequest.id == Offer.request_id)
            .join(Institution, Institution.id == DeploymentRequest.institution_id)
            .where(Offer.reservist_id == reservist_id)
            .order_by(Offer.created_at.desc(), Offer.id.desc())
        )
    ]
    by_id = {record.offer.id: record for record in offers}
    for offer_id, status, refusal, answered_at, start_at, end_at in db.session.execute(
        select(
            OfferShift.offer_id,
            OfferShift.status,
            OfferShift.refusal,
            OfferShift.answered_at,
            Shift.start_at,
            Shift.end_at,
        )
        .join(Shift, Shift.id == OfferShift.shift_id)
        .join(Offer, Offer.id == OfferShift.offer_id)
        .where(Offer.reservist_id == reservist_id)
        .order_by(Shift.start_at, Shift.id)
    ):
        if offer_id in by_id:  # an offer made between the two reads waits for the next page view
            by_id[offer_id].shifts.append(OfferedShift(start_at, end_at, status, refusal, answered_at))
    return offers


def _bookings(reservist_id: int) -> list[BookingRecord]:
    bookings = [
        BookingRecord(*row)
        for row in db.session.execute(
            _at_shift(Booking, TimesheetEntry, shift_id=Booking.shift_id)
            .outerjoin(TimesheetEntry, TimesheetEntry.booking_id == Booking.id)
            .where(Booking.reservist_id == reservist_id)
            .order_by(Shift.start_at.desc(), Booking.id.desc())
        )
    ]
    corrections: dict[int, list[TimesheetCorrection]] = defaultdict(list)
    for correction in db.session.scalars(
        select(TimesheetCorrection)
        .join(TimesheetEntry, TimesheetEntry.id == TimesheetCorrection.entry_id)
        .join(Booking, Booking.id == TimesheetEntry.booking_id)
        .where(Booking.reservist_id == reservist_id)
        .order_by(TimesheetCorrection.corrected_at, TimesheetCorrection.id)
    ):
        corrections[correction.entry_id].append(correction)
    for record in bookings:
        if record.timesheet is not None:
            record.corrections = corrections.get(record.timesheet.id, [])
    return bookings


def _standby(reservist_id: int) -> list[StandbyRecord]:
    return [
        StandbyRecord(*row)
        for row in db.session.execute(
            _at_shift(StandbyEntry, shift_id=StandbyEntry.shift_id)
            .where(StandbyEntry.reservist_id == reservist_id)
            .order_by(Shift.start_at.desc(), StandbyEntry.id.desc())
        )
    ]


def _sms(reservist_id: int | None, phone: str | None) -> list[InboundSms]:
    """Text messages the reservist sent: those matched to one of their offers, or sent from their number.

    A message quoting someone's offer code from another number is never matched to
    that offer (``callups.inbound``), so nobody else's text comes in through the offers.
    """
    sent_by_them = []
    if reservist_id is not None:
        sent_by_them.append(
            InboundSms.offer_id.in_(select(Offer.id).where(Offer.reservist_id == reservist_id))
        )
    if phone:
        sent_by_them.append(InboundSms.sender == phone)
    if not sent_by_them:
        return []
    return list(
        db.session.scalars(
            select(InboundSms)
            .where(or_(*sent_by_them))
            .order_by(InboundSms.received_at.desc(), InboundSms.id.desc())
        )
    )


def deployment_data(reservist_id: int | None, phone: str | None) -> DeploymentData:
    """Read the deployment data of one reservist: eight queries, whatever the number of rows.

    ``phone`` is the account's mobile number (E.164), by which text messages that
    matched none of their offers are found; with no reservist record only those remain.
    """
    if reservist_id is None:
        return DeploymentData(sms=_sms(None, phone))
    return DeploymentData(
        offers=_offers(reservist_id),
        bookings=_bookings(reservist_id),
        standby=_standby(reservist_id),
        messages=list(
            db.session.scalars(
                select(Message)
                .where(Message.reservist_id == reservist_id)
                .order_by(Message.created_at.desc(), Message.id.desc())
            )
        ),
        sms=_sms(reservist_id, phone),
        calendar_feeds=list(
            db.session.scalars(
                select(CalendarFeed)
                .where(CalendarFeed.reservist_id == reservist_id)
                .order_by(CalendarFeed.created_at.desc(), CalendarFeed.id.desc())
            )
        ),
    )


# The export ------------------------------------------------------------------------------------


def export_deployments(data: DeploymentData, time: Callable[[datetime | None], str | None]) -> dict[str, Any]:
    """The deployment keys of the export document; ``time`` formats every timestamp."""

    def place(record: BookingRecord | StandbyRecord) -> dict[str, Any]:
        return {
            "institution": record.institution,
            "department": record.department,
            "start_at": time(record.start_at),
            "end_at": time(record.end_at),
        }

    return {
        "call_up_offers": [
            {
                "code": r.offer.code,
                "status": r.offer.status,
                "institution": r.institution,
                "department": r.department,
                "created_at": time(r.offer.created_at),
                "sent_at": time(r.offer.sent_at),
                "expires_at": time(r.offer.expires_at),
                "answered_at": time(r.offer.answered_at),
                "answer_channel": r.offer.answer_channel,
                "decline_reason": r.offer.decline_reason,
                "shifts": [
                    {
                        "start_at": time(s.start_at),
                        "end_at": time(s.end_at),
                        "status": s.status,
                        "refusal": s.refusal,
                        "answered_at": time(s.answered_at),
                    }
                    for s in r.shifts
                ],
            }
            for r in data.offers
        ],
        "bookings": [
            {
                **place(r),
                "status": r.booking.status,
                "created_at": time(r.booking.created_at),
                "decided_at": time(r.booking.decided_at),
                "decision_reason": r.booking.decision_reason,
                "cancelled_at": time(r.booking.cancelled_at),
                "cancel_reason": r.booking.cancel_reason,
                "hours_recorded": _hours(r, time),
            }
            for r in data.bookings
        ],
        "standby_entries": [{**place(r), "created_at": time(r.entry.created_at)} for r in data.standby],
        "messages_sent": [
            {
                "kind": m.kind,
                "channel": m.channel,
                "status": m.status,
                "created_at": time(m.created_at),
                "sent_at": time(m.sent_at),
                "delivered_at": time(m.delivered_at),
            }
            for m in data.messages
        ],
        "sms_received": [
            {"received_at": time(s.received_at), "body": s.body, "outcome": s.outcome} for s in data.sms
        ],
        "calendar_feeds": [
            {
                "created_at": time(f.created_at),
                "revoked_at": time(f.revoked_at),
                "last_used_at": time(f.last_used_at),
            }
            for f in data.calendar_feeds
        ],
    }


def _hours(record: BookingRecord, time: Callable[[datetime | None], str | None]) -> dict[str, Any] | None:
    """The times the institution recorded for a booking, and each correction of them."""
    entry = record.timesheet
    if entry is None:
        return None
    return {
        "actual_start_at": time(entry.actual_start_at),
        "actual_end_at": time(entry.actual_end_at),
        "break_minutes": entry.break_minutes,
        "worked_hours": entry.worked_hours,
        "confirmed_at": time(entry.confirmed_at),
        "correction_count": len(record.corrections),
        "corrections": [
            {
                "corrected_at": time(c.corrected_at),
                "corrected_by_role": c.corrected_by_role,
                "previous_start_at": time(c.previous_start_at),
                "previous_end_at": time(c.previous_end_at),
                "previous_break_minutes": c.previous_break_minutes,
                "new_start_at": time(c.new_start_at),
                "new_end_at": time(c.new_end_at),
                "new_break_minutes": c.new_break_minutes,
                "reason": c.reason,
                "hours_were_confirmed": c.was_confirmed,
            }
            for c in record.corrections
        ],
    }
