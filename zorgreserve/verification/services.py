"""Coordinator verification of BIG registrations and qualifications.

What this module guarantees:

- **Scope.** The queue and every item are read through
  :func:`~zorgreserve.reservists.services.scope_filter`: a regional coordinator
  sees the reservists who live in or serve their region, a national coordinator
  everyone. Anything else is :class:`NotInScope` (a 404).
- **One decision per item.** A decision is one conditional ``UPDATE`` that
  matches only while the item is still unverified *and* still what the
  coordinator saw (number and profession; dates and document). When two
  coordinators decide at once, the second matches no row and gets
  :class:`AlreadyDecided`; nothing is recorded twice.
- **The register decides nothing alone.** An unavailable register never
  verifies; a number the register does not list, or lists for another
  profession, cannot be verified. With the manual adapter the coordinator
  checks the public register and confirms that they did.
- **Qualifications need their foundations.** A qualification that needs a BIG
  registration is verified only while that registration is verified (checked
  again inside the ``UPDATE``), and one that needs further evidence (a CZO
  diploma) only with a document the coordinator confirms having checked.
- **Every decision leaves a trace.** An audit event (who, when, and why as
  codes: the grounds, the register's answer, the document), an access-log row,
  and an outbox job ``verification.notify`` that e-mails the reservist. The
  rejection reason itself is personal data: it stays on the item, where
  erasure can remove it, and never goes into the append-only audit trail.
- **Re-registration.** :func:`flag_due_reregistrations` (daily) returns
  verified BIG registrations whose re-registration is due within
  :data:`REREGISTRATION_WINDOW`, or past, to the queue, together with the
  qualifications that stood on them.

Services flush and never commit; the view or job commits once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, exists, func, literal, select, union_all, update

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.audit.services import log_access, record
from zorgreserve.db import utcnow
from zorgreserve.jobs.services import add_job
from zorgreserve.reference.models import Qualification
from zorgreserve.reservists.models import (
    BigRegistration,
    Reservist,
    ReservistQualification,
    ReservistStatus,
    Verification,
)
from zorgreserve.reservists.services import NotInScope, scope_filter
from zorgreserve.verification.big_register import BigLookup, BigRegister, LookupStatus

NOTIFY_JOB = "verification.notify"
PAGE_SIZE = 25
#: "About three months": how far ahead a re-registration date sends a registration back.
REREGISTRATION_WINDOW = timedelta(days=91)
AMSTERDAM = ZoneInfo("Europe/Amsterdam")

UNVERIFIED = Verification.UNVERIFIED.value
VERIFIED = Verification.VERIFIED.value
REJECTED = Verification.REJECTED.value


class ItemKind(StrEnum):
    BIG = "big"
    QUALIFICATION = "qualification"


#: Grounds for a rejection, as codes for the audit trail; the reason text is for the reservist.
GROUNDS: dict[ItemKind, tuple[tuple[str, Any], ...]] = {
    ItemKind.BIG: (
        ("not_in_register", _l("The number is not in the BIG register")),
        ("other_profession", _l("The register lists another profession")),
        ("name_differs", _l("The name does not match the register")),
        ("ended", _l("The registration has ended or was struck off")),
        ("other", _l("Another reason")),
    ),
    ItemKind.QUALIFICATION: (
        ("evidence_missing", _l("The document is missing or unreadable")),
        ("evidence_mismatch", _l("The document does not show this qualification")),
        ("name_differs", _l("The name on the document does not match")),
        ("expired", _l("The qualification has expired")),
        ("other", _l("Another reason")),
    ),
}


class DecisionRefused(Exception):
    """The decision cannot be taken as asked; nothing was changed.

    ``message`` is translated; ``field`` names the form field it belongs to (or
    ``None`` for the whole item); ``lookup`` is the register's answer, when one
    was asked, so the page can show it without asking again.
    """

    def __init__(self, message: str, *, field: str | None = None, lookup: BigLookup | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.lookup = lookup


class AlreadyDecided(DecisionRefused):
    """Someone decided (or the reservist changed) the item since it was opened."""


def local_today(now: datetime | None = None) -> date:
    """Registration and expiry dates are Dutch calendar dates."""
    return (now or utcnow()).astimezone(AMSTERDAM).date()


def _open_reservist() -> Any:
    """Reservists whose credentials are worth a coordinator's time: not erased, not withdrawn."""
    return and_(
        Reservist.erased_at.is_(None),
        Reservist.user_id.is_not(None),
        Reservist.status != ReservistStatus.WITHDRAWN.value,
    )


# The queue ------------------------------------------------------------------------------


@dataclass
class QueueEntry:
    kind: ItemKind
    item: BigRegistration | ReservistQualification
    waiting_since: datetime

    @property
    def reservist(self) -> Reservist:
        return self.item.reservist

    @property
    def title(self) -> str:
        if isinstance(self.item, BigRegistration):
            return self.item.profession.name
        return self.item.qualification.name

    @property
    def has_evidence(self) -> bool:
        return isinstance(self.item, ReservistQualification) and self.item.evidence_id is not None

    @property
    def reregistration_due(self) -> date | None:
        return self.item.reregistration_due if isinstance(self.item, BigRegistration) else None


@dataclass
class QueuePage:
    entries: list[QueueEntry]
    kind: str
    page: int
    has_more: bool
    counts: dict[str, int] = field(default_factory=dict)


def _waiting_big(user: User) -> Select:
    query = (
        select(
            literal(ItemKind.BIG.value).label("kind"),
            BigRegistration.id.label("item_id"),
            BigRegistration.changed_at.label("since"),
        )
        .join(Reservist, Reservist.id == BigRegistration.reservist_id)
        .where(BigRegistration.verification == UNVERIFIED, _open_reservist())
    )
    return scope_filter(user, query)


def _waiting_qualifications(user: User) -> Select:
    query = (
        select(
            literal(ItemKind.QUALIFICATION.value).label("kind"),
            ReservistQualification.id.label("item_id"),
            ReservistQualification.changed_at.label("since"),
        )
        .join(Reservist, Reservist.id == ReservistQualification.reservist_id)
        .where(ReservistQualification.verification == UNVERIFIED, _open_reservist())
    )
    return scope_filter(user, query)


def _count(query: Select) -> int:
    return db.session.scalar(select(func.count()).select_from(query.subquery())) or 0


def queue_page(user: User, kind: str = "all", page: int = 1) -> QueuePage:
    """Unverified items in ``user``'s scope, longest waiting first, one page at a time.

    Each reservist shown on the page gets an access-log row: the queue shows
    their name and what they hold.
    """
    page = max(page, 1)
    parts = {
        ItemKind.BIG.value: _waiting_big(user),
        ItemKind.QUALIFICATION.value: _waiting_qualifications(user),
    }
    counts = {name: _count(query) for name, query in parts.items()}
    chosen = [parts[kind]] if kind in parts else list(parts.values())
    waiting = (union_all(*chosen) if len(chosen) > 1 else chosen[0]).subquery()
    rows = db.session.execute(
        select(waiting.c.kind, waiting.c.item_id, waiting.c.since)
        .order_by(waiting.c.since, waiting.c.kind, waiting.c.item_id)
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    ).all()
    has_more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    ids = {name: [r.item_id for r in rows if r.kind == name] for name in parts}
    items: dict[tuple[str, int], Any] = {}
    for name, model in (
        (ItemKind.BIG.value, BigRegistration),
        (ItemKind.QUALIFICATION.value, ReservistQualification),
    ):
        if ids[name]:
            for item in db.session.scalars(select(model).where(model.id.in_(ids[name]))):
                items[(name, item.id)] = item
    entries = [
        QueueEntry(ItemKind(r.kind), items[(r.kind, r.item_id)], r.since)
        for r in rows
        if (r.kind, r.item_id) in items
    ]
    for reservist_id in dict.fromkeys(e.item.reservist_id for e in entries):
        log_access("view", reservist_id, "verification.queue", actor=user)
    return QueuePage(entries, kind if kind in parts else "all", page, has_more, counts)


# One item -------------------------------------------------------------------------------


def big_in_scope(user: User, registration_id: int) -> BigRegistration:
    """One BIG registration of a reservist ``user`` may see, else NotInScope (a 404)."""
    query = (
        select(BigRegistration)
        .join(Reservist, Reservist.id == BigRegistration.reservist_id)
        .where(BigRegistration.id == registration_id, _open_reservist())
    )
    registration = db.session.scalar(scope_filter(user, query))
    if registration is None:
        raise NotInScope(registration_id)
    return registration


def qualification_in_scope(user: User, item_id: int) -> ReservistQualification:
    """One held qualification of a reservist ``user`` may see, else NotInScope (a 404)."""
    query = (
        select(ReservistQualification)
        .join(Reservist, Reservist.id == ReservistQualification.reservist_id)
        .where(ReservistQualification.id == item_id, _open_reservist())
    )
    held = db.session.scalar(scope_filter(user, query))
    if held is None:
        raise NotInScope(item_id)
    return held


def fingerprint(item: BigRegistration | ReservistQualification) -> str:
    """What the coordinator saw of an item, as a short token the decision form carries back.

    A reservist who changes the number, profession, dates or document between
    the coordinator opening the page and deciding makes the token stale, and the
    decision is refused rather than applied to something nobody looked at.
    """
    if isinstance(item, BigRegistration):
        parts = ("big", item.id, item.big_number, item.profession_id)
    else:
        parts = (
            "qualification",
            item.id,
            item.qualification_id,
            item.obtained_on,
            item.expires_on,
            item.evidence_id,
        )
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:20]


def record_view(user: User, item: BigRegistration | ReservistQualification, context: str) -> None:
    """Log that ``user`` opened an item (NEN 7513: who looked at whose data, and why)."""
    kind = ItemKind.BIG if isinstance(item, BigRegistration) else ItemKind.QUALIFICATION
    log_access("view", item.reservist_id, context, actor=user, item_type=kind.value, item_id=item.id)


def look_up(registration: BigRegistration, register: BigRegister) -> BigLookup:
    """Ask the register about an unverified registration and note what it said (not the decision)."""
    lookup = register.lookup(registration.big_number)
    if lookup.stored_result is not None:
        registration.lookup_result = lookup.stored_result
        registration.lookup_at = utcnow()
        db.session.flush()
    return lookup


def suggested_reregistration_due(
    registration: BigRegistration, lookup: BigLookup | None, today: date
) -> date | None:
    """The re-registration date to offer the coordinator: the register's, else the one on record."""
    if lookup is not None and lookup.status is LookupStatus.VERIFIED:
        current = lookup.registration_for(registration.profession.code, today)
        if current is not None and current.ends_on is not None:
            return current.ends_on
    return registration.reregistration_due


@dataclass
class Requirement:
    """One condition a qualification must meet before it can be verified."""

    label: str
    met: bool
    missing: str = ""
    big_registration: BigRegistration | None = None


def requirements(held: ReservistQualification, today: date) -> list[Requirement]:
    """What verifying ``held`` needs, and which of it is missing (shown on the page)."""
    qualification: Qualification = held.qualification
    needs: list[Requirement] = []
    if qualification.needs_big_registration:
        profession = qualification.profession
        registration = next(
            (b for b in held.reservist.big_registrations if b.profession_id == profession.id), None
        )
        label = _("BIG registration as %(profession)s", profession=profession.name)
        if registration is None:
            needs.append(Requirement(label, False, _("No BIG registration for this profession is recorded.")))
        elif registration.verification != VERIFIED:
            needs.append(
                Requirement(label, False, _("The BIG registration is not verified yet."), registration)
            )
        else:
            needs.append(Requirement(label, True, big_registration=registration))
    if qualification.further_evidence:
        label = _("Document: %(what)s", what=qualification.further_evidence)
        if held.evidence_id is None:
            needs.append(Requirement(label, False, _("No document has been uploaded.")))
        else:
            needs.append(Requirement(label, True))
    if held.expires_on is not None and held.expires_on < today:
        needs.append(
            Requirement(
                _("Not expired"),
                False,
                _("Expired on %(date)s.", date=format_date(held.expires_on, "long")),
            )
        )
    return needs


# Decisions ------------------------------------------------------------------------------


def ensure_open(item: BigRegistration | ReservistQualification) -> None:
    """Refuse a decision on an item that is no longer waiting for one."""
    if item.verification != UNVERIFIED:
        raise AlreadyDecided(_("Another coordinator has already decided on this item. Nothing was changed."))


def _check_version(item: BigRegistration | ReservistQualification, version: str | None) -> None:
    ensure_open(item)
    if version != fingerprint(item):
        raise AlreadyDecided(
            _("The reservist changed this item after you opened it. Look at it again; nothing was changed.")
        )


def _check_reason(kind: ItemKind, grounds: str | None, reason: str | None) -> str:
    if grounds not in {code for code, _label in GROUNDS[kind]}:
        raise DecisionRefused(_("Choose the ground for the rejection."), field="grounds")
    reason = (reason or "").strip()
    if not reason:
        raise DecisionRefused(
            _("Give the reason: the reservist reads it and needs to know what to correct."), field="reason"
        )
    return reason


def _apply(statement: Any) -> None:
    """Run a conditional decision UPDATE; no row matched means someone was first."""
    result = db.session.execute(statement.execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise AlreadyDecided(_("Another coordinator has already decided on this item. Nothing was changed."))


def _after_decision(
    user: User,
    kind: ItemKind,
    item: BigRegistration | ReservistQualification,
    outcome: str,
    **why: Any,
) -> None:
    """Refresh the item, then audit, access-log and queue the reservist's e-mail."""
    db.session.refresh(item)
    reservist = item.reservist
    record(
        f"verification.{kind.value}_{outcome}",
        actor=user,
        subject_type="big_registration" if kind is ItemKind.BIG else "reservist_qualification",
        subject_id=item.id,
        subject_user_id=reservist.user_id,
        reservist_id=reservist.id,
        **why,
    )
    log_access(
        "verify", reservist.id, f"verification.{kind.value}", actor=user, item_id=item.id, outcome=outcome
    )
    notify(reservist.id, kind, item.id, outcome)


def notify(reservist_id: int, kind: ItemKind, item_id: int, outcome: str) -> None:
    """Queue the reservist's e-mail (ids only: the text is made at send time, in their language)."""
    add_job(
        db.session,
        NOTIFY_JOB,
        {"reservist_id": reservist_id, "item_type": kind.value, "item_id": item_id, "outcome": outcome},
        description="verification e-mail",
        queue="messages",
    )


def verify_big(
    user: User,
    registration: BigRegistration,
    *,
    version: str | None,
    confirmed: bool,
    reregistration_due: date | None,
    register: BigRegister,
    today: date | None = None,
) -> BigLookup:
    """Verify a BIG registration after asking the register again; returns the register's answer.

    Refused when the register is unavailable, does not list the number, or lists
    it for another profession; when the coordinator has not confirmed the check;
    or when the re-registration date has passed.
    """
    today = today or local_today()
    _check_version(registration, version)
    lookup = register.lookup(registration.big_number)
    profession = registration.profession
    due = reregistration_due or registration.reregistration_due
    if lookup.status is LookupStatus.UNAVAILABLE:
        raise DecisionRefused(
            _("The BIG register cannot be reached at the moment. Nothing was changed; try again later."),
            lookup=lookup,
        )
    if lookup.status is LookupStatus.NOT_FOUND:
        raise DecisionRefused(
            _("The BIG register has no current registration under this number. Reject it with a reason."),
            lookup=lookup,
        )
    if lookup.status is LookupStatus.VERIFIED:
        current = lookup.registration_for(profession.code, today)
        if current is None:
            raise DecisionRefused(
                _(
                    "The BIG register does not list this number as %(profession)s.",
                    profession=profession.name,
                ),
                lookup=lookup,
            )
        due = current.ends_on or due
    if not confirmed:
        raise DecisionRefused(
            _("Confirm that you compared the number, the profession and the name with the register."),
            field="confirmed",
            lookup=lookup,
        )
    if due is not None and due < today:
        raise DecisionRefused(
            _(
                "The re-registration date (%(date)s) has passed: the registration is no longer valid.",
                date=format_date(due, "long"),
            ),
            field="reregistration_due",
            lookup=lookup,
        )
    now = utcnow()
    values: dict[str, Any] = {
        "verification": VERIFIED,
        "rejection_reason": None,
        "reregistration_due": due,
        "verified_by_id": user.id,
        "verified_at": now,
    }
    if lookup.stored_result is not None:
        values.update(lookup_result=lookup.stored_result, lookup_at=now)
    _apply(
        update(BigRegistration)
        .where(
            BigRegistration.id == registration.id,
            BigRegistration.verification == UNVERIFIED,
            BigRegistration.big_number == registration.big_number,
            BigRegistration.profession_id == registration.profession_id,
        )
        .values(**values)
    )
    _after_decision(
        user, ItemKind.BIG, registration, VERIFIED, register=register.name, lookup=lookup.status.value
    )
    return lookup


def reject_big(
    user: User, registration: BigRegistration, *, version: str | None, grounds: str | None, reason: str | None
) -> None:
    """Reject a BIG registration with a reason the reservist reads."""
    _check_version(registration, version)
    reason = _check_reason(ItemKind.BIG, grounds, reason)
    _apply(
        update(BigRegistration)
        .where(
            BigRegistration.id == registration.id,
            BigRegistration.verification == UNVERIFIED,
            BigRegistration.big_number == registration.big_number,
            BigRegistration.profession_id == registration.profession_id,
        )
        .values(verification=REJECTED, rejection_reason=reason, verified_by_id=user.id, verified_at=utcnow())
    )
    _after_decision(user, ItemKind.BIG, registration, REJECTED, grounds=grounds)


def _same_qualification(held: ReservistQualification) -> list[Any]:
    """The UPDATE conditions that the item is still what the coordinator saw."""
    return [
        ReservistQualification.id == held.id,
        ReservistQualification.verification == UNVERIFIED,
        ReservistQualification.qualification_id == held.qualification_id,
        ReservistQualification.obtained_on == held.obtained_on,
        ReservistQualification.expires_on.is_not_distinct_from(held.expires_on),
        ReservistQualification.evidence_id.is_not_distinct_from(held.evidence_id),
    ]


def verify_qualification(
    user: User,
    held: ReservistQualification,
    *,
    version: str | None,
    evidence_checked: bool,
    today: date | None = None,
) -> None:
    """Verify a qualification whose requirements are all met (see :func:`requirements`)."""
    today = today or local_today()
    _check_version(held, version)
    missing = [r.missing for r in requirements(held, today) if not r.met]
    if missing:
        raise DecisionRefused(
            _("This qualification cannot be verified yet: %(missing)s", missing=" ".join(missing))
        )
    qualification = held.qualification
    if qualification.further_evidence and not evidence_checked:
        raise DecisionRefused(
            _("Confirm that you opened the document and that it shows what is asked for."),
            field="evidence_checked",
        )
    conditions = _same_qualification(held)
    if qualification.needs_big_registration:
        # Checked again inside the UPDATE: a registration flagged or changed meanwhile stops it.
        conditions.append(
            exists().where(
                BigRegistration.reservist_id == held.reservist_id,
                BigRegistration.profession_id == qualification.profession_id,
                BigRegistration.verification == VERIFIED,
            )
        )
    _apply(
        update(ReservistQualification)
        .where(*conditions)
        .values(
            verification=VERIFIED,
            evidence_verified=bool(qualification.further_evidence),
            rejection_reason=None,
            verified_by_id=user.id,
            verified_at=utcnow(),
        )
    )
    _after_decision(
        user,
        ItemKind.QUALIFICATION,
        held,
        VERIFIED,
        qualification=qualification.code,
        evidence_id=held.evidence_id,
        needs_big_registration=qualification.needs_big_registration,
        evidence_checked=bool(qualification.further_evidence),
    )


def reject_qualification(
    user: User, held: ReservistQualification, *, version: str | None, grounds: str | None, reason: str | None
) -> None:
    """Reject a qualification with a reason the reservist reads."""
    _check_version(held, version)
    reason = _check_reason(ItemKind.QUALIFICATION, grounds, reason)
    _apply(
        update(ReservistQualification)
        .where(*_same_qualification(held))
        .values(
            verification=REJECTED,
            evidence_verified=False,
            rejection_reason=reason,
            verified_by_id=user.id,
            verified_at=utcnow(),
        )
    )
    _after_decision(
        user, ItemKind.QUALIFICATION, held, REJECTED, qualification=held.qualification.code, grounds=grounds
    )


# Re-registration ------------------------------------------------------------------------


def flag_due_reregistrations(now: datetime | None = None) -> int:
    """Send verified BIG registrations due for re-registration back to the queue; returns how many.

    Due means the re-registration date is within :data:`REREGISTRATION_WINDOW`
    of today, or past. A registration a coordinator verified while it was
    already inside the window (having seen the date) stays verified until the
    date itself passes. Qualifications that need the registration return to
    unverified with it, so nothing counts as verified on an unverified base.
    Safe to run any number of times a day: each UPDATE matches only verified rows.
    """
    now = now or utcnow()
    today = local_today(now)
    candidates = db.session.scalars(
        select(BigRegistration)
        .join(Reservist, Reservist.id == BigRegistration.reservist_id)
        .where(
            BigRegistration.verification == VERIFIED,
            BigRegistration.reregistration_due.is_not(None),
            BigRegistration.reregistration_due <= today + REREGISTRATION_WINDOW,
            Reservist.erased_at.is_(None),
        )
        .order_by(BigRegistration.id)
    ).all()
    flagged = 0
    for registration in candidates:
        due = registration.reregistration_due
        assert due is not None
        seen_inside_window = (
            registration.verified_at is not None
            and local_today(registration.verified_at) >= due - REREGISTRATION_WINDOW
        )
        if due >= today and seen_inside_window:
            continue
        result = db.session.execute(
            update(BigRegistration)
            .where(BigRegistration.id == registration.id, BigRegistration.verification == VERIFIED)
            .values(verification=UNVERIFIED)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            continue
        flagged += 1
        db.session.refresh(registration)
        reservist = registration.reservist
        dependants = _unverify_dependants(registration)
        record(
            "verification.big_flagged",
            subject_type="big_registration",
            subject_id=registration.id,
            subject_user_id=reservist.user_id,
            reservist_id=reservist.id,
            reregistration_due=due.isoformat(),
            qualifications=dependants,
        )
        notify(reservist.id, ItemKind.BIG, registration.id, "flagged")
    db.session.flush()
    return flagged


def _unverify_dependants(registration: BigRegistration) -> list[int]:
    """Return to unverified the verified qualifications that need this registration's profession."""
    needing = select(Qualification.id).where(Qualification.profession_id == registration.profession_id)
    ids = list(
        db.session.scalars(
            select(ReservistQualification.id).where(
                ReservistQualification.reservist_id == registration.reservist_id,
                ReservistQualification.verification == VERIFIED,
                ReservistQualification.qualification_id.in_(needing),
            )
        )
    )
    if ids:
        db.session.execute(
            update(ReservistQualification)
            .where(ReservistQualification.id.in_(ids), ReservistQualification.verification == VERIFIED)
            .values(verification=UNVERIFIED)
            .execution_options(synchronize_session=False)
        )
        for item_id in ids:
            record(
                "verification.qualification_flagged",
                subject_type="reservist_qualification",
                subject_id=item_id,
                reservist_id=registration.reservist_id,
                big_registration_id=registration.id,
            )
    return ids
