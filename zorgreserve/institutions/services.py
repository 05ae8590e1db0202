"""Institution rules: who sees which institutions, and creating them."""

from __future__ import annotations

from sqlalchemy import select

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.accounts.roles import Role
from zorgreserve.audit.services import record
from zorgreserve.institutions.models import Institution


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


def name_taken(name: str) -> bool:
    return db.session.scalar(select(Institution.id).where(Institution.name == name.strip())) is not None
