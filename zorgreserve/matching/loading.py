"""Everything the rules need, loaded for many reservists at once.

Matching never asks the database one question per candidate. It asks once
which reservists can possibly qualify (:func:`prefilter`: qualification with
its inclusions, verified and not expired, not withdrawn or erased, in the
regions the policy allows, inside a bounding box around the location, the
required skills, BIG and a necessary condition of availability; it returns
their own columns), then loads what the rules read for all of them in a few
bulk queries (:func:`complete_people`), and decides in memory. The prefilter is a *necessary*
condition of eligibility, so :func:`zorgreserve.matching.engine.why`, which
loads one reservist without it, always agrees with the candidate lists.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Integer, and_, any_, exists, func, literal, or_, select, union
from sqlalchemy.orm import Session

from zorgreserve.availability.search import available_during_any, load_availabilities
from zorgreserve.availability.timeline import TZ, Availability
from zorgreserve.callups.models import (
    ACTIVE_BOOKING,
    OPEN_OFFER,
    Booking,
    BookingStatus,
    Offer,
    OfferShift,
    OfferShiftStatus,
    Reach,
)
from zorgreserve.deployments.models import DeploymentRequest, Shift, ShiftState, request_skill
from zorgreserve.institutions.models import InstitutionLocation
from zorgreserve.matching.distance import BOX_MARGIN, KM_PER_DEGREE_LATITUDE, bounding_box, lat_degrees
from zorgreserve.reference.models import (
    Profession,
    Qualification,
    QualificationInclusion,
    RegionNeighbour,
    Skill,
    SurgePhase,
)
from zorgreserve.reservists.models import (
    BigRegistration,
    Reservist,
    ReservistQualification,
    ReservistRegion,
    ReservistSkill,
    ReservistStatus,
    Verification,
)
from zorgreserve.shifts.models import TimesheetEntry

CHUNK = 5000
#: The largest travel distance a reservist can declare (the check constraint on ``reservist``).
MAX_TRAVEL_KM = 400
#: Hours deployed are counted over this many days before ``now``.
RECENT_DAYS = 28
#: Work this far around the request's shifts can take part in a working-time rule
#: (the 7 × 24 h window, the 46 h rest after a night series and the 32 h series break).
WORKTIME_REACH = timedelta(days=9)
#: Bookings that count as "deployed" for fairness (accepted but not yet approved does not).
DEPLOYED = frozenset({BookingStatus.APPROVED, BookingStatus.CHECKED_IN, BookingStatus.COMPLETED})
#: How far recorded times may lie outside the planned ones and still be found by the planned-time
#: filters (check-in before the start, check-out or a correction after the end).
ACTUAL_MARGIN = timedelta(hours=24)


def among(session: Session, column: ColumnElement[int], ids: list[int]) -> ColumnElement[bool]:
    """``column IN ids``: one array parameter on PostgreSQL, a plain IN list elsewhere."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(literal(ids, ARRAY(Integer)))
    return column.in_(ids)


def chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield list(ids[start : start + CHUNK])


# The request ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShiftFacts:
    id: int
    start: datetime
    end: datetime
    places: int
    active_bookings: int
    active: bool
    position: int  # index in the request's shifts by (start, id)

    @property
    def open_places(self) -> int:
        return max(0, self.places - self.active_bookings) if self.active else 0

    @cached_property
    def day(self) -> date:
        """The local (Europe/Amsterdam) date the shift starts on: qualifications and BIG are judged then."""
        return self.start.astimezone(TZ).date()

    @cached_property
    def last_day(self) -> date:
        return (self.end - timedelta(microseconds=1)).astimezone(TZ).date()


@dataclass(frozen=True)
class RegionPolicy:
    """How far this match reaches, decided once per request."""

    reach: str
    request_region_id: int
    allowed_regions: frozenset[int] | None  # None: every region (national reach)
    phase_ordinal: dict[int, int]  # effective phase ordinal per region id
    phase_code: str
    national_override: bool

    def ordinal(self, region_id: int | None) -> int:
        if region_id is None:
            return -1
        return self.phase_ordinal.get(region_id, self.phase_ordinal.get(0, 0))

    @property
    def request_ordinal(self) -> int:
        return self.ordinal(self.request_region_id)

    def drained_regions(self) -> frozenset[int]:
        """Regions at a higher effective phase than the request's: never drained without an override."""
        if self.national_override:
            return frozenset()
        mine = self.request_ordinal
        return frozenset(r for r, o in self.phase_ordinal.items() if r and o > mine)


@dataclass(frozen=True)
class RequestFacts:
    id: int
    region_id: int
    qualification_id: int
    qualification_name: str
    covering_qualification_ids: frozenset[int]  # the required one and every one that includes it
    profession_id: int | None  # the BIG registration required, if the profession has a register
    profession_name: str | None
    skills: dict[int, str]  # required skill id -> name
    latitude: float
    longitude: float
    shifts: tuple[ShiftFacts, ...]

    def shift(self, shift_id: int) -> ShiftFacts | None:
        return next((s for s in self.shifts if s.id == shift_id), None)

    def open_shifts(self, now: datetime) -> list[ShiftFacts]:
        return [s for s in self.shifts if s.open_places > 0 and s.start > now]


def covering_qualifications(session: Session, qualification_id: int) -> frozenset[int]:
    """``qualification_id`` and every qualification that includes it, directly or further up."""
    included_by: dict[int, set[int]] = {}
    for holder, included in session.execute(
        select(QualificationInclusion.qualification_id, QualificationInclusion.includes_id)
    ):
        included_by.setdefault(included, set()).add(holder)
    found, todo = {qualification_id}, [qualification_id]
    while todo:
        for holder in included_by.get(todo.pop(), ()):
            if holder not in found:
                found.add(holder)
                todo.append(holder)
    return frozenset(found)


def load_request(session: Session, request_id: int) -> RequestFacts:
    """The request, its location, what it requires and its shifts with their active bookings."""
    row = session.execute(
        select(
            DeploymentRequest.id,
            DeploymentRequest.region_id,
            DeploymentRequest.qualification_id,
            Qualification.name,
            Profession.id,
            Profession.name,
            Profession.has_big_register,
            InstitutionLocation.latitude,
            InstitutionLocation.longitude,
        )
        .join(Qualification, Qualification.id == DeploymentRequest.qualification_id)
        .outerjoin(Profession, Profession.id == Qualification.profession_id)
        .join(InstitutionLocation, InstitutionLocation.id == DeploymentRequest.location_id)
        .where(DeploymentRequest.id == request_id)
    ).one_or_none()
    if row is None:
        raise LookupError(f"no deployment request {request_id}")
    skills = dict(
        session.execute(
            select(Skill.id, Skill.name)
            .join(request_skill, request_skill.c.skill_id == Skill.id)
            .where(request_skill.c.request_id == request_id)
        ).all()
    )
    booked = dict(
        session.execute(
            select(Booking.shift_id, func.count())
            .join(Shift, Shift.id == Booking.shift_id)
            .where(Shift.request_id == request_id, Booking.status.in_([s.value for s in ACTIVE_BOOKING]))
            .group_by(Booking.shift_id)
        ).all()
    )
    shifts = tuple(
        ShiftFacts(
            id=s.id,
            start=s.start_at,
            end=s.end_at,
            places=s.places,
            active_bookings=int(booked.get(s.id, 0)),
            active=s.state == ShiftState.ACTIVE.value,
            position=index,
        )
        for index, s in enumerate(
            session.execute(
                select(Shift.id, Shift.start_at, Shift.end_at, Shift.places, Shift.state)
                .where(Shift.request_id == request_id)
                .order_by(Shift.start_at, Shift.id)
            )
        )
    )
    registered = bool(row[6])
    return RequestFacts(
        id=row[0],
        region_id=row[1],
        qualification_id=row[2],
        qualification_name=row[3],
        covering_qualification_ids=covering_qualifications(session, row[2]),
        profession_id=row[4] if registered else None,
        profession_name=row[5] if registered else None,
        skills=skills,
        latitude=row[7],
        longitude=row[8],
        shifts=shifts,
    )


def load_policy(
    session: Session, facts: RequestFacts, reach: str | None, *, national_override: bool
) -> RegionPolicy:
    """Effective surge phases of every region (the higher of its own and the national one) and the reach.

    Mirrors :func:`zorgreserve.surge.services.effective_phase` for all regions at once, on the
    session given (the engine runs outside Flask too).
    """
    from zorgreserve.surge.models import PhaseDeclaration

    phases = {
        code: (ordinal, phase_reach)
        for code, ordinal, phase_reach in session.execute(
            select(SurgePhase.code, SurgePhase.ordinal, SurgePhase.reach)
        )
    }
    fallback = ("0", (0, Reach.OWN_REGION.value))
    lowest = min(phases.items(), key=lambda item: item[1][0]) if phases else fallback
    latest: dict[int | None, str] = {}
    for region_id, code in session.execute(
        select(PhaseDeclaration.region_id, PhaseDeclaration.phase_code).order_by(
            PhaseDeclaration.declared_at, PhaseDeclaration.id
        )
    ):
        latest[region_id] = code
    national_code = latest.get(None, lowest[0])
    national = phases.get(national_code, lowest[1])[0]
    from zorgreserve.reference.models import Region

    ordinals: dict[int, int] = {0: national}
    codes: dict[int, str] = {}
    for (region_id,) in session.execute(select(Region.id)):
        own_code = latest.get(region_id, lowest[0])
        own = phases.get(own_code, lowest[1])[0]
        ordinals[region_id] = max(own, national)
        codes[region_id] = own_code if own > national else national_code
    request_code = codes.get(facts.region_id, national_code)
    if reach is None:
        reach = phases.get(request_code, lowest[1])[1]
    reach = Reach(reach).value
    if reach == Reach.NATIONAL.value:
        allowed = None
    elif reach == Reach.NEIGHBOURS.value:
        allowed = {facts.region_id}
        for a, b in session.execute(select(RegionNeighbour.region_a_id, RegionNeighbour.region_b_id)):
            if a == facts.region_id:
                allowed.add(b)
            elif b == facts.region_id:
                allowed.add(a)
        allowed = frozenset(allowed)
    else:
        allowed = frozenset({facts.region_id})
    return RegionPolicy(
        reach=reach,
        request_region_id=facts.region_id,
        allowed_regions=allowed,
        phase_ordinal=ordinals,
        phase_code=request_code,
        national_override=national_override,
    )


# The prefilter ---------------------------------------------------------------------------


def prefilter_query(
    facts: RequestFacts,
    policy: RegionPolicy,
    shifts: Sequence[ShiftFacts],
    *,
    radius_km: float | None,
    now: datetime,
    exclude: Collection[int] = (),
) -> Any:
    """One SQL statement: the reservists who can possibly be eligible for any of ``shifts``, with the
    columns of :class:`Person` (see :data:`PERSON_COLUMNS`).

    Every condition here is implied by a rule of :mod:`eligibility`, so nobody
    eligible is lost; the rules decide exactly afterwards. Besides status, region,
    reach and qualification it asks for every required skill, a verified BIG
    registration not yet due (where the profession has a register) and the
    availability module's necessary condition for being available during one of
    the shifts: all checked per candidate by index probes, so what is loaded
    afterwards is close to who is eligible.
    """
    first_day = min(s.day for s in shifts)
    last_day = max(s.last_day for s in shifts)
    R = Reservist
    held = ReservistQualification
    reach_km = min(radius_km, MAX_TRAVEL_KM) if radius_km is not None else MAX_TRAVEL_KM
    box = bounding_box(facts.latitude, facts.longitude, reach_km)
    # Per row: within the reservist's own maximum (degrees per km taken at the box's far edge).
    lat_per_km = lat_degrees(1.0)
    edge = min(89.0, max(abs(box.min_lat), abs(box.max_lat)))
    lon_per_km = BOX_MARGIN / (KM_PER_DEGREE_LATITUDE * math.cos(math.radians(edge)))
    conditions: list[ColumnElement[bool]] = [
        R.erased_at.is_(None),
        or_(
            R.status == ReservistStatus.ACTIVE.value,
            and_(R.status == ReservistStatus.PAUSED.value, R.paused_until < last_day),
        ),
        R.latitude.between(box.min_lat, box.max_lat),
        R.longitude.between(box.min_lon, box.max_lon),
        func.abs(R.latitude - facts.latitude) <= R.max_travel_km * lat_per_km,
        func.abs(R.longitude - facts.longitude) <= R.max_travel_km * lon_per_km,
        exists().where(
            held.reservist_id == R.id,
            held.qualification_id.in_(sorted(facts.covering_qualification_ids)),
            held.verification == Verification.VERIFIED.value,
            or_(held.expires_on.is_(None), held.expires_on >= first_day),
        ),
        *[
            exists().where(ReservistSkill.reservist_id == R.id, ReservistSkill.skill_id == skill_id)
            for skill_id in sorted(facts.skills)
        ],
        available_during_any([(s.start, s.end) for s in shifts], now=now),
    ]
    if facts.profession_id is not None:
        conditions.append(
            exists().where(
                BigRegistration.reservist_id == R.id,
                BigRegistration.profession_id == facts.profession_id,
                BigRegistration.verification == Verification.VERIFIED.value,
                or_(
                    BigRegistration.reregistration_due.is_(None),
                    BigRegistration.reregistration_due > first_day,
                ),
            )
        )
    if policy.allowed_regions is not None:
        regions = sorted(policy.allowed_regions)
        # One id set (living in or serving the regions) that the planner can start from: an OR of
        # the two would make it start from the qualification instead, a large part of the registry.
        in_regions = union(
            select(Reservist.id).where(Reservist.home_region_id.in_(regions)),
            select(ReservistRegion.reservist_id).where(ReservistRegion.region_id.in_(regions)),
        )
        conditions.append(R.id.in_(in_regions))
    drained = sorted(policy.drained_regions())
    if drained:
        conditions.append(or_(R.home_region_id.is_(None), R.home_region_id.not_in(drained)))
    if exclude:
        conditions.append(R.id.not_in(sorted(exclude)))
    return select(*PERSON_COLUMNS).where(*conditions).order_by(R.id)


def prefilter(
    session: Session,
    facts: RequestFacts,
    policy: RegionPolicy,
    shifts: Sequence[ShiftFacts],
    *,
    radius_km: float | None,
    now: datetime,
    exclude: Collection[int] = (),
) -> dict[int, Person]:
    """The prefiltered reservists, with their own columns only: :func:`complete_people` adds the rest."""
    if not shifts:
        return {}
    statement = prefilter_query(facts, policy, shifts, radius_km=radius_km, now=now, exclude=exclude)
    return _people(session.execute(statement), now)


# The people ------------------------------------------------------------------------------


#: The reservist's own columns a :class:`Person` starts from, in its field order.
PERSON_COLUMNS = (
    Reservist.id,
    Reservist.home_region_id,
    Reservist.latitude,
    Reservist.longitude,
    Reservist.max_travel_km,
    Reservist.max_hours_per_week,
    Reservist.status,
    Reservist.paused_until,
    Reservist.erased_at,
    Reservist.standby_until,
)


@dataclass
class Person:
    """One reservist as the rules see them."""

    id: int
    home_region_id: int | None
    latitude: float | None
    longitude: float | None
    max_travel_km: int
    max_hours_per_week: int | None
    status: str
    paused_until: date | None
    erased: bool
    qualifications: list[tuple[int, str, date | None]] = field(default_factory=list)
    big: list[tuple[str, date | None]] = field(default_factory=list)
    skills: set[int] = field(default_factory=set)
    regions: set[int] = field(default_factory=set)  # regions they are willing to serve in
    availability: Availability = field(default_factory=Availability)
    bookings: list[tuple[int, datetime, datetime]] = field(default_factory=list)  # active, near; actual times
    held: list[tuple[int, datetime, datetime]] = field(default_factory=list)  # open offers, near the shifts
    recent_hours: float = 0.0
    last_deployment: datetime | None = None
    standby_until: datetime | None = None


def _people(rows: Iterable[Any], now: datetime) -> dict[int, Person]:
    return {r[0]: Person(*r[:8], r[8] is not None, standby_until=r[9]) for r in rows}


def load_people(
    session: Session,
    ids: Iterable[int],
    facts: RequestFacts,
    shifts: Sequence[ShiftFacts],
    *,
    now: datetime,
) -> dict[int, Person]:
    """Load what the rules read for ``ids``, without the prefilter (``why`` asks about anyone)."""
    ids = sorted(set(ids))
    if not ids or not shifts:
        return {}
    people: dict[int, Person] = {}
    for part in chunks(ids):
        people.update(
            _people(session.execute(select(*PERSON_COLUMNS).where(among(session, Reservist.id, part))), now)
        )
    complete_people(session, people, facts, shifts, now=now)
    return people


def complete_people(
    session: Session,
    people: dict[int, Person],
    facts: RequestFacts,
    shifts: Sequence[ShiftFacts],
    *,
    now: datetime,
) -> None:
    """Add to ``people`` (their own columns loaded) what the rules read: a handful of bulk queries
    per 5,000 reservists."""
    ids = sorted(people)
    if not ids or not shifts:
        return
    lo = min(s.start for s in shifts) - WORKTIME_REACH
    hi = max(s.end for s in shifts) + WORKTIME_REACH
    recent_from = now - timedelta(days=RECENT_DAYS)
    active = [s.value for s in ACTIVE_BOOKING]
    deployed = [s.value for s in DEPLOYED]
    for part in chunks(ids):
        for rid, qid, verification, expires_on in session.execute(
            select(
                ReservistQualification.reservist_id,
                ReservistQualification.qualification_id,
                ReservistQualification.verification,
                ReservistQualification.expires_on,
            ).where(
                among(session, ReservistQualification.reservist_id, part),
                ReservistQualification.qualification_id.in_(sorted(facts.covering_qualification_ids)),
            )
        ):
            people[rid].qualifications.append((qid, verification, expires_on))
        if facts.profession_id is not None:
            for rid, verification, due in session.execute(
                select(
                    BigRegistration.reservist_id,
                    BigRegistration.verification,
                    BigRegistration.reregistration_due,
                ).where(
                    among(session, BigRegistration.reservist_id, part),
                    BigRegistration.profession_id == facts.profession_id,
                )
            ):
                people[rid].big.append((verification, due))
        if facts.skills:
            for rid, skill_id in session.execute(
                select(ReservistSkill.reservist_id, ReservistSkill.skill_id).where(
                    among(session, ReservistSkill.reservist_id, part),
                    ReservistSkill.skill_id.in_(sorted(facts.skills)),
                )
            ):
                people[rid].skills.add(skill_id)
        for rid, region_id in session.execute(
            select(ReservistRegion.reservist_id, ReservistRegion.region_id).where(
                among(session, ReservistRegion.reservist_id, part)
            )
        ):
            people[rid].regions.add(region_id)
        # Recorded times replace the planned ones (see :func:`worked_times`): one LEFT JOIN.
        start_at, end_at, break_minutes = worked_times()
        for rid, shift_id, status, start, end, pause in session.execute(
            select(Booking.reservist_id, Booking.shift_id, Booking.status, start_at, end_at, break_minutes)
            .outerjoin(TimesheetEntry, TimesheetEntry.booking_id == Booking.id)
            .where(
                among(session, Booking.reservist_id, part),
                Booking.status.in_(active),
                Booking.end_at > min(lo, recent_from) - ACTUAL_MARGIN,
                Booking.start_at < hi + ACTUAL_MARGIN,
            )
        ):
            if end <= start:  # cannot be recorded on the roster; nothing sensible to count
                continue
            person = people[rid]
            if end > lo and start < hi:
                person.bookings.append((shift_id, start, end))
            if status in deployed and recent_from <= start < now:
                person.recent_hours += max(0.0, (min(end, now) - start).total_seconds() - pause * 60) / 3600
        for rid, last in session.execute(
            select(Booking.reservist_id, func.max(Booking.start_at))
            .where(
                among(session, Booking.reservist_id, part),
                Booking.status.in_(deployed),
                Booking.start_at < now,
            )
            .group_by(Booking.reservist_id)
        ):
            people[rid].last_deployment = _aware(last)
        for rid, shift_id, start, end in session.execute(
            select(Offer.reservist_id, OfferShift.shift_id, Shift.start_at, Shift.end_at)
            .join(OfferShift, OfferShift.offer_id == Offer.id)
            .join(Shift, Shift.id == OfferShift.shift_id)
            .where(
                among(session, Offer.reservist_id, part),
                Offer.status.in_([s.value for s in OPEN_OFFER]),
                Offer.expires_at > now,
                OfferShift.status == OfferShiftStatus.OFFERED.value,
                Shift.end_at > lo,
                Shift.start_at < hi,
            )
        ):
            people[rid].held.append((shift_id, start, end))
    for rid, availability in load_availabilities(session, ids, lo, hi, now=now).items():
        people[rid].availability = availability
    for person in people.values():
        person.bookings.sort()
        person.held.sort()
        person.qualifications.sort(key=lambda q: (q[0], q[1], q[2] or date.max))
        person.big.sort(key=lambda b: (b[0], b[1] or date.max))


def worked_times() -> tuple[ColumnElement[datetime], ColumnElement[datetime], ColumnElement[int]]:
    """A booking's start, end and break as worked, for a query joining ``timesheet_entry`` (outer).

    The times the institution recorded on the roster replace the planned ones: from the actual
    start to the actual end, the break inside (a break is not rest), so a shift that ran late
    pushes the next rest back. Checked in but not out: the actual start and the planned end.
    Nothing recorded: the planned times. Hours worked are end − start − break (up to now).
    """
    return (
        func.coalesce(TimesheetEntry.actual_start_at, Booking.start_at).label("worked_start"),
        func.coalesce(TimesheetEntry.actual_end_at, Booking.end_at).label("worked_end"),
        func.coalesce(TimesheetEntry.break_minutes, 0).label("worked_break"),
    )


def _aware(moment: datetime | None) -> datetime | None:
    """``max()`` bypasses the column type on some drivers; make the value UTC-aware again."""
    from datetime import UTC

    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
