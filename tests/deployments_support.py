"""Helpers shared by the deployment request and surge tests: locations, patterns, requests."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from zorgreserve import db
from zorgreserve.deployments import services
from zorgreserve.deployments.models import DeploymentRequest
from zorgreserve.deployments.patterns import PRESET_TIMES, Preset, Repeat, ShiftPattern
from zorgreserve.institutions.models import InstitutionLocation
from zorgreserve.reference.models import Qualification, Skill


def english(ctx: Any) -> Any:
    """A request context in English, so messages read the same whatever the Dutch catalogue holds."""
    return ctx(headers={"Cookie": "zr_lang=en"})


def location_for(institution: Any, pc4: str, name: str = "Hoofdlocatie") -> InstitutionLocation:
    from zorgreserve.reference.models import Postcode
    from zorgreserve.reference.services import region_for_postcode

    area = db.session.get(Postcode, pc4)
    location = InstitutionLocation(
        institution_id=institution.id,
        name=name,
        street_address="Heidelberglaan 100",
        postcode=f"{pc4} CX",
        pc4=pc4,
        city=area.place,
        region_id=region_for_postcode(pc4).id,
        latitude=area.latitude,
        longitude=area.longitude,
    )
    db.session.add(location)
    db.session.flush()
    return location


def qualification(code: str = "ic_verpleegkundige") -> Qualification:
    return db.session.scalar(select(Qualification).where(Qualification.code == code))


def skill(code: str = "beademing") -> Skill:
    return db.session.scalar(select(Skill).where(Skill.code == code))


def tomorrow() -> date:
    return date.today() + timedelta(days=1)


def day_pattern(
    first_day: date | None = None,
    *,
    days: int = 14,
    places: int = 3,
    repeat: Repeat = Repeat.DAILY,
    preset: Preset = Preset.DAY,
) -> ShiftPattern:
    start, end = PRESET_TIMES[preset]
    return ShiftPattern(
        first_day=first_day or tomorrow(),
        start_time=start,
        end_time=end,
        repeat=repeat,
        days=days,
        places=places,
    )


def details_for(location: InstitutionLocation, **overrides: Any) -> services.RequestDetails:
    values: dict[str, Any] = {
        "department": "IC",
        "qualification_id": qualification().id,
        "location_id": location.id,
        "urgency": "high",
        "report_to": "Hoofdingang, balie IC, vraag naar de teamleider",
        "contact_name": "Teamleider IC",
        "contact_phone": "030 250 9111",
        "skill_ids": [skill().id],
        "bring": "Legitimatie en BIG-pas",
    }
    values.update(overrides)
    return services.RequestDetails(**values)


def new_request(
    staff: Any,
    location: InstitutionLocation,
    *,
    submit: bool = True,
    pattern: ShiftPattern | None = None,
    key: str | None = None,
    **overrides: Any,
) -> DeploymentRequest:
    request, _created = services.create_request(
        staff,
        details_for(location, **overrides),
        pattern or day_pattern(),
        idempotency_key=key or uuid.uuid4().hex,
        submit=submit,
    )
    db.session.flush()
    return request


@pytest.fixture(name="world")
def world_fixture(cast: SimpleNamespace) -> SimpleNamespace:
    """The cast with a location for each institution (A in Utrecht, region X; B in Maastricht, Y),
    everyone reading English so page assertions do not depend on the Dutch catalogue."""
    cast.loc_a = location_for(cast.inst_a, "3584")
    cast.loc_b = location_for(cast.inst_b, "6229")
    for user in (
        cast.staff_a,
        cast.staff_b,
        cast.coordinator_x,
        cast.coordinator_y,
        cast.national,
        cast.admin,
    ):
        user.locale = "en"
    db.session.commit()
    return cast


@pytest.fixture(name="w")
def in_english_fixture(world: SimpleNamespace, ctx: Any) -> Any:
    """``world`` inside one English request context for the whole test, for calling services.

    Not for tests that use the test client (its requests would share this context)."""
    with english(ctx):
        yield world
