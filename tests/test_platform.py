"""Configuration, the command line, health, logging hygiene, phones and time display."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from zorgreserve.config import ConfigError, load_config
from zorgreserve.core.logging import RedactingFilter, redact
from zorgreserve.phones import InvalidPhoneNumber, display_phone, normalise_phone


def test_production_refuses_to_start_without_secret_key(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config(tmp_path, {"ZORGRESERVE_ENV": "production"})
    assert load_config(tmp_path, {"ZORGRESERVE_ENV": "production", "SECRET_KEY": "s" * 64})[
        "SESSION_COOKIE_SECURE"
    ]


def test_embedded_default_generates_one_secret_key_and_keeps_it(tmp_path):
    first = load_config(tmp_path, {})
    second = load_config(tmp_path, {})
    assert first["SECRET_KEY"] == second["SECRET_KEY"] and len(first["SECRET_KEY"]) == 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert first["DATABASE_URL"].startswith("sqlite:///") and first["REDIS_URL"] is None
    assert first["MAIL_BACKEND"] == "console" and first["SMS_BACKEND"] == "console"


def test_database_url_forms_are_normalised(tmp_path):
    config = load_config(tmp_path, {"DATABASE_URL": "postgres://u:p@db/zr", "SECRET_KEY": "x"})
    assert config["DATABASE_URL"] == "postgresql+psycopg://u:p@db/zr"
    with pytest.raises(ConfigError):
        load_config(tmp_path, {"ZORGRESERVE_ENV": "staging"})


def test_command_line_lists_its_commands():
    from zorgreserve.cli import main

    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "db", "worker", "demo", "reference", "cron"):
        assert f"  {command} " in result.output


def test_demo_data_loads_once(app, database):
    from zorgreserve.demo.services import demo_logins, load_demo

    with app.test_request_context():
        created = load_demo(reservists=25, password="demo-password-for-tests")
        assert created > 25
        assert load_demo(reservists=25, password="demo-password-for-tests") == 0
        roles = {login["role"] for login in demo_logins()}
    assert roles == {
        "administrator",
        "national_coordinator",
        "regional_coordinator",
        "institution_staff",
        "reservist",
    }


def test_health_reports_database_queue_and_worker(client):
    body = client.get("/health").get_json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["queue"] == "embedded"
    assert body["status"] in {"ok", "degraded"}


def test_health_is_degraded_not_down_when_redis_is_unreachable(app, client):
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    try:
        response = client.get("/health")
    finally:
        app.config["REDIS_URL"] = None
    assert response.status_code == 200
    assert response.get_json()["status"] == "degraded"
    assert response.get_json()["checks"]["queue"] == "down"


def test_logs_never_hold_tokens_phone_numbers_or_addresses(caplog):
    token = "eyJ1IjoxLCJlIjoiYWJjIn0.aWxsb3dlZA.c2lnbmF0dXJlLXBhcnQtbG9uZw"
    line = f'"GET /password/reset/{token} HTTP/1.1" 200 sms to +31612345678 for jan.jansen@example.org'
    cleaned = redact(line)
    assert token not in cleaned and "+31612345678" not in cleaned and "jan.jansen@example.org" not in cleaned
    assert "78" in cleaned  # the last two digits stay, to tell messages apart
    short = "WzEsIks3UDJRIl0.aWxsb3.c2lnbmF0dXJlLXBhcnQ"  # a call-up link token for offer 1
    assert short not in redact(f'"GET /o/{short} HTTP/1.1" 200')
    logger = logging.getLogger("zorgreserve.test")
    handler = logging.Handler()
    seen = []
    handler.emit = lambda record: seen.append(record.getMessage())
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    try:
        logger.warning("reset for %s at %s", "jan.jansen@example.org", f"/password/reset/{token}")
    finally:
        logger.removeHandler(handler)
    assert "jan.jansen" not in seen[0] and token not in seen[0]


@pytest.mark.parametrize(
    ("raw", "e164", "shown"),
    [
        ("06 12345678", "+31612345678", "06 12345678"),
        ("+31 6 1234 5678", "+31612345678", "06 12345678"),
        ("0031612345678", "+31612345678", "06 12345678"),
        ("020-1234567", "+31201234567", "020 123 4567"),
        ("+32 470 12 34 56", "+32470123456", "+32 470 12 34 56"),
    ],
)
def test_phone_numbers_are_stored_in_e164_and_shown_nationally(raw, e164, shown):
    assert normalise_phone(raw) == e164
    assert display_phone(e164) == shown


@pytest.mark.parametrize("raw", ["12345", "06 1234", "hello", "+31 6 1234 56789 0"])
def test_invalid_phone_numbers_are_refused(raw):
    with pytest.raises(InvalidPhoneNumber):
        normalise_phone(raw)


def test_times_are_shown_in_amsterdam_time(app):
    from zorgreserve.core.filters import local_datetime

    with app.test_request_context():
        summer = local_datetime(datetime(2026, 7, 1, 10, 0, tzinfo=UTC), "HH:mm")
        winter = local_datetime(datetime(2026, 12, 1, 10, 0, tzinfo=UTC), "HH:mm")
    assert (summer, winter) == ("12:00", "11:00")


def test_sms_backends_share_one_protocol(app, tmp_path):
    import json

    from zorgreserve.notifications.sms import FileBackend, SmsMessage, get_backend, recorder

    message = SmsMessage(to="+31612345678", body="Test", idempotency_key="k1")
    with app.app_context():
        backend = get_backend()
    assert backend is recorder()
    backend.send(message)
    backend.send(message)
    assert [m.idempotency_key for m in recorder().messages].count("k1") == 1
    FileBackend(str(tmp_path)).send(message)
    stored = json.loads((tmp_path / "messages.jsonl").read_text())
    assert stored["to"] == "+31612345678" and stored["body"] == "Test"


_RATE_LIMIT_WITHOUT_REDIS = """
import json, os, sys, tempfile
os.environ["ZORGRESERVE_ENV"] = "test"
from zorgreserve import create_app, db

folder = tempfile.mkdtemp()
app = create_app(
    {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "DATABASE_URL": f"sqlite:///{folder}/zr.sqlite3",
        "REDIS_URL": None,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/0",
        "LOGIN_LIMIT_PER_ADDRESS": "3 per minute",
    },
    instance_path=folder,
)
db.import_models()
db.Base.metadata.create_all(db.get_engine())
client = app.test_client()
codes = [
    client.post("/login", data={"email": "nobody@example.org", "password": "not the one"}).status_code
    for _ in range(4)
]
print(json.dumps(codes))
"""


def test_sign_in_works_and_stays_throttled_while_the_rate_limit_store_is_down():
    """Redis (the limiter's store in production) down: signing in answers, not 500, and the
    limits still hold, counted in the process's memory until Redis is back. Run in a process of
    its own, since the limiter is one per process."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run(
        [sys.executable, "-c", _RATE_LIMIT_WITHOUT_REDIS],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    codes = json.loads(done.stdout.strip().splitlines()[-1])
    assert 500 not in codes, codes
    assert codes[:3] != [429, 429, 429] and codes[3] == 429, codes
