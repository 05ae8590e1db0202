"""The reservist's own pages: overview, profile, skills, training and status."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests import reservists_support
from tests.factories import PASSWORD, UserFactory
from tests.reservists_support import (
    add_big,
    add_qualification,
    add_training,
    field_error,
    last_audit,
    record_of,
    skill_ids,
    snapshot,
)
from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.reference.models import Region
from zorgreserve.reference.services import today
from zorgreserve.reservists.models import Reservist, TrainingRecord

# The fixtures ``me``, ``other`` and ``evidence_dir``, shared by the test_reservists_* modules.
me_fixture = reservists_support.me_fixture
other_fixture = reservists_support.other_fixture
evidence_dir_fixture = reservists_support.evidence_dir_fixture


@pytest.fixture
def signed_in(client, login_as, me):
    login_as(db.session.get(User, me.user_id))
    return client


# Every page ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "heading"),
    [
        ("/me/", "My record"),
        ("/me/profile", "Edit profile"),
        ("/me/big", "BIG registration"),
        ("/me/qualifications", "Qualifications"),
        ("/me/qualifications/add", "Add a qualification"),
        ("/me/skills", "Skills"),
        ("/me/training", "Training"),
        ("/me/status", "Status"),
    ],
)
def test_every_page_opens_for_the_reservist_on_a_phone(signed_in, url, heading):
    page = signed_in.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f"<h1>{heading}</h1>" in html
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in html
    assert page.headers["Cache-Control"] == "no-store"


def test_pages_of_one_item_open_for_their_owner(signed_in, me, evidence_dir):
    big_id = add_big(me.id)
    held_id = add_qualification(me.id)
    training_id = add_training(me.id, course="BLS-cursus")
    assert "12345678901" in signed_in.get(f"/me/big/{big_id}").get_data(as_text=True)
    assert "<h1>Verpleegkundige</h1>" in signed_in.get(f"/me/qualifications/{held_id}").get_data(as_text=True)
    assert "BLS-cursus" in signed_in.get(f"/me/training/{training_id}").get_data(as_text=True)


# Overview ------------------------------------------------------------------------------


def test_overview_says_what_still_needs_doing(signed_in, me, evidence_dir):
    add_qualification(me.id, "ic_verpleegkundige")  # needs BIG verpleegkundige and a CZO diploma
    add_training(me.id, course="ALS-cursus", expires_on=today() + timedelta(days=20))
    html = signed_in.get("/me/").get_data(as_text=True)
    todo = html[html.index('data-testid="todo"') : html.index("</ul>", html.index('data-testid="todo"'))]
    assert "Add your BIG registration as Verpleegkundige: IC-verpleegkundige needs it." in todo
    assert "Upload your evidence for IC-verpleegkundige: CZO-diploma IC-verpleegkundige." in todo
    assert "ALS-cursus expires in 20 days" in todo
    waiting = html[html.index('data-testid="waiting"') :]
    assert "IC-verpleegkundige awaits verification." in waiting


def test_overview_shows_rejections_with_their_reason_and_expired_items(signed_in, me):
    add_big(me.id, verification="rejected", rejection_reason="Number not in the register")
    add_qualification(
        me.id, "verpleegkundige", verification="rejected", rejection_reason="Diploma unreadable"
    )
    add_training(me.id, course="BLS", completed_on=date(2020, 1, 1), expires_on=date(2022, 1, 1))
    html = signed_in.get("/me/").get_data(as_text=True)
    assert "Your BIG registration as Verpleegkundige was rejected: Number not in the register" in html
    assert "Verpleegkundige was rejected: Diploma unreadable" in html
    assert "BLS expired on" in html


def test_overview_of_a_complete_record_has_nothing_to_do(signed_in, me):
    add_big(me.id, verification="verified")
    add_qualification(me.id, "verpleegkundige", verification="verified")
    html = signed_in.get("/me/").get_data(as_text=True)
    assert 'data-testid="all-done"' in html
    assert 'data-testid="waiting"' not in html


# Profile -------------------------------------------------------------------------------


def profile_data(**changes: Any) -> dict[str, Any]:
    data = {
        "first_name": "Anna",
        "last_name": "de Vries",
        "email": "me@example.org",
        "current_password": "",
        "phone": "06 12345678",
        "pc4": "3511",
        "max_travel_km": "50",
        "max_hours_per_week": "",
        "channels": "both",
        "languages": ["nl"],
    }
    data.update(changes)
    return data


def region_id(name: str) -> int:
    return db.session.scalar(select(Region.id).where(Region.name == name))


def test_profile_saves_every_field(signed_in, me, cast):
    response = signed_in.post(
        "/me/profile",
        data=profile_data(
            first_name="Anna",
            last_name="Jansen",
            phone="06 23456789",
            pc4="6211 AB",
            max_travel_km="80",
            max_hours_per_week="24",
            channels="sms",
            languages=["en", "nl", "pl"],
            regions=[str(cast.region_x.id)],
        ),
    )
    assert response.status_code == 302
    db.session.expire_all()
    user = db.session.get(User, me.user_id)
    reservist = record_of(me.user_id)
    assert (user.first_name, user.last_name, user.phone) == ("Anna", "Jansen", "+31623456789")
    assert reservist.pc4 == "6211"  # only the four digits are kept
    assert reservist.home_region_id == cast.region_y.id  # Maastricht lies in Limburg
    assert [r.id for r in reservist.regions] == [cast.region_x.id]
    assert (reservist.max_travel_km, reservist.max_hours_per_week, reservist.channels) == (80, 24, "sms")
    assert reservist.languages == "nl,en,pl"
    event = last_audit("reservist.profile_changed")
    assert event is not None and "pc4" in event.details["fields"] and "Jansen" not in str(event.details)
    page = signed_in.get("/me/").get_data(as_text=True)
    assert "Dutch, English, Polish" in page and "Netwerk Acute Zorg Limburg" in page


def test_the_home_region_is_implied_not_stored_as_a_willing_region(signed_in, me, cast):
    page = signed_in.get("/me/profile").get_data(as_text=True)
    home = re.search(rf'<input[^>]*value="{cast.region_x.id}"[^>]*>', page).group(0)
    assert "checked" in home and "disabled" in home  # shown as included, cannot be unticked
    assert "Netwerk Acute Zorg Midden-Nederland (your home region)" in page
    # Moving to Limburg while ticking Limburg: Limburg becomes home, not a willing region.
    signed_in.post("/me/profile", data=profile_data(pc4="6211", regions=[str(cast.region_y.id)]))
    assert record_of(me.user_id).regions == []


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"first_name": ""}, "first_name", "This field is required."),
        ({"last_name": "   "}, "last_name", "This field is required."),
        ({"pc4": "35"}, "pc4", "A postcode has four digits, for example 3511."),
        ({"pc4": "0999"}, "pc4", "Postcode 0999 is not known."),
        ({"phone": "12345"}, "phone", "Enter a valid phone number, for example 06 12345678."),
        ({"phone": "030 123 4567"}, "phone", "Enter a mobile number: call-ups are sent by text message."),
        ({"phone": "", "channels": "sms"}, "phone", "Call-ups by text message need a mobile number."),
        ({"max_travel_km": "0"}, "max_travel_km", "Number must be between 1 and 300."),
        ({"max_travel_km": "301"}, "max_travel_km", "Number must be between 1 and 300."),
        ({"max_travel_km": "far"}, "max_travel_km", "Not a valid integer value."),
        ({"max_hours_per_week": "61"}, "max_hours_per_week", "Number must be between 1 and 60."),
        ({"languages": []}, "languages", "Choose at least one language."),
        ({"languages": ["xx"]}, "languages", "is not a valid choice"),
        ({"regions": ["999999"]}, "regions", "is not a valid choice"),
        ({"channels": "pigeon"}, "channels", "Not a valid choice."),
        ({"email": "not-an-address"}, "email", "Enter a valid e-mail address."),
    ],
)
def test_bad_profile_input_is_refused_with_a_message_and_changes_nothing(
    signed_in, me, changes, field, message
):
    before = snapshot(me.user_id)
    response = signed_in.post("/me/profile", data=profile_data(**{"last_name": "Changed", **changes}))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_error(html, field, message), html[html.find(f'id="{field}-error"') :][:300]
    assert snapshot(me.user_id) == before


def test_profile_ignores_fields_it_does_not_offer(signed_in, me, cast):
    signed_in.post(
        "/me/profile",
        data=profile_data(
            status="withdrawn",
            role="administrator",
            user_id=str(cast.admin.id),
            home_region_id=str(cast.region_y.id),
            verification="verified",
        ),
    )
    db.session.expire_all()
    user = db.session.get(User, me.user_id)
    reservist = record_of(me.user_id)
    assert user.role == "reservist"
    assert (reservist.status, reservist.home_region_id, reservist.user_id) == (
        "active",
        cast.region_x.id,
        me.user_id,
    )


def test_changing_the_email_needs_the_password_and_a_confirmation(signed_in, me, run_jobs, mail_outbox):
    before = snapshot(me.user_id)
    refused = signed_in.post("/me/profile", data=profile_data(email="new@example.org"))
    assert refused.status_code == 422
    assert field_error(
        refused.get_data(as_text=True),
        "current_password",
        "Enter your current password to change your e-mail address.",
    )
    wrong = signed_in.post(
        "/me/profile", data=profile_data(email="new@example.org", current_password="not my password")
    )
    assert wrong.status_code == 422
    assert snapshot(me.user_id) == before

    done = signed_in.post(
        "/me/profile", data=profile_data(email="New@Example.org", current_password=PASSWORD)
    )
    assert done.status_code == 302
    db.session.expire_all()
    user = db.session.get(User, me.user_id)
    assert user.email == "new@example.org" and user.email_verified_at is None
    run_jobs()
    assert [m.to for m in mail_outbox] == [["new@example.org"]]
    assert "Confirm your e-mail address" in signed_in.get("/me/").get_data(as_text=True)


def test_an_address_of_another_account_is_refused_without_saying_whose(signed_in, me, other):
    UserFactory(email="taken@example.org", first_name="Geheim", last_name="Persoon")
    db.session.commit()
    before = snapshot(me.user_id)
    response = signed_in.post(
        "/me/profile", data=profile_data(email="TAKEN@example.org", current_password=PASSWORD)
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_error(html, "email", "This e-mail address cannot be used. Choose another one.")
    assert "Geheim" not in html and "Persoon" not in html
    assert snapshot(me.user_id) == before


# Skills --------------------------------------------------------------------------------


def test_skills_are_ticked_and_unticked(signed_in, me):
    chosen = skill_ids("triage", "beademing")
    assert signed_in.post("/me/skills", data={"skills": [str(i) for i in chosen]}).status_code == 302
    assert sorted(s.id for s in record_of(me.user_id).skills) == sorted(chosen)
    page = signed_in.get("/me/skills").get_data(as_text=True)
    assert page.count("checked") == 2
    signed_in.post("/me/skills", data={})
    db.session.expire_all()
    assert record_of(me.user_id).skills == []
    assert last_audit("reservist.skills_changed").details["removed"] == sorted(chosen)


def test_an_unknown_skill_is_refused_and_nothing_changes(signed_in, me):
    signed_in.post("/me/skills", data={"skills": [str(skill_ids("triage")[0])]})
    before = snapshot(me.user_id)
    response = signed_in.post("/me/skills", data={"skills": [str(skill_ids("ecmo")[0]), "999999"]})
    assert response.status_code == 422
    assert "is not a valid choice" in response.get_data(as_text=True)
    assert snapshot(me.user_id) == before


# Training ------------------------------------------------------------------------------


def test_training_is_added_changed_and_removed(signed_in, me):
    response = signed_in.post(
        "/me/training",
        data={"course": "ALS-cursus", "completed_on": "2024-03-01", "expires_on": "2026-03-01"},
    )
    assert response.status_code == 302
    training = db.session.scalar(select(TrainingRecord).where(TrainingRecord.reservist_id == me.id))
    assert (training.course, training.completed_on, training.expires_on) == (
        "ALS-cursus",
        date(2024, 3, 1),
        date(2026, 3, 1),
    )
    training_id = training.id
    signed_in.post(
        f"/me/training/{training_id}", data={"course": "ALS-herhaling", "completed_on": "2025-03-01"}
    )
    db.session.expire_all()
    training = db.session.get(TrainingRecord, training_id)
    assert (training.course, training.completed_on, training.expires_on) == (
        "ALS-herhaling",
        date(2025, 3, 1),
        None,
    )
    assert signed_in.post(f"/me/training/{training_id}/remove").status_code == 302
    db.session.expire_all()
    assert db.session.get(TrainingRecord, training_id) is None
    assert last_audit("reservist.training_removed").details["training_id"] == training_id


TOMORROW = (date.today() + timedelta(days=2)).isoformat()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"course": "", "completed_on": "2024-03-01"}, "course", "This field is required."),
        ({"course": "   ", "completed_on": "2024-03-01"}, "course", "Enter the name of the course."),
        ({"course": "x" * 201, "completed_on": "2024-03-01"}, "course", "200"),
        ({"course": "ALS", "completed_on": ""}, "completed_on", "This field is required."),
        ({"course": "ALS", "completed_on": "1-3-2024"}, "completed_on", "Not a valid date value."),
        ({"course": "ALS", "completed_on": TOMORROW}, "completed_on", "This date is in the future."),
        (
            {"course": "ALS", "completed_on": "2024-03-01", "expires_on": "2024-03-01"},
            "expires_on",
            "The expiry date must be after the date of the course.",
        ),
        (
            {"course": "ALS", "completed_on": "2024-03-01", "expires_on": "2023-03-01"},
            "expires_on",
            "The expiry date must be after the date of the course.",
        ),
    ],
)
def test_bad_training_input_is_refused_when_adding_and_changing(signed_in, me, data, field, message):
    training_id = add_training(me.id)
    before = snapshot(me.user_id)
    for url in ("/me/training", f"/me/training/{training_id}"):
        response = signed_in.post(url, data=data)
        assert response.status_code == 422, url
        assert field_error(response.get_data(as_text=True), field, message), url
    assert snapshot(me.user_id) == before


# Status --------------------------------------------------------------------------------


def test_pause_leave_and_rejoin_are_recorded(signed_in, me):
    until = today() + timedelta(days=30)
    assert (
        signed_in.post("/me/status", data={"status": "paused", "paused_until": until.isoformat()}).status_code
        == 302
    )
    reservist = record_of(me.user_id)
    assert (reservist.status, reservist.paused_until) == ("paused", until)
    assert last_audit("reservist.status_changed").details == {
        "previous": "active",
        "status": "paused",
        "paused_until": until.isoformat(),
    }
    assert "no call-ups until then" in signed_in.get("/me/").get_data(as_text=True)

    reservist.standby_until = db.utcnow() + timedelta(hours=4)
    db.session.commit()
    signed_in.post("/me/status", data={"status": "withdrawn", "confirm_withdraw": "y"})
    db.session.expire_all()
    reservist = record_of(me.user_id)
    assert reservist.status == "withdrawn" and reservist.withdrawn_at is not None
    assert reservist.paused_until is None and reservist.standby_until is None
    assert "You have left the reserve" in signed_in.get("/me/").get_data(as_text=True)

    signed_in.post("/me/status", data={"status": "active"})
    db.session.expire_all()
    reservist = record_of(me.user_id)
    assert (reservist.status, reservist.withdrawn_at) == ("active", None)
    assert last_audit("reservist.status_changed").details["previous"] == "withdrawn"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"status": "paused"}, "paused_until", "Enter the date until which you pause."),
        (
            {"status": "paused", "paused_until": date.today().isoformat()},
            "paused_until",
            "Choose a date after today.",
        ),
        ({"status": "paused", "paused_until": "2020-01-01"}, "paused_until", "Choose a date after today."),
        (
            {"status": "paused", "paused_until": (date.today() + timedelta(days=400)).isoformat()},
            "paused_until",
            "You can pause for at most a year.",
        ),
        ({"status": "paused", "paused_until": "soon"}, "paused_until", "Not a valid date value."),
        ({"status": "withdrawn"}, "confirm_withdraw", "Confirm that you want to leave the reserve."),
        ({"status": "gone"}, "status", "Not a valid choice."),
        ({}, "status", "This field is required."),
    ],
)
def test_bad_status_input_is_refused_and_nothing_changes(signed_in, me, data, field, message):
    before = snapshot(me.user_id)
    response = signed_in.post("/me/status", data=data)
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), field, message)
    assert snapshot(me.user_id) == before


# Other people's ids --------------------------------------------------------------------


def test_another_reservists_training_answers_404_and_stays(signed_in, me, other):
    theirs = add_training(other.id, course="Hun cursus")
    before = snapshot(other.user_id)
    assert signed_in.get(f"/me/training/{theirs}").status_code == 404
    data = {"course": "Overgenomen", "completed_on": "2024-01-01"}
    assert signed_in.post(f"/me/training/{theirs}", data=data).status_code == 404
    assert signed_in.post(f"/me/training/{theirs}/remove").status_code == 404
    assert snapshot(other.user_id) == before


def test_a_reservist_without_a_record_gets_one_on_first_save(client, login_as, cast):
    user = UserFactory(email="fresh@example.org", locale="en")
    db.session.commit()
    login_as(user)
    assert client.get("/me/").status_code == 200
    response = client.post(
        "/me/profile",
        data=profile_data(email="fresh@example.org", first_name=user.first_name, last_name=user.last_name),
    )
    assert response.status_code == 302
    assert db.session.scalar(select(Reservist.pc4).where(Reservist.user_id == user.id)) == "3511"
