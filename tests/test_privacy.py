"""The reservist's own data: the page, the JSON export, who accessed it, and erasure."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.conftest import login
from tests.factories import PASSWORD, ReservistFactory, UserFactory
from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.accounts.services import queue_email, register_reservist
from zorgreserve.audit.models import AuditEvent
from zorgreserve.audit.services import log_access
from zorgreserve.availability.models import AvailabilityPeriod, WeeklyWindow
from zorgreserve.jobs.models import OutboxJob
from zorgreserve.privacy.services import erase_reservist, evidence_path
from zorgreserve.reference.models import Profession, Qualification, Region, Skill
from zorgreserve.reservists.models import (
    BigRegistration,
    Evidence,
    ExpiryReminder,
    Reservist,
    ReservistQualification,
    TrainingRecord,
)
from zorgreserve.reservists.services import set_home_postcode


def code(model: Any, value: str) -> Any:
    return db.session.scalar(select(model).where(model.code == value))


@pytest.fixture
def evidence_dir(app: Flask, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Evidence files of this test live in a folder of their own."""
    monkeypatch.setitem(app.config, "EVIDENCE_DIR", str(tmp_path))
    return tmp_path


def fill_record(
    evidence_dir: Path, reservist: Reservist, *, big: str, course: str, filename: str, note: str
) -> Path:
    """Give a reservist one of everything the registry holds; returns the evidence file's path."""
    set_home_postcode(reservist, reservist.pc4 or "3511")
    reservist.regions = [db.session.scalar(select(Region).where(Region.name == "Netwerk Acute Zorg Limburg"))]
    reservist.skills = [code(Skill, "triage")]
    key = f"key-{big}"
    path = evidence_dir / key
    path.write_bytes(b"%PDF-1.4 test")
    evidence = Evidence(
        reservist_id=reservist.id,
        storage_key=key,
        filename=filename,
        content_type="application/pdf",
        size_bytes=13,
        sha256="0" * 64,
    )
    db.session.add(evidence)
    db.session.flush()
    db.session.add_all(
        [
            BigRegistration(
                reservist_id=reservist.id,
                profession_id=code(Profession, "verpleegkundige").id,
                big_number=big,
                reregistration_due=date(2029, 5, 1),
            ),
            ReservistQualification(
                reservist_id=reservist.id,
                qualification_id=code(Qualification, "ic_verpleegkundige").id,
                obtained_on=date(2015, 6, 30),
                expires_on=date(2030, 6, 30),
                evidence_id=evidence.id,
                verification="verified",
            ),
            TrainingRecord(reservist_id=reservist.id, course=course, completed_on=date(2024, 3, 1)),
            WeeklyWindow(reservist_id=reservist.id, weekday=0, start_minute=7 * 60, end_minute=17 * 60),
            AvailabilityPeriod(
                reservist_id=reservist.id,
                kind="unavailable",
                starts_at=datetime(2026, 7, 1, 8, tzinfo=UTC),
                ends_at=datetime(2026, 7, 20, 8, tzinfo=UTC),
                note=note,
            ),
        ]
    )
    db.session.commit()
    return path


def reservist_of(user: User) -> Reservist:
    return db.session.scalar(select(Reservist).where(Reservist.user_id == user.id))


def test_data_page_shows_everything_held_about_me(app, evidence_dir, client, login_as, cast):
    me = reservist_of(cast.reservist)
    fill_record(
        evidence_dir,
        me,
        big="12345678901",
        course="ALS-cursus 2024",
        filename="czo-diploma.pdf",
        note="Zomer",
    )
    login_as(cast.reservist)
    page = client.get("/me/data/")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    for text in (
        cast.reservist.email,
        cast.reservist.last_name,
        "3511",
        "12345678901",
        "IC-verpleegkundige",
        "czo-diploma.pdf",
        "ALS-cursus 2024",
        "Triage",
        "Netwerk Acute Zorg Limburg",
        "07:00",
        "Zomer",
    ):
        assert text in html, text
    assert 'href="/me/profile"' in html or "/me/profile" in html  # where to correct it


def test_export_holds_my_data_and_nothing_of_other_reservists(app, evidence_dir, client, login_as, cast):
    me = reservist_of(cast.reservist)
    fill_record(
        evidence_dir, me, big="12345678901", course="ALS-cursus 2024", filename="mine.pdf", note="Eigen"
    )
    other = ReservistFactory(user__email="someone.else@example.org", user__last_name="Anders", pc4="6211")
    fill_record(
        evidence_dir, other, big="99999999999", course="Andere cursus", filename="theirs.pdf", note="Vreemd"
    )
    login_as(cast.reservist)
    response = client.get("/me/data/export.json", data={"reservist_id": other.id})
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "example.org" not in response.headers["Content-Disposition"]  # no personal data in the name
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_data(as_text=True)
    document = json.loads(body)
    assert list(document) == [
        "format",
        "version",
        "generated_at",
        "account",
        "reservist",
        "big_registrations",
        "qualifications",
        "evidence_files",
        "skills",
        "trainings",
        "availability",
        "call_up_offers",
        "bookings",
        "standby_entries",
        "messages_sent",
        "sms_received",
        "calendar_feeds",
        "expiry_reminders",
        "access_log",
        "audit_events",
    ]
    assert document["version"] == 2
    assert document["account"]["email"] == cast.reservist.email
    assert document["reservist"]["id"] == me.id
    assert document["reservist"]["postcode_pc4"] == "3511"
    assert document["big_registrations"][0]["big_number"] == "12345678901"
    assert document["big_registrations"][0]["reregistration_due"] == "2029-05-01"
    assert document["qualifications"][0]["qualification"]["code"] == "ic_verpleegkundige"
    assert document["evidence_files"][0]["filename"] == "mine.pdf"
    assert document["trainings"][0]["course"] == "ALS-cursus 2024"
    assert document["availability"]["weekly_windows"][0] == {
        "weekday": 0,
        "start": "07:00",
        "end": "17:00",
        "crosses_midnight": False,
        "time_zone": "Europe/Amsterdam",
    }
    assert document["availability"]["periods"][0]["starts_at"] == "2026-07-01T08:00:00Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", document["account"]["created_at"])
    for foreign in (
        "someone.else@example.org",
        "Anders",
        "99999999999",
        "Andere cursus",
        "theirs.pdf",
        "6211",
    ):
        assert foreign not in body, foreign
    exported = db.session.scalar(
        select(func.count(AuditEvent.id)).where(
            AuditEvent.action == "privacy.exported", AuditEvent.subject_user_id == cast.reservist.id
        )
    )
    assert exported == 1


def test_who_accessed_my_data_shows_role_and_organisation_not_the_name(app, client, login_as, cast, ctx):
    me = reservist_of(cast.reservist)
    # A surname no page text contains (a random one, such as "Post", is part of "Postcode").
    cast.coordinator_x.last_name = "Zwanenburg-Quist"
    with ctx():
        log_access("view", me.id, "coordination.reservist", actor=cast.coordinator_x)
        db.session.commit()
    login_as(cast.reservist)
    document = client.get("/me/data/export.json").get_json()
    assert document["access_log"] == [
        {
            "occurred_at": document["access_log"][0]["occurred_at"],
            "action": "view",
            "by": {"role": "regional_coordinator", "organisation": "Netwerk Acute Zorg Midden-Nederland"},
            "context": "coordination.reservist",
        }
    ]
    body = json.dumps(document)
    assert cast.coordinator_x.email not in body and cast.coordinator_x.last_name not in body
    page = client.get("/me/data/").get_data(as_text=True)
    table = page[page.index('data-testid="access-log"') :]
    assert "Netwerk Acute Zorg Midden-Nederland" in table
    assert cast.coordinator_x.last_name not in page


def test_who_accessed_shows_the_row_written_by_a_coordinator_view(app, client, login_as, cast, run_jobs):
    """A coordinator's import (a coordinator view) writes the access-log row the reservist then sees."""
    login_as(cast.coordinator_x)
    data = (
        b"first_name,last_name,email,mobile,pc4,qualification_code,obtained_on\n"
        b"Ilse,Import,ilse.import@example.org,0612345678,3511,verpleegkundige,2019-02-01\n"
    )
    checked = client.post("/coordination/import/", data={"file": (_file(data))})
    sha = re.search(r'name="sha256" type="hidden" value="([0-9a-f]{64})"', checked.get_data(as_text=True))
    assert sha, checked.get_data(as_text=True)
    done = client.post("/coordination/import/apply", data={"file": _file(data), "sha256": sha.group(1)})
    assert done.status_code == 200
    imported = db.session.scalar(select(User).where(User.email == "ilse.import@example.org"))
    imported.email_verified_at = datetime.now(UTC)
    db.session.commit()
    reader = login(app.test_client(), imported)
    document = reader.get("/me/data/export.json").get_json()
    assert [(a["action"], a["by"]["role"], a["context"]) for a in document["access_log"]] == [
        ("change", "regional_coordinator", "privacy.import")
    ]


def _file(data: bytes) -> Any:
    return (io.BytesIO(data), "list.csv")


def same_page(html: str, address: str) -> str:
    """A page with the typed address and the (time-stamped) CSRF tokens taken out."""
    return re.sub(r'name="csrf_token" value="[^"]+"', "", html.replace(address, "@"))


def _pending_jobs_about(user_id: int) -> int:
    rows = db.session.execute(select(OutboxJob.args).where(OutboxJob.done_at.is_(None))).scalars().all()
    return sum(1 for args in rows if args.get("user_id") == user_id)


def test_erasure_removes_personal_data_everywhere_and_keeps_an_anonymous_shell(
    app: Flask, evidence_dir, client, login_as, cast, ctx, run_jobs, mail_outbox
):
    user = cast.reservist
    user_id, email = user.id, user.email
    me = reservist_of(user)
    evidence_file = fill_record(
        evidence_dir, me, big="12345678901", course="ALS", filename="mine.pdf", note="n"
    )
    region_id = me.home_region_id
    assert region_id is not None
    other = ReservistFactory(user__email="stays@example.org")
    with ctx():
        queue_email("reset_password", user_id=user_id)  # a pending account e-mail for this person
        queue_email("reset_password", user_id=other.user_id)  # and one for someone else
        db.session.add(
            ExpiryReminder(reservist_id=me.id, item_type="big", item_id=1, expires_on=date.today())
        )
        db.session.commit()
    qualification_id = code(Qualification, "ic_verpleegkundige").id

    def in_capacity_count() -> int:
        return db.session.scalar(
            select(func.count(Reservist.id))
            .join(ReservistQualification, ReservistQualification.reservist_id == Reservist.id)
            .where(
                Reservist.home_region_id == region_id,
                ReservistQualification.qualification_id == qualification_id,
            )
        )

    before = in_capacity_count()
    assert evidence_file.exists() and _pending_jobs_about(user_id) == 1

    login_as(user)
    assert client.get("/me/data/erase").status_code == 200
    done = client.post(
        "/me/data/erase", data={"email": email.upper(), "password": PASSWORD, "user_id": other.user_id}
    )
    assert done.status_code == 200
    assert "Wat is bewaard, en waarom" in done.get_data(as_text=True)  # Dutch by default

    db.session.expire_all()
    assert db.session.get(User, user_id) is None
    assert db.session.scalar(select(User).where(User.email == email)) is None
    assert not evidence_file.exists()
    shell = db.session.get(Reservist, me.id)
    assert shell.user_id is None and shell.erased_at is not None and shell.status == "withdrawn"
    assert shell.pc4 is None and shell.latitude is None and shell.longitude is None
    assert shell.home_region_id == region_id
    kept = db.session.scalars(
        select(ReservistQualification).where(ReservistQualification.reservist_id == me.id)
    )
    assert [(q.qualification_id, q.verification, q.evidence_id, q.expires_on) for q in kept] == [
        (qualification_id, "verified", None, None)
    ]
    assert in_capacity_count() == before  # the anonymous shell still counts
    for model in (
        Evidence,
        BigRegistration,
        TrainingRecord,
        WeeklyWindow,
        AvailabilityPeriod,
        ExpiryReminder,
    ):
        assert (
            db.session.scalar(select(func.count()).select_from(model).where(model.reservist_id == me.id)) == 0
        )
    assert db.session.scalar(select(func.count()).where(BigRegistration.big_number == "12345678901")) == 0
    assert _pending_jobs_about(user_id) == 0
    assert _pending_jobs_about(other.user_id) == 1  # only this person's jobs went

    other_user = db.session.get(User, other.user_id)
    assert other_user is not None and other_user.email == "stays@example.org"

    erased = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "privacy.erased"))
    assert erased.actor_id is None and erased.subject_id == str(me.id)
    assert email not in json.dumps(erased.details) and "12345678901" not in json.dumps(erased.details)

    # The session has ended; the queued e-mail for the erased address is never sent.
    assert client.get("/me/data/").status_code == 302
    run_jobs()
    assert all(email not in message.to for message in mail_outbox)

    # Signing in with the old address fails exactly like an unknown one.
    visitor = app.test_client()
    old = visitor.post("/login", data={"email": email, "password": PASSWORD})
    unknown = visitor.post("/login", data={"email": "nobody-at-all@example.org", "password": PASSWORD})
    assert old.status_code == unknown.status_code == 200
    assert same_page(old.get_data(as_text=True), email) == same_page(
        unknown.get_data(as_text=True), "nobody-at-all@example.org"
    )
    reasons = db.session.scalars(
        select(AuditEvent.details).where(AuditEvent.action == "account.sign_in_failed")
    ).all()
    assert reasons[-2:] == [{"reason": "unknown"}, {"reason": "unknown"}]


def test_erasure_anonymises_an_account_the_audit_trail_refers_to(app, ctx):
    """A real sign-up is in the append-only trail as actor: the account is emptied, not deleted."""
    with ctx():
        user = register_reservist(
            email="real.person@example.org",
            password=PASSWORD,
            first_name="Echte",
            last_name="Persoon",
            phone="+31612345678",
            locale="en",
        )
        db.session.commit()
        user_id = user.id
        reservist = reservist_of(user)
        report = erase_reservist(reservist)
        db.session.commit()
        assert report.account == "anonymised"
        shell = db.session.get(User, user_id)
        assert shell.email == f"erased-{user_id}@erased.invalid"
        assert (shell.first_name, shell.last_name, shell.phone) == ("", "", None)
        assert shell.is_active_account is False
        assert db.session.scalar(select(User).where(User.email == "real.person@example.org")) is None
        assert db.session.scalar(select(func.count(OutboxJob.id)).where(OutboxJob.done_at.is_(None))) == 0
        # The trail itself is untouched and holds no personal data.
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.subject_user_id == user_id)).all()
        assert {e.action for e in events} >= {"account.signed_up", "privacy.erased"}
        assert "real.person" not in json.dumps([e.details for e in events])
        # Erasing again changes nothing.
        assert erase_reservist(db.session.get(Reservist, reservist.id)).account == "none"


def test_erasure_is_refused_with_a_wrong_password_or_mistyped_address(
    app, evidence_dir, client, login_as, cast
):
    me = reservist_of(cast.reservist)
    evidence_file = fill_record(
        evidence_dir, me, big="12345678901", course="ALS", filename="mine.pdf", note="n"
    )
    login_as(cast.reservist)
    wrong_password = client.post(
        "/me/data/erase", data={"email": cast.reservist.email, "password": "not the right password"}
    )
    assert wrong_password.status_code == 200
    assert b'id="password-error"' in wrong_password.data
    typo = client.post("/me/data/erase", data={"email": "reservist@example.com", "password": PASSWORD})
    assert b'id="email-error"' in typo.data
    empty = client.post("/me/data/erase", data={})
    assert b'id="email-error"' in empty.data and b'id="password-error"' in empty.data
    db.session.expire_all()
    assert db.session.get(User, cast.reservist.id).email == "reservist@example.org"
    assert db.session.get(Reservist, me.id).erased_at is None
    assert evidence_file.exists()
    assert (
        db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "privacy.erased")) == 0
    )
    assert client.get("/me/data/").status_code == 200  # still signed in


def test_erasure_only_ever_applies_to_the_signed_in_reservist(app, client, login_as, cast):
    """Another reservist's address and password (and ids in the form) erase nobody."""
    other = ReservistFactory(user__email="victim@example.org")
    login_as(cast.reservist)
    response = client.post(
        "/me/data/erase",
        data={
            "email": "victim@example.org",
            "password": PASSWORD,
            "user_id": other.user_id,
            "reservist_id": other.id,
        },
    )
    assert b'id="email-error"' in response.data
    db.session.expire_all()
    assert db.session.get(Reservist, other.id).erased_at is None
    assert db.session.get(User, other.user_id) is not None
    assert db.session.get(Reservist, reservist_of(cast.reservist).id).erased_at is None


def test_own_data_pages_are_for_reservists_only(app, cast):
    for role in ("staff_a", "coordinator_x", "national", "admin"):
        client = login(app.test_client(), getattr(cast, role))
        for url in ("/me/data/", "/me/data/export.json", "/me/data/erase"):
            assert client.get(url).status_code == 403, (role, url)
        assert (
            client.post("/me/data/erase", data={"email": "x@example.org", "password": PASSWORD}).status_code
            == 403
        )
    anonymous = app.test_client()
    assert anonymous.get("/me/data/export.json").headers["Location"].startswith("/login?next=")


def test_export_of_a_reservist_without_a_record_is_the_account_only(client, login_as, cast):
    lonely = UserFactory(email="lonely@example.org")
    login_as(lonely)
    document = client.get("/me/data/export.json").get_json()
    assert document["account"]["email"] == "lonely@example.org"
    assert document["reservist"] is None and document["qualifications"] == []
    assert client.get("/me/data/").status_code == 200
    assert db.session.scalar(select(func.count(Reservist.id)).where(Reservist.user_id == lonely.id)) == 0


def test_evidence_paths_never_leave_the_evidence_folder(app, evidence_dir):
    with app.app_context():
        assert evidence_path("abc123") == evidence_dir / "abc123"
        assert evidence_path("../../etc/passwd") == evidence_dir / "passwd"


def test_erasure_and_import_need_a_csrf_token(app, monkeypatch, cast):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    reservist = login(app.test_client(), cast.reservist)
    refused = reservist.post("/me/data/erase", data={"email": cast.reservist.email, "password": PASSWORD})
    assert refused.status_code == 400
    assert db.session.get(Reservist, reservist_of(cast.reservist).id).erased_at is None
    coordinator = login(app.test_client(), cast.national)
    data = b"first_name,last_name,email,mobile,pc4,qualification_code,obtained_on\n"
    assert coordinator.post("/coordination/import/", data={"file": _file(data)}).status_code == 400
    assert coordinator.post("/coordination/import/apply", data={"file": _file(data)}).status_code == 400
