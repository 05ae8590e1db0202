"""Reference data: what the shipped files load into, and the pages administrators change it on.

The session-wide ``app`` fixture has already run the loader on the test database,
so these tests see exactly what ``zorgreserve reference load`` produces.
"""

from __future__ import annotations

import csv
from collections import Counter

import pytest
from sqlalchemy import func, select

from zorgreserve import db
from zorgreserve.audit.models import AuditEvent
from zorgreserve.reference import services
from zorgreserve.reference.loader import DATA, load_all
from zorgreserve.reference.models import (
    Municipality,
    MunicipalityRegion,
    Postcode,
    Profession,
    Qualification,
    QualificationInclusion,
    Region,
    RegionNeighbour,
    Skill,
    SurgePhase,
)

ROAZ_REGIONS = {  # DOMAIN.md: historically 11, each around a trauma centre
    "Acute Zorgnetwerk Noord Nederland",
    "Netwerk Acute Zorg regio Zwolle",
    "Acute Zorg Euregio",
    "Acute Zorgregio Oost",
    "Netwerk Acute Zorg Midden-Nederland",
    "Netwerk Acute Zorg Noordwest",
    "SpoedZorgNet",
    "Netwerk Acute Zorg West",
    "ROAZ Zuidwest-Nederland",
    "Netwerk Acute Zorg Brabant",
    "Netwerk Acute Zorg Limburg",
}
REFERENCE_TABLES = (
    Region,
    RegionNeighbour,
    Municipality,
    MunicipalityRegion,
    Postcode,
    Profession,
    Qualification,
    QualificationInclusion,
    Skill,
    SurgePhase,
)


def csv_rows(name: str) -> list[dict[str, str]]:
    with open(DATA / name, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def row_counts() -> dict[str, int]:
    return {m.__tablename__: db.session.scalar(select(func.count()).select_from(m)) for m in REFERENCE_TABLES}


def by_code(model, code):
    return db.session.scalar(select(model).where(model.code == code))


def audit_events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# The loaded data -------------------------------------------------------------------


def test_every_pc4_maps_to_exactly_one_active_region(database):
    active = {r.id for r in services.active_regions()}
    regions_per_pc4 = dict(
        database.execute(
            select(Postcode.pc4, func.count(MunicipalityRegion.id))
            .outerjoin(
                MunicipalityRegion,
                (MunicipalityRegion.municipality_code == Postcode.municipality_code)
                & MunicipalityRegion.valid_to.is_(None)
                & MunicipalityRegion.region_id.in_(active),
            )
            .group_by(Postcode.pc4)
        ).all()
    )
    assert len(regions_per_pc4) == len(csv_rows("pc4.csv")) == 4086
    assert {pc4: n for pc4, n in regions_per_pc4.items() if n != 1} == {}


def test_every_municipality_has_exactly_one_open_region_row(database):
    codes = {row["municipality_code"] for row in csv_rows("municipalities.csv")}
    open_rows = Counter(
        database.scalars(
            select(MunicipalityRegion.municipality_code).where(MunicipalityRegion.valid_to.is_(None))
        )
    )
    assert len(codes) == 342
    assert set(open_rows) == codes
    assert {code: n for code, n in open_rows.items() if n != 1} == {}


def test_the_eleven_roaz_regions_exist_with_symmetric_neighbours(database):
    regions = services.active_regions()
    assert {r.name for r in regions} == ROAZ_REGIONS
    pairs = {(r.name, n.name) for r in regions for n in services.neighbours_of(r.id)}
    assert pairs == {(b, a) for a, b in pairs}
    expected = {(row["region_a"], row["region_b"]) for row in csv_rows("roaz_neighbours.csv")}
    assert pairs == expected | {(b, a) for a, b in expected}
    assert ("Netwerk Acute Zorg Limburg", "Netwerk Acute Zorg Brabant") in pairs
    assert ("Netwerk Acute Zorg Limburg", "Acute Zorgnetwerk Noord Nederland") not in pairs
    assert all(services.neighbours_of(r.id) for r in regions)


def test_loading_twice_changes_nothing(database):
    before = row_counts()
    load_all(database)
    database.flush()
    assert row_counts() == before
    load_all(database)
    database.flush()
    assert row_counts() == before
    assert before["postcode"] == 4086 and before["municipality"] == 342 and before["region"] == 11
    assert before["region_neighbour"] == len(csv_rows("roaz_neighbours.csv"))
    assert before["municipality_region"] == 342


def test_loading_again_keeps_administrators_corrections(database, ctx, cast):
    utrecht = by_code(Region, "netwerk-acute-zorg-midden-nederland")
    west = by_code(Region, "netwerk-acute-zorg-west")
    with ctx():
        services.move_municipality("GM0344", west.id, "Test correction", actor=cast.admin)
        services.update_qualification(
            by_code(Qualification, "verzorgende_ig"),
            name="Verzorgende-IG",
            has_expiry=True,
            active=False,
            actor=cast.admin,
        )
        services.update_skill(by_code(Skill, "ecmo"), name="ECMO-zorg", active=False, actor=cast.admin)
        database.commit()
    load_all(database)
    database.flush()
    assert services.region_for_postcode("3511").id == west.id != utrecht.id
    vig = by_code(Qualification, "verzorgende_ig")
    assert (vig.name, vig.has_expiry, vig.active) == ("Verzorgende-IG", True, False)
    ecmo = by_code(Skill, "ecmo")
    assert (ecmo.name, ecmo.active) == ("ECMO-zorg", False)


def test_qualifications_say_which_big_registration_and_evidence_they_need(database):
    ic = by_code(Qualification, "ic_verpleegkundige")
    assert ic.needs_big_registration and ic.profession.code == "verpleegkundige"
    assert "CZO" in ic.further_evidence
    assert [q.code for q in ic.includes] == ["verpleegkundige"]
    specialist = by_code(Qualification, "medisch_specialist")
    assert specialist.needs_big_registration and specialist.profession.code == "arts"
    assert [q.code for q in specialist.includes] == ["basisarts"]
    for code in ("verzorgende_ig", "anesthesiemedewerker", "ok_assistent", "doktersassistent"):
        qualification = by_code(Qualification, code)
        assert not qualification.needs_big_registration, code
        assert qualification.further_evidence, code
    assert by_code(Profession, "verzorgende_ig").big_article == "34"
    assert by_code(Profession, "physician_assistant").has_big_register


# Pages: reading -----------------------------------------------------------------------


def test_region_list_shows_counts_and_neighbours(client, login_as, cast):
    login_as(cast.national)
    page = client.get("/reference/").get_data(as_text=True)
    limburg_codes = {
        r["municipality_code"]
        for r in csv_rows("municipality_roaz.csv")
        if r["roaz_region"].endswith("Limburg")
    }
    limburg_pc4 = sum(1 for r in csv_rows("pc4.csv") if r["municipality_code"] in limburg_codes)
    assert f'data-testid="municipalities-netwerk-acute-zorg-limburg">{len(limburg_codes)}<' in page
    assert f'data-testid="postcodes-netwerk-acute-zorg-limburg">{limburg_pc4}<' in page
    for name in ROAZ_REGIONS:
        assert name in page


def test_region_detail_lists_municipalities_and_unknown_region_is_404(client, login_as, cast):
    login_as(cast.admin)
    region = cast.region_x
    page = client.get(f"/reference/regions/{region.id}").get_data(as_text=True)
    assert "Utrecht" in page and "Amersfoort" in page and "Maastricht" not in page
    assert client.get("/reference/regions/999999").status_code == 404
    assert client.get("/reference/qualifications/999999").status_code == 404
    assert client.get("/reference/skills/999999").status_code == 404


def test_national_coordinator_reads_but_sees_no_edit_links(client, login_as, cast):
    login_as(cast.national)
    skills = client.get("/reference/skills").get_data(as_text=True)
    assert "Triage" in skills and "/reference/skills/new" not in skills
    qualifications = client.get("/reference/qualifications").get_data(as_text=True)
    assert "IC-verpleegkundige" in qualifications and "CZO-diploma IC-verpleegkundige" in qualifications
    assert "/reference/qualifications/" not in qualifications
    phases = client.get("/reference/surge-phases").get_data(as_text=True)
    for code in ("0", "1", "2A", "2B", "2C", "2D", "3"):
        assert f'data-testid="phase-{code}"' in phases


# Pages: skills --------------------------------------------------------------------


def test_admin_edits_a_skill_and_it_is_audited(client, login_as, cast):
    login_as(cast.admin)
    triage = by_code(Skill, "triage")
    response = client.post(f"/reference/skills/{triage.id}", data={"name": "Triage (SEH)", "active": "y"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Skill, triage.id).name == "Triage (SEH)"
    [event] = audit_events("reference.skill_changed")
    assert event.actor_id == cast.admin.id and event.subject_id == str(triage.id)
    assert event.details["changed"]["name"] == ["Triage", "Triage (SEH)"]
    assert "Triage (SEH)" in client.get("/reference/skills").get_data(as_text=True)


def test_admin_adds_and_deactivates_a_skill_without_deleting_it(client, login_as, cast):
    login_as(cast.admin)
    response = client.post("/reference/skills/new", data={"code": "gipsen", "name": "Gipsen"})
    assert response.status_code == 302
    skill = by_code(Skill, "gipsen")
    assert skill.active and len(audit_events("reference.skill_added")) == 1
    client.post(f"/reference/skills/{skill.id}", data={"name": "Gipsen"})  # "active" unticked
    db.session.expire_all()
    skill = by_code(Skill, "gipsen")
    assert skill is not None and not skill.active
    assert "gipsen" not in {s.code for s in services.active_skills()}
    assert 'data-testid="skill-gipsen"' in client.get("/reference/skills").get_data(as_text=True)


@pytest.mark.parametrize(
    ("url", "data", "field", "message"),
    [
        ("edit:triage", {"name": "", "active": "y"}, "name", "Enter a name."),
        ("edit:triage", {"name": "   ", "active": "y"}, "name", "Enter a name."),
        ("edit:triage", {"name": "ecmo", "active": "y"}, "name", "Another skill already has this name."),
        (
            "new",
            {"code": "triage", "name": "Nieuwe triage"},
            "code",
            "A skill with this code already exists.",
        ),
        ("new", {"code": "TRIAGE", "name": "Nieuwe triage"}, "code", "lowercase letters"),
        ("new", {"code": "x y", "name": "Iets"}, "code", "lowercase letters"),
        ("new", {"code": "nieuw", "name": ""}, "name", "Enter a name."),
        ("new", {"code": "nieuw", "name": "Wondzorg"}, "name", "Another skill already has this name."),
    ],
)
def test_bad_skill_input_gives_a_translated_message_and_changes_nothing(
    app, client, login_as, cast, url, data, field, message
):
    cast.admin.locale = "en"
    db.session.commit()
    login_as(cast.admin)
    path = (
        f"/reference/skills/{by_code(Skill, url.split(':')[1]).id}"
        if url.startswith("edit:")
        else "/reference/skills/new"
    )
    before = {(s.code, s.name, s.active) for s in services.skills()}
    response = client.post(path, data=data)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f'id="{field}-error"' in page and message in page
    db.session.expire_all()
    assert {(s.code, s.name, s.active) for s in services.skills()} == before
    assert audit_events("reference.skill_changed") == audit_events("reference.skill_added") == []


def test_messages_come_from_the_catalogue(app, client, login_as, cast, monkeypatch):
    """The form's message goes through gettext: a translation for it is what the user reads."""
    from flask_babel import Domain

    monkeypatch.setattr(
        Domain,
        "gettext",
        lambda self, string, **variables: (
            "VERTAALD" if string == "Enter a name." else (string % variables if variables else string)
        ),
    )
    login_as(cast.admin)
    response = client.post("/reference/skills/new", data={"code": "nieuw", "name": ""})
    assert "VERTAALD" in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["reservist", "staff_a", "coordinator_x", "national"])
def test_only_administrators_can_post_changes(client, login_as, cast, role):
    login_as(getattr(cast, role))
    triage = by_code(Skill, "triage")
    ic = by_code(Qualification, "ic_verpleegkundige")
    utrecht = cast.region_x
    answers = [
        client.post(f"/reference/skills/{triage.id}", data={"name": "Gehackt", "active": "y"}),
        client.post("/reference/skills/new", data={"code": "gehackt", "name": "Gehackt"}),
        client.post(f"/reference/qualifications/{ic.id}", data={"name": "Gehackt", "active": "y"}),
        client.post(
            f"/reference/regions/{utrecht.id}/move",
            data={"municipality": "GM0344", "region_id": cast.region_y.id, "note": "x"},
        ),
    ]
    assert [a.status_code for a in answers] == [403] * 4
    db.session.expire_all()
    assert by_code(Skill, "triage").name == "Triage" and by_code(Skill, "gehackt") is None
    assert by_code(Qualification, "ic_verpleegkundige").name == "IC-verpleegkundige"
    assert services.region_for_postcode("3511").id == utrecht.id


def test_changes_without_a_csrf_token_are_refused(app, client, login_as, cast):
    login_as(cast.admin)
    triage = by_code(Skill, "triage")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post(f"/reference/skills/{triage.id}", data={"name": "Zonder token", "active": "y"})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 400
    db.session.expire_all()
    assert by_code(Skill, "triage").name == "Triage"


# Pages: qualifications ------------------------------------------------------------


def test_admin_edits_a_qualification_and_mass_assignment_is_ignored(client, login_as, cast):
    login_as(cast.admin)
    vig = by_code(Qualification, "verzorgende_ig")
    profession_id = vig.profession_id
    response = client.post(
        f"/reference/qualifications/{vig.id}",
        data={"name": "Verzorgende IG (niveau 3)", "has_expiry": "y", "code": "hacked", "profession_id": "1"},
    )
    assert response.status_code == 302
    db.session.expire_all()
    vig = db.session.get(Qualification, vig.id)
    assert (vig.name, vig.has_expiry, vig.active) == ("Verzorgende IG (niveau 3)", True, False)
    assert vig.code == "verzorgende_ig" and vig.profession_id == profession_id
    [event] = audit_events("reference.qualification_changed")
    assert set(event.details["changed"]) == {"name", "has_expiry", "active"}
    assert vig.id not in {q.id for q in services.active_qualifications()}


def test_qualification_name_must_be_unique_and_present(client, login_as, cast):
    cast.admin.locale = "en"
    db.session.commit()
    login_as(cast.admin)
    ic = by_code(Qualification, "ic_verpleegkundige")
    for name, message in (
        ("verpleegkundige", "Another qualification already has this name."),
        ("", "Enter a name."),
    ):
        response = client.post(f"/reference/qualifications/{ic.id}", data={"name": name, "active": "y"})
        assert response.status_code == 200 and message in response.get_data(as_text=True)
    db.session.expire_all()
    assert by_code(Qualification, "ic_verpleegkundige").name == "IC-verpleegkundige"
    assert audit_events("reference.qualification_changed") == []


# Pages: moving a municipality -----------------------------------------------------


def test_admin_moves_a_municipality_keeping_history(client, login_as, cast):
    login_as(cast.admin)
    utrecht, west = cast.region_x, by_code(Region, "netwerk-acute-zorg-west")
    response = client.post(
        f"/reference/regions/{utrecht.id}/move",
        data={"municipality": "GM0344", "region_id": west.id, "note": "Correction after LNAZ check"},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert services.region_for_postcode("3511").id == west.id
    rows = list(
        db.session.scalars(
            select(MunicipalityRegion)
            .where(MunicipalityRegion.municipality_code == "GM0344")
            .order_by(MunicipalityRegion.id)
        )
    )
    assert [(r.region_id, r.valid_to is None, r.derived) for r in rows] == [
        (utrecht.id, False, True),
        (west.id, True, False),
    ]
    assert rows[0].valid_to == rows[1].valid_from == services.today()
    [event] = audit_events("reference.municipality_moved")
    assert event.details["from_region_id"] == utrecht.id and event.details["to_region_id"] == west.id
    page = client.get(f"/reference/regions/{west.id}").get_data(as_text=True)
    assert "Correction after LNAZ check" in page


@pytest.mark.parametrize(
    "data",
    [
        {"municipality": "GM0935", "region_id": "REGION_Y", "note": "Maastricht is not in Utrecht"},
        {"municipality": "GM0344", "region_id": "REGION_X", "note": "same region"},
        {"municipality": "GM0344", "region_id": "abc", "note": "junk"},
        {"municipality": "", "region_id": "REGION_Y", "note": "nothing chosen"},
        {"municipality": "GM0344", "region_id": "", "note": "nothing chosen"},
        {"municipality": "GM0344", "region_id": "REGION_Y", "note": ""},
    ],
)
def test_bad_move_changes_nothing(client, login_as, cast, data):
    login_as(cast.admin)
    ids = {"REGION_X": str(cast.region_x.id), "REGION_Y": str(cast.region_y.id)}
    data = {k: ids.get(v, v) for k, v in data.items()}
    response = client.post(f"/reference/regions/{cast.region_x.id}/move", data=data)
    assert response.status_code == 200 and "field-error" in response.get_data(as_text=True)
    db.session.expire_all()
    assert services.region_for_postcode("3511").id == cast.region_x.id
    assert services.region_for_postcode("6211").id == cast.region_y.id
    assert audit_events("reference.municipality_moved") == []


# Pages: postcode lookup -----------------------------------------------------------


def test_postcode_lookup_finds_municipality_and_region(client, login_as, cast):
    login_as(cast.national)
    for asked in ("3511", "3511 AB", " 3511ab "):
        page = client.get("/reference/postcode", query_string={"pc4": asked}).get_data(as_text=True)
        assert "Utrecht (GM0344)" in page, asked
        assert "Netwerk Acute Zorg Midden-Nederland</a>" in page


@pytest.mark.parametrize(
    ("asked", "message"),
    [
        ("12", "Enter a Dutch postcode"),
        ("0000", "Enter a Dutch postcode"),
        ("35111", "Enter a Dutch postcode"),
        ("", "Enter a postcode."),
        ("1000", "Postcode area 1000 is not known."),
    ],
)
def test_postcode_lookup_rejects_invalid_and_unknown_postcodes(client, login_as, cast, asked, message):
    cast.admin.locale = "en"
    db.session.commit()
    login_as(cast.admin)
    response = client.get("/reference/postcode", query_string={"pc4": asked})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="pc4-error"' in page and message in page
    assert 'data-testid="lookup-region"' not in page


def test_postcode_page_without_a_question_shows_just_the_form(client, login_as, cast):
    login_as(cast.admin)
    page = client.get("/reference/postcode").get_data(as_text=True)
    assert 'name="pc4"' in page and "field-error" not in page
