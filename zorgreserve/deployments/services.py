"""Deployment request rules: who sees which request, the lifecycle, shifts and headcount.

Lifecycle (``docs/deployments.md``)::

    draft ─► submitted ─► approved ─► open ⇄ partially filled ⇄ filled ─► closed
                 └──────► rejected
    cancelled from any state that is not final (rejected, closed, cancelled)

- A draft or submitted request may be changed entirely. After the decision only
  its headcount may go up (for all shifts at once), one shift's places may go up
  or down, and shifts may be added or cancelled. Bookings a change takes back
  (a cancelled shift, fewer places than booked: the latest bookings first) are
  cancelled in the same transaction and their people told at once
  (``zorgreserve.callups.changes``).
- The regional coordinator of the request's region, or a national coordinator,
  approves or rejects. When the surge phase in effect in that region approves
  requests automatically, submitting approves at once (recorded as a decision
  of the system under that phase).
- Approving opens the request and writes the outbox job
  ``deployments.request_opened`` in the same transaction: the hand-off to matching.

Every step is a :class:`RequestEvent` (who, when, from which state to which,
why) and an audit event. Services never commit; views and jobs do, once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from flask import current_app
from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, select
from sqlalchemy.exc import IntegrityError

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.accounts.roles import Role
from zorgreserve.audit.services import record
from zorgreserve.db import utcnow
from zorgreserve.deployments.models import (
    EDITABLE,
    FINAL,
    RUNNING,
    URGENCY_ORDER,
    DeploymentRequest,
    RequestEvent,
    RequestStatus,
    Shift,
    ShiftState,
    Urgency,
)
from zorgreserve.deployments.patterns import PlannedShift, ShiftPattern, expand
from zorgreserve.institutions.models import InstitutionLocation
from zorgreserve.jobs.services import add_job
from zorgreserve.phones import InvalidPhoneNumber, normalise_phone
from zorgreserve.reference.models import Qualification, Skill

#: Shifts are planned at most this far ahead.
MAX_HORIZON_DAYS = 730
S = RequestStatus
#: The actor of decisions the system takes under the surge policy (no user; role "system").
SYSTEM = SimpleNamespace(id=None, role="system", institution=None, region=None)


class NotInScope(LookupError):
    """The request does not exist for this user (answer 404, never 403)."""


class RequestError(ValueError):
    """A change that cannot be made; ``message`` (translated) is shown, ``field`` marks the input."""

    def __init__(self, message: Any, field: str | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.field = field


class IllegalTransition(RequestError):
    """The request is not in a state that allows this step."""


class ReleaseNeeded(RequestError):
    """Fewer places than people booked: say how many bookings would go, and ask to confirm."""

    def __init__(self, *, places: int, booked: int) -> None:
        self.places, self.booked, self.count = places, booked, booked - places
        super().__init__(
            _l(
                "%(booked)s people are booked on this shift, more than %(places)s. Lowering it cancels "
                "the bookings made last, and those people are told at once.",
                booked=booked,
                places=places,
            ),
            field="places",
        )


@dataclass(frozen=True)
class PlacesChange:
    """What setting one shift's places did: the number before and after, and the bookings released."""

    before: int
    after: int
    released: tuple[int, ...] = ()


@dataclass
class RequestDetails:
    """What the institution says about the work, apart from the shifts."""

    department: str
    qualification_id: int
    location_id: int
    urgency: str
    report_to: str
    contact_name: str
    contact_phone: str
    skill_ids: Sequence[int] = field(default_factory=list)
    bring: str | None = None
    notes: str | None = None


# Limits ----------------------------------------------------------------------------


def max_shift_hours() -> int:
    return int(current_app.config.get("MAX_SHIFT_HOURS", 12))


def max_shifts() -> int:
    return int(current_app.config.get("MAX_SHIFTS_PER_REQUEST", 500))


def max_places() -> int:
    return int(current_app.config.get("MAX_PLACES_PER_SHIFT", 100))


def _when(moment: datetime) -> str:
    return format_datetime(moment, "EEE d MMM yyyy HH:mm")


def check_places(places: int) -> None:
    if not 1 <= places <= max_places():
        raise RequestError(
            _l("Ask for between 1 and %(max)s people per shift.", max=max_places()), field="places"
        )


def check_shift(shift: PlannedShift, now: datetime) -> None:
    """One shift against the rules: after now, not too far ahead, positive and legal length."""
    if shift.end_at <= shift.start_at:
        raise RequestError(_l("A shift must end after it starts."), field="end_time")
    if shift.start_at < now:
        raise RequestError(
            _l("The shift of %(when)s starts in the past.", when=_when(shift.start_at)), field="first_day"
        )
    if shift.start_at > now + timedelta(days=MAX_HORIZON_DAYS):
        raise RequestError(_l("Shifts can be planned at most two years ahead."), field="first_day")
    limit = max_shift_hours()
    if shift.hours > limit:
        raise RequestError(
            _l(
                "The shift of %(when)s lasts %(hours)s hours; a shift may last at most %(max)s hours.",
                when=_when(shift.start_at),
                hours=f"{shift.hours:g}",
                max=limit,
            ),
            field="end_time",
        )
    check_places(shift.places)


def plan_shifts(
    pattern: ShiftPattern, *, existing: Iterable[Shift] = (), now: datetime | None = None
) -> list[PlannedShift]:
    """The shifts a pattern adds to a request, checked; raises :class:`RequestError` on the first problem.

    ``existing`` are the request's active shifts: together they may not pass the
    configured maximum, and a shift identical to an existing one is refused (raise
    the headcount of that shift instead).
    """
    now = now or utcnow()
    existing = list(existing)
    check_places(pattern.places)
    if pattern.start_time == pattern.end_time:
        raise RequestError(_l("The start and end time are the same."), field="end_time")
    room = max_shifts() - len(existing)
    planned = expand(pattern, limit=max(room, 0))
    if not planned:
        raise RequestError(
            _l("This pattern gives no shifts: check the first day, the number of days and the weekdays."),
            field="days",
        )
    if len(planned) > room:
        raise RequestError(
            _l("A request can have at most %(max)s shifts.", max=max_shifts()),
            field="days",
        )
    taken = {(s.start_at, s.end_at) for s in existing}
    for shift in planned:
        check_shift(shift, now)
        if (shift.start_at, shift.end_at) in taken:
            raise RequestError(
                _l(
                    "The request already has the shift of %(when)s; raise its headcount instead.",
                    when=_when(shift.start_at),
                ),
                field="first_day",
            )
    return planned


# Scope -----------------------------------------------------------------------------


def scope_filter(user: User, query: Any) -> Any:
    """Restrict a query on DeploymentRequest to what ``user`` may see (nothing for other roles)."""
    role = user.role_enum
    if role is Role.INSTITUTION_STAFF:
        return query.where(DeploymentRequest.institution_id == user.institution_id)
    if role is Role.REGIONAL_COORDINATOR:
        # Coordinators see requests once they are submitted: a draft is the institution's own business.
        return query.where(
            DeploymentRequest.region_id == user.region_id, DeploymentRequest.status != S.DRAFT.value
        )
    if role is Role.NATIONAL_COORDINATOR:
        return query.where(DeploymentRequest.status != S.DRAFT.value)
    return query.where(False)


def request_in_scope(user: User, request_id: int) -> DeploymentRequest:
    """A request ``user`` may see, else :class:`NotInScope`, the same for absent and foreign ids."""
    request = db.session.scalar(
        scope_filter(user, select(DeploymentRequest).where(DeploymentRequest.id == request_id))
    )
    if request is None:
        raise NotInScope(request_id)
    return request


def shift_of(request: DeploymentRequest, shift_id: int) -> Shift:
    shift = db.session.get(Shift, shift_id)
    if shift is None or shift.request_id != request.id:
        raise NotInScope(shift_id)
    return shift


def is_member(user: User, request: DeploymentRequest) -> bool:
    return user.role_enum is Role.INSTITUTION_STAFF and user.institution_id == request.institution_id


def can_decide(user: User, request: DeploymentRequest) -> bool:
    """The regional coordinator of the request's region, or any national coordinator."""
    role = user.role_enum
    if role is Role.NATIONAL_COORDINATOR:
        return True
    return role is Role.REGIONAL_COORDINATOR and user.region_id == request.region_id


def _require_member(user: User, request: DeploymentRequest) -> None:
    if not is_member(user, request):
        raise PermissionError("only staff of the institution change its requests")


def _require_decider(user: User, request: DeploymentRequest) -> None:
    if not can_decide(user, request):
        raise PermissionError("only the coordinator of the region or a national coordinator decides")


# Lifecycle -------------------------------------------------------------------------

#: action → (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[RequestStatus], RequestStatus]] = {
    "submit": (frozenset({S.DRAFT}), S.SUBMITTED),
    "approve": (frozenset({S.SUBMITTED}), S.APPROVED),
    "reject": (frozenset({S.SUBMITTED}), S.REJECTED),
    "open": (frozenset({S.APPROVED}), S.OPEN),
    "close": (frozenset({S.APPROVED}) | RUNNING, S.CLOSED),
    "cancel": (frozenset(S) - FINAL, S.CANCELLED),
}

_REFUSALS = {
    "submit": _l("Only a draft can be submitted."),
    "approve": _l("Only a submitted request can be approved; it may have been decided already."),
    "reject": _l("Only a submitted request can be rejected; it may have been decided already."),
    "open": _l("Only an approved request can be opened."),
    "close": _l("Only an approved or open request can be closed."),
    "cancel": _l("This request has already ended."),
}


def _event(
    request: DeploymentRequest,
    action: str,
    from_status: str | None,
    actor: User | None,
    reason: str | None = None,
) -> None:
    request.events.append(
        RequestEvent(
            action=action,
            from_status=from_status,
            to_status=request.status,
            actor_id=actor.id if actor is not None else None,
            actor_role=actor.role if actor is not None else None,
            reason=reason,
        )
    )


def _touch(request: DeploymentRequest) -> None:
    """Mark the request changed; flushing it bumps ``version`` (the mapper's version counter)."""
    request.updated_at = utcnow()


def _transition(
    request: DeploymentRequest, action: str, actor: User | None, reason: str | None = None
) -> None:
    allowed, target = TRANSITIONS[action]
    if request.status_enum not in allowed:
        raise IllegalTransition(_REFUSALS[action])
    previous = request.status
    request.status = target.value
    _touch(request)
    _event(request, action, previous, actor, reason)
    db.session.flush()
    record(
        f"deployment_request.{action}",
        actor=actor if actor is not None else SYSTEM,
        subject_type="deployment_request",
        subject_id=request.id,
        from_status=previous,
        to_status=target.value,
        automatic=actor is None,
    )


def _clean_reason(reason: str | None, *, required: bool) -> str | None:
    reason = (reason or "").strip()
    if required and len(reason) < 5:
        raise RequestError(_l("Give a reason (at least a few words)."), field="reason")
    if len(reason) > 2000:
        raise RequestError(_l("Keep the reason under 2000 characters."), field="reason")
    return reason or None


def _apply_details(user: User, request: DeploymentRequest, details: RequestDetails) -> None:
    location = db.session.get(InstitutionLocation, details.location_id)
    if location is None or location.institution_id != user.institution_id or not location.active:
        raise RequestError(_l("Choose one of your institution's locations."), field="location_id")
    if db.session.get(Qualification, details.qualification_id) is None:
        raise RequestError(_l("Choose a qualification."), field="qualification_id")
    if details.urgency not in {u.value for u in Urgency}:
        raise RequestError(_l("Choose the urgency."), field="urgency")
    skill_ids = sorted(set(details.skill_ids))
    skills = list(db.session.scalars(select(Skill).where(Skill.id.in_(skill_ids)))) if skill_ids else []
    if len(skills) != len(skill_ids):
        raise RequestError(_l("Choose skills from the list."), field="skill_ids")
    try:
        phone = normalise_phone(details.contact_phone)
    except InvalidPhoneNumber as exc:
        raise RequestError(
            _l("Enter a valid phone number, for example 06 12345678."), field="contact_phone"
        ) from exc
    department, contact, report_to = (
        details.department.strip(),
        details.contact_name.strip(),
        details.report_to.strip(),
    )
    if not department:
        raise RequestError(_l("Name the department."), field="department")
    if not contact:
        raise RequestError(_l("Name the contact person."), field="contact_name")
    if not report_to:
        raise RequestError(_l("Say where reservists report."), field="report_to")
    request.institution_id = location.institution_id
    request.location_id = location.id
    request.region_id = location.region_id
    request.department = department
    request.qualification_id = details.qualification_id
    request.urgency = details.urgency
    request.report_to = report_to
    request.bring = (details.bring or "").strip() or None
    request.contact_name = contact
    request.contact_phone = phone
    request.notes = (details.notes or "").strip() or None
    request.skills = skills


def find_by_idempotency_key(user: User, key: str) -> DeploymentRequest | None:
    return db.session.scalar(
        select(DeploymentRequest).where(
            DeploymentRequest.created_by_id == user.id, DeploymentRequest.idempotency_key == key
        )
    )


def create_request(
    user: User,
    details: RequestDetails,
    pattern: ShiftPattern,
    *,
    idempotency_key: str,
    submit: bool,
    now: datetime | None = None,
) -> tuple[DeploymentRequest, bool]:
    """Create a request with the pattern's shifts, as a draft or submitted at once.

    Returns ``(request, created)``. The same ``idempotency_key`` from the same
    user returns the request made the first time (``created`` is then False),
    also when two submissions race: the unique constraint decides, and the
    loser reads the winner's request.
    """
    if user.role_enum is not Role.INSTITUTION_STAFF or user.institution_id is None:
        raise PermissionError("only institution staff create requests")
    key = (idempotency_key or "").strip()
    if not 16 <= len(key) <= 64:
        raise RequestError(_l("The form has expired. Please fill it in again."))
    existing = find_by_idempotency_key(user, key)
    if existing is not None:
        return existing, False
    request = DeploymentRequest(idempotency_key=key, created_by_id=user.id, status=S.DRAFT.value)
    _apply_details(user, request, details)
    planned = plan_shifts(pattern, now=now)
    request.shifts = [Shift(start_at=p.start_at, end_at=p.end_at, places=p.places) for p in planned]
    savepoint = db.session.begin_nested()
    try:
        db.session.add(request)
        db.session.flush()
    except IntegrityError:
        savepoint.rollback()
        existing = find_by_idempotency_key(user, key)
        if existing is None:
            raise
        return existing, False
    savepoint.commit()
    _event(request, "create", None, user)
    record(
        "deployment_request.create",
        actor=user,
        subject_type="deployment_request",
        subject_id=request.id,
        shifts=len(planned),
    )
    if submit:
        submit_request(user, request)
    return request, True


def update_request(user: User, request: DeploymentRequest, details: RequestDetails, *, version: int) -> None:
    """Change a draft or submitted request's details (not after the coordinator's decision)."""
    _require_member(user, request)
    if request.status_enum not in EDITABLE:
        raise IllegalTransition(_l("After the decision only the headcount can go up and shifts can change."))
    _check_version(request, version)
    _apply_details(user, request, details)
    _touch(request)
    _event(request, "edit", request.status, user)
    db.session.flush()
    record("deployment_request.edit", actor=user, subject_type="deployment_request", subject_id=request.id)


def _check_version(request: DeploymentRequest, version: int | None) -> None:
    if version != request.version:
        raise RequestError(_l("This request was changed in the meantime. Check it and try again."))


def submit_request(user: User, request: DeploymentRequest) -> None:
    """Submit a draft; approve it at once if the surge phase in effect approves automatically."""
    _require_member(user, request)
    if request.status_enum not in TRANSITIONS["submit"][0]:
        raise IllegalTransition(_REFUSALS["submit"])
    if not request.active_shifts:
        raise RequestError(_l("Add at least one shift before submitting."))
    _transition(request, "submit", user)
    request.submitted_at = utcnow()
    _notify("submitted", request)
    _approve_if_automatic(request)


def _approve_if_automatic(request: DeploymentRequest) -> bool:
    from zorgreserve.surge.services import effective_phase

    effective = effective_phase(request.region_id)
    if not effective.automatic_request_approval or not _has_future_shift(request):
        return False
    phase = effective.phase
    _transition(request, "approve", None)
    request.decided_at, request.decided_by_id = utcnow(), None
    request.decision_mode, request.decided_in_phase = "automatic", phase.code
    _notify("approved", request)
    open_request(request, None)
    return True


def approve_waiting_automatically() -> int:
    """Approve every submitted request whose region's phase now approves automatically.

    Called after a phase is declared or a phase's policy changes, so no request
    keeps waiting for a decision the policy no longer asks for.
    """
    waiting = db.session.scalars(
        select(DeploymentRequest)
        .where(DeploymentRequest.status == S.SUBMITTED.value)
        .order_by(DeploymentRequest.id)
    )
    return sum(1 for request in list(waiting) if _approve_if_automatic(request))


def _has_future_shift(request: DeploymentRequest) -> bool:
    now = utcnow()
    return any(shift.start_at > now for shift in request.active_shifts)


def approve(user: User, request: DeploymentRequest, note: str | None = None) -> None:
    """A coordinator approves a submitted request; it opens at once (see :func:`open_request`)."""
    _require_decider(user, request)
    note = _clean_reason(note, required=False)
    if request.status_enum is S.SUBMITTED and not _has_future_shift(request):
        raise RequestError(
            _l("All shifts of this request have started already; reject or let it be cancelled.")
        )
    from zorgreserve.surge.services import effective_phase

    _transition(request, "approve", user, note)
    request.decided_at, request.decided_by_id = utcnow(), user.id
    request.decision_mode = "manual"
    request.decided_in_phase = effective_phase(request.region_id).phase.code
    _notify("approved", request)
    open_request(request, user)


def reject(user: User, request: DeploymentRequest, reason: str) -> None:
    """A coordinator rejects a submitted request, with the reason the institution will read."""
    _require_decider(user, request)
    reason = _clean_reason(reason, required=True)
    _transition(request, "reject", user, reason)
    request.decided_at, request.decided_by_id = utcnow(), user.id
    request.decision_mode, request.reason = "manual", reason
    _notify("rejected", request)


def open_request(request: DeploymentRequest, actor: User | None) -> None:
    """Open an approved request and hand it to matching, in the same transaction.

    The outbox row ``deployments.request_opened`` exists if and only if the
    request was opened; the matching module takes it from there.
    """
    _transition(request, "open", actor)
    request.opened_at = utcnow()
    add_job(
        db.session,
        "deployments.request_opened",
        {"request_id": request.id},
        description=f"deployment request {request.id} opened",
    )
    refresh_fill_state(request)


def cancel(user: User, request: DeploymentRequest, reason: str) -> int:
    """Cancel a request at any time before it ended (institution staff or a deciding coordinator).

    Every shift that has not ended is cancelled, and with it every booking still
    accepted or approved on it; each person is told at once. Returns how many
    bookings were cancelled.
    """
    if not (is_member(user, request) or can_decide(user, request)):
        raise PermissionError("not allowed to cancel this request")
    reason = _clean_reason(reason, required=True)
    was_running = request.status_enum in RUNNING
    _transition(request, "cancel", user, reason)  # flushes: the request row is ours first
    request.reason = reason
    now = utcnow()
    cancelled = []
    for shift in sorted(request.active_shifts, key=lambda s: s.id):
        if shift.end_at > now:
            shift.state, shift.cancelled_at, shift.cancel_reason = ShiftState.CANCELLED.value, now, reason
            cancelled.append(shift.id)
    db.session.flush()  # the shifts are cancelled (and their rows ours) before their bookings are read
    if not was_running:
        return 0
    from zorgreserve.callups.changes import cancel_bookings

    bookings = cancel_bookings(db.session, request.id, cancelled, actor=user, now=now)
    _changed(request, "cancelled")
    return len(bookings)


def close(user: User | None, request: DeploymentRequest, reason: str | None = None) -> None:
    """End an approved or open request: no more call-ups. Bookings made stay."""
    if user is not None and not (is_member(user, request) or can_decide(user, request)):
        raise PermissionError("not allowed to close this request")
    reason = _clean_reason(reason, required=False)
    was_running = request.status_enum in RUNNING
    _transition(request, "close", user, reason)
    request.closed_at = utcnow()
    if was_running:
        _changed(request, "closed")


def close_finished_requests(now: datetime | None = None) -> int:
    """Close approved and open requests whose last active shift has ended; returns how many.

    Meant for a periodic job: a request nobody closes by hand must not stay "open".
    """
    now = now or utcnow()
    last_end = (
        select(Shift.request_id, func.max(Shift.end_at).label("last_end"))
        .where(Shift.state == ShiftState.ACTIVE.value)
        .group_by(Shift.request_id)
        .subquery()
    )
    finished = db.session.scalars(
        select(DeploymentRequest)
        .join(last_end, last_end.c.request_id == DeploymentRequest.id)
        .where(
            DeploymentRequest.status.in_([S.APPROVED.value, *(s.value for s in RUNNING)]),
            last_end.c.last_end <= now,
        )
    )
    count = 0
    for request in list(finished):
        close(None, request)
        count += 1
    return count


def refresh_fill_state(request: DeploymentRequest) -> None:
    """Set open / partially filled / filled from the shifts' booked counters.

    Counts the active shifts that have not ended; later modules call this after
    every booking or cancellation (and it runs after every change of shifts here).
    """
    if request.status_enum not in RUNNING:
        return
    now = utcnow()
    current = [s for s in request.active_shifts if s.end_at > now] or request.active_shifts
    places = sum(s.places for s in current)
    booked = sum(s.booked for s in current)
    if places and booked >= places:
        target = S.FILLED
    elif booked > 0:
        target = S.PARTIALLY_FILLED
    else:
        target = S.OPEN
    if target.value != request.status:
        previous = request.status
        request.status = target.value
        _touch(request)
        _event(request, "fill", previous, None)
        db.session.flush()


def _changed(request: DeploymentRequest, change: str, shift_ids: Sequence[int] = ()) -> None:
    """Tell matching (and, later, booked reservists) about a change to a request already open."""
    add_job(
        db.session,
        "deployments.request_changed",
        {"request_id": request.id, "change": change, "shift_ids": list(shift_ids)},
        description=f"deployment request {request.id} changed: {change}",
    )


# Shifts and headcount ------------------------------------------------------------


def _require_changeable(request: DeploymentRequest) -> None:
    if request.status_enum in FINAL:
        raise IllegalTransition(_l("This request has ended; it can no longer be changed."))


def add_shifts(user: User, request: DeploymentRequest, pattern: ShiftPattern) -> list[Shift]:
    """Add a pattern's shifts to a request, before or after the decision.

    Sending the same form twice adds nothing the second time: a shift identical
    to one the request has is refused.
    """
    _require_member(user, request)
    _require_changeable(request)
    planned = plan_shifts(pattern, existing=request.active_shifts)
    shifts = [Shift(start_at=p.start_at, end_at=p.end_at, places=p.places) for p in planned]
    request.shifts.extend(shifts)
    _touch(request)
    _event(request, "shifts_added", request.status, user, reason=str(len(shifts)))
    db.session.flush()
    record(
        "deployment_request.shifts_added",
        actor=user,
        subject_type="deployment_request",
        subject_id=request.id,
        shifts=len(shifts),
    )
    if request.status_enum in RUNNING:
        _changed(request, "shifts_added", [s.id for s in shifts])
        refresh_fill_state(request)
    return shifts


def cancel_shift(user: User, request: DeploymentRequest, shift: Shift, reason: str | None) -> int:
    """Cancel one shift that has not started; the last remaining one needs the whole request cancelled.

    After the decision a reason is required. Every booking on the shift still
    accepted or approved is cancelled and its person told at once; offers for it
    are withdrawn (``callups.changes``). Returns how many bookings were cancelled.
    """
    _require_member(user, request)
    _require_changeable(request)
    if not shift.is_active:
        raise RequestError(_l("This shift has been cancelled already."))
    now = utcnow()
    if shift.start_at <= now:
        raise RequestError(_l("This shift has started already."))
    if len(request.active_shifts) == 1:
        raise RequestError(_l("This is the last shift of the request: cancel the request instead."))
    reason = _clean_reason(reason, required=request.status_enum not in EDITABLE)
    # Locks in one order: the request row (its version) first, then the shift, then its bookings.
    _touch(request)
    _event(request, "shift_cancelled", request.status, user, reason)
    db.session.flush()
    shift.state, shift.cancelled_at, shift.cancel_reason = ShiftState.CANCELLED.value, now, reason
    db.session.flush()
    record(
        "deployment_request.shift_cancelled",
        actor=user,
        subject_type="deployment_request",
        subject_id=request.id,
        shift_id=shift.id,
    )
    if request.status_enum not in RUNNING:
        return 0
    from zorgreserve.callups.changes import cancel_bookings

    bookings = cancel_bookings(db.session, request.id, [shift.id], actor=user, now=now)
    _changed(request, "shift_cancelled", [shift.id])
    refresh_fill_state(request)
    return len(bookings)


def set_headcount(user: User, request: DeploymentRequest, places: int) -> int:
    """Set the people needed on every shift that has not started; returns how many shifts changed.

    Before the decision any number goes; afterwards it may only go up (people may
    have accepted already, and the coordinator approved the smaller number).
    Setting the same number twice changes nothing the second time.
    """
    _require_member(user, request)
    _require_changeable(request)
    check_places(places)
    now = utcnow()
    upcoming = [s for s in request.active_shifts if s.start_at > now]
    if not upcoming:
        raise RequestError(_l("No shift of this request lies ahead."), field="places")
    decided = request.status_enum not in EDITABLE
    if decided and any(s.places > places for s in upcoming):
        raise RequestError(
            _l(
                "After approval the headcount of all shifts can only go up. "
                "To need fewer people on a shift, change its places in the list of shifts."
            ),
            field="places",
        )
    changed = [s for s in upcoming if s.places != places]
    for shift in changed:
        shift.places = places
    if not changed:
        return 0
    _touch(request)
    _event(request, "headcount", request.status, user, reason=str(places))
    db.session.flush()
    record(
        "deployment_request.headcount",
        actor=user,
        subject_type="deployment_request",
        subject_id=request.id,
        places=places,
        shifts=len(changed),
    )
    if request.status_enum in RUNNING:
        _changed(request, "headcount", [s.id for s in changed])
        refresh_fill_state(request)
    return len(changed)


def set_shift_places(
    user: User,
    request: DeploymentRequest,
    shift: Shift,
    places: int,
    *,
    release: int | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> PlacesChange:
    """Set the people needed on one shift that has not started, before or after the decision.

    - More places: the next call-up step is taken at once (the stand-by list first).
    - Fewer, but not fewer than booked: open places close; a shift now full has its
      outstanding offers withdrawn, and their holders are told.
    - Fewer than booked: the most recently booked are cancelled (last in, first out)
      and told at once — only when ``release`` says how many the institution agreed
      to, having seen it; otherwise (or when bookings came in meanwhile)
      :class:`ReleaseNeeded` says how many it would be, and nothing changes.

    The same number twice changes nothing the second time. Raises
    :class:`RequestError` for a number out of range, a cancelled or started shift
    or an ended request.
    """
    _require_member(user, request)
    _require_changeable(request)
    check_places(places)
    now = now or utcnow()
    if not shift.is_active:
        raise RequestError(_l("This shift has been cancelled."), field="places")
    if shift.start_at <= now:
        raise RequestError(_l("This shift has started already."), field="places")
    reason = _clean_reason(reason, required=False)
    before = shift.places
    if places == before:
        return PlacesChange(before, places)
    if places < shift.booked and release != shift.booked - places:
        raise ReleaseNeeded(places=places, booked=shift.booked)
    # Locks in one order: the request row (its version) first, then the shift, then its bookings.
    _touch(request)
    _event(request, "shift_places", request.status, user, reason=f"{before} → {places}")
    db.session.flush()
    shift = db.session.scalars(
        select(Shift)
        .where(Shift.id == shift.id)
        .with_for_update(key_share=True, of=Shift)
        .execution_options(populate_existing=True)
    ).one()
    before = shift.places  # as locked (the page may have shown an older number)
    released: list[Any] = []
    if places < shift.booked:
        if release != shift.booked - places:  # bookings came in since the page was shown: ask again
            raise ReleaseNeeded(places=places, booked=shift.booked)
        from zorgreserve.callups.changes import release_latest

        released = release_latest(db.session, shift, places, actor=user, reason=reason, now=now)
    else:
        shift.places = places
        db.session.flush()
    record(
        "deployment_request.shift_places",
        actor=user,
        subject_type="deployment_request",
        subject_id=request.id,
        shift_id=shift.id,
        before=before,
        after=places,
        released=len(released),
    )
    if request.status_enum in RUNNING:
        if places > before:
            _changed(request, "headcount", [shift.id])
        else:
            _withdraw_if_full(shift, now)
            _changed(request, "places_reduced", [shift.id])
        refresh_fill_state(request)
    return PlacesChange(before, places, tuple(b.id for b in released))


def _withdraw_if_full(shift: Shift, now: datetime) -> None:
    """A shift made full by fewer places: its offers go now (not those being answered: the job follows)."""
    from zorgreserve.callups.booking import withdraw_open_offers_for_filled_shifts
    from zorgreserve.callups.waves import refresh_offered

    if shift.booked >= shift.places:
        withdraw_open_offers_for_filled_shifts(db.session, [shift.id], now, notify_all=True, skip_locked=True)
        refresh_offered([shift.id])


# Lists -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestSummary:
    """A request with the totals a list shows: its shifts ahead, places and fill."""

    request: DeploymentRequest
    first_start: datetime | None
    last_end: datetime | None
    shifts: int
    places: int
    booked: int

    @property
    def fill_percent(self) -> int:
        return round(100 * self.booked / self.places) if self.places else 0


def _summaries(query: Any, *, upcoming_only: bool) -> list[RequestSummary]:
    now = utcnow()
    conditions = [Shift.state == ShiftState.ACTIVE.value]
    if upcoming_only:
        conditions.append(Shift.end_at > now)
    totals = (
        select(
            Shift.request_id.label("request_id"),
            func.min(Shift.start_at).label("first_start"),
            func.max(Shift.end_at).label("last_end"),
            func.count(Shift.id).label("shifts"),
            func.coalesce(func.sum(Shift.places), 0).label("places"),
            func.coalesce(func.sum(Shift.booked), 0).label("booked"),
        )
        .where(and_(*conditions))
        .group_by(Shift.request_id)
        .subquery()
    )
    urgency_rank = case(URGENCY_ORDER, value=DeploymentRequest.urgency, else_=9)
    rows = db.session.execute(
        query.add_columns(
            totals.c.first_start, totals.c.last_end, totals.c.shifts, totals.c.places, totals.c.booked
        )
        .outerjoin(totals, totals.c.request_id == DeploymentRequest.id)
        .order_by(urgency_rank, totals.c.first_start.is_(None), totals.c.first_start, DeploymentRequest.id)
    ).all()
    return [
        RequestSummary(
            request=row[0],
            first_start=row[1],
            last_end=row[2],
            shifts=row[3] or 0,
            places=int(row[4] or 0),
            booked=int(row[5] or 0),
        )
        for row in rows
    ]


def institution_requests(user: User, *, current: bool = True) -> list[RequestSummary]:
    """The requests of the user's institution: the current ones (not ended) or all."""
    query = scope_filter(user, select(DeploymentRequest))
    if current:
        query = query.where(DeploymentRequest.status.not_in([s.value for s in FINAL]))
    return _summaries(query, upcoming_only=current)


def coordinator_overview(user: User, region_id: int | None = None) -> dict[str, list[RequestSummary]]:
    """For coordinators: requests awaiting a decision and requests running, most urgent and soonest first."""
    query = scope_filter(user, select(DeploymentRequest))
    if region_id is not None:
        query = query.where(DeploymentRequest.region_id == region_id)
    waiting = _summaries(query.where(DeploymentRequest.status == S.SUBMITTED.value), upcoming_only=True)
    running = _summaries(
        query.where(DeploymentRequest.status.in_([S.APPROVED.value, *(s.value for s in RUNNING)])),
        upcoming_only=True,
    )
    return {"waiting": waiting, "running": running}


# Notifications ---------------------------------------------------------------------


def _notify(kind: str, request: DeploymentRequest) -> None:
    add_job(
        db.session,
        "deployments.notify",
        {"kind": kind, "request_id": request.id},
        description=f"deployment request {request.id}: {kind}",
    )
