"""Reference data lookups used across the product."""

from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select

from zorgreserve import db
from zorgreserve.reference.models import MunicipalityRegion, Postcode, Region


def active_regions(on: date | None = None) -> list[Region]:
    day = on or date.today()
    return list(
        db.session.scalars(
            select(Region)
            .where(Region.valid_from <= day, or_(Region.valid_to.is_(None), Region.valid_to > day))
            .order_by(Region.name)
        )
    )


def postcode_exists(pc4: str) -> bool:
    return db.session.get(Postcode, pc4) is not None


def region_for_postcode(pc4: str) -> Region | None:
    """The region a postcode lies in today, through its municipality's open mapping."""
    return db.session.scalar(
        select(Region)
        .join(MunicipalityRegion, MunicipalityRegion.region_id == Region.id)
        .join(Postcode, Postcode.municipality_code == MunicipalityRegion.municipality_code)
        .where(Postcode.pc4 == pc4, MunicipalityRegion.valid_to.is_(None))
    )
