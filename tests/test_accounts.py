"""Sign-up, verification, sign-in, password reset and sessions, as a user meets them."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import func, select

from tests.factories import PASSWORD, UserFactory
from zorgreserve import db
from zorgreserve.accounts import services
from zorgreserve.accounts.models import User
from zorgreserve.accounts.passwords import password_problem
from zorgreserve.audit.models import AuditEvent
from zorgreserve.reservists.models import Reservist

GOOD_PASSWORD = "paars-konijn-fietst-7"


def signup_data(**overrides):
    data = {
        "first_name": "Fatima",
        "last_name": "El Amrani",
        "email": "Fatima.ElAmrani@Example.org",
        "phone": "06 12345678",
        "password": GOOD_PASSWORD,
        "password_confirm": GOOD_PASSWORD,
        "consent": "y",
    }
    data.update(overrides)
    return data


def link_in(message) -> str:
    match = re.search(r"http://zorgreserve\.test(/\S+)", message.body)
    assert match, message.body
    return match.group(1)


def count_users() -> int:
    return db.session.scalar(select(func.count(User.id)))


def test_signup_creates_unverified_reservist_and_sends_verification(client, run_jobs, mail_outbox):
    response = client.post("/signup", data=signup_data())
    assert response.status_code == 200
    user = services.find_user_by_email("fatima.elamrani@example.org")
    assert user is not None
    assert user.email == "fatima.elamrani@example.org"  # stored lower-case
    assert user.phone == "+31612345678"  # E.164
    assert user.email_verified_at is None
    assert user.role == "reservist"
    assert db.session.scalar(select(Reservist).where(Reservist.user_id == user.id)) is not None
    assert user.password_hash.startswith("$argon2id$")

    run_jobs()
    assert [m.to for m in mail_outbox] == [["fatima.elamrani@example.org"]]
    verify_path = link_in(mail_outbox[0])

    # Unverified accounts cannot sign in yet.
    response = client.post("/login", data={"email": "fatima.elamrani@example.org", "password": GOOD_PASSWORD})
    assert b'action="/signup/resend"' in response.data

    response = client.get(verify_path)
    assert b'data-result="verified"' in response.data
    assert response.headers["Referrer-Policy"] == "no-referrer"
    # Second use: nothing changes, the page says so.
    response = client.get(verify_path)
    assert b'data-result="already"' in response.data

    response = client.post("/login", data={"email": "FATIMA.elamrani@example.org", "password": GOOD_PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    assert client.get("/dashboard").status_code == 200


def _comparable(page: bytes, local_part: bytes) -> bytes:
    page = re.sub(rb'(name="csrf_token"[^>]*value=")[^"]*"', rb'\1"', page)
    return page.replace(local_part, b"x")


def test_signup_with_existing_address_reveals_nothing_and_warns_owner(client, run_jobs, mail_outbox):
    UserFactory(email="taken@example.org")
    before = count_users()
    response = client.post("/signup", data=signup_data(email="Taken@example.org"))
    fresh = client.post("/signup", data=signup_data(email="fresh@example.org"))
    assert response.status_code == fresh.status_code == 200
    # The CSRF token is signed with a timestamp, so it may differ between two responses.
    assert _comparable(response.data, b"taken") == _comparable(fresh.data, b"fresh")
    assert count_users() == before + 1
    run_jobs()
    subjects = {m.to[0]: m.subject for m in mail_outbox}
    assert set(subjects) == {"taken@example.org", "fresh@example.org"}
    assert subjects["taken@example.org"] != subjects["fresh@example.org"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"password": "kort-7", "password_confirm": "kort-7"}, "password"),
        ({"password": "x" * 129, "password_confirm": "x" * 129}, "password"),
        ({"password": "welkom123456!", "password_confirm": "welkom123456!"}, "password"),
        ({"password": "passwordpassword", "password_confirm": "passwordpassword"}, "password"),
        ({"password_confirm": "something-else-entirely"}, "password_confirm"),
        ({"phone": "12345"}, "phone"),
        ({"phone": "020 123 4567"}, "phone"),  # a landline cannot receive text messages
        ({"email": "not-an-address"}, "email"),
        ({"first_name": ""}, "first_name"),
        ({"consent": ""}, "consent"),
    ],
)
def test_signup_rejects_bad_input_with_field_message_and_saves_nothing(
    client, run_jobs, mail_outbox, overrides, field
):
    before = count_users()
    response = client.post("/signup", data=signup_data(**overrides))
    assert response.status_code == 200
    assert f'id="{field}-error"'.encode() in response.data
    assert count_users() == before
    run_jobs()
    assert mail_outbox == []


def test_password_policy_accepts_64_characters_and_refuses_name():
    assert password_problem("a-long-passphrase-" * 3 + "abcdefghij") is None  # 64 characters
    assert password_problem("fatima-zegt-hallo-2026", personal=("Fatima", "El Amrani")) is not None
    assert password_problem("aaaaaaaaaaaaaaaa") is not None


def test_mass_assignment_in_signup_is_ignored(client):
    client.post(
        "/signup",
        data=signup_data(
            role="administrator", email_verified_at="2020-01-01", institution_id="1", region_id="1"
        ),
    )
    user = services.find_user_by_email("fatima.elamrani@example.org")
    assert user.role == "reservist"
    assert user.email_verified_at is None
    assert user.institution_id is None and user.region_id is None


def test_wrong_password_and_unknown_address_get_the_same_answer(client):
    UserFactory(email="known@example.org")
    wrong = client.post("/login", data={"email": "known@example.org", "password": "not the password!"})
    unknown = client.post("/login", data={"email": "nobody@example.org", "password": "not the password!"})
    assert wrong.status_code == unknown.status_code == 200
    strip = lambda body: re.sub(rb'value="[^"]*"', b"", body)  # noqa: E731
    assert strip(wrong.data) == strip(unknown.data)
    actions = db.session.scalars(select(AuditEvent.action)).all()
    assert actions.count("account.sign_in_failed") == 2


def test_login_is_throttled_per_account(app, client):
    UserFactory(email="target@example.org")
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "3 per 15 minutes"
    try:
        codes = [
            client.post(
                "/login", data={"email": "target@example.org", "password": f"guess-{i}-xxxxxxx"}
            ).status_code
            for i in range(5)
        ]
        # The right password is refused too while throttled: guessing gains nothing.
        right = client.post("/login", data={"email": "target@example.org", "password": PASSWORD}).status_code
    finally:
        app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "10 per 15 minutes"
    assert codes[:3] == [200, 200, 200]
    assert codes[3:] == [429, 429]
    assert right == 429


def test_login_is_throttled_per_address_across_accounts(app, client):
    app.config["LOGIN_LIMIT_PER_ADDRESS"] = "4 per 15 minutes"
    try:
        codes = [
            client.post(
                "/login", data={"email": f"someone{i}@example.org", "password": "whatever-whatever"}
            ).status_code
            for i in range(6)
        ]
    finally:
        app.config["LOGIN_LIMIT_PER_ADDRESS"] = "50 per 15 minutes"
    assert codes == [200] * 4 + [429] * 2


def test_throttled_page_is_translated_and_not_an_error(app, client):
    app.config["LOGIN_LIMIT_PER_ADDRESS"] = "1 per 15 minutes"
    try:
        client.post("/login", data={"email": "a@example.org", "password": "whatever-whatever"})
        response = client.post("/login", data={"email": "a@example.org", "password": "whatever-whatever"})
    finally:
        app.config["LOGIN_LIMIT_PER_ADDRESS"] = "50 per 15 minutes"
    assert response.status_code == 429
    assert b"<h1>" in response.data and b"Traceback" not in response.data


def test_new_session_on_login_prevents_fixation(client):
    UserFactory(email="fix@example.org")
    client.get("/login")
    with client.session_transaction() as session:
        session["planted"] = "by-attacker"
    client.post("/login", data={"email": "fix@example.org", "password": PASSWORD})
    with client.session_transaction() as session:
        assert "planted" not in session
        assert "_user_id" in session


def test_logout_ends_every_session_of_the_user(app, client):
    user = UserFactory(email="leaving@example.org")
    client.post("/login", data={"email": "leaving@example.org", "password": PASSWORD})
    other_device = app.test_client()
    with client.session_transaction() as session:
        stolen = dict(session)
    with other_device.session_transaction() as session:
        session.update(stolen)
    assert other_device.get("/account").status_code == 200
    client.post("/logout")
    assert client.get("/account").status_code == 302
    assert other_device.get("/account").status_code == 302
    assert db.session.get(User, user.id) is not None


def test_staff_session_ends_after_30_minutes_idle(client, login_as, cast):
    login_as(cast.staff_a)
    assert client.get("/dashboard").status_code == 200
    with client.session_transaction() as session:
        session["last_seen"] = time.time() - 31 * 60
    response = client.get("/dashboard")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert client.get("/dashboard").status_code == 302


def test_reservist_session_survives_30_minutes_idle(client, login_as, cast):
    login_as(cast.reservist)
    with client.session_transaction() as session:
        session["last_seen"] = time.time() - 31 * 60
    assert client.get("/dashboard").status_code == 200


def test_password_reset_link_is_single_use(client, run_jobs, mail_outbox):
    UserFactory(email="forgetful@example.org")
    assert client.post("/password/forgot", data={"email": "forgetful@example.org"}).status_code == 200
    unknown = client.post("/password/forgot", data={"email": "nobody@example.org"})
    assert unknown.status_code == 200
    run_jobs()
    assert [m.to for m in mail_outbox] == [["forgetful@example.org"]]
    path = link_in(mail_outbox[0])
    assert client.get(path).status_code == 200
    new = "groene-tram-rijdt-laat-9"
    response = client.post(path, data={"password": new, "password_confirm": new})
    assert response.status_code == 302
    assert client.get(path).status_code == 404  # used
    response = client.post(
        path, data={"password": "another-one-entirely", "password_confirm": "another-one-entirely"}
    )
    assert response.status_code == 404
    assert client.post("/login", data={"email": "forgetful@example.org", "password": new}).status_code == 302


def test_password_reset_link_expires(app, client, ctx):
    user = UserFactory(email="late@example.org")
    with ctx():
        token = services.reset_token(user)
    app.config["PASSWORD_RESET_MAX_AGE"] = -1
    try:
        assert client.get(f"/password/reset/{token}").status_code == 404
    finally:
        app.config["PASSWORD_RESET_MAX_AGE"] = 3600


def test_tampered_tokens_are_404_and_recorded(client):
    response = client.get("/password/reset/eyJ1IjoxfQ.tampered.signature")
    assert response.status_code == 404
    response = client.get("/signup/verify/eyJ1IjoxfQ.tampered.signature")
    assert b'data-result="invalid"' in response.data
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.action == "security.token_invalid")
    )
    assert len(actions.all()) == 2


def test_security_headers_on_every_response(client, login_as, cast):
    for path in ("/", "/login", "/does-not-exist"):
        headers = client.get(path).headers
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"]
    login_as(cast.reservist)
    assert client.get("/account").headers["Cache-Control"] == "no-store"


def test_csrf_is_required_on_state_changing_forms(app, client):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        before = count_users()
        response = client.post("/signup", data=signup_data())
        assert response.status_code == 400
        assert count_users() == before
        assert client.post("/logout").status_code == 400
        assert client.post("/language", data={"language": "en"}).status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_server_error_shows_incident_number_without_traceback(app, client, monkeypatch):
    from zorgreserve.core import views

    def explode():
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views, "render_template", lambda *a, **k: explode())
    response = client.get("/")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert 'data-testid="incident"' in body
    assert "secret internals" not in body and "Traceback" not in body
