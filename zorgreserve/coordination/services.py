"""The reservist page and the access log, as coordinators (and reservists) read them.

Reading personal data leaves a trace: the reservist page, the export and the
per-reservist access log each write access-log rows (one per reservist) in the
same transaction as the read, so a reservist's own log shows every one of them.
The search is in :mod:`zorgreserve.coordination.search`, its filters in
:mod:`zorgreserve.coordination.filters`, the CSV in :mod:`zorgreserve.coordination.export`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.accounts.roles import Role
from zorgreserve.audit.models import AccessLogEntry
from zorgreserve.audit.services import log_access, record
from zorgreserve.availability.models import AvailabilityPeriod, WeeklyWindow
from zorgreserve.coordination.filters import LOCAL
from zorgreserve.db import utcnow
from zorgreserve.reservists.models import Reservist, ReservistQualification, Verification
from zorgreserve.reservists.services import reservist_in_scope

LOG_PAGE_SIZE = 50


class LogContext(StrEnum):
    """Where an access happened; stored in ``access_log.context`` and shown to the reservist."""

    DETAIL = "coordination.detail"
    EXPORT = "coordination.export"
    ACCESS_LOG = "coordination.access_log"


# The reservist page --------------------------------------------------------------------------


@dataclass
class ReservistDetail:
    reservist: Reservist
    user: User
    windows: list[WeeklyWindow]
    upcoming_periods: list[AvailabilityPeriod]
    verified_qualifications: int


def view_reservist(actor: User, reservist_id: int) -> ReservistDetail:
    """Everything a coordinator sees of one reservist; raises NotInScope outside the scope.

    The view is recorded in the access log (``view``, ``coordination.detail``).
    """
    reservist = reservist_in_scope(actor, reservist_id)
    reservist = db.session.scalar(
        select(Reservist)
        .where(Reservist.id == reservist.id)
        .execution_options(populate_existing=True)
        .options(
            selectinload(Reservist.qualifications).selectinload(ReservistQualification.evidence),
            selectinload(Reservist.big_registrations),
            selectinload(Reservist.trainings),
            selectinload(Reservist.skills),
            selectinload(Reservist.regions),
        )
    )
    assert reservist is not None and reservist.user is not None
    now = utcnow()
    windows = list(
        db.session.scalars(
            select(WeeklyWindow)
            .where(WeeklyWindow.reservist_id == reservist.id)
            .order_by(WeeklyWindow.weekday, WeeklyWindow.start_minute)
        )
    )
    periods = list(
        db.session.scalars(
            select(AvailabilityPeriod)
            .where(AvailabilityPeriod.reservist_id == reservist.id, AvailabilityPeriod.ends_at > now)
            .order_by(AvailabilityPeriod.starts_at)
            .limit(20)
        )
    )
    today = now.astimezone(LOCAL).date()
    verified = sum(
        1
        for q in reservist.qualifications
        if q.verification == Verification.VERIFIED and (q.expires_on is None or q.expires_on >= today)
    )
    log_access("view", reservist.id, LogContext.DETAIL.value, actor=actor)
    return ReservistDetail(reservist, reservist.user, windows, periods, verified)


# Access log ----------------------------------------------------------------------------------


@dataclass
class LogPage:
    entries: list[Any]  # rows with the entry and the actor's name
    next_before: int | None  # the keyset for the next (older) page


def _log_query() -> Select:
    return select(
        AccessLogEntry, User.first_name.label("actor_first_name"), User.last_name.label("actor_last_name")
    ).outerjoin(User, User.id == AccessLogEntry.actor_id)


def _page(query: Select, before: int | None, size: int) -> LogPage:
    """Newest first by id (the log is append-only, ids only grow); keyset so pages never shift."""
    if before is not None:
        query = query.where(AccessLogEntry.id < before)
    rows = list(db.session.execute(query.order_by(AccessLogEntry.id.desc()).limit(size + 1)))
    more = len(rows) > size
    rows = rows[:size]
    return LogPage(rows, rows[-1].AccessLogEntry.id if more and rows else None)


def reservist_access_log(
    actor: User, reservist_id: int, before: int | None = None, size: int = LOG_PAGE_SIZE
) -> tuple[Reservist, LogPage]:
    """Who accessed one reservist's data, for a coordinator with the reservist in scope.

    Reading the log reveals which staff handled this person's data, so the
    reading is itself a logged ``view`` of the reservist (``coordination.access_log``).
    """
    reservist = reservist_in_scope(actor, reservist_id)
    page = _page(_log_query().where(AccessLogEntry.subject_reservist_id == reservist.id), before, size)
    log_access("view", reservist.id, LogContext.ACCESS_LOG.value, actor=actor)
    return reservist, page


@dataclass(frozen=True)
class LogFilter:
    actor_id: int | None = None
    reservist_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None  # inclusive, local date


def browse_access_log(
    actor: User, filters: LogFilter, before: int | None = None, size: int = LOG_PAGE_SIZE
) -> LogPage:
    """The whole access log for national coordinators, filtered by who, whose and when.

    Reading it is recorded as an audit event (``access_log.read``) with the
    filters and the entries shown, not as access-log rows: writing log rows
    while browsing the log would make every page view grow the log it shows.
    """
    if actor.role_enum is not Role.NATIONAL_COORDINATOR:
        raise PermissionError("only national coordinators browse the whole access log")
    query = _log_query()
    if filters.actor_id is not None:
        query = query.where(AccessLogEntry.actor_id == filters.actor_id)
    if filters.reservist_id is not None:
        query = query.where(AccessLogEntry.subject_reservist_id == filters.reservist_id)
    if filters.date_from is not None:
        start = datetime.combine(filters.date_from, time.min, tzinfo=LOCAL).astimezone(UTC)
        query = query.where(AccessLogEntry.occurred_at >= start)
    if filters.date_to is not None:
        end = datetime.combine(filters.date_to + timedelta(days=1), time.min, tzinfo=LOCAL).astimezone(UTC)
        query = query.where(AccessLogEntry.occurred_at < end)
    page = _page(query, before, size)
    shown = [row.AccessLogEntry.id for row in page.entries]
    summary = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(filters).items()}
    record(
        "access_log.read",
        actor=actor,
        subject_type="access_log",
        filters=summary,
        before=before,
        first_id=shown[0] if shown else None,
        last_id=shown[-1] if shown else None,
        count=len(shown),
    )
    return page


def own_access_log(user: User, before: int | None = None, size: int = LOG_PAGE_SIZE) -> LogPage:
    """Who accessed the signed-in reservist's data: role and organisation, never the staff name.

    The same rule as the own-data page (``docs/privacy.md``): the reservist sees
    on whose behalf and in which role; the full record stays for the privacy officer.
    """
    reservist_id = db.session.scalar(select(Reservist.id).where(Reservist.user_id == user.id))
    if reservist_id is None:
        return LogPage([], None)
    query = select(AccessLogEntry).where(AccessLogEntry.subject_reservist_id == reservist_id)
    if before is not None:
        query = query.where(AccessLogEntry.id < before)
    entries = list(db.session.scalars(query.order_by(AccessLogEntry.id.desc()).limit(size + 1)))
    more = len(entries) > size
    entries = entries[:size]
    return LogPage(entries, entries[-1].id if more and entries else None)
