"""Load the shipped reference data (``reference/data/*.csv``) idempotently.

Running it again updates names and coordinates from the files but never undoes
an administrator's correction: a municipality that already has an open region
mapping keeps it, and catalogue rows are matched by their stable ``code``.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from zorgreserve.reference.models import (
    Municipality,
    MunicipalityRegion,
    Postcode,
    Profession,
    Qualification,
    QualificationInclusion,
    Region,
    RegionNeighbour,
    Skill,
    SurgePhase,
)

DATA = Path(__file__).parent / "data"
#: The ROAZ regions' start date is not in the sources; this marks "in force before records".
REGIONS_VALID_FROM = date(2000, 1, 1)
#: The municipal division the files describe (342 municipalities, valid from 1 January 2023).
DIVISION_VALID_FROM = date(2023, 1, 1)


def rows(name: str) -> Iterator[dict[str, str]]:
    with open(DATA / name, encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle)


def slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:40]


def _flag(value: str) -> bool:
    return value.strip().lower() == "true"


def load_regions(session: Session) -> dict[str, Region]:
    existing = {r.name: r for r in session.scalars(select(Region))}
    for row in rows("roaz_regions.csv"):
        region = existing.get(row["roaz_region"])
        if region is None:
            region = Region(
                name=row["roaz_region"], code=slug(row["roaz_region"]), valid_from=REGIONS_VALID_FROM
            )
            session.add(region)
            existing[region.name] = region
        region.trauma_centre = row["trauma_centre"] or None
        region.successor_name = row["merged_into"] or None
    session.flush()
    pairs = {
        tuple(r) for r in session.execute(select(RegionNeighbour.region_a_id, RegionNeighbour.region_b_id))
    }
    for row in rows("roaz_neighbours.csv"):
        a, b = sorted((existing[row["region_a"]].id, existing[row["region_b"]].id))
        if (a, b) not in pairs:
            session.add(RegionNeighbour(region_a_id=a, region_b_id=b))
            pairs.add((a, b))
    return existing


def load_municipalities(session: Session, regions: dict[str, Region]) -> int:
    existing = {m.code: m for m in session.scalars(select(Municipality))}
    for row in rows("municipalities.csv"):
        municipality = existing.get(row["municipality_code"])
        if municipality is None:
            municipality = Municipality(code=row["municipality_code"])
            session.add(municipality)
            existing[municipality.code] = municipality
        municipality.name = row["municipality_name"]
        municipality.province = row["province"]
        municipality.safety_region_code = row["safety_region_code"]
        municipality.safety_region_name = row["safety_region_name"]
    session.flush()
    mapped = set(
        session.scalars(
            select(MunicipalityRegion.municipality_code).where(MunicipalityRegion.valid_to.is_(None))
        )
    )
    for row in rows("municipality_roaz.csv"):
        if row["municipality_code"] in mapped:
            continue  # keep whatever is in force, including administrators' corrections
        session.add(
            MunicipalityRegion(
                municipality_code=row["municipality_code"],
                region_id=regions[row["roaz_region"]].id,
                valid_from=DIVISION_VALID_FROM,
                derived=True,
                note="Derived from the safety region (see docs/reference-data.md).",
            )
        )
    return len(existing)


def load_postcodes(session: Session) -> int:
    existing = {p.pc4: p for p in session.scalars(select(Postcode))}
    count = 0
    for row in rows("pc4.csv"):
        values = {
            "latitude": float(row["latitude"]),
            "longitude": float(row["longitude"]),
            "place": row["place"],
            "municipality_code": row["municipality_code"],
        }
        postcode = existing.get(row["pc4"])
        if postcode is None:
            session.add(Postcode(pc4=row["pc4"], **values))
        else:
            for key, value in values.items():
                if getattr(postcode, key) != value:
                    setattr(postcode, key, value)
        count += 1
    return count


def load_professions(session: Session) -> dict[str, Profession]:
    existing = {p.code: p for p in session.scalars(select(Profession))}
    for row in rows("professions.csv"):
        profession = existing.get(row["code"])
        if profession is None:
            profession = Profession(code=row["code"])
            session.add(profession)
            existing[profession.code] = profession
        profession.name = row["name"]
        profession.big_article = row["big_article"] or None
        profession.has_big_register = _flag(row["has_big_register"])
        profession.reregistration_hours = (
            int(row["reregistration_hours"]) if row["reregistration_hours"] else None
        )
        profession.note = row["note"] or None
    session.flush()
    return existing


def load_qualifications(session: Session, professions: dict[str, Profession]) -> int:
    existing = {q.code: q for q in session.scalars(select(Qualification))}
    table = list(rows("qualifications.csv"))
    for row in table:
        qualification = existing.get(row["code"])
        if qualification is None:
            # Name and expiry are editable by administrators: set them only on insert.
            qualification = Qualification(
                code=row["code"], name=row["name"], has_expiry=_flag(row["has_expiry"])
            )
            session.add(qualification)
            existing[qualification.code] = qualification
        qualification.profession_id = professions[row["profession"]].id if row["profession"] else None
        qualification.further_evidence = row["further_evidence"] or None
        qualification.description = row["description"] or None
    session.flush()
    links = {
        tuple(r)
        for r in session.execute(
            select(QualificationInclusion.qualification_id, QualificationInclusion.includes_id)
        )
    }
    for row in table:
        for included in filter(None, row["includes"].split(";")):
            pair = (existing[row["code"]].id, existing[included].id)
            if pair not in links:
                session.add(QualificationInclusion(qualification_id=pair[0], includes_id=pair[1]))
                links.add(pair)
    return len(existing)


def load_skills(session: Session) -> int:
    existing = {s.code: s for s in session.scalars(select(Skill))}
    for row in rows("skills.csv"):
        skill = existing.get(row["code"])
        if skill is None:
            skill = Skill(code=row["code"], name=row["name"])
            session.add(skill)
            existing[skill.code] = skill
    return len(existing)


def load_surge_phases(session: Session) -> int:
    """Insert missing phases; existing ones keep their (possibly edited) policy."""
    existing = {p.code for p in session.scalars(select(SurgePhase))}
    count = 0
    for row in rows("surge_phases.csv"):
        count += 1
        if row["code"] in existing:
            continue
        session.add(
            SurgePhase(
                code=row["code"],
                ordinal=int(row["ordinal"]),
                name=row["name"],
                description=row["description"],
                national_only=_flag(row["national_only"]),
                request_approval=row["request_approval"],
                deployment_approval=row["deployment_approval"],
                reach=row["reach"],
                offer_expiry_minutes=int(row["offer_expiry_minutes"]),
            )
        )
    return count


def load_all(session: Session) -> dict[str, int]:
    """Load every reference table; returns row counts per kind."""
    regions = load_regions(session)
    municipalities = load_municipalities(session, regions)
    session.flush()
    postcodes = load_postcodes(session)
    professions = load_professions(session)
    qualifications = load_qualifications(session, professions)
    skills = load_skills(session)
    phases = load_surge_phases(session)
    session.flush()
    return {
        "regions": len(regions),
        "municipalities": municipalities,
        "postcodes": postcodes,
        "professions": len(professions),
        "qualifications": qualifications,
        "skills": skills,
        "surge phases": phases,
    }
