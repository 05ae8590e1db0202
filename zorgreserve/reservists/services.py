"""Reservist rules shared by the reservist's own pages, coordinators and matching.

Scope is decided here, in the query: a regional coordinator sees reservists who
live in their region or chose to serve in it; a national coordinator and an
administrator see everyone; institution staff see no reservist data (their
deployments, later, show first names only); a reservist sees only themselves.
"""

from __future__ import annotations

from sqlalchemy import Select, exists, or_, select

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.accounts.roles import Role
from zorgreserve.reference.models import MunicipalityRegion, Postcode
from zorgreserve.reservists.models import Reservist, ReservistRegion


class NotInScope(LookupError):
    """The record does not exist for this user (answered as 404, never 403)."""


def reservist_for_user(user: User) -> Reservist:
    """The reservist record of a signed-in reservist, created on first use."""
    reservist = db.session.scalar(select(Reservist).where(Reservist.user_id == user.id))
    if reservist is None:
        reservist = Reservist(user_id=user.id)
        db.session.add(reservist)
        db.session.flush()
    return reservist


def set_home_postcode(reservist: Reservist, pc4: str | None) -> None:
    """Store the PC4 with its region and coordinates (what matching filters on in SQL)."""
    reservist.pc4 = pc4
    if pc4 is None:
        reservist.home_region_id = reservist.latitude = reservist.longitude = None
        return
    row = db.session.execute(
        select(Postcode.latitude, Postcode.longitude, MunicipalityRegion.region_id)
        .join(MunicipalityRegion, MunicipalityRegion.municipality_code == Postcode.municipality_code)
        .where(Postcode.pc4 == pc4, MunicipalityRegion.valid_to.is_(None))
    ).one_or_none()
    if row is None:
        raise ValueError(f"unknown postcode {pc4!r}")
    reservist.latitude, reservist.longitude, reservist.home_region_id = row


def scope_filter(user: User, query: Select) -> Select:
    """Restrict a query over ``Reservist`` to what ``user`` may see."""
    role = user.role_enum
    if role in (Role.NATIONAL_COORDINATOR, Role.ADMINISTRATOR):
        return query
    if role is Role.REGIONAL_COORDINATOR:
        serves = exists().where(
            ReservistRegion.reservist_id == Reservist.id, ReservistRegion.region_id == user.region_id
        )
        return query.where(or_(Reservist.home_region_id == user.region_id, serves))
    if role is Role.RESERVIST:
        return query.where(Reservist.user_id == user.id)
    return query.where(Reservist.id.is_(None))  # institution staff: nothing


def reservist_in_scope(user: User, reservist_id: int) -> Reservist:
    """Load one reservist if ``user`` may see them, else raise NotInScope (a 404 for the view)."""
    reservist = db.session.scalar(scope_filter(user, select(Reservist)).where(Reservist.id == reservist_id))
    if reservist is None or reservist.erased_at is not None:
        raise NotInScope(reservist_id)
    return reservist
