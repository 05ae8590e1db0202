"""Institutions and their locations: region and coordinates from the postcode, the institution
page with its staff, and institutions of others (404)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.deployments_support import english, world_fixture  # noqa: F401
from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.institutions import services
from zorgreserve.institutions.models import Institution, InstitutionLocation


def locations_of(institution_id: int) -> list[InstitutionLocation]:
    return list(
        db.session.scalars(
            select(InstitutionLocation)
            .where(InstitutionLocation.institution_id == institution_id)
            .order_by(InstitutionLocation.id)
            .execution_options(populate_existing=True)
        )
    )


LOCATION = {
    "name": "Locatie Noord",
    "street_address": "Heidelberglaan 100",
    "postcode": "3584cx",
    "city": "Utrecht",
}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("3584CX", ("3584 CX", "3584")), (" 3584 cx ", ("3584 CX", "3584")), ("6229", ("6229", "6229"))],
)
def test_postcodes_are_read_as_people_write_them(raw, expected):
    assert services.parse_postcode(raw) == expected


@pytest.mark.parametrize("raw", ["", "0123 AB", "358 CX", "3584 C", "3584 SS", "3584-CX", "35840"])
def test_postcodes_that_do_not_exist_in_the_netherlands_are_refused(raw):
    with pytest.raises(services.LocationError):
        services.parse_postcode(raw)


def test_staff_add_a_location_and_its_region_and_coordinates_follow_from_the_postcode(
    world, client, login_as
):
    login_as(world.staff_a)
    response = client.post(f"/institutions/{world.inst_a.id}/locations/new", data=LOCATION)
    assert response.status_code == 302
    location = locations_of(world.inst_a.id)[-1]
    assert (location.postcode, location.pc4, location.city) == ("3584 CX", "3584", "Utrecht")
    assert location.region_id == world.region_x.id
    assert (round(location.latitude, 2), round(location.longitude, 2)) == (52.08, 5.17)
    page = client.get(f"/institutions/{world.inst_a.id}").text
    assert "Locatie Noord" in page and "Heidelberglaan 100, 3584 CX Utrecht" in page


def test_a_location_in_another_region_belongs_to_that_region(world, client, login_as):
    login_as(world.coordinator_x)
    data = LOCATION | {"name": "Locatie Maastricht", "postcode": "6229 HX", "city": "Maastricht"}
    assert client.post(f"/institutions/{world.inst_a.id}/locations/new", data=data).status_code == 302
    assert locations_of(world.inst_a.id)[-1].region_id == world.region_y.id


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"postcode": "1000 AA"}, "This postcode is not known."),
        ({"postcode": "12"}, "Enter a Dutch postcode"),
        ({"name": "Hoofdlocatie"}, "already has a location with this name"),
        ({"city": ""}, "This field is required."),
    ],
)
def test_a_bad_location_gets_a_message_and_saves_nothing(world, client, login_as, change, message):
    login_as(world.staff_a)
    before = len(locations_of(world.inst_a.id))
    response = client.post(f"/institutions/{world.inst_a.id}/locations/new", data=LOCATION | change)
    assert response.status_code == 400
    assert message in response.text
    assert len(locations_of(world.inst_a.id)) == before


def test_a_location_no_longer_in_use_is_not_offered_for_new_requests(world, client, login_as):
    login_as(world.staff_a)
    url = f"/institutions/{world.inst_a.id}/locations/{world.loc_a.id}/edit"
    data = LOCATION | {"name": "Hoofdlocatie", "active": ""}
    assert client.post(url, data=data).status_code == 302
    assert locations_of(world.inst_a.id)[0].active is False
    assert "has no location yet" in client.get("/requests/new").text


def test_others_get_404_for_an_institution_and_its_locations(world, client, login_as):
    before = db.session.scalar(select(func.count(InstitutionLocation.id)))
    for outsider in (world.staff_b, world.coordinator_y):
        login_as(outsider)
        assert client.get(f"/institutions/{world.inst_a.id}").status_code == 404
        assert client.post(f"/institutions/{world.inst_a.id}/locations/new", data=LOCATION).status_code == 404
        edit = f"/institutions/{world.inst_a.id}/locations/{world.loc_a.id}/edit"
        assert client.post(edit, data=LOCATION | {"name": "Gekaapt"}).status_code == 404
    # A location id under the wrong institution is not found either.
    login_as(world.staff_a)
    assert client.get(f"/institutions/{world.inst_a.id}/locations/{world.loc_b.id}/edit").status_code == 404
    assert db.session.scalar(select(func.count(InstitutionLocation.id))) == before
    assert locations_of(world.inst_a.id)[0].name == "Hoofdlocatie"


def test_the_institution_page_shows_its_staff_and_to_managers_its_open_invitations(
    world, ctx, client, login_as
):
    with english(ctx):
        from zorgreserve.accounts import services as accounts
        from zorgreserve.accounts.roles import Role

        inviter = db.session.get(User, world.coordinator_x.id)
        accounts.create_invitation(
            inviter,
            email="nieuw@example.org",
            role=Role.INSTITUTION_STAFF,
            institution_id=world.inst_a.id,
            region_id=None,
        )
        db.session.commit()
    login_as(world.coordinator_x)
    page = client.get(f"/institutions/{world.inst_a.id}").text
    assert world.staff_a.full_name in page and world.staff_b.full_name not in page
    assert "nieuw@example.org" in page
    login_as(world.staff_a)
    own = client.get("/institutions/mine", follow_redirects=True).text
    assert world.staff_a.full_name in own and "nieuw@example.org" not in own
    assert "Edit institution" not in own


def test_a_regional_coordinator_edits_an_institution_but_keeps_it_in_the_region(world, client, login_as):
    login_as(world.coordinator_x)
    url = f"/institutions/{world.inst_a.id}/edit"
    data = {
        "name": "Ziekenhuis A Utrecht",
        "kind": "hospital",
        "region_id": str(world.region_x.id),
        "postcode": "3584",
    }
    assert client.post(url, data=data).status_code == 302
    moved = client.post(url, data=data | {"region_id": str(world.region_y.id)})
    assert moved.status_code == 200 and "Not a valid choice" in moved.text
    institution = db.session.get(Institution, world.inst_a.id, populate_existing=True)
    assert (institution.name, institution.region_id) == ("Ziekenhuis A Utrecht", world.region_x.id)


def test_creating_an_institution_leads_to_its_page(world, client, login_as):
    login_as(world.national)
    data = {"name": "GGD Regio Utrecht", "kind": "ggd", "region_id": str(world.region_x.id), "postcode": ""}
    response = client.post("/institutions/new", data=data)
    institution = db.session.scalar(select(Institution).where(Institution.name == "GGD Regio Utrecht"))
    assert response.headers["Location"].endswith(f"/institutions/{institution.id}")
    assert "No locations yet" in client.get(response.headers["Location"]).text
