"""A reservist's credentials: BIG registrations and qualifications with their evidence.

These are the parts of the record that coordinators verify, so every change the
reservist makes to them (a BIG number or profession, a qualification's dates or
document) returns them to unverified, with an audit event saying so. Like the
other record services, each function checks everything before it changes
anything, raises :class:`~zorgreserve.reservists.services.Refused` naming the
form fields, flushes, and leaves the commit to the view.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from zorgreserve import db
from zorgreserve.db import utcnow
from zorgreserve.reference.models import Profession, Qualification
from zorgreserve.reference.services import active_qualifications, today
from zorgreserve.reservists import evidence as evidence_files
from zorgreserve.reservists.models import (
    BigRegistration,
    Evidence,
    Reservist,
    ReservistQualification,
    Verification,
)
from zorgreserve.reservists.services import Refused, record_change

# BIG registration --------------------------------------------------------------------

_BIG_SEPARATORS = re.compile(r"[\s.\-]")
BIG_NUMBER = re.compile(r"^\d{11}$")


def normalise_big_number(raw: str | None) -> str:
    """Drop spaces, dots and dashes people type; the result is checked as exactly 11 digits.

    No public check-digit rule is known (DOMAIN.md), so only the format is checked
    here; the register lookup or a coordinator verifies the number itself.
    """
    return _BIG_SEPARATORS.sub("", raw or "")


def registered_professions() -> list[Profession]:
    """Professions with a BIG register (article 3): the only ones with a BIG number."""
    return list(
        db.session.scalars(
            select(Profession).where(Profession.has_big_register.is_(True)).order_by(Profession.name)
        )
    )


def missing_big_registrations(reservist: Reservist) -> dict[str, list[str]]:
    """Professions whose BIG registration a held qualification needs but the record lacks.

    Maps the profession's name to the names of the qualifications that need it.
    """
    registered = {b.profession_id for b in reservist.big_registrations}
    missing: dict[str, list[str]] = {}
    for held in sorted(reservist.qualifications, key=lambda q: q.qualification.name):
        qualification = held.qualification
        if qualification.needs_big_registration and qualification.profession_id not in registered:
            missing.setdefault(qualification.profession.name, []).append(qualification.name)
    return missing


def _check_big(reservist: Reservist, profession_id: int, big_number: str, exclude_id: int | None) -> None:
    errors: dict[str, Any] = {}
    profession = db.session.get(Profession, profession_id)
    if profession is None or not profession.has_big_register:
        errors["profession"] = _l("Choose a profession from the list.")
    elif any(b.profession_id == profession_id and b.id != exclude_id for b in reservist.big_registrations):
        errors["profession"] = _l("You already have a BIG registration for this profession.")
    if not BIG_NUMBER.match(big_number):
        errors["big_number"] = _l("A BIG number has 11 digits.")
    if errors:
        raise Refused(errors)


def add_big_registration(reservist: Reservist, profession_id: int, big_number: str) -> BigRegistration:
    """Record a BIG registration, unverified until the register or a coordinator confirms it."""
    big_number = normalise_big_number(big_number)
    _check_big(reservist, profession_id, big_number, None)
    registration = BigRegistration(
        reservist_id=reservist.id, profession_id=profession_id, big_number=big_number
    )
    reservist.big_registrations.append(registration)
    db.session.flush()
    record_change(
        "reservist.big_added", reservist, big_registration_id=registration.id, profession_id=profession_id
    )
    return registration


def _unverify_big(registration: BigRegistration) -> None:
    registration.verification = Verification.UNVERIFIED.value
    registration.rejection_reason = None
    registration.verified_by_id = None
    registration.verified_at = None
    registration.lookup_result = None
    registration.lookup_at = None
    registration.reregistration_due = None  # it came from the register for the old number


def update_big_registration(registration: BigRegistration, profession_id: int, big_number: str) -> bool:
    """Change number or profession; returns whether anything changed (which resets verification)."""
    big_number = normalise_big_number(big_number)
    _check_big(registration.reservist, profession_id, big_number, registration.id)
    if registration.big_number == big_number and registration.profession_id == profession_id:
        return False
    previous = registration.verification
    registration.big_number = big_number
    registration.profession_id = profession_id
    _unverify_big(registration)
    registration.changed_at = utcnow()
    db.session.flush()
    db.session.expire(registration, ["profession"])
    record_change(
        "reservist.big_changed",
        registration.reservist,
        big_registration_id=registration.id,
        profession_id=profession_id,
        previous_verification=previous,
        verification=registration.verification,
    )
    return True


def remove_big_registration(registration: BigRegistration) -> None:
    reservist = registration.reservist
    reservist.big_registrations.remove(registration)
    db.session.flush()
    record_change("reservist.big_removed", reservist, big_registration_id=registration.id)


# Qualifications ----------------------------------------------------------------------


def addable_qualifications(reservist: Reservist) -> list[Qualification]:
    """Active catalogue entries the reservist does not hold yet."""
    held = {q.qualification_id for q in reservist.qualifications}
    return [q for q in active_qualifications() if q.id not in held]


def _check_dates(
    qualification: Qualification, obtained_on: date | None, expires_on: date | None, day: date
) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    if obtained_on is not None and obtained_on > day:
        errors["obtained_on"] = _l("This date is in the future.")
    if expires_on is not None and not qualification.has_expiry:
        errors["expires_on"] = _l(
            "%(name)s does not expire: leave the expiry date empty.", name=qualification.name
        )
    elif qualification.has_expiry and expires_on is None:
        errors["expires_on"] = _l("%(name)s expires: enter the expiry date.", name=qualification.name)
    elif expires_on is not None and obtained_on is not None and expires_on < obtained_on:
        errors["expires_on"] = _l("The expiry date cannot be before the date obtained.")
    return errors


@dataclass
class Upload:
    """A file as read from the form: the cleaned name and the bytes (at most one over the limit)."""

    filename: str
    data: bytes


def _store(reservist: Reservist, upload: Upload | None, errors: dict[str, Any]) -> Evidence | None:
    if upload is None:
        return None
    if errors:  # check the file too, so every problem shows at once, but store nothing
        try:
            evidence_files.detect_type(upload.filename, upload.data)
        except evidence_files.EvidenceRejected as rejected:
            errors["evidence"] = rejected.message
        raise Refused(errors)
    try:
        return evidence_files.store_evidence(reservist, upload.filename, upload.data)
    except evidence_files.EvidenceRejected as rejected:
        raise Refused({"evidence": rejected.message}) from rejected


def add_qualification(
    reservist: Reservist,
    qualification_id: int,
    obtained_on: date,
    expires_on: date | None,
    upload: Upload | None = None,
) -> ReservistQualification:
    """Add a catalogue qualification with its dates and optional evidence, unverified."""
    qualification = db.session.get(Qualification, qualification_id)
    if qualification is None or qualification not in addable_qualifications(reservist):
        raise Refused({"qualification": _l("Choose a qualification from the list.")})
    errors = _check_dates(qualification, obtained_on, expires_on, today())
    evidence = _store(reservist, upload, errors)
    if errors:
        raise Refused(errors)
    held = ReservistQualification(
        reservist_id=reservist.id,
        qualification_id=qualification.id,
        obtained_on=obtained_on,
        expires_on=expires_on,
        evidence_id=evidence.id if evidence else None,
    )
    reservist.qualifications.append(held)
    db.session.flush()
    record_change(
        "reservist.qualification_added",
        reservist,
        reservist_qualification_id=held.id,
        qualification=qualification.code,
        evidence_id=held.evidence_id,
    )
    return held


def _unverify_qualification(held: ReservistQualification, *, evidence_changed: bool) -> None:
    held.verification = Verification.UNVERIFIED.value
    held.rejection_reason = None
    held.verified_by_id = None
    held.verified_at = None
    if evidence_changed:
        held.evidence_verified = False


def update_qualification(
    held: ReservistQualification,
    obtained_on: date,
    expires_on: date | None,
    upload: Upload | None = None,
    remove_evidence: bool = False,
) -> bool:
    """Change dates or evidence; returns whether anything changed.

    Any change returns a verified (or rejected) qualification to unverified, for
    a coordinator to look at again. A new document replaces the old one, whose
    file is removed once the change commits.
    """
    reservist = held.reservist
    errors = _check_dates(held.qualification, obtained_on, expires_on, today())
    new_evidence = _store(reservist, upload, errors)
    if errors:
        raise Refused(errors)
    old_evidence = held.evidence
    dates_changed = (held.obtained_on, held.expires_on) != (obtained_on, expires_on)
    evidence_changed = new_evidence is not None or (remove_evidence and old_evidence is not None)
    if not dates_changed and not evidence_changed:
        return False
    previous = held.verification
    held.obtained_on = obtained_on
    held.expires_on = expires_on
    if evidence_changed:
        held.evidence = new_evidence
    _unverify_qualification(held, evidence_changed=evidence_changed)
    held.changed_at = utcnow()
    db.session.flush()
    if evidence_changed and old_evidence is not None:
        evidence_files.discard_evidence(old_evidence)
    record_change(
        "reservist.qualification_changed",
        reservist,
        reservist_qualification_id=held.id,
        qualification=held.qualification.code,
        dates_changed=dates_changed,
        evidence_changed=evidence_changed,
        previous_verification=previous,
        verification=held.verification,
    )
    return True


def remove_qualification(held: ReservistQualification) -> None:
    """Remove a held qualification and its document (the file goes after the commit)."""
    reservist = held.reservist
    evidence = held.evidence
    code = held.qualification.code
    reservist.qualifications.remove(held)
    db.session.flush()
    if evidence is not None:
        evidence_files.discard_evidence(evidence)
    record_change(
        "reservist.qualification_removed", reservist, reservist_qualification_id=held.id, qualification=code
    )
