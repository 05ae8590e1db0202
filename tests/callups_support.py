"""Helpers for the call-up tests: qualified reservists, an approved request, running its jobs."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select

from tests.deployments_support import day_pattern, new_request
from tests.test_matching import person
from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.callups.models import Message, Offer, Wave
from zorgreserve.deployments import services
from zorgreserve.reservists.models import Reservist

_phones = iter(range(10_000_000, 99_999_999))


def reservists(count: int, *, channels: str = "both", locale: str = "en", phone: bool = True) -> list[int]:
    """``count`` reservists who qualify for an IC request in Utrecht at any time."""
    ids = []
    for _ in range(count):
        reservist_id = person()
        reservist = db.session.get(Reservist, reservist_id)
        reservist.channels = channels
        user = db.session.get(User, reservist.user_id)
        user.locale = locale
        user.phone = f"+316{next(_phones)}" if phone else None
        ids.append(reservist_id)
    db.session.commit()
    return ids


def approved_request(
    world: SimpleNamespace, *, days: int = 2, places: int = 1, first_day: date | None = None
) -> Any:
    """A request for ``days`` day shifts from ``first_day`` (tomorrow), submitted and approved by the region's
    coordinator.

    Tests that let a whole offer expiry pass (24 h in phase 0) start the shifts later, or
    the outcome would depend on the hour the suite runs at: tomorrow 07:00 lies within a
    day from any moment after 07:00 today.
    """
    request = new_request(
        world.staff_a, world.loc_a, pattern=day_pattern(first_day, days=days, places=places)
    )
    db.session.commit()
    services.approve(world.coordinator_x, request)
    db.session.commit()
    return request


def waves_of(request_id: int) -> list[Wave]:
    return list(db.session.scalars(select(Wave).where(Wave.request_id == request_id).order_by(Wave.number)))


def offers_of(request_id: int) -> list[Offer]:
    return list(db.session.scalars(select(Offer).where(Offer.request_id == request_id).order_by(Offer.id)))


def messages_of(request_id: int) -> list[Message]:
    return list(
        db.session.scalars(select(Message).where(Message.request_id == request_id).order_by(Message.id))
    )


def phone_of(reservist_id: int) -> str:
    reservist = db.session.get(Reservist, reservist_id)
    return db.session.get(User, reservist.user_id).phone
