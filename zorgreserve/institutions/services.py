"""Institution rules: who sees which institutions, creating them, and their locations."""

from __future__ import annotations

import re
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from zorgreserve import db
from zorgreserve.accounts.models import Invitation, User
from zorgreserve.accounts.roles import Role
from zorgreserve.audit.services import record
from zorgreserve.db import utcnow
from zorgreserve.institutions.models import Institution, InstitutionLocation
from zorgreserve.reference.models import Postcode
from zorgreserve.reference.services import region_for_postcode

#: Dutch postcodes: four digits not starting with 0, then two letters; SA, SD and SS are never issued.
_POSTCODE = re.compile(r"^([1-9]\d{3})\s*([A-Za-z]{2})?$")
_NEVER_ISSUED = {"SA", "SD", "SS"}


class NotInScope(LookupError):
    """The object does not exist for this user (answer 404, never 403)."""


class LocationError(ValueError):
    """Input for a location that cannot be saved; ``message`` is shown to the user."""

    def __init__(self, message: Any, field: str = "postcode") -> None:
        super().__init__(str(message))
        self.message = message
        self.field = field


def institutions_in_scope(user: User) -> list[Institution]:
    """Institutions a user may see: own region for regional coordinators, all for national/admin."""
    query = select(Institution).order_by(Institution.name)
    role = user.role_enum
    if role is Role.REGIONAL_COORDINATOR:
        query = query.where(Institution.region_id == user.region_id)
    elif role is Role.INSTITUTION_STAFF:
        query = query.where(Institution.id == user.institution_id)
    elif role not in (Role.NATIONAL_COORDINATOR, Role.ADMINISTRATOR):
        return []
    return list(db.session.scalars(query))


def institution_in_scope(user: User, institution_id: int) -> Institution:
    """One institution if ``user`` may see it, else :class:`NotInScope` (the same for absent ones)."""
    institution = db.session.get(Institution, institution_id)
    if institution is None:
        raise NotInScope(institution_id)
    role = user.role_enum
    if role is Role.INSTITUTION_STAFF and institution.id == user.institution_id:
        return institution
    if role is Role.REGIONAL_COORDINATOR and institution.region_id == user.region_id:
        return institution
    if role in (Role.NATIONAL_COORDINATOR, Role.ADMINISTRATOR):
        return institution
    raise NotInScope(institution_id)


def create_institution(
    user: User, *, name: str, kind: str, region_id: int, postcode: str | None
) -> Institution:
    """Create an institution; regional coordinators only in their own region."""
    if user.role_enum is Role.REGIONAL_COORDINATOR and region_id != user.region_id:
        raise PermissionError("regional coordinators create institutions in their own region only")
    institution = Institution(name=name.strip(), kind=kind, region_id=region_id, postcode=postcode)
    db.session.add(institution)
    db.session.flush()
    record("institution.created", subject_type="institution", subject_id=institution.id)
    return institution


def update_institution(
    user: User, institution: Institution, *, name: str, kind: str, region_id: int, postcode: str | None
) -> None:
    """Change an institution's details; a regional coordinator cannot move it out of their region."""
    if user.role_enum is Role.REGIONAL_COORDINATOR and region_id != user.region_id:
        raise PermissionError("regional coordinators keep institutions in their own region")
    changed = sorted(
        key
        for key, value in (
            ("name", name.strip()),
            ("kind", kind),
            ("region_id", region_id),
            ("postcode", postcode),
        )
        if getattr(institution, key) != value
    )
    institution.name, institution.kind = name.strip(), kind
    institution.region_id, institution.postcode = region_id, postcode
    db.session.flush()
    if changed:
        record("institution.changed", subject_type="institution", subject_id=institution.id, fields=changed)


def name_taken(name: str, *, except_id: int | None = None) -> bool:
    query = select(Institution.id).where(Institution.name == name.strip())
    if except_id is not None:
        query = query.where(Institution.id != except_id)
    return db.session.scalar(query) is not None


# Staff -----------------------------------------------------------------------------


def staff_of(institution: Institution) -> list[User]:
    """The accounts that act for ``institution``, active ones first."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.institution_id == institution.id, User.role == Role.INSTITUTION_STAFF.value)
            .order_by(User.is_active_account.desc(), User.last_name, User.first_name, User.id)
        )
    )


def open_invitations_for(institution: Institution) -> list[Invitation]:
    """Invitations to ``institution`` that can still be accepted."""
    return list(
        db.session.scalars(
            select(Invitation)
            .where(
                Invitation.institution_id == institution.id,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > utcnow(),
            )
            .order_by(Invitation.created_at.desc())
        )
    )


# Locations -------------------------------------------------------------------------


def parse_postcode(raw: str) -> tuple[str, str]:
    """Return (``"3584 CX"`` or ``"3584"``, ``"3584"``) for a Dutch postcode as people type it."""
    match = _POSTCODE.match((raw or "").strip())
    if not match:
        raise LocationError(_l("Enter a Dutch postcode, for example 3584 CX."))
    digits, letters = match.group(1), (match.group(2) or "").upper()
    if letters in _NEVER_ISSUED:
        raise LocationError(_l("Enter a Dutch postcode, for example 3584 CX."))
    return (f"{digits} {letters}" if letters else digits), digits


def _place(raw_postcode: str) -> tuple[str, Postcode, int]:
    postcode, pc4 = parse_postcode(raw_postcode)
    area = db.session.get(Postcode, pc4)
    region = region_for_postcode(pc4) if area is not None else None
    if area is None or region is None:
        raise LocationError(_l("This postcode is not known."))
    return postcode, area, region.id


def can_manage_locations(user: User, institution: Institution) -> bool:
    """Staff of the institution and whoever may see it as coordinator or administrator."""
    try:
        institution_in_scope(user, institution.id)
    except NotInScope:
        return False
    return True


def location_in_scope(user: User, institution: Institution, location_id: int) -> InstitutionLocation:
    location = db.session.get(InstitutionLocation, location_id)
    if location is None or location.institution_id != institution.id:
        raise NotInScope(location_id)
    return location


def _location_name_taken(institution: Institution, name: str, except_id: int | None = None) -> bool:
    query = select(InstitutionLocation.id).where(
        InstitutionLocation.institution_id == institution.id, InstitutionLocation.name == name.strip()
    )
    if except_id is not None:
        query = query.where(InstitutionLocation.id != except_id)
    return db.session.scalar(query) is not None


def add_location(
    user: User, institution: Institution, *, name: str, street_address: str, postcode: str, city: str
) -> InstitutionLocation:
    """Add a site; its region and coordinates follow from the postcode area."""
    if not can_manage_locations(user, institution):
        raise NotInScope(institution.id)
    if _location_name_taken(institution, name):
        raise LocationError(_l("This institution already has a location with this name."), field="name")
    display, area, region_id = _place(postcode)
    location = InstitutionLocation(
        institution_id=institution.id,
        name=name.strip(),
        street_address=street_address.strip(),
        postcode=display,
        pc4=area.pc4,
        city=city.strip() or area.place,
        region_id=region_id,
        latitude=area.latitude,
        longitude=area.longitude,
    )
    db.session.add(location)
    db.session.flush()
    record(
        "institution.location_added",
        actor=user,
        subject_type="institution_location",
        subject_id=location.id,
        institution_id=institution.id,
        region_id=region_id,
    )
    return location


def update_location(
    user: User,
    location: InstitutionLocation,
    *,
    name: str,
    street_address: str,
    postcode: str,
    city: str,
    active: bool,
) -> None:
    """Change a site. Requests already made keep the region they were made in."""
    institution = location.institution
    if not can_manage_locations(user, institution):
        raise NotInScope(institution.id)
    if _location_name_taken(institution, name, except_id=location.id):
        raise LocationError(_l("This institution already has a location with this name."), field="name")
    display, area, region_id = _place(postcode)
    before = {
        "name": location.name,
        "street_address": location.street_address,
        "postcode": location.postcode,
        "city": location.city,
        "active": location.active,
    }
    location.name, location.street_address = name.strip(), street_address.strip()
    location.postcode, location.pc4, location.city = display, area.pc4, city.strip() or area.place
    location.region_id, location.latitude, location.longitude = region_id, area.latitude, area.longitude
    location.active = active
    db.session.flush()
    changed = sorted(key for key, value in before.items() if getattr(location, key) != value)
    if changed:
        record(
            "institution.location_changed",
            actor=user,
            subject_type="institution_location",
            subject_id=location.id,
            fields=changed,
        )


def active_locations(institution_id: int) -> list[InstitutionLocation]:
    return list(
        db.session.scalars(
            select(InstitutionLocation)
            .where(InstitutionLocation.institution_id == institution_id, InstitutionLocation.active.is_(True))
            .order_by(InstitutionLocation.name)
        )
    )
