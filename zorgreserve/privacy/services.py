"""The reservist's own data (AVG/GDPR): everything held, the export, and erasure.

Access (art. 15) and portability (art. 20): :func:`personal_data` gathers every
row held about one reservist with a fixed number of queries, and
:func:`export_document` turns it into JSON with stable keys and ISO 8601 UTC
times. Other people appear only as the role and organisation of staff who
accessed the reservist's data (NEN 7513 lets the subject see who; we show the
role and organisation, not the staff member's name: see ``docs/privacy.md``).
Call-ups, bookings, hours, messages and calendar feeds are read and exported by
:mod:`zorgreserve.privacy.deployment_data`.

Erasure (art. 17) lives in :mod:`zorgreserve.privacy.erasure`; its entry points
are re-exported here so callers find every own-data service in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.audit.models import AccessLogEntry, AuditEvent
from zorgreserve.audit.services import record
from zorgreserve.availability.models import AvailabilityPeriod, WeeklyWindow
from zorgreserve.db import utcnow
from zorgreserve.privacy.deployment_data import DeploymentData, deployment_data, export_deployments
from zorgreserve.privacy.erasure import (
    ErasureRefused,
    ErasureReport,
    erase_own_data,
    erase_reservist,
    evidence_path,
)
from zorgreserve.reservists.models import (
    Evidence,
    ExpiryReminder,
    Reservist,
    ReservistQualification,
)

EXPORT_FORMAT = "zorgreserve-personal-data"
#: 2: the call-ups, bookings, hours, stand-by entries, messages and calendar feeds were added.
EXPORT_VERSION = 2


# What is held ------------------------------------------------------------------------


@dataclass
class PersonalData:
    """Everything held about one reservist, loaded once for the page and the export."""

    user: User
    reservist: Reservist | None
    evidence: list[Evidence]
    windows: list[WeeklyWindow]
    periods: list[AvailabilityPeriod]
    reminders: list[ExpiryReminder]
    access_log: list[AccessLogEntry]
    audit_events: list[AuditEvent]
    deployments: DeploymentData


def reservist_of(user: User) -> Reservist | None:
    """The reservist record of ``user`` without creating one (a GET must not write)."""
    return db.session.scalar(
        select(Reservist)
        .where(Reservist.user_id == user.id)
        .options(
            selectinload(Reservist.qualifications).selectinload(ReservistQualification.evidence),
            selectinload(Reservist.big_registrations),
            selectinload(Reservist.trainings),
            selectinload(Reservist.skills),
            selectinload(Reservist.regions),
        )
    )


def access_log_for(reservist_id: int) -> list[AccessLogEntry]:
    """Who accessed this reservist's data, newest first (the NEN 7513 view for the subject)."""
    return list(
        db.session.scalars(
            select(AccessLogEntry)
            .where(AccessLogEntry.subject_reservist_id == reservist_id)
            .order_by(AccessLogEntry.occurred_at.desc(), AccessLogEntry.id.desc())
        )
    )


def personal_data(user: User) -> PersonalData:
    """Gather every row held about ``user`` with a fixed number of queries."""
    reservist = reservist_of(user)
    rid = reservist.id if reservist is not None else None

    def rows(model: Any, *order: Any) -> list[Any]:
        if rid is None:
            return []
        return list(db.session.scalars(select(model).where(model.reservist_id == rid).order_by(*order)))

    events = list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.subject_user_id == user.id)
            .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        )
    )
    return PersonalData(
        user=user,
        reservist=reservist,
        evidence=rows(Evidence, Evidence.uploaded_at, Evidence.id),
        windows=rows(WeeklyWindow, WeeklyWindow.weekday, WeeklyWindow.start_minute),
        periods=rows(AvailabilityPeriod, AvailabilityPeriod.starts_at),
        reminders=rows(ExpiryReminder, ExpiryReminder.sent_at),
        access_log=access_log_for(rid) if rid is not None else [],
        audit_events=events,
        deployments=deployment_data(rid, user.phone),
    )


def _time(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``: one unambiguous form for every timestamp in the export."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _reference(item: Any) -> dict[str, str] | None:
    return {"code": item.code, "name": item.name} if item is not None else None


def staff_actor(user_id: int, actor_id: int | None, actor_role: str | None, organisation: str | None) -> Any:
    """How another person is shown to the data subject: ``you``, or role and organisation only."""
    if actor_id is not None and actor_id == user_id:
        return "self"
    if actor_id is None and actor_role is None:
        return "system"
    return {"role": actor_role, "organisation": organisation}


def export_document(data: PersonalData) -> dict[str, Any]:
    """The JSON export: stable keys, dates as YYYY-MM-DD, times as ISO 8601 UTC."""
    user, reservist = data.user, data.reservist
    evidence_by_id = {e.id: e for e in data.evidence}
    document: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "generated_at": _time(utcnow()),
        "account": {
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "phone": user.phone,
            "language": user.locale,
            "role": user.role,
            "email_verified_at": _time(user.email_verified_at),
            "created_at": _time(user.created_at),
            "last_sign_in_at": _time(user.last_login_at),
            "password_changed_at": _time(user.password_changed_at),
            "second_factor_enabled_at": _time(user.totp_enabled_at),
        },
        "reservist": None,
        "big_registrations": [],
        "qualifications": [],
        "evidence_files": [
            {
                "id": e.id,
                "filename": e.filename,
                "content_type": e.content_type,
                "size_bytes": e.size_bytes,
                "sha256": e.sha256,
                "uploaded_at": _time(e.uploaded_at),
            }
            for e in data.evidence
        ],
        "skills": [],
        "trainings": [],
        "availability": {
            "weekly_windows": [
                {
                    "weekday": w.weekday,
                    "start": _hhmm(w.start_minute),
                    "end": _hhmm(w.end_minute),
                    "crosses_midnight": w.crosses_midnight,
                    "time_zone": "Europe/Amsterdam",
                }
                for w in data.windows
            ],
            "periods": [
                {"kind": p.kind, "starts_at": _time(p.starts_at), "ends_at": _time(p.ends_at), "note": p.note}
                for p in data.periods
            ],
            "standby_until": _time(reservist.standby_until) if reservist else None,
        },
        **export_deployments(data.deployments, _time),
        "expiry_reminders": [
            {
                "item_type": r.item_type,
                "item_id": r.item_id,
                "expires_on": _day(r.expires_on),
                "sent_at": _time(r.sent_at),
            }
            for r in data.reminders
        ],
        "access_log": [
            {
                "occurred_at": _time(a.occurred_at),
                "action": a.action,
                "by": staff_actor(user.id, a.actor_id, a.actor_role, a.organisation),
                "context": a.context,
            }
            for a in data.access_log
        ],
        "audit_events": [
            {
                "occurred_at": _time(e.occurred_at),
                "action": e.action,
                "by": staff_actor(user.id, e.actor_id, e.actor_role, e.organisation),
            }
            for e in data.audit_events
        ],
    }
    if reservist is None:
        return document
    document["reservist"] = {
        "id": reservist.id,
        "postcode_pc4": reservist.pc4,
        "home_region": _reference(reservist.home_region),
        "regions_served": [_reference(r) for r in reservist.regions],
        "max_travel_km": reservist.max_travel_km,
        "max_hours_per_week": reservist.max_hours_per_week,
        "channels": reservist.channels,
        "languages": [code for code in (reservist.languages or "").split(",") if code],
        "status": reservist.status,
        "paused_until": _day(reservist.paused_until),
        "withdrawn_at": _time(reservist.withdrawn_at),
        "created_at": _time(reservist.created_at),
        "updated_at": _time(reservist.updated_at),
    }
    document["big_registrations"] = [
        {
            "profession": _reference(b.profession),
            "big_number": b.big_number,
            "verification": b.verification,
            "rejection_reason": b.rejection_reason,
            "reregistration_due": _day(b.reregistration_due),
            "register_lookup_result": b.lookup_result,
            "register_lookup_at": _time(b.lookup_at),
            "verified_at": _time(b.verified_at),
            "changed_at": _time(b.changed_at),
        }
        for b in reservist.big_registrations
    ]
    document["qualifications"] = [
        {
            "qualification": _reference(q.qualification),
            "obtained_on": _day(q.obtained_on),
            "expires_on": _day(q.expires_on),
            "verification": q.verification,
            "rejection_reason": q.rejection_reason,
            "further_evidence_verified": q.evidence_verified,
            "verified_at": _time(q.verified_at),
            "changed_at": _time(q.changed_at),
            "evidence_file_id": q.evidence_id if q.evidence_id in evidence_by_id else None,
        }
        for q in reservist.qualifications
    ]
    document["skills"] = [_reference(s) for s in reservist.skills]
    document["trainings"] = [
        {"course": t.course, "completed_on": _day(t.completed_on), "expires_on": _day(t.expires_on)}
        for t in reservist.trainings
    ]
    return document


def record_export(user: User) -> None:
    """Note in the audit trail that the reservist downloaded their data (ids only)."""
    record("privacy.exported", actor=user, subject_type="user", subject_id=user.id, subject_user_id=user.id)


__all__ = [
    "ErasureRefused",
    "ErasureReport",
    "PersonalData",
    "erase_own_data",
    "erase_reservist",
    "evidence_path",
    "export_document",
    "personal_data",
    "record_export",
]
