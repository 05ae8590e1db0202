"""Coordinators and administrators cannot sign in without their second factor."""

from __future__ import annotations

import re

import pyotp
import pytest

from tests.factories import PASSWORD, UserFactory
from zorgreserve import db
from zorgreserve.accounts.models import User


def sign_in(client, email):
    return client.post("/login", data={"email": email, "password": PASSWORD})


@pytest.mark.parametrize("role", ["regional_coordinator", "national_coordinator", "administrator"])
def test_staff_with_second_factor_role_must_enrol_before_anything_else(client, cast, role):
    email = {
        "regional_coordinator": "coord-x@example.org",
        "national_coordinator": "national@example.org",
        "administrator": "admin@example.org",
    }[role]
    response = sign_in(client, email)
    assert response.headers["Location"] == "/login/second-factor/setup"
    # The password alone opens nothing.
    assert client.get("/dashboard").status_code == 302
    assert client.get("/dashboard").headers["Location"].startswith("/login")

    page = client.get("/login/second-factor/setup").get_data(as_text=True)
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page).group(1)
    assert "data:image/svg+xml;base64," in page
    wrong = client.post("/login/second-factor/setup", data={"code": "000000"})
    assert b'id="code-error"' in wrong.data
    done = client.post("/login/second-factor/setup", data={"code": pyotp.TOTP(secret).now()})
    codes = re.findall(r"<li><code>([0-9a-f]{6}-[0-9a-f]{6})</code></li>", done.get_data(as_text=True))
    assert len(codes) == 10
    assert client.get("/dashboard").status_code == 200


def enrolled(email: str, role: str, **kw) -> tuple[User, str]:
    from flask import current_app

    from zorgreserve.accounts import crypto
    from zorgreserve.db import utcnow

    secret = pyotp.random_base32()
    with current_app.test_request_context():
        encrypted = crypto.encrypt(secret)
    user = UserFactory(
        email=email, role=role, totp_secret_encrypted=encrypted, totp_enabled_at=utcnow(), **kw
    )
    return user, secret


def test_totp_code_cannot_be_replayed(app, client, database):
    with app.app_context():
        _user, secret = enrolled("nat@example.org", "national_coordinator")
    code = pyotp.TOTP(secret).now()
    assert sign_in(client, "nat@example.org").headers["Location"] == "/login/second-factor"
    ok = client.post("/login/second-factor", data={"code": code})
    assert ok.status_code == 302 and ok.headers["Location"] == "/dashboard"
    client.post("/logout")

    other = app.test_client()
    sign_in(other, "nat@example.org")
    replay = other.post("/login/second-factor", data={"code": code})
    assert replay.status_code == 200
    assert b'id="code-error"' in replay.data
    assert other.get("/dashboard").status_code == 302


def test_recovery_code_works_once(app, client, database):
    with app.app_context():
        user, secret = enrolled("adm@example.org", "administrator")
        from zorgreserve.accounts import second_factor

        with app.test_request_context():
            codes = second_factor.confirm_enrolment(user, pyotp.TOTP(secret).now())
        db.session.commit()
    assert codes
    sign_in(client, "adm@example.org")
    assert client.post("/login/second-factor", data={"code": codes[0]}).status_code == 302
    client.post("/logout")
    sign_in(client, "adm@example.org")
    again = client.post("/login/second-factor", data={"code": codes[0]})
    assert again.status_code == 200 and b'id="code-error"' in again.data


def test_pending_second_factor_expires(app, client, database):
    import time

    with app.app_context():
        enrolled("slow@example.org", "administrator")
    sign_in(client, "slow@example.org")
    with client.session_transaction() as session:
        session["pending_second_factor"]["at"] = time.time() - 600
        session.modified = True
    response = client.get("/login/second-factor")
    assert response.status_code == 302 and response.headers["Location"] == "/login"


def test_reservists_and_institution_staff_need_no_second_factor(client, cast):
    assert sign_in(client, "reservist@example.org").headers["Location"] == "/dashboard"
    client.post("/logout")
    assert sign_in(client, "staff-a@example.org").headers["Location"] == "/dashboard"
