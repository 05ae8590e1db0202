"""The request lifecycle in the services: transitions, approval scope, automatic approval under
a surge phase, idempotency, bad input, headcount and shifts after approval, and the hand-off."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from tests.deployments_support import day_pattern, details_for, in_english_fixture, new_request, world_fixture  # noqa: F401
from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.audit.models import AuditEvent
from zorgreserve.db import utcnow
from zorgreserve.deployments import services
from zorgreserve.deployments.models import DeploymentRequest, RequestStatus, Shift
from zorgreserve.deployments.patterns import Repeat
from zorgreserve.jobs.models import OutboxJob
from zorgreserve.surge import services as surge

S = RequestStatus


def jobs(name: str) -> list[OutboxJob]:
    return list(db.session.scalars(select(OutboxJob).where(OutboxJob.job == name).order_by(OutboxJob.id)))


def request_count() -> int:
    return db.session.scalar(select(func.count(DeploymentRequest.id)))


def test_a_request_goes_from_draft_to_open_and_every_step_is_recorded(w):
    req = new_request(w.staff_a, w.loc_a, submit=False)
    assert req.status == S.DRAFT.value
    assert len(req.active_shifts) == 14 and {s.places for s in req.shifts} == {3}
    assert req.region_id == w.region_x.id and req.contact_phone == "+31302509111"
    services.submit_request(w.staff_a, req)
    assert req.status == S.SUBMITTED.value and req.submitted_at is not None
    assert jobs("deployments.request_opened") == []
    services.approve(w.coordinator_x, req, "Past in het regionale beeld")
    db.session.commit()
    assert req.status == S.OPEN.value
    assert (req.decided_by_id, req.decision_mode, req.decided_in_phase) == (
        w.coordinator_x.id,
        "manual",
        "0",
    )
    steps = [(e.action, e.from_status, e.to_status, e.actor_id) for e in req.events]
    assert steps == [
        ("create", None, "draft", w.staff_a.id),
        ("submit", "draft", "submitted", w.staff_a.id),
        ("approve", "submitted", "approved", w.coordinator_x.id),
        ("open", "approved", "open", w.coordinator_x.id),
    ]
    assert req.events[2].reason == "Past in het regionale beeld"
    (job,) = jobs("deployments.request_opened")
    assert job.args == {"request_id": req.id}
    audited = db.session.scalars(
        select(AuditEvent.action).where(
            AuditEvent.subject_type == "deployment_request", AuditEvent.subject_id == str(req.id)
        )
    ).all()
    assert {"deployment_request.create", "deployment_request.approve", "deployment_request.open"} <= set(
        audited
    )


def test_the_opened_job_hands_the_request_off_once(w, run_jobs):
    req = new_request(w.staff_a, w.loc_a)
    services.approve(w.national, req)
    db.session.commit()
    run_jobs()
    req = db.session.get(DeploymentRequest, req.id)
    first = req.handed_off_at
    assert first is not None
    from zorgreserve.deployments.handoff import request_opened

    request_opened(req.id)  # a second run (an abandoned RQ job run again) changes nothing
    db.session.expire_all()
    assert req.handed_off_at == first


@pytest.mark.parametrize(
    ("step", "state"),
    [
        ("approve", S.DRAFT),
        ("reject", S.DRAFT),
        ("submit", S.SUBMITTED),
        ("approve", S.REJECTED),
        ("approve", S.OPEN),
        ("reject", S.OPEN),
        ("close", S.SUBMITTED),
        ("cancel", S.CANCELLED),
        ("cancel", S.REJECTED),
        ("cancel", S.CLOSED),
        ("submit", S.CANCELLED),
    ],
)
def test_illegal_transitions_are_refused_and_change_nothing(w, step, state):
    req = new_request(w.staff_a, w.loc_a, submit=state is not S.DRAFT)
    if state is S.REJECTED:
        services.reject(w.coordinator_x, req, "Geen tekort volgens ROAZ")
    elif state in (S.OPEN, S.CLOSED):
        services.approve(w.coordinator_x, req)
        if state is S.CLOSED:
            services.close(w.staff_a, req)
    elif state is S.CANCELLED:
        services.cancel(w.staff_a, req, "Niet meer nodig")
    db.session.commit()
    events = len(req.events)
    actions = {
        "approve": lambda: services.approve(w.coordinator_x, req),
        "reject": lambda: services.reject(w.coordinator_x, req, "Een goede reden"),
        "submit": lambda: services.submit_request(w.staff_a, req),
        "close": lambda: services.close(w.staff_a, req),
        "cancel": lambda: services.cancel(w.staff_a, req, "Nog een keer"),
    }
    with pytest.raises(services.IllegalTransition):
        actions[step]()
    db.session.rollback()
    db.session.refresh(req)
    assert req.status == state.value and len(req.events) == events


def test_a_rejection_needs_a_reason_which_the_institution_reads(w):
    req = new_request(w.staff_a, w.loc_a)
    with pytest.raises(services.RequestError):
        services.reject(w.coordinator_x, req, "  ")
    assert req.status == S.SUBMITTED.value
    services.reject(w.coordinator_x, req, "Capaciteit elders in de regio beschikbaar")
    assert req.status == S.REJECTED.value and req.reason == "Capaciteit elders in de regio beschikbaar"
    assert req.events[-1].reason == req.reason and req.events[-1].actor_id == w.coordinator_x.id


def test_only_the_regions_coordinator_or_a_national_one_decides(w):
    req = new_request(w.staff_a, w.loc_a)
    for outsider in (w.coordinator_y, w.admin, w.staff_a, w.staff_b):
        assert not services.can_decide(outsider, req)
        with pytest.raises(PermissionError):
            services.approve(outsider, req)
    assert req.status == S.SUBMITTED.value
    assert services.can_decide(w.coordinator_x, req)
    services.approve(w.national, req)
    assert req.status == S.OPEN.value


def test_the_region_of_a_request_is_its_locations_region(w):
    """A hospital in region X with a site in region Y: Y's coordinator decides on that site's requests."""
    from tests.deployments_support import location_for

    site_y = location_for(w.inst_a, "6229", name="Locatie Maastricht")
    req = new_request(w.staff_a, site_y)
    assert req.region_id == w.region_y.id
    assert not services.can_decide(w.coordinator_x, req)
    services.approve(w.coordinator_y, req)
    assert req.status == S.OPEN.value


def test_submitting_under_an_automatic_phase_approves_and_opens_at_once(w):
    surge.declare(w.coordinator_x, region_id=w.region_x.id, phase_code="2C", reason="IC-capaciteit vol")
    req = new_request(w.staff_a, w.loc_a)
    other = new_request(w.staff_b, w.loc_b)  # region Y stays in phase 0
    assert req.status == S.OPEN.value
    assert (req.decision_mode, req.decided_in_phase, req.decided_by_id) == ("automatic", "2C", None)
    approve_event = next(e for e in req.events if e.action == "approve")
    assert approve_event.actor_id is None and approve_event.actor_role is None
    assert other.status == S.SUBMITTED.value
    assert [j.args for j in jobs("deployments.request_opened")] == [{"request_id": req.id}]
    system = db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "deployment_request.approve", AuditEvent.subject_id == str(req.id)
        )
    )
    assert system.actor_id is None and system.actor_role == "system"


def test_a_national_phase_applies_in_every_region(w):
    surge.declare(w.national, region_id=None, phase_code="2D", reason="Minister kondigt 2D af")
    req = new_request(w.staff_b, w.loc_b)
    assert req.status == S.OPEN.value and req.decided_in_phase == "2D"


def test_waiting_requests_go_through_when_the_phase_rises_to_automatic_approval(w):
    waiting = new_request(w.staff_a, w.loc_a)
    elsewhere = new_request(w.staff_b, w.loc_b)
    surge.declare(w.coordinator_x, region_id=w.region_x.id, phase_code="1", reason="Regionale opschaling")
    assert waiting.status == S.SUBMITTED.value  # phase 1 still needs a coordinator
    surge.declare(w.coordinator_x, region_id=w.region_x.id, phase_code="2C", reason="Alleen kritieke zorg")
    assert waiting.status == S.OPEN.value and waiting.decided_in_phase == "2C"
    assert elsewhere.status == S.SUBMITTED.value


def test_waiting_requests_go_through_when_the_policy_of_their_phase_becomes_automatic(w):
    from zorgreserve.reference.models import SurgePhase

    waiting = new_request(w.staff_a, w.loc_a)
    phase0 = db.session.get(SurgePhase, "0")
    surge.update_policy(
        w.national,
        phase0,
        request_approval="automatic",
        deployment_approval=phase0.deployment_approval,
        reach=phase0.reach,
        offer_expiry_minutes=phase0.offer_expiry_minutes,
        description=phase0.description,
    )
    assert waiting.status == S.OPEN.value and waiting.decision_mode == "automatic"


def test_the_same_form_twice_creates_one_request(w):
    key = uuid.uuid4().hex
    first, created = services.create_request(
        w.staff_a, details_for(w.loc_a), day_pattern(), idempotency_key=key, submit=True
    )
    again, created_again = services.create_request(
        w.staff_a, details_for(w.loc_a), day_pattern(), idempotency_key=key, submit=True
    )
    db.session.commit()
    assert created and not created_again and again.id == first.id
    assert request_count() == 1


def test_two_racing_submissions_with_one_key_end_in_one_request(w, monkeypatch):
    """The second submission does not see the first (it has not committed yet): the unique
    constraint refuses its insert and it answers with the first request."""
    key = uuid.uuid4().hex
    first = new_request(w.staff_a, w.loc_a, key=key)
    real_lookup = services.find_by_idempotency_key
    lookups: list[str] = []

    def lookup(user, k):
        lookups.append(k)
        return None if len(lookups) == 1 else real_lookup(user, k)

    monkeypatch.setattr(services, "find_by_idempotency_key", lookup)
    again, created = services.create_request(
        w.staff_a, details_for(w.loc_a), day_pattern(), idempotency_key=key, submit=True
    )
    db.session.commit()
    assert not created and again.id == first.id and len(lookups) == 2
    assert request_count() == 1


def test_another_users_same_key_is_another_request(w):
    key = uuid.uuid4().hex
    new_request(w.staff_a, w.loc_a, key=key)
    new_request(w.staff_b, w.loc_b, key=key)
    assert request_count() == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"location": "foreign"}, "location_id"),
        ({"location": "inactive"}, "location_id"),
        ({"contact_phone": "12345"}, "contact_phone"),
        ({"qualification_id": 0}, "qualification_id"),
        ({"skill_ids": [0]}, "skill_ids"),
        ({"urgency": "panic"}, "urgency"),
        ({"pattern_places": 0}, "places"),
        ({"pattern_places": 500}, "places"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_saved(w, change, field):
    location = w.loc_a
    if change.get("location") == "foreign":
        location = w.loc_b
    elif change.get("location") == "inactive":
        w.loc_a.active = False
    overrides = {k: v for k, v in change.items() if k not in ("location", "pattern_places")}
    pattern = day_pattern(places=change.get("pattern_places", 3))
    with pytest.raises(services.RequestError) as info:
        services.create_request(
            w.staff_a,
            details_for(location, **overrides),
            pattern,
            idempotency_key=uuid.uuid4().hex,
            submit=True,
        )
    assert info.value.field == field and str(info.value.message)
    db.session.rollback()
    assert request_count() == 0


def test_a_submitted_request_can_be_changed_until_the_decision(w):
    from tests.deployments_support import location_for

    req = new_request(w.staff_a, w.loc_a)
    annex = location_for(w.inst_a, "3511", name="Annex")
    services.update_request(
        w.staff_a,
        req,
        details_for(annex, department="Cohort-afdeling", urgency="critical"),
        version=req.version,
    )
    assert (req.department, req.location_id, req.urgency) == ("Cohort-afdeling", annex.id, "critical")
    assert services.set_headcount(w.staff_a, req, 2) == 14  # down is fine before the decision
    with pytest.raises(services.RequestError):  # a form made before this change
        services.update_request(w.staff_a, req, details_for(annex), version=req.version - 1)
    services.approve(w.coordinator_x, req)
    with pytest.raises(services.IllegalTransition):
        services.update_request(w.staff_a, req, details_for(w.loc_a), version=req.version)
    assert req.department == "Cohort-afdeling"


def test_after_approval_the_headcount_only_goes_up(w):
    req = new_request(w.staff_a, w.loc_a)
    services.approve(w.coordinator_x, req)
    with pytest.raises(services.RequestError, match="only go up"):
        services.set_headcount(w.staff_a, req, 2)
    assert {s.places for s in req.shifts} == {3}
    assert services.set_headcount(w.staff_a, req, 5) == 14
    assert services.set_headcount(w.staff_a, req, 5) == 0  # the same form again changes nothing
    assert {s.places for s in req.shifts} == {5}
    assert [j.args["change"] for j in jobs("deployments.request_changed")] == ["headcount"]


def test_shifts_added_after_approval_and_duplicates_refused(w):
    req = new_request(w.staff_a, w.loc_a)
    services.approve(w.coordinator_x, req)
    with pytest.raises(services.RequestError, match="already has the shift"):
        services.add_shifts(w.staff_a, req, day_pattern(days=16))
    later = day_pattern(req.shifts[-1].start_at.date() + timedelta(days=1), days=2, places=4)
    added = services.add_shifts(w.staff_a, req, later)
    assert len(added) == 2 and len(req.active_shifts) == 16
    with pytest.raises(services.RequestError):  # the same "add" sent twice
        services.add_shifts(w.staff_a, req, later)
    victim = req.active_shifts[0]
    with pytest.raises(services.RequestError, match="reason"):
        services.cancel_shift(w.staff_a, req, victim, "")
    services.cancel_shift(w.staff_a, req, victim, "Afdeling toch bezet")
    with pytest.raises(services.RequestError, match="already"):
        services.cancel_shift(w.staff_a, req, victim, "Nogmaals")
    assert victim.state == "cancelled" and victim.cancel_reason == "Afdeling toch bezet"
    assert len(req.active_shifts) == 15
    assert [j.args["change"] for j in jobs("deployments.request_changed")] == [
        "shifts_added",
        "shift_cancelled",
    ]


def test_the_last_shift_is_not_cancelled_alone(w):
    req = new_request(w.staff_a, w.loc_a, pattern=day_pattern(repeat=Repeat.ONCE), submit=False)
    with pytest.raises(services.RequestError, match="last shift"):
        services.cancel_shift(w.staff_a, req, req.shifts[0], None)


def test_cancelling_a_request_cancels_its_shifts_ahead(w):
    req = new_request(w.staff_a, w.loc_a)
    services.approve(w.coordinator_x, req)
    with pytest.raises(services.RequestError):
        services.cancel(w.staff_a, req, "")
    with pytest.raises(PermissionError):
        services.cancel(w.staff_b, req, "Niet van jou")
    services.cancel(w.coordinator_x, req, "Patiënten verplaatst naar regio Oost")
    assert req.status == S.CANCELLED.value and req.reason == "Patiënten verplaatst naar regio Oost"
    assert {s.state for s in req.shifts} == {"cancelled"}
    assert jobs("deployments.request_changed")[-1].args["change"] == "cancelled"


def test_the_fill_state_follows_the_booked_counters(w):
    req = new_request(w.staff_a, w.loc_a, pattern=day_pattern(days=2, places=2))
    services.approve(w.coordinator_x, req)
    first, second = req.shifts
    first.booked = 1
    services.refresh_fill_state(req)
    assert req.status == S.PARTIALLY_FILLED.value
    first.booked, second.booked = 2, 2
    services.refresh_fill_state(req)
    assert req.status == S.FILLED.value
    services.set_headcount(w.staff_a, req, 3)  # more people needed: no longer filled
    assert req.status == S.PARTIALLY_FILLED.value
    db.session.commit()
    with pytest.raises(IntegrityError):  # the database refuses more bookings than places
        db.session.execute(Shift.__table__.update().where(Shift.id == first.id).values(booked=4))
        db.session.flush()
    db.session.rollback()


def test_requests_whose_last_shift_ended_are_closed(w):
    req = new_request(w.staff_a, w.loc_a, pattern=day_pattern(days=2))
    services.approve(w.coordinator_x, req)
    running = new_request(w.staff_a, w.loc_a, pattern=day_pattern(days=2))
    services.approve(w.coordinator_x, running)
    for shift in req.shifts:
        shift.start_at -= timedelta(days=10)
        shift.end_at -= timedelta(days=10)
    db.session.flush()
    assert services.close_finished_requests() == 1
    assert services.close_finished_requests() == 0
    assert req.status == S.CLOSED.value and req.closed_at is not None
    assert running.status == S.OPEN.value


def test_a_request_with_every_shift_started_is_not_approved(w):
    req = new_request(w.staff_a, w.loc_a, pattern=day_pattern(days=1))
    req.shifts[0].start_at = utcnow() - timedelta(hours=1)
    with pytest.raises(services.RequestError, match="started already"):
        services.approve(w.coordinator_x, req)
    assert req.status == S.SUBMITTED.value


def test_coordinators_are_told_about_a_new_request_and_the_institution_about_the_decision(
    w, run_jobs, mail_outbox
):
    req = new_request(w.staff_a, w.loc_a)
    db.session.commit()
    run_jobs()  # the worker's session ends with it: read the request and the coordinator again
    assert [m.to for m in mail_outbox] == [[w.coordinator_x.email]]
    assert f"/requests/{req.id}" in mail_outbox[0].body
    req = db.session.get(DeploymentRequest, req.id)
    services.reject(db.session.get(User, w.coordinator_x.id), req, "Geen tekort in de regio")
    db.session.commit()
    run_jobs()
    assert mail_outbox[-1].to == [w.staff_a.email]
    assert "Geen tekort in de regio" in mail_outbox[-1].body


def test_nobody_is_asked_to_decide_on_a_request_approved_automatically(w, run_jobs, mail_outbox):
    surge.declare(w.national, region_id=None, phase_code="3", reason="Code zwart landelijk")
    new_request(w.staff_a, w.loc_a)
    db.session.commit()
    run_jobs()
    assert [m.to for m in mail_outbox] == [[w.staff_a.email]]
