"""factory-boy factories and the cast of users every access test needs."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import factory
import pytest
from sqlalchemy import select

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.accounts.passwords import hash_password
from zorgreserve.accounts.roles import Role
from zorgreserve.db import utcnow
from zorgreserve.institutions.models import Institution
from zorgreserve.reference.models import Region
from zorgreserve.reservists.models import Reservist

PASSWORD = "correct horse battery staple"
_PASSWORD_HASH: dict[str, str] = {}


def password_hash() -> str:
    """Hash the shared test password once; Argon2 is slow on purpose."""
    if "value" not in _PASSWORD_HASH:
        _PASSWORD_HASH["value"] = hash_password(PASSWORD)
    return _PASSWORD_HASH["value"]


class Base(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "commit"


def region_named(name: str) -> Region:
    region = db.session.scalar(select(Region).where(Region.name == name))
    assert region is not None, name
    return region


class InstitutionFactory(Base):
    class Meta:
        model = Institution

    name = factory.Sequence(lambda n: f"Testziekenhuis {n}")
    kind = "hospital"
    region_id = factory.LazyFunction(lambda: region_named("Netwerk Acute Zorg Midden-Nederland").id)


class UserFactory(Base):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.org")
    password_hash = factory.LazyFunction(password_hash)
    role = Role.RESERVIST.value
    first_name = factory.Faker("first_name", locale="nl_NL")
    last_name = factory.Faker("last_name", locale="nl_NL")
    session_nonce = factory.Sequence(lambda n: f"nonce{n:027d}")
    email_verified_at = factory.LazyFunction(utcnow)
    locale = "nl"


class ReservistFactory(Base):
    class Meta:
        model = Reservist

    user = factory.SubFactory(UserFactory)
    user_id = factory.LazyAttribute(lambda o: o.user.id)
    pc4 = "3511"


@pytest.fixture
def cast(database: Any) -> SimpleNamespace:
    """One user per role, with two institutions (A, B) and two regions (X, Y)."""
    region_x = region_named("Netwerk Acute Zorg Midden-Nederland")
    region_y = region_named("Netwerk Acute Zorg Limburg")
    inst_a = InstitutionFactory(name="Ziekenhuis A", region_id=region_x.id)
    inst_b = InstitutionFactory(name="Ziekenhuis B", region_id=region_y.id)
    reservist = ReservistFactory(user__email="reservist@example.org").user
    people = SimpleNamespace(
        region_x=region_x,
        region_y=region_y,
        inst_a=inst_a,
        inst_b=inst_b,
        reservist=reservist,
        staff_a=UserFactory(
            email="staff-a@example.org", role=Role.INSTITUTION_STAFF.value, institution_id=inst_a.id
        ),
        staff_b=UserFactory(
            email="staff-b@example.org", role=Role.INSTITUTION_STAFF.value, institution_id=inst_b.id
        ),
        coordinator_x=UserFactory(
            email="coord-x@example.org", role=Role.REGIONAL_COORDINATOR.value, region_id=region_x.id
        ),
        coordinator_y=UserFactory(
            email="coord-y@example.org", role=Role.REGIONAL_COORDINATOR.value, region_id=region_y.id
        ),
        national=UserFactory(email="national@example.org", role=Role.NATIONAL_COORDINATOR.value),
        admin=UserFactory(email="admin@example.org", role=Role.ADMINISTRATOR.value),
    )
    db.session.commit()
    return people
