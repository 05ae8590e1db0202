"""Erasure of a reservist's personal data (AVG/GDPR art. 17), keeping an anonymous shell.

:func:`erase_reservist` removes the personal data and keeps what capacity
figures and past deployments need (home region, qualification codes with their
verification); the audit trail and the access log are append-only and hold ids
only, so they stay. See ``docs/privacy.md`` for the full list and the reasons.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, event, exists, select
from sqlalchemy.orm import Session

from zorgreserve import db
from zorgreserve.accounts.models import Invitation, RecoveryCode, User
from zorgreserve.accounts.passwords import DUMMY_HASH, verify_password
from zorgreserve.accounts.roles import Role
from zorgreserve.accounts.services import end_all_sessions, normalise_email
from zorgreserve.audit.models import AccessLogEntry, AuditEvent
from zorgreserve.audit.services import record
from zorgreserve.availability.models import AvailabilityPeriod, WeeklyWindow
from zorgreserve.callups.erasure import forget_reservist
from zorgreserve.db import utcnow
from zorgreserve.jobs.models import OutboxJob
from zorgreserve.reservists.models import (
    BigRegistration,
    Evidence,
    ExpiryReminder,
    Reservist,
    ReservistRegion,
    ReservistSkill,
    ReservistStatus,
    TrainingRecord,
)
from zorgreserve.shifts.models import CalendarFeed

log = logging.getLogger(__name__)


class ErasureRefused(ValueError):
    """The confirmation did not match; ``field`` names the form field to show ``message`` at."""

    def __init__(self, field: str, message: Any) -> None:
        super().__init__(field)
        self.field = field
        self.message = message


@dataclass
class ErasureReport:
    """What erasure removed (counts only) and how the account ended, for the closing page."""

    reservist_id: int | None
    account: str = "deleted"  # or "anonymised" when the audit trail refers to it
    removed: dict[str, int] = field(default_factory=dict)
    kept_qualifications: int = 0


_FILES_KEY = "privacy_files_to_unlink"
#: The actor of the erasure's own audit event: the role, never the id of the erased account
#: (an id would tie the append-only trail to a row that is about to be removed).
_ERASED_ACTOR = SimpleNamespace(id=None, role=Role.RESERVIST.value)


def evidence_path(storage_key: str) -> Path:
    """Where an evidence file lives on disk: ``EVIDENCE_DIR`` or ``<instance>/evidence``."""
    root = current_app.config.get("EVIDENCE_DIR") or Path(current_app.instance_path) / "evidence"
    key = Path(storage_key).name  # a key is a random token; never let it climb out of the folder
    return Path(root) / key


def _unlink_pending(session: Session) -> None:
    for path in session.info.pop(_FILES_KEY, []):
        try:
            Path(path).unlink(missing_ok=True)
        except OSError as exc:  # the row is gone; an orphan file is found by the storage sweep
            log.warning("could not remove an erased evidence file: %s", type(exc).__name__)


def _forget_pending(session: Session, _previous: Any = None) -> None:
    session.info.pop(_FILES_KEY, None)


def unlink_after_commit(paths: list[Path]) -> None:
    """Remove files once the transaction that deleted their rows commits (never before).

    Deleting first and rolling back would leave rows pointing at missing files;
    this way a failed erasure changes nothing, and a successful one leaves no file.
    """
    session = db.session()
    session.info.setdefault(_FILES_KEY, []).extend(str(p) for p in paths)
    if not event.contains(session, "after_commit", _unlink_pending):
        event.listen(session, "after_commit", _unlink_pending)
        event.listen(session, "after_soft_rollback", _forget_pending)


def _delete_rows(model: Any, reservist_id: int) -> int:
    result = db.session.execute(
        delete(model).where(model.reservist_id == reservist_id).execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def _mentions(args: Any, user_id: int | None, reservist_id: int) -> bool:
    if not isinstance(args, dict):
        return False
    about_user = user_id is not None and args.get("user_id") == user_id
    return about_user or args.get("reservist_id") == reservist_id


def _drop_pending_jobs(user_id: int | None, reservist_id: int) -> int:
    """Delete outbox rows not yet done that are about this person (account e-mails and the like).

    Payloads hold ids only; a queued RQ job carries nothing but the outbox row's
    id, so once the row is gone the job finds nothing to claim and does nothing.
    """
    pending = db.session.execute(
        select(OutboxJob.id, OutboxJob.args).where(OutboxJob.done_at.is_(None))
    ).all()
    ids = [row.id for row in pending if _mentions(row.args, user_id, reservist_id)]
    if ids:
        db.session.execute(
            delete(OutboxJob).where(OutboxJob.id.in_(ids)).execution_options(synchronize_session=False)
        )
    return len(ids)


def _referenced_by_append_only_rows(user_id: int) -> bool:
    """Whether the audit trail or access log names this account as the actor.

    Those tables refuse updates, so the foreign key's ``ON DELETE SET NULL``
    cannot run: such an account is anonymised in place instead of deleted.
    """
    return bool(
        db.session.scalar(select(exists().where(AuditEvent.actor_id == user_id)))
        or db.session.scalar(select(exists().where(AccessLogEntry.actor_id == user_id)))
    )


def _erase_account(user: User) -> str:
    """Delete the account, or strip it to an inactive shell when append-only rows point at it."""
    db.session.execute(delete(Invitation).where(Invitation.email == user.email))
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    if not _referenced_by_append_only_rows(user.id):
        db.session.delete(user)
        db.session.flush()
        return "deleted"
    user.email = f"erased-{user.id}@erased.invalid"
    user.first_name = ""
    user.last_name = ""
    user.phone = None
    user.password_hash = "!erased:" + secrets.token_hex(16)  # never a valid hash: no password works
    user.is_active_account = False
    user.email_verified_at = None
    user.totp_secret_encrypted = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    user.last_login_at = None
    end_all_sessions(user)
    db.session.flush()
    return "anonymised"


def erase_reservist(reservist: Reservist) -> ErasureReport:
    """Remove the reservist's personal data; keep an anonymous shell for counts.

    Removed: evidence files (after commit) and rows, BIG registrations, training
    records, availability, skills, chosen regions, expiry reminders, pending
    outbox jobs about the person, calendar feeds, and the account (deleted, or
    anonymised when the audit trail refers to it); bookings ahead cancelled and
    open offers withdrawn, free text and SMS of call-ups removed
    (:mod:`zorgreserve.callups.erasure`). Kept: the reservist row with its home
    region, status withdrawn and ``erased_at``; each qualification's code and
    verification (the date obtained coarsened to 1 January of its year, the
    schema needs one); past bookings with their hours. Every session of the
    account ends. Safe to call twice.
    """
    report = ErasureReport(reservist_id=reservist.id)
    if reservist.erased_at is not None:
        report.account = "none"
        return report
    rid = reservist.id
    user = reservist.user
    user_id = user.id if user is not None else None

    evidence = db.session.execute(
        select(Evidence.id, Evidence.storage_key).where(Evidence.reservist_id == rid)
    )
    evidence_rows = evidence.all()
    for qualification in reservist.qualifications:
        qualification.evidence_id = None
        qualification.evidence_verified = False
        qualification.expires_on = None
        qualification.obtained_on = date(qualification.obtained_on.year, 1, 1)
        qualification.rejection_reason = None
        qualification.verified_by_id = None
        qualification.verified_at = None
        qualification.changed_at = utcnow()
    db.session.flush()
    report.kept_qualifications = len(reservist.qualifications)

    removed = report.removed
    removed["evidence_files"] = _delete_rows(Evidence, rid)
    unlink_after_commit([evidence_path(row.storage_key) for row in evidence_rows])
    removed["big_registrations"] = _delete_rows(BigRegistration, rid)
    removed["trainings"] = _delete_rows(TrainingRecord, rid)
    removed["availability_windows"] = _delete_rows(WeeklyWindow, rid)
    removed["availability_periods"] = _delete_rows(AvailabilityPeriod, rid)
    removed["skills"] = _delete_rows(ReservistSkill, rid)
    removed["regions"] = _delete_rows(ReservistRegion, rid)
    removed["expiry_reminders"] = _delete_rows(ExpiryReminder, rid)
    removed["pending_jobs"] = _drop_pending_jobs(user_id, rid)
    removed["calendar_feeds"] = _delete_rows(CalendarFeed, rid)
    # Call-ups and bookings: bookings ahead cancelled (the places reopen), open offers
    # withdrawn, free text and their SMS removed; past deployments stay with the shell.
    removed.update(
        forget_reservist(
            db.session, rid, phone=user.phone if user is not None else None, actor=_ERASED_ACTOR, now=utcnow()
        )
    )
    db.session.expire(reservist, ["big_registrations", "trainings", "skills", "regions"])

    now = utcnow()
    reservist.user = None
    reservist.pc4 = None
    reservist.latitude = None
    reservist.longitude = None
    reservist.status = ReservistStatus.WITHDRAWN.value
    reservist.paused_until = None
    reservist.standby_until = None
    reservist.withdrawn_at = reservist.withdrawn_at or now
    reservist.erased_at = now
    reservist.max_hours_per_week = None
    reservist.max_travel_km = 50
    reservist.channels = "both"
    reservist.languages = "nl"
    db.session.flush()

    report.account = _erase_account(user) if user is not None else "none"
    record(
        "privacy.erased",
        actor=_ERASED_ACTOR,
        subject_type="reservist",
        subject_id=rid,
        subject_user_id=user_id,
        account=report.account,
        **removed,
    )
    return report


def erase_own_data(user: User, *, email: str, password: str) -> ErasureReport:
    """Erase the signed-in reservist's data after they retyped their address and password.

    Raises :class:`ErasureRefused` (and changes nothing) when either does not match.
    """
    # Check the password even when the address is wrong, so both answers take as long.
    password_ok = verify_password(user.password_hash or DUMMY_HASH, password)
    if normalise_email(email) != user.email:
        raise ErasureRefused("email", _l("This is not the e-mail address of your account."))
    if not password_ok:
        raise ErasureRefused("password", _l("The password is not correct."))
    reservist = db.session.scalar(select(Reservist).where(Reservist.user_id == user.id))
    if reservist is None:  # an account without a record: only the account to erase
        reservist = Reservist(user_id=user.id)
        db.session.add(reservist)
        db.session.flush()
    return erase_reservist(reservist)
