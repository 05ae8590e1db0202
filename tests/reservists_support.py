"""Fixtures and helpers shared by the tests of the reservist's own pages (tests/test_reservists_*.py).

Test modules import the fixtures by their function names (``me_fixture`` …); pytest
knows them by the names given in ``@pytest.fixture(name=...)``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.factories import ReservistFactory
from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.audit.models import AccessLogEntry, AuditEvent
from zorgreserve.jobs.models import OutboxJob
from zorgreserve.reference.models import Profession, Qualification, Skill
from zorgreserve.reservists.models import (
    BigRegistration,
    Evidence,
    Reservist,
    ReservistQualification,
    TrainingRecord,
)
from zorgreserve.reservists.services import set_home_postcode

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32


def code(model: Any, value: str) -> Any:
    item = db.session.scalar(select(model).where(model.code == value))
    assert item is not None, value
    return item


def record_of(user_id: int) -> Reservist:
    reservist = db.session.scalar(select(Reservist).where(Reservist.user_id == user_id))
    assert reservist is not None
    return reservist


@pytest.fixture(name="evidence_dir")
def evidence_dir_fixture(app: Flask, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Evidence files of this test live in a folder of their own."""
    folder = tmp_path / "evidence"
    monkeypatch.setitem(app.config, "EVIDENCE_DIR", str(folder))
    return folder


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def make_reservist(email: str, pc4: str = "3511") -> SimpleNamespace:
    """A reservist with an English-speaking account (so messages compare as written) and a home."""
    reservist = ReservistFactory(user__email=email, user__locale="en", user__phone="+31612345678", pc4=None)
    set_home_postcode(reservist, pc4)
    db.session.commit()
    return SimpleNamespace(user_id=reservist.user_id, id=reservist.id)


@pytest.fixture(name="me")
def me_fixture(cast: SimpleNamespace) -> SimpleNamespace:
    """The signed-in reservist of most tests, living in Utrecht (the cast's region X)."""
    return make_reservist("me@example.org")


@pytest.fixture(name="other")
def other_fixture(cast: SimpleNamespace) -> SimpleNamespace:
    """Another reservist in the same region, whose ids must never work for ``me``."""
    return make_reservist("other@example.org")


def add_big(reservist_id: int, number: str = "12345678901", **fields: Any) -> int:
    registration = BigRegistration(
        reservist_id=reservist_id,
        profession_id=code(Profession, fields.pop("profession", "verpleegkundige")).id,
        big_number=number,
        **fields,
    )
    db.session.add(registration)
    db.session.commit()
    return registration.id


def add_evidence(folder: Path, reservist_id: int, data: bytes = PDF, filename: str = "diploma.pdf") -> int:
    key = f"k{reservist_id}x{len(files_in(folder))}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / key).write_bytes(data)
    evidence = Evidence(
        reservist_id=reservist_id,
        storage_key=key,
        filename=filename,
        content_type="application/pdf",
        size_bytes=len(data),
        sha256="0" * 64,
    )
    db.session.add(evidence)
    db.session.commit()
    return evidence.id


def add_qualification(reservist_id: int, qualification: str = "verpleegkundige", **fields: Any) -> int:
    fields.setdefault("obtained_on", date(2015, 6, 30))
    held = ReservistQualification(
        reservist_id=reservist_id, qualification_id=code(Qualification, qualification).id, **fields
    )
    db.session.add(held)
    db.session.commit()
    return held.id


def add_training(reservist_id: int, course: str = "ALS", **fields: Any) -> int:
    fields.setdefault("completed_on", date(2024, 3, 1))
    training = TrainingRecord(reservist_id=reservist_id, course=course, **fields)
    db.session.add(training)
    db.session.commit()
    return training.id


def snapshot(user_id: int) -> dict[str, Any]:
    """Everything the own pages can change about one reservist, to prove nothing changed."""
    db.session.expire_all()
    user = db.session.get(User, user_id)
    assert user is not None
    r = record_of(user_id)

    def rows(model: Any, *columns: str) -> list[tuple[Any, ...]]:
        items = db.session.scalars(select(model).where(model.reservist_id == r.id).order_by(model.id))
        return [tuple(getattr(item, c) for c in columns) for item in items]

    return {
        "user": (user.email, user.first_name, user.last_name, user.phone, user.email_verified_at),
        "reservist": (
            r.pc4,
            r.home_region_id,
            r.max_travel_km,
            r.max_hours_per_week,
            r.channels,
            r.languages,
            r.status,
            r.paused_until,
            r.withdrawn_at,
            r.standby_until,
        ),
        "regions": sorted(region.id for region in r.regions),
        "skills": sorted(skill.id for skill in r.skills),
        "big": rows(BigRegistration, "id", "profession_id", "big_number", "verification"),
        "qualifications": rows(
            ReservistQualification,
            "id",
            "qualification_id",
            "obtained_on",
            "expires_on",
            "evidence_id",
            "verification",
        ),
        "trainings": rows(TrainingRecord, "id", "course", "completed_on", "expires_on"),
        "evidence": rows(Evidence, "id", "storage_key"),
        "audit": db.session.scalar(select(func.count()).select_from(AuditEvent)),
        "access_log": db.session.scalar(select(func.count()).select_from(AccessLogEntry)),
        "outbox": db.session.scalar(select(func.count()).select_from(OutboxJob)),
    }


def last_audit(action: str) -> AuditEvent | None:
    return db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id.desc()).limit(1)
    )


def skill_ids(*codes: str) -> list[int]:
    return [code(Skill, c).id for c in codes]


def field_error(html: str, field: str, message: str) -> bool:
    """Whether ``message`` is shown as the error of ``field`` (the id the form macros give it)."""
    marker = f'id="{field}-error"'
    if marker not in html:
        return False
    start = html.index(marker)
    return message in html[start : html.index("</small>", start)]
