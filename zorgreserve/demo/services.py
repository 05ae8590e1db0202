"""Demo data: one account per role, institutions in every region, a few hundred reservists.

Deterministic for a seed (Faker ``nl_NL`` seeded, random.Random seeded), so two
runs on two machines give the same people; idempotent, so running it again
changes nothing. Never load this into a production database: every demo account
shares one published password.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

import pyotp
from faker import Faker
from sqlalchemy import select

from zorgreserve import db
from zorgreserve.accounts import crypto
from zorgreserve.accounts.models import User
from zorgreserve.accounts.passwords import hash_password
from zorgreserve.accounts.roles import Role
from zorgreserve.accounts.services import new_nonce
from zorgreserve.availability.demo import add_demo_availability
from zorgreserve.db import utcnow
from zorgreserve.institutions.models import Institution, InstitutionKind, InstitutionLocation
from zorgreserve.reference.models import MunicipalityRegion, Postcode, Qualification, Region, Skill
from zorgreserve.reservists.models import BigRegistration, Reservist, ReservistQualification, Verification

DOMAIN = "demo.zorgreserve.nl"
POSTCODE_LETTERS = "ABCDEFGHJKLMNPRSTVWXZ"
UTRECHT = "Netwerk Acute Zorg Midden-Nederland"
#: Fixed demo secrets so people trying the product can add them to an authenticator app.
DEMO_TOTP = {
    "admin": "JBSWY3DPEHPK3PXPZRADMIN2",
    "landelijk": "JBSWY3DPEHPK3PXPZRNATION",
    "regio": "JBSWY3DPEHPK3PXPZRREGION",
}
STAFF_ACCOUNTS = [
    ("admin", Role.ADMINISTRATOR, "Anna", "de Beheerder"),
    ("landelijk", Role.NATIONAL_COORDINATOR, "Lars", "Landelijk"),
    ("regio", Role.REGIONAL_COORDINATOR, "Roos", "van der Regio"),
    ("ziekenhuis", Role.INSTITUTION_STAFF, "Hans", "Huisman"),
    ("reservist", Role.RESERVIST, "Rik", "Reserve"),
]
INSTITUTION_KINDS = [
    (InstitutionKind.HOSPITAL, "Ziekenhuis {place}"),
    (InstitutionKind.NURSING_HOME, "Zorgcentrum {place}"),
]
QUALIFICATION_WEIGHTS = {
    "verpleegkundige": 30,
    "ic_verpleegkundige": 12,
    "seh_verpleegkundige": 8,
    "ccu_verpleegkundige": 4,
    "anesthesiemedewerker": 5,
    "ok_assistent": 5,
    "verzorgende_ig": 18,
    "basisarts": 6,
    "medisch_specialist": 3,
    "doktersassistent": 6,
    "ambulanceverpleegkundige": 3,
}


def email_for(key: str) -> str:
    return f"{key}@{DOMAIN}"


def demo_logins() -> list[dict[str, Any]]:
    """The demo accounts that exist in this database (empty when no demo data is loaded)."""
    emails = [email_for(key) for key, *_rest in STAFF_ACCOUNTS]
    present = {u.email: u for u in db.session.scalars(select(User).where(User.email.in_(emails)))}
    logins = []
    for key, role, *_names in STAFF_ACCOUNTS:
        user = present.get(email_for(key))
        if user is not None:
            logins.append(
                {
                    "role": role.value,
                    "role_label": role.label,
                    "email": user.email,
                    "totp": DEMO_TOTP.get(key),
                }
            )
    return logins


def current_totp(key: str) -> str:
    return pyotp.TOTP(DEMO_TOTP[key]).now()


def _regions() -> list[Region]:
    return list(db.session.scalars(select(Region).where(Region.valid_to.is_(None)).order_by(Region.name)))


def _postcodes_by_region() -> dict[int, list[Postcode]]:
    rows = db.session.execute(
        select(Postcode, MunicipalityRegion.region_id)
        .join(MunicipalityRegion, MunicipalityRegion.municipality_code == Postcode.municipality_code)
        .where(MunicipalityRegion.valid_to.is_(None))
        .order_by(Postcode.pc4)
    ).all()
    grouped: dict[int, list[Postcode]] = {}
    for postcode, region_id in rows:
        grouped.setdefault(region_id, []).append(postcode)
    return grouped


def load_demo(*, password: str, reservists: int = 300, seed: int = 2026) -> int:
    """Create the demo data unless it is there already; returns the number of records created."""
    if db.session.scalar(select(User.id).where(User.email == email_for("admin"))) is not None:
        return 0
    regions = _regions()
    if not regions:
        raise RuntimeError("load the reference data first: zorgreserve reference load")
    rng = random.Random(seed)
    fake = Faker("nl_NL")
    fake.seed_instance(seed)
    password_hash = hash_password(password)  # one hash for all: hashing hundreds takes minutes
    postcodes = _postcodes_by_region()
    created = 0

    institutions: list[Institution] = []
    for region in regions:
        for kind, pattern in INSTITUTION_KINDS:
            postcode = rng.choice(postcodes[region.id])
            name = pattern.format(place=postcode.place)
            if any(i.name == name for i in institutions):
                name = f"{name} ({region.name.split()[-1]})"
            institution = Institution(name=name, kind=kind.value, region_id=region.id, postcode=postcode.pc4)
            # Requests are made for a location, so every demo institution has its main site.
            institution.locations.append(
                InstitutionLocation(
                    name="Hoofdlocatie",
                    street_address=f"{fake.street_name()} {rng.randint(1, 250)}",
                    postcode=f"{postcode.pc4} {''.join(rng.choices(POSTCODE_LETTERS, k=2))}",
                    pc4=postcode.pc4,
                    city=postcode.place,
                    region_id=region.id,
                    latitude=postcode.latitude,
                    longitude=postcode.longitude,
                )
            )
            institutions.append(institution)
            db.session.add(institution)
            created += 2
    db.session.flush()

    utrecht = next((r for r in regions if r.name == UTRECHT), regions[0])
    hospital = next(
        i for i in institutions if i.region_id == utrecht.id and i.kind == InstitutionKind.HOSPITAL
    )
    for key, role, first, last in STAFF_ACCOUNTS:
        user = User(
            email=email_for(key),
            password_hash=password_hash,
            role=role.value,
            first_name=first,
            last_name=last,
            phone="+31612345678" if role is Role.RESERVIST else None,
            session_nonce=new_nonce(),
            email_verified_at=utcnow(),
            region_id=utrecht.id if role is Role.REGIONAL_COORDINATOR else None,
            institution_id=hospital.id if role is Role.INSTITUTION_STAFF else None,
        )
        if key in DEMO_TOTP:
            user.totp_secret_encrypted = crypto.encrypt(DEMO_TOTP[key])
            user.totp_enabled_at = utcnow()
        db.session.add(user)
        created += 1
    db.session.flush()

    qualifications = {q.code: q for q in db.session.scalars(select(Qualification))}
    codes = [c for c in QUALIFICATION_WEIGHTS if c in qualifications]
    weights = [QUALIFICATION_WEIGHTS[c] for c in codes]
    skills = list(db.session.scalars(select(Skill).where(Skill.active.is_(True)).order_by(Skill.code)))
    made: list[Reservist] = []
    demo_reservist = db.session.scalar(select(User).where(User.email == email_for("reservist")))
    people: list[tuple[User | None, Region]] = [(demo_reservist, utrecht)]
    people += [(None, regions[i % len(regions)]) for i in range(max(reservists - 1, 0))]
    today = date.today()
    for index, (user, region) in enumerate(people):
        if user is None:
            first, last = fake.first_name(), fake.last_name()
            user = User(
                email=f"reservist{index:04d}@{DOMAIN}",
                password_hash=password_hash,
                role=Role.RESERVIST.value,
                first_name=first,
                last_name=last,
                phone=f"+316{rng.randrange(10_000_000, 99_999_999)}",
                session_nonce=new_nonce(),
                email_verified_at=utcnow(),
                locale="en" if rng.random() < 0.1 else "nl",
            )
            db.session.add(user)
            db.session.flush()
        postcode = rng.choice(postcodes[region.id])
        paused = rng.random() < 0.05
        reservist = Reservist(
            user_id=user.id,
            pc4=postcode.pc4,
            home_region_id=region.id,
            latitude=postcode.latitude,
            longitude=postcode.longitude,
            max_travel_km=rng.choice([15, 25, 40, 60, 100]),
            max_hours_per_week=rng.choice([None, 16, 24, 32, 40]),
            channels=rng.choice(["sms", "email", "both", "both"]),
            status="paused" if paused else "active",
            paused_until=today + timedelta(days=rng.randrange(7, 60)) if paused else None,
        )
        code = rng.choices(codes, weights)[0]
        obtained = today - timedelta(days=rng.randrange(365, 365 * 25))
        state = rng.choices(
            [Verification.VERIFIED, Verification.UNVERIFIED, Verification.REJECTED], [80, 17, 3]
        )[0]
        qualification = qualifications[code]
        reservist.qualifications.append(
            ReservistQualification(
                qualification_id=qualification.id, obtained_on=obtained, verification=state.value
            )
        )
        if qualification.profession_id is not None:
            # A qualification that needs a BIG registration comes with one; most are verified.
            reservist.big_registrations.append(
                BigRegistration(
                    profession_id=qualification.profession_id,
                    big_number=f"{rng.randrange(10**10, 10**11):011d}",
                    verification=state.value,
                    reregistration_due=today + timedelta(days=rng.randrange(60, 5 * 365)),
                )
            )
            created += 1
        if skills:
            reservist.skills = rng.sample(skills, rng.randint(0, min(3, len(skills))))
        db.session.add(reservist)
        made.append(reservist)
        created += 2
    db.session.flush()
    created += add_demo_availability(made, rng)
    db.session.flush()
    return created
