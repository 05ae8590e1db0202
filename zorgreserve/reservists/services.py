"""Reservist rules shared by the reservist's own pages, coordinators and matching.

Scope is decided here, in the query: a regional coordinator sees reservists who
live in their region or chose to serve in it; a national coordinator and an
administrator see everyone; institution staff see no reservist data (their
deployments, later, show first names only); a reservist sees only themselves.

Below the scope rules are the changes a reservist makes to their own record
(profile, skills, training, status); BIG registrations and qualifications, the
parts coordinators verify, are in :mod:`zorgreserve.reservists.credentials`,
and evidence files in :mod:`zorgreserve.reservists.evidence`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, or_, select

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.accounts.passwords import verify_password
from zorgreserve.accounts.roles import Role
from zorgreserve.accounts.services import find_user_by_email, normalise_email, queue_email
from zorgreserve.audit.services import record
from zorgreserve.db import utcnow
from zorgreserve.reference.models import (
    MunicipalityRegion,
    Postcode,
    Region,
    Skill,
)
from zorgreserve.reference.services import (
    active_regions,
    active_skills,
    region_for_postcode,
    today,
)
from zorgreserve.reservists.models import (
    BigRegistration,
    Evidence,
    Reservist,
    ReservistQualification,
    ReservistRegion,
    ReservistStatus,
    TrainingRecord,
)


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
        # IN, not a correlated EXISTS: PostgreSQL then hashes the small set of
        # "serves here" ids once instead of costing a probe for every reservist.
        serves = select(ReservistRegion.reservist_id).where(ReservistRegion.region_id == user.region_id)
        return query.where(or_(Reservist.home_region_id == user.region_id, Reservist.id.in_(serves)))
    if role is Role.RESERVIST:
        return query.where(Reservist.user_id == user.id)
    return query.where(Reservist.id.is_(None))  # institution staff: nothing


def reservist_in_scope(user: User, reservist_id: int) -> Reservist:
    """Load one reservist if ``user`` may see them, else raise NotInScope (a 404 for the view)."""
    reservist = db.session.scalar(scope_filter(user, select(Reservist)).where(Reservist.id == reservist_id))
    if reservist is None or reservist.erased_at is not None:
        raise NotInScope(reservist_id)
    return reservist


# The reservist's own record ----------------------------------------------------------
#
# The functions below apply one change a reservist makes to their own record. Each
# checks everything first and raises :class:`Refused` (naming the form fields and
# why) before it changes anything; it records an audit event and flushes, and the
# view commits. A change to a checked part (BIG number or profession, a
# qualification's dates or evidence) sends it back to unverified.


class Refused(ValueError):
    """Input the rules do not accept: ``errors`` maps form field names to translated messages."""

    def __init__(self, errors: dict[str, Any]) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors


def record_change(action: str, reservist: Reservist, **details: Any) -> None:
    """Audit a change to a reservist's record (ids and codes only; the reservist sees it as theirs)."""
    record(
        action,
        subject_type="reservist",
        subject_id=reservist.id,
        subject_user_id=reservist.user_id,
        **details,
    )


def _owned(model: Any, reservist: Reservist, item_id: int) -> Any:
    """One row of ``model`` that belongs to ``reservist``, else NotInScope (answered as 404)."""
    item = db.session.scalar(select(model).where(model.id == item_id, model.reservist_id == reservist.id))
    if item is None:
        raise NotInScope(item_id)
    return item


def own_big_registration(reservist: Reservist, registration_id: int) -> BigRegistration:
    return _owned(BigRegistration, reservist, registration_id)


def own_qualification(reservist: Reservist, qualification_id: int) -> ReservistQualification:
    return _owned(ReservistQualification, reservist, qualification_id)


def own_training(reservist: Reservist, training_id: int) -> TrainingRecord:
    return _owned(TrainingRecord, reservist, training_id)


def own_evidence(reservist: Reservist, evidence_id: int) -> Evidence:
    return _owned(Evidence, reservist, evidence_id)


def evidence_in_scope(user: User, reservist_id: int, evidence_id: int) -> tuple[Reservist, Evidence]:
    """A document of a reservist in a coordinator's scope, else NotInScope (a 404, never a 403)."""
    reservist = reservist_in_scope(user, reservist_id)
    return reservist, own_evidence(reservist, evidence_id)


# Profile -----------------------------------------------------------------------------

#: Languages a reservist can say they speak (ISO 639 codes, stored comma-separated).
LANGUAGES: tuple[tuple[str, Any], ...] = (
    ("nl", _l("Dutch")),
    ("en", _l("English")),
    ("de", _l("German")),
    ("fr", _l("French")),
    ("es", _l("Spanish")),
    ("it", _l("Italian")),
    ("pt", _l("Portuguese")),
    ("pl", _l("Polish")),
    ("ro", _l("Romanian")),
    ("bg", _l("Bulgarian")),
    ("uk", _l("Ukrainian")),
    ("tr", _l("Turkish")),
    ("ar", _l("Arabic")),
    ("fy", _l("Frisian")),
    ("pap", _l("Papiamento")),
)
LANGUAGE_CODES = tuple(code for code, _label in LANGUAGES)


def language_names(stored: str | None) -> list[str]:
    names = dict(LANGUAGES)
    return [str(names.get(code, code)) for code in (stored or "").split(",") if code]


@dataclass
class ProfileChange:
    first_name: str
    last_name: str
    email: str
    phone: str | None
    pc4: str
    max_travel_km: int
    max_hours_per_week: int | None
    channels: str
    languages: list[str]
    region_ids: list[int] = field(default_factory=list)


def update_profile(
    user: User, reservist: Reservist, change: ProfileChange, *, password: str | None
) -> list[str]:
    """Apply the profile form; returns the names of the fields that changed.

    A new e-mail address needs the current password, must not belong to another
    account (the refusal does not say whose it is), and is marked unverified
    with a confirmation link sent to it through the accounts e-mail job.
    Willing regions are active regions; the home region is implied, not stored.
    """
    errors: dict[str, Any] = {}
    for name in ("first_name", "last_name"):
        if not getattr(change, name).strip():
            errors[name] = _l("This field is required.")
    email = normalise_email(change.email)
    email_changed = email != user.email
    if email_changed:
        if not password or not verify_password(user.password_hash, password):
            errors["current_password"] = _l("Enter your current password to change your e-mail address.")
        elif find_user_by_email(email) is not None:
            errors["email"] = _l("This e-mail address cannot be used. Choose another one.")
    home_region = region_for_postcode(change.pc4)
    if home_region is None:
        errors["pc4"] = _l("Postcode %(pc4)s is not known.", pc4=change.pc4)
    active_ids = {region.id for region in active_regions(today())}
    if set(change.region_ids) - active_ids:
        errors["regions"] = _l("Choose regions from the list.")
    unknown_languages = set(change.languages) - set(LANGUAGE_CODES)
    if unknown_languages or not change.languages:
        errors["languages"] = _l("Choose at least one language from the list.")
    if errors:
        raise Refused(errors)

    changed: list[str] = []

    def put(obj: Any, name: str, value: Any) -> None:
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed.append(name)

    put(user, "first_name", change.first_name.strip())
    put(user, "last_name", change.last_name.strip())
    put(user, "phone", change.phone or None)
    if reservist.pc4 != change.pc4:
        set_home_postcode(reservist, change.pc4)
        changed.append("pc4")
    put(reservist, "max_travel_km", change.max_travel_km)
    put(reservist, "max_hours_per_week", change.max_hours_per_week)
    put(reservist, "channels", change.channels)
    put(reservist, "languages", ",".join(code for code in LANGUAGE_CODES if code in change.languages))
    wanted = set(change.region_ids) - {reservist.home_region_id}
    if {region.id for region in reservist.regions} != wanted:
        reservist.regions = list(db.session.scalars(select(Region).where(Region.id.in_(wanted))))
        changed.append("regions")
    if email_changed:
        user.email = email
        user.email_verified_at = None
        changed.append("email")
        queue_email("verify_email", user_id=user.id)
        record("account.email_changed", subject_type="user", subject_id=user.id, subject_user_id=user.id)
    if changed:
        record_change("reservist.profile_changed", reservist, fields=sorted(changed))
    db.session.flush()
    return changed


# Skills and training -----------------------------------------------------------------


def selectable_skills(reservist: Reservist) -> list[Skill]:
    """Active skills, plus any inactive one the reservist already has (so saving keeps it)."""
    offered = {skill.id: skill for skill in active_skills()}
    for skill in reservist.skills:
        offered.setdefault(skill.id, skill)
    return sorted(offered.values(), key=lambda s: s.name)


def set_skills(reservist: Reservist, skill_ids: list[int]) -> bool:
    """Replace the reservist's skills; returns whether they changed."""
    allowed = {skill.id for skill in selectable_skills(reservist)}
    if set(skill_ids) - allowed:
        raise Refused({"skills": _l("Choose skills from the list.")})
    before = {skill.id for skill in reservist.skills}
    wanted = set(skill_ids)
    if before == wanted:
        return False
    reservist.skills = list(db.session.scalars(select(Skill).where(Skill.id.in_(wanted))))
    db.session.flush()
    record_change(
        "reservist.skills_changed", reservist, added=sorted(wanted - before), removed=sorted(before - wanted)
    )
    return True


def _check_training(course: str, completed_on: date, expires_on: date | None) -> str:
    errors: dict[str, Any] = {}
    course = course.strip()
    if not course:
        errors["course"] = _l("Enter the name of the course.")
    if completed_on > today():
        errors["completed_on"] = _l("This date is in the future.")
    if expires_on is not None and expires_on <= completed_on:
        errors["expires_on"] = _l("The expiry date must be after the date of the course.")
    if errors:
        raise Refused(errors)
    return course


def add_training(
    reservist: Reservist, course: str, completed_on: date, expires_on: date | None
) -> TrainingRecord:
    course = _check_training(course, completed_on, expires_on)
    training = TrainingRecord(
        reservist_id=reservist.id, course=course, completed_on=completed_on, expires_on=expires_on
    )
    reservist.trainings.append(training)
    db.session.flush()
    record_change("reservist.training_added", reservist, training_id=training.id)
    return training


def update_training(
    training: TrainingRecord, course: str, completed_on: date, expires_on: date | None
) -> bool:
    course = _check_training(course, completed_on, expires_on)
    if (training.course, training.completed_on, training.expires_on) == (course, completed_on, expires_on):
        return False
    training.course = course
    training.completed_on = completed_on
    training.expires_on = expires_on
    db.session.flush()
    record_change("reservist.training_changed", training.reservist, training_id=training.id)
    return True


def remove_training(training: TrainingRecord) -> None:
    reservist = training.reservist
    reservist.trainings.remove(training)
    db.session.flush()
    record_change("reservist.training_removed", reservist, training_id=training.id)


# Status ------------------------------------------------------------------------------

MAX_PAUSE_DAYS = 365


def set_status(reservist: Reservist, status: str, paused_until: date | None, *, confirmed: bool) -> bool:
    """Active, paused until a date (tomorrow up to a year ahead) or withdrawn (confirmed).

    Pausing or leaving also ends a running stand-by: no call-ups meanwhile.
    Rejoining (active) clears the pause and the date of leaving; the audit
    trail keeps the history. Returns whether the status changed.
    """
    errors: dict[str, Any] = {}
    day = today()
    if status not in {s.value for s in ReservistStatus}:
        errors["status"] = _l("Choose a status from the list.")
    elif status == ReservistStatus.PAUSED:
        if paused_until is None:
            errors["paused_until"] = _l("Enter the date until which you pause.")
        elif paused_until <= day:
            errors["paused_until"] = _l("Choose a date after today.")
        elif paused_until > day + timedelta(days=MAX_PAUSE_DAYS):
            errors["paused_until"] = _l("You can pause for at most a year.")
    elif status == ReservistStatus.WITHDRAWN and not confirmed:
        errors["confirm_withdraw"] = _l("Confirm that you want to leave the reserve.")
    if errors:
        raise Refused(errors)
    until = paused_until if status == ReservistStatus.PAUSED else None
    if (reservist.status, reservist.paused_until) == (status, until):
        return False
    previous = reservist.status
    reservist.status = status
    reservist.paused_until = until
    if status == ReservistStatus.ACTIVE:
        reservist.withdrawn_at = None
    else:
        reservist.standby_until = None
        if status == ReservistStatus.WITHDRAWN:
            reservist.withdrawn_at = utcnow()
    db.session.flush()
    record_change(
        "reservist.status_changed",
        reservist,
        previous=previous,
        status=status,
        paused_until=until.isoformat() if until else None,
    )
    return True
