"""Coordinators and administrators invite staff and coordinators, within their own scope."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from zorgreserve import db
from zorgreserve.accounts.models import Invitation, User


def invitations() -> int:
    return db.session.scalar(select(func.count(Invitation.id)))


def test_regional_coordinator_invites_staff_of_own_region_who_accept_once(
    app, client, login_as, cast, run_jobs, mail_outbox
):
    login_as(cast.coordinator_x)
    response = client.post(
        "/invitations/new",
        data={
            "email": "New.Nurse@Example.org",
            "role": "institution_staff",
            "institution_id": cast.inst_a.id,
        },
    )
    assert response.status_code == 302
    run_jobs()
    assert [m.to for m in mail_outbox] == [["new.nurse@example.org"]]
    path = re.search(r"http://zorgreserve\.test(/\S+)", mail_outbox[0].body).group(1)
    assert "new.nurse" not in path  # no personal data in URLs

    visitor = app.test_client()
    page = visitor.get(path)
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "no-referrer"
    password = "blauwe-fiets-op-dijk-3"
    done = visitor.post(
        path,
        data={
            "first_name": "Nina",
            "last_name": "Nieuw",
            "password": password,
            "password_confirm": password,
            "role": "administrator",
            "institution_id": cast.inst_b.id,
        },
    )
    assert done.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "new.nurse@example.org"))
    assert user.role == "institution_staff"  # not what the form tried to set
    assert user.institution_id == cast.inst_a.id
    assert user.email_verified_at is not None
    assert visitor.get(path).status_code == 404  # single use


def test_regional_coordinator_cannot_invite_outside_region_or_into_higher_roles(client, login_as, cast):
    login_as(cast.coordinator_x)
    before = invitations()
    foreign = client.post(
        "/invitations/new",
        data={"email": "x@example.org", "role": "institution_staff", "institution_id": cast.inst_b.id},
    )
    assert foreign.status_code == 200 and b'id="institution_id-error"' in foreign.data
    higher = client.post("/invitations/new", data={"email": "x@example.org", "role": "administrator"})
    assert higher.status_code == 200 and b'id="role-error"' in higher.data
    other_region = client.post(
        "/invitations/new",
        data={"email": "x@example.org", "role": "regional_coordinator", "region_id": cast.region_y.id},
    )
    assert other_region.status_code == 200 and b'id="region_id-error"' in other_region.data
    assert invitations() == before


def test_staff_invitation_needs_an_institution(client, login_as, cast):
    login_as(cast.national)
    response = client.post("/invitations/new", data={"email": "x@example.org", "role": "institution_staff"})
    assert b'id="institution_id-error"' in response.data
    assert invitations() == 0


def test_administrator_invites_a_national_coordinator(client, login_as, cast, run_jobs, mail_outbox):
    login_as(cast.admin)
    response = client.post(
        "/invitations/new", data={"email": "lcps@example.org", "role": "national_coordinator"}
    )
    assert response.status_code == 302
    invitation = db.session.scalar(select(Invitation))
    assert invitation.role == "national_coordinator" and invitation.region_id is None
    run_jobs()
    assert mail_outbox[0].to == ["lcps@example.org"]
