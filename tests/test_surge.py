"""Surge phases: declaring per region and nationally, the effective phase, the history, and
national coordinators editing phase policy."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.deployments_support import in_english_fixture, world_fixture  # noqa: F401
from zorgreserve import db
from zorgreserve.audit.models import AuditEvent
from zorgreserve.reference.models import SurgePhase
from zorgreserve.surge import services
from zorgreserve.surge.models import PhaseDeclaration


def policy(phase: SurgePhase, **changes) -> dict:
    values = {
        "request_approval": phase.request_approval,
        "deployment_approval": phase.deployment_approval,
        "reach": phase.reach,
        "offer_expiry_minutes": phase.offer_expiry_minutes,
        "description": phase.description,
    }
    return values | changes


# Services ----------------------------------------------------------------------------------


def test_without_declarations_every_region_is_in_phase_0(w):
    effective = services.effective_phase(w.region_x.id)
    assert (effective.phase.code, effective.regional.code, effective.national.code) == ("0", "0", "0")
    assert not effective.automatic_request_approval


def test_the_higher_of_regional_and_national_phase_applies(w):
    services.declare(w.coordinator_x, region_id=w.region_x.id, phase_code="2B", reason="Drie IC's vol")
    services.declare(w.national, region_id=None, phase_code="1", reason="Landelijke opschaling begint")
    x, y = services.effective_phase(w.region_x.id), services.effective_phase(w.region_y.id)
    assert (x.phase.code, x.source) == ("2B", "region")
    assert (y.phase.code, y.source) == ("1", "national")
    services.declare(w.national, region_id=None, phase_code="2D", reason="Minister kondigt 2D af")
    x = services.effective_phase(w.region_x.id)
    assert (x.phase.code, x.regional.code, x.source) == ("2D", "2B", "national")
    assert x.automatic_request_approval and x.reach == "national"
    assert x.offer_expiry_minutes == db.session.get(SurgePhase, "2D").offer_expiry_minutes


def test_raising_and_lowering_keeps_the_history_newest_first(w):
    services.declare(w.coordinator_x, region_id=w.region_x.id, phase_code="1", reason="Griepgolf begint")
    services.declare(
        w.coordinator_x, region_id=w.region_x.id, phase_code="2A", reason="OK-capaciteit halveert"
    )
    services.declare(w.national, region_id=w.region_x.id, phase_code="1", reason="Druk neemt af")
    history = services.history(w.region_x.id)
    assert [(d.phase_code, d.previous_phase_code) for d in history] == [("1", "2A"), ("2A", "1"), ("1", "0")]
    assert [d.declared_by_id for d in history] == [w.national.id, w.coordinator_x.id, w.coordinator_x.id]
    assert history[0].reason == "Druk neemt af"
    assert services.current_phase(w.region_x.id).code == "1"
    assert services.history(w.region_y.id) == []
    audited = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "surge.phase_declared")).all()
    assert len(audited) == 3 and audited[-1].details["phase"] == "1"


@pytest.mark.parametrize(
    ("who", "region", "phase", "reason", "error"),
    [
        ("coordinator_x", "y", "1", "Niet mijn regio", PermissionError),
        ("coordinator_x", None, "1", "Landelijk mag niet", PermissionError),
        ("admin", "x", "1", "Beheerder beslist niet", PermissionError),
        ("staff_a", "x", "1", "Ziekenhuis beslist niet", PermissionError),
        ("coordinator_x", "x", "2D", "Alleen landelijk", services.SurgeError),
        ("national", "x", "3", "Alleen landelijk", services.SurgeError),
        ("coordinator_x", "x", "0", "Al in fase 0", services.SurgeError),
        ("coordinator_x", "x", "9", "Bestaat niet", services.SurgeError),
        ("coordinator_x", "x", "1", "  ", services.SurgeError),
    ],
)
def test_declarations_outside_scope_or_rules_are_refused(w, who, region, phase, reason, error):
    region_id = {"x": w.region_x.id, "y": w.region_y.id, None: None}[region]
    with pytest.raises(error):
        services.declare(getattr(w, who), region_id=region_id, phase_code=phase, reason=reason)
    assert db.session.scalars(select(PhaseDeclaration)).all() == []


def test_a_national_coordinator_changes_phase_policy_and_it_is_audited(w):
    phase = db.session.get(SurgePhase, "1")
    changed = services.update_policy(
        w.national, phase, **policy(phase, offer_expiry_minutes=45, reach="neighbours")
    )
    assert sorted(changed) == ["offer_expiry_minutes", "reach"]
    assert (phase.offer_expiry_minutes, phase.reach) == (45, "neighbours")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "surge.policy_changed"))
    assert event.details["before"] == {"reach": "own_region", "offer_expiry_minutes": 720}
    assert event.details["after"] == {"reach": "neighbours", "offer_expiry_minutes": 45}
    assert services.update_policy(w.national, phase, **policy(phase)) == []


@pytest.mark.parametrize(
    "change",
    [
        {"offer_expiry_minutes": 4},
        {"offer_expiry_minutes": 10081},
        {"reach": "europe"},
        {"request_approval": "sometimes"},
        {"deployment_approval": ""},
        {"description": ""},
    ],
)
def test_policy_outside_its_ranges_is_refused(w, change):
    phase = db.session.get(SurgePhase, "1")
    before = policy(phase)
    with pytest.raises(services.SurgeError):
        services.update_policy(w.national, phase, **policy(phase, **change))
    assert policy(phase) == before


def test_only_national_coordinators_change_policy(w):
    phase = db.session.get(SurgePhase, "1")
    for who in (w.coordinator_x, w.admin):
        with pytest.raises(PermissionError):
            services.update_policy(who, phase, **policy(phase, offer_expiry_minutes=30))
    assert phase.offer_expiry_minutes == 720


# Pages -------------------------------------------------------------------------------------


def test_a_regional_coordinator_raises_and_lowers_the_phase_and_sees_the_history(world, client, login_as):
    login_as(world.coordinator_x)
    form = client.get("/surge/declare")
    assert form.status_code == 200 and world.region_y.name not in form.text
    raised = client.post(
        "/surge/declare",
        data={
            "scope": str(world.region_x.id),
            "phase_code": "2A",
            "reason": "Drie ziekenhuizen zonder IC-bedden",
        },
    )
    assert raised.status_code == 302
    lowered = client.post(
        "/surge/declare",
        data={
            "scope": str(world.region_x.id),
            "phase_code": "1",
            "reason": "Patiënten gespreid, druk neemt af",
        },
        follow_redirects=True,
    )
    assert lowered.status_code == 200
    assert lowered.text.index("Patiënten gespreid") < lowered.text.index("Drie ziekenhuizen zonder IC-bedden")
    assert lowered.text.count('data-testid="declaration"') == 2
    assert world.coordinator_x.full_name in lowered.text
    overview = client.get("/surge/").text
    row = overview.split(f'data-region="{world.region_x.id}"')[1].split("</tr>")[0]
    assert 'data-testid="own-phase">1' in row and 'data-testid="effective-phase">1' in row


def test_a_regional_coordinator_cannot_declare_for_another_region_or_the_nation(world, client, login_as):
    login_as(world.coordinator_x)
    for scope in (str(world.region_y.id), "national"):
        response = client.post(
            "/surge/declare", data={"scope": scope, "phase_code": "1", "reason": "Niet mijn regio"}
        )
        assert response.status_code == 400 and "Not a valid choice" in response.text
    assert db.session.scalars(select(PhaseDeclaration)).all() == []


def test_the_form_explains_a_refused_declaration(world, client, login_as):
    login_as(world.national)
    regional_2d = client.post(
        "/surge/declare",
        data={"scope": str(world.region_x.id), "phase_code": "2D", "reason": "Te hoog voor regio"},
    )
    assert regional_2d.status_code == 400 and "only be declared nationally" in regional_2d.text
    no_reason = client.post("/surge/declare", data={"scope": "national", "phase_code": "1", "reason": ""})
    assert no_reason.status_code == 400
    same = client.post(
        "/surge/declare", data={"scope": "national", "phase_code": "0", "reason": "Niets verandert"}
    )
    assert same.status_code == 400 and "already in force" in same.text
    assert db.session.scalars(select(PhaseDeclaration)).all() == []
    ok = client.post(
        "/surge/declare", data={"scope": "national", "phase_code": "2D", "reason": "Minister: fase 2D"}
    )
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/surge/history?scope=national")
    overview = client.get("/surge/").text
    assert 'data-testid="effective-phase">2D' in overview


def test_the_national_coordinator_edits_policy_through_the_form(world, client, login_as):
    login_as(world.national)
    data = {
        "request_approval": "automatic",
        "deployment_approval": "manual",
        "reach": "national",
        "offer_expiry_minutes": "30",
        "description": "Regionale opschaling; LNAZ-tekst volgt.",
    }
    bad = client.post("/surge/phases/1/edit", data=data | {"offer_expiry_minutes": "2"})
    assert bad.status_code == 400 and "between 5 and 10080" in bad.text
    assert db.session.get(SurgePhase, "1", populate_existing=True).offer_expiry_minutes == 720
    assert client.post("/surge/phases/1/edit", data=data).status_code == 302
    phase = db.session.get(SurgePhase, "1", populate_existing=True)
    assert (phase.request_approval, phase.reach, phase.offer_expiry_minutes) == ("automatic", "national", 30)
    page = client.get("/surge/phases").text
    assert "30 min" in page and "Policy changes" in page
    assert client.get("/surge/phases/XX/edit").status_code == 404


def test_regional_coordinators_read_policy_but_cannot_edit_it(world, client, login_as):
    login_as(world.coordinator_x)
    page = client.get("/surge/phases")
    assert page.status_code == 200 and "/surge/phases/1/edit" not in page.text
    assert client.post("/surge/phases/1/edit", data={"offer_expiry_minutes": "30"}).status_code == 403
