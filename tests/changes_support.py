"""Helpers for the tests of changes after booking: people with their own numbers, offers really sent."""

from __future__ import annotations

import itertools
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, select

from tests.factories import ReservistFactory
from zorgreserve import db
from zorgreserve.callups import booking, sending
from zorgreserve.callups.models import Booking, Message, Offer, OfferShift, OfferStatus, Wave
from zorgreserve.db import utcnow
from zorgreserve.deployments.models import DeploymentRequest, Shift
from zorgreserve.notifications.sms import recorder

_numbers = itertools.count(20_000_000)
_codes = itertools.count(1)


def person(*, locale: str = "en", channels: str = "both") -> SimpleNamespace:
    """A reservist with a phone number and e-mail address of their own (ids and addresses only:
    jobs run in a fresh session, so the test keeps no ORM object of them)."""
    reservist = ReservistFactory(
        user__phone=f"+316{next(_numbers)}", user__locale=locale, channels=channels, user__first_name="Sanne"
    )
    return SimpleNamespace(id=reservist.id, phone=reservist.user.phone, email=reservist.user.email)


def sent_offers(req: DeploymentRequest, people: list[Any], shifts: list[Shift]) -> list[Offer]:
    """A wave of offers for ``shifts`` to ``people``, handed to SMS and e-mail by the real wave sender."""
    number = (db.session.scalar(select(func.max(Wave.number)).where(Wave.request_id == req.id)) or 0) + 1
    expires = utcnow() + timedelta(hours=2)
    wave = Wave(request_id=req.id, number=number, status="planned", expires_at=expires)
    db.session.add(wave)
    db.session.flush()
    offers = []
    for someone in people:
        offer = Offer(
            wave_id=wave.id,
            request_id=req.id,
            reservist_id=someone.id,
            code=f"Q{next(_codes):07d}",
            status=OfferStatus.PENDING.value,
            expires_at=expires,
        )
        offer.shifts = [OfferShift(shift_id=s.id) for s in shifts]
        db.session.add(offer)
        offers.append(offer)
    db.session.commit()
    sending.send_wave(wave.id)
    db.session.commit()
    return offers


def book(offer: Offer, shifts: list[Shift]) -> Booking:
    """The holder of ``offer`` accepts ``shifts`` (by the answer page's service); the first booking made."""
    result = booking.accept(db.session, offer.id, [s.id for s in shifts], channel="web", now=utcnow())
    db.session.commit()
    assert result.booked == sorted(s.id for s in shifts), result
    return db.session.get(Booking, result.booking_ids[0])


def fresh(model: Any, key: Any) -> Any:
    db.session.expire_all()
    return db.session.get(model, key)


def sms_to(someone: Any, prefix: str) -> list[Any]:
    """Text messages the recorder holds for this person whose dedupe key starts with ``prefix``."""
    return [m for m in recorder().messages if m.to == someone.phone and m.idempotency_key.startswith(prefix)]


def mail_to(outbox: list[Any], someone: Any, subject_part: str) -> list[Any]:
    return [m for m in outbox if someone.email in m.to and subject_part in m.subject]


def messages(kind: str) -> list[Message]:
    return list(db.session.scalars(select(Message).where(Message.kind == kind).order_by(Message.id)))
