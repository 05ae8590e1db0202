"""Reference data lookups used across the product, and the administrators' corrections.

Lookups (``active_regions``, ``region_for_postcode``, ``active_skills`` …) are what
other modules call. The change functions below are the only way the pages alter
reference data: each one validates what the database cannot, records an audit
event in the same transaction and only flushes (the view commits). Nothing here
deletes a row that others may reference: skills and qualifications are
deactivated, a municipality's region is closed and a new one opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from zorgreserve import db
from zorgreserve.audit.services import record
from zorgreserve.reference.models import (
    Municipality,
    MunicipalityRegion,
    Postcode,
    Profession,
    Qualification,
    Region,
    RegionNeighbour,
    Skill,
    SurgePhase,
)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


class ReferenceDataError(ValueError):
    """A requested change that the reference data does not allow (the view shows why)."""


def today() -> date:
    """The calendar date in the Netherlands, which is what validity dates mean."""
    return datetime.now(AMSTERDAM).date()


# Regions and postcodes -------------------------------------------------------------


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


@dataclass(frozen=True)
class RegionSummary:
    region: Region
    municipalities: int
    postcodes: int
    neighbours: list[Region]


def neighbours_of(region_id: int) -> list[Region]:
    """Regions that share a border with ``region_id`` (pairs are stored once, either way round)."""
    other = (
        select(RegionNeighbour.region_b_id)
        .where(RegionNeighbour.region_a_id == region_id)
        .union(select(RegionNeighbour.region_a_id).where(RegionNeighbour.region_b_id == region_id))
    )
    return list(db.session.scalars(select(Region).where(Region.id.in_(other)).order_by(Region.name)))


def _open_counts(region_ids: list[int]) -> tuple[dict[int, int], dict[int, int]]:
    """Municipalities and PC4 areas per region under the mappings in force."""
    open_rows = MunicipalityRegion.valid_to.is_(None)
    municipalities = dict(
        db.session.execute(
            select(MunicipalityRegion.region_id, func.count())
            .where(open_rows, MunicipalityRegion.region_id.in_(region_ids))
            .group_by(MunicipalityRegion.region_id)
        ).all()
    )
    postcodes = dict(
        db.session.execute(
            select(MunicipalityRegion.region_id, func.count(Postcode.pc4))
            .join(Postcode, Postcode.municipality_code == MunicipalityRegion.municipality_code)
            .where(open_rows, MunicipalityRegion.region_id.in_(region_ids))
            .group_by(MunicipalityRegion.region_id)
        ).all()
    )
    return municipalities, postcodes


def region_summaries() -> list[RegionSummary]:
    """Every region (also closed ones, which keep their history) with today's counts."""
    regions = list(db.session.scalars(select(Region).order_by(Region.name)))
    municipalities, postcodes = _open_counts([r.id for r in regions])
    by_id = {r.id: r for r in regions}
    neighbours: dict[int, list[Region]] = {r.id: [] for r in regions}
    for a, b in db.session.execute(select(RegionNeighbour.region_a_id, RegionNeighbour.region_b_id)):
        neighbours[a].append(by_id[b])
        neighbours[b].append(by_id[a])
    return [
        RegionSummary(
            region=r,
            municipalities=municipalities.get(r.id, 0),
            postcodes=postcodes.get(r.id, 0),
            neighbours=sorted(neighbours[r.id], key=lambda n: n.name),
        )
        for r in regions
    ]


@dataclass(frozen=True)
class MunicipalityRow:
    mapping: MunicipalityRegion
    postcodes: int


def region_municipalities(region_id: int) -> list[MunicipalityRow]:
    """The municipalities a region holds today, with their PC4 count, by name."""
    pc4_count = (
        select(func.count(Postcode.pc4))
        .where(Postcode.municipality_code == MunicipalityRegion.municipality_code)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(MunicipalityRegion, pc4_count)
        .join(Municipality, Municipality.code == MunicipalityRegion.municipality_code)
        .options(selectinload(MunicipalityRegion.municipality))
        .where(MunicipalityRegion.region_id == region_id, MunicipalityRegion.valid_to.is_(None))
        .order_by(Municipality.name)
    ).all()
    return [MunicipalityRow(mapping=m, postcodes=n) for m, n in rows]


def region_history(region_id: int) -> list[MunicipalityRegion]:
    """Closed mappings into or out of a region: the municipalities that moved, newest first."""
    return list(
        db.session.scalars(
            select(MunicipalityRegion)
            .options(selectinload(MunicipalityRegion.municipality), selectinload(MunicipalityRegion.region))
            .where(
                MunicipalityRegion.valid_to.is_not(None),
                or_(
                    MunicipalityRegion.region_id == region_id,
                    MunicipalityRegion.municipality_code.in_(
                        select(MunicipalityRegion.municipality_code).where(
                            MunicipalityRegion.region_id == region_id
                        )
                    ),
                ),
            )
            .order_by(MunicipalityRegion.valid_to.desc(), MunicipalityRegion.id.desc())
        )
    )


def move_municipality(
    municipality_code: str, region_id: int, note: str, *, actor: object
) -> MunicipalityRegion:
    """Put a municipality in another region from today on, keeping the old mapping as history.

    The open mapping is closed (``valid_to`` today) and a new open one starts
    today, marked as not derived, so a later ``reference load`` keeps it.
    """
    current = db.session.scalar(
        select(MunicipalityRegion).where(
            MunicipalityRegion.municipality_code == municipality_code, MunicipalityRegion.valid_to.is_(None)
        )
    )
    if current is None:
        raise ReferenceDataError("municipality has no region in force")
    target = db.session.get(Region, region_id)
    if target is None or not target.is_active_on(today()):
        raise ReferenceDataError("target region is not in force")
    if current.region_id == region_id:
        raise ReferenceDataError("municipality is already in that region")
    day = max(today(), current.valid_from)
    current.valid_to = day
    db.session.flush()  # close the open row before the partial unique index sees a new one
    mapping = MunicipalityRegion(
        municipality_code=municipality_code,
        region_id=region_id,
        valid_from=day,
        derived=False,
        note=note.strip() or None,
        changed_by_id=getattr(actor, "id", None),
    )
    db.session.add(mapping)
    db.session.flush()
    record(
        "reference.municipality_moved",
        actor=actor,
        subject_type="municipality",
        subject_id=municipality_code,
        from_region_id=current.region_id,
        to_region_id=region_id,
        valid_from=day.isoformat(),
    )
    return mapping


@dataclass(frozen=True)
class PostcodeLookup:
    postcode: Postcode
    municipality: Municipality
    region: Region | None


def lookup_postcode(pc4: str) -> PostcodeLookup | None:
    """PC4 → municipality → region in force today; ``None`` for an unknown postcode."""
    postcode = db.session.get(Postcode, pc4)
    if postcode is None:
        return None
    return PostcodeLookup(
        postcode=postcode, municipality=postcode.municipality, region=region_for_postcode(pc4)
    )


# Catalogues ------------------------------------------------------------------------


def professions() -> list[Profession]:
    return list(db.session.scalars(select(Profession).order_by(Profession.big_article, Profession.name)))


def qualifications() -> list[Qualification]:
    """The whole qualification catalogue, inactive ones included, by name."""
    return list(
        db.session.scalars(
            select(Qualification).options(selectinload(Qualification.includes)).order_by(Qualification.name)
        ).unique()
    )


def active_qualifications() -> list[Qualification]:
    """What forms may offer for new records and requests."""
    return [q for q in qualifications() if q.active]


def skills() -> list[Skill]:
    return list(db.session.scalars(select(Skill).order_by(Skill.name)))


def active_skills() -> list[Skill]:
    """What forms may offer for new records and requests."""
    return list(db.session.scalars(select(Skill).where(Skill.active.is_(True)).order_by(Skill.name)))


def surge_phases() -> list[SurgePhase]:
    return list(db.session.scalars(select(SurgePhase).order_by(SurgePhase.ordinal)))


def _name_taken(model: type[Qualification] | type[Skill], name: str, exclude_id: int | None) -> bool:
    query = select(model.id).where(func.lower(model.name) == name.strip().lower())
    if exclude_id is not None:
        query = query.where(model.id != exclude_id)
    return db.session.scalar(query) is not None


def qualification_name_taken(name: str, exclude_id: int | None = None) -> bool:
    """Names are unique regardless of case, so two entries can never look the same."""
    return _name_taken(Qualification, name, exclude_id)


def skill_name_taken(name: str, exclude_id: int | None = None) -> bool:
    return _name_taken(Skill, name, exclude_id)


def skill_code_taken(code: str) -> bool:
    return (
        db.session.scalar(select(Skill.id).where(func.lower(Skill.code) == code.strip().lower())) is not None
    )


def _apply(obj: object, changes: dict[str, object]) -> dict[str, list[object]]:
    """Set the given attributes; return ``{field: [old, new]}`` for those that changed."""
    changed: dict[str, list[object]] = {}
    for key, value in changes.items():
        old = getattr(obj, key)
        if old != value:
            setattr(obj, key, value)
            changed[key] = [old, value]
    return changed


def update_qualification(
    qualification: Qualification, *, name: str, has_expiry: bool, active: bool, actor: object
) -> dict[str, list[object]]:
    """Change what administrators may change; the code and BIG link stay as loaded."""
    if qualification_name_taken(name, exclude_id=qualification.id):
        raise ReferenceDataError("name taken")
    changed = _apply(qualification, {"name": name.strip(), "has_expiry": has_expiry, "active": active})
    if changed:
        db.session.flush()
        record(
            "reference.qualification_changed",
            actor=actor,
            subject_type="qualification",
            subject_id=qualification.id,
            code=qualification.code,
            changed=changed,
        )
    return changed


def add_skill(*, code: str, name: str, actor: object) -> Skill:
    if skill_code_taken(code) or skill_name_taken(name):
        raise ReferenceDataError("code or name taken")
    skill = Skill(code=code.strip(), name=name.strip(), active=True)
    db.session.add(skill)
    db.session.flush()
    record("reference.skill_added", actor=actor, subject_type="skill", subject_id=skill.id, code=skill.code)
    return skill


def update_skill(skill: Skill, *, name: str, active: bool, actor: object) -> dict[str, list[object]]:
    """Rename or (de)activate a skill; its code is the loader's key and never changes."""
    if skill_name_taken(name, exclude_id=skill.id):
        raise ReferenceDataError("name taken")
    changed = _apply(skill, {"name": name.strip(), "active": active})
    if changed:
        db.session.flush()
        record(
            "reference.skill_changed",
            actor=actor,
            subject_type="skill",
            subject_id=skill.id,
            code=skill.code,
            changed=changed,
        )
    return changed
