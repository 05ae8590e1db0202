"""The reservist search's filters, as SQL: what a coordinator may ask for and what it means.

Scope comes first, in the query: every statement starts from
:func:`zorgreserve.reservists.services.scope_filter`, so a regional coordinator
only ever sees reservists who live in their region or chose to serve in it
(both are people they may call up), a national coordinator everyone. Erased
reservists (anonymous shells kept for counts) never show up.

Availability is the one filter SQL cannot decide alone: the availability
module's Python rules give the exact answer (:func:`available_ids`), SQL only
what is necessary for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ARRAY, Integer, Select, and_, any_, bindparam, func, or_, select, union

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.accounts.roles import Role
from zorgreserve.reference.models import Qualification, QualificationInclusion, Skill
from zorgreserve.reservists.models import (
    BigRegistration,
    Reservist,
    ReservistQualification,
    ReservistRegion,
    ReservistSkill,
    ReservistStatus,
    Verification,
)
from zorgreserve.reservists.services import scope_filter

LOCAL = ZoneInfo("Europe/Amsterdam")
MAX_AVAILABILITY_DAYS = 92


class QualificationState(StrEnum):
    VERIFIED = "verified"  # verified by a coordinator and not expired today
    ANY = "any"  # held, whatever its verification status


class VerificationFilter(StrEnum):
    PENDING = "pending"  # some qualification or BIG registration awaits verification
    VERIFIED = "verified"  # holds a qualification, and nothing is unverified or rejected
    REJECTED = "rejected"  # some qualification or BIG registration was rejected


@dataclass(frozen=True)
class Criteria:
    """One search: every filter optional, all combined with AND. Ids and codes, plus the name."""

    region_id: int | None = None
    qualification: str | None = None
    qualification_state: QualificationState = QualificationState.VERIFIED
    skill: str | None = None
    verification: VerificationFilter | None = None
    status: str | None = None
    available_from: date | None = None
    available_to: date | None = None  # inclusive
    name: str | None = None

    def query_args(self) -> dict[str, str]:
        """The filters as URL query arguments: ids and codes only, never the name."""
        args = {
            "region": self.region_id,
            "qualification": self.qualification,
            "qualification_state": self.qualification_state.value if self.qualification else None,
            "skill": self.skill,
            "verification": self.verification.value if self.verification else None,
            "status": self.status,
            "available_from": self.available_from.isoformat() if self.available_from else None,
            "available_to": self.available_to.isoformat() if self.available_to else None,
        }
        return {key: str(value) for key, value in args.items() if value not in (None, "")}

    def summary(self) -> dict[str, Any]:
        """What the access log keeps about a search: the filters, and only *whether* a name was used."""
        summary: dict[str, Any] = dict(self.query_args())
        summary["name_filter"] = bool(self.name)
        return summary

    @property
    def availability_window(self) -> tuple[datetime, datetime] | None:
        """The date range as UTC instants: from local midnight to the local midnight after the end."""
        if self.available_from is None or self.available_to is None:
            return None
        start = datetime.combine(self.available_from, time.min, tzinfo=LOCAL)
        end = datetime.combine(self.available_to + timedelta(days=1), time.min, tzinfo=LOCAL)
        return start.astimezone(UTC), end.astimezone(UTC)


def covering_qualification_ids(code: str) -> list[int]:
    """The qualification ``code`` and every one that includes it, directly or further up.

    Holding a verified IC-verpleegkundige counts as holding verpleegkundige, so a
    search for nurses finds IC nurses too. The catalogue is small: walk it in Python.
    """
    target = db.session.scalar(select(Qualification.id).where(Qualification.code == code))
    if target is None:
        return []
    included_by: dict[int, set[int]] = {}
    for holder, included in db.session.execute(
        select(QualificationInclusion.qualification_id, QualificationInclusion.includes_id)
    ):
        included_by.setdefault(included, set()).add(holder)
    found, todo = {target}, [target]
    while todo:
        for holder in included_by.get(todo.pop(), ()):
            if holder not in found:
                found.add(holder)
                todo.append(holder)
    return sorted(found)


def verified_now(today: date) -> Any:
    """The condition on ``ReservistQualification`` for "verified and not expired on ``today``"."""
    return and_(
        ReservistQualification.verification == Verification.VERIFIED.value,
        or_(ReservistQualification.expires_on.is_(None), ReservistQualification.expires_on >= today),
    )


def _like_prefix(term: str) -> str:
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def filtered(
    user: User,
    criteria: Criteria,
    columns: tuple[Any, ...],
    today: date,
    *,
    prefilter: bool = False,
    within: list[int] | None = None,
) -> Select:
    """A query of ``columns`` over the reservists in ``user``'s scope that match ``criteria``.

    Everything is decided here, in SQL, except availability: of that only the
    status part is here (withdrawn, or paused for the whole range, is never
    available), plus the availability module's SQL prefilter when asked for;
    the exact answer is :func:`available_ids`. The join with the account is
    always there (names), so erased shells drop out.

    ``within`` limits the query to those reservist ids, in every subquery too,
    so checking a few hundred candidates costs a few hundred index probes
    whatever the planner estimates.
    """

    def restrict(subquery: Select, column: Any) -> Select:
        return subquery if within is None else subquery.where(ids_in(column, within))

    query = select(*columns).select_from(Reservist).join(User, User.id == Reservist.user_id)
    query = scope_filter(user, query).where(Reservist.erased_at.is_(None))
    if within is not None:
        query = query.where(ids_in(Reservist.id, within))
    c = criteria
    if c.region_id is not None and not (
        user.role_enum is Role.REGIONAL_COORDINATOR and c.region_id == user.region_id
    ):  # (a regional coordinator's own region is what the scope already says)
        serves = select(ReservistRegion.reservist_id).where(ReservistRegion.region_id == c.region_id)
        serves = restrict(serves, ReservistRegion.reservist_id)
        query = query.where(or_(Reservist.home_region_id == c.region_id, Reservist.id.in_(serves)))
    if c.qualification:
        held = select(ReservistQualification.reservist_id).where(
            ReservistQualification.qualification_id.in_(covering_qualification_ids(c.qualification))
        )
        if c.qualification_state == QualificationState.VERIFIED:
            held = held.where(verified_now(today))
        query = query.where(Reservist.id.in_(restrict(held, ReservistQualification.reservist_id)))
    if c.skill:
        skill = select(Skill.id).where(Skill.code == c.skill).scalar_subquery()
        has_skill = select(ReservistSkill.reservist_id).where(ReservistSkill.skill_id == skill)
        query = query.where(Reservist.id.in_(restrict(has_skill, ReservistSkill.reservist_id)))
    if c.verification is not None:
        query = query.where(_verification_condition(c.verification, restrict))
    if c.status:
        query = query.where(Reservist.status == c.status)
    query = query.where(*availability_conditions(c, prefilter=prefilter))
    if c.name:
        pattern = _like_prefix(c.name.strip())
        query = query.where(
            or_(
                func.lower(User.last_name).like(pattern, escape="\\"),
                func.lower(User.first_name).like(pattern, escape="\\"),
            )
        )
    return query


def _verification_condition(wanted: VerificationFilter, restrict: Callable[[Select, Any], Select]) -> Any:
    """Sets of ids, not per-row EXISTS: each state is a small slice of an indexed column."""

    def having(*states: Verification) -> Any:
        values = [s.value for s in states]
        return union(
            restrict(
                select(ReservistQualification.reservist_id).where(
                    ReservistQualification.verification.in_(values)
                ),
                ReservistQualification.reservist_id,
            ),
            restrict(
                select(BigRegistration.reservist_id).where(BigRegistration.verification.in_(values)),
                BigRegistration.reservist_id,
            ),
        )

    if wanted == VerificationFilter.PENDING:
        return Reservist.id.in_(having(Verification.UNVERIFIED))
    if wanted == VerificationFilter.REJECTED:
        return Reservist.id.in_(having(Verification.REJECTED))
    verified = select(ReservistQualification.reservist_id).where(
        ReservistQualification.verification == Verification.VERIFIED.value
    )
    return and_(
        Reservist.id.in_(restrict(verified, ReservistQualification.reservist_id)),
        Reservist.id.not_in(having(Verification.UNVERIFIED, Verification.REJECTED)),
    )


def availability_conditions(criteria: Criteria, *, prefilter: bool = False) -> list[Any]:
    """SQL conditions every reservist available in the criteria's range meets (necessary only).

    Status: withdrawn reservists and those paused for the whole range are never
    available. With ``prefilter``, also the availability module's SQL
    condition (windows, periods, stand-by). The search leaves that out: it
    scans every weekly window in the registry, which costs more than the exact
    check of the few candidates a page needs.
    """
    window = criteria.availability_window
    if window is None:
        return []
    conditions = [
        Reservist.status != ReservistStatus.WITHDRAWN.value,
        or_(Reservist.status != ReservistStatus.PAUSED.value, Reservist.paused_until < criteria.available_to),
    ]
    if prefilter:
        from zorgreserve.availability.services import availability_prefilter

        conditions.append(availability_prefilter(window[0], window[1], entirely=False))
    return conditions


def available_ids(criteria: Criteria, candidate_ids: list[int]) -> set[int]:
    """Which candidates are available at some time in the criteria's range (the exact answer).

    The availability module decides: weekly windows in local time across DST,
    dated periods, stand-by, and unavailable periods winning over all of them.
    """
    from zorgreserve.availability.services import reservist_ids_available_between

    window = criteria.availability_window
    assert window is not None
    if not candidate_ids:
        return set()
    return reservist_ids_available_between(
        db.session, window[0], window[1], candidate_ids=candidate_ids, entirely=False
    )


def ids_in(column: Any, ids: list[int]) -> Any:
    """``column IN ids``; on PostgreSQL one array parameter instead of a parameter per id."""
    if db.session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, ids, type_=ARRAY(Integer)))
    return column.in_(ids)
