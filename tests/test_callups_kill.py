"""A worker killed (SIGKILL) or stopped (SIGTERM) in the middle of sending a 500-offer wave loses
nothing and sends nothing twice.

Real processes on a real PostgreSQL and Redis: ``zorgreserve worker`` subprocesses
send the wave to the file SMS backend, paced by ``SMS_RATE_PER_SECOND``. The first
worker (and its work horse) is killed once part of the wave went out; a second
worker is started, and this test plays the cron (the outbox sweeper and the call-up
clock, as ``zorgreserve cron`` runs them) until the wave is sent. A warm shutdown
(SIGTERM) must also finish the job in hand: nothing claimed is left unsent.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.conftest import scratch_postgres_database
from tests.deployments_support import day_pattern, details_for, location_for
from tests.factories import InstitutionFactory, UserFactory, region_named
from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.accounts.roles import Role
from zorgreserve.callups import escalation, waves
from zorgreserve.callups.models import Message, Offer, Reach, Wave
from zorgreserve.db import utcnow
from zorgreserve.deployments import services
from zorgreserve.reservists.models import Reservist

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

OFFERS = 500
RATE = 100  # SMS a second: the wave takes about five seconds of sending
STALE_SECONDS = 3  # CALLUP_CLAIM_STALE_SECONDS of the workers and of the clock
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def live(app: Any, postgres_url: str, real_redis: str, tmp_path: Path) -> Iterator[SimpleNamespace]:
    """A scratch database with the schema, bound to the scoped session; this app's queue on real Redis."""
    url = scratch_postgres_database(postgres_url, "zorgreserve_callups_kill")
    engine = db.make_engine(url, pool_size=3, max_overflow=0)
    db.import_models()
    db.Base.metadata.create_all(engine)
    previous = db.get_engine()
    db.session.remove()
    db.session.configure(bind=engine)
    saved = {key: app.config[key] for key in ("CALLUP_CLAIM_STALE_SECONDS", "OUTBOX_STALE_SECONDS")}
    app.config.update(CALLUP_CLAIM_STALE_SECONDS=STALE_SECONDS, OUTBOX_STALE_SECONDS=STALE_SECONDS)
    env = os.environ | {
        "ZORGRESERVE_ENV": "test",
        "SECRET_KEY": app.config["SECRET_KEY"],
        "DATABASE_URL": url,
        "REDIS_URL": real_redis,
        "SMS_BACKEND": "file",
        "SMS_FILE_PATH": str(tmp_path / "sms"),
        "SMS_RATE_PER_SECOND": str(RATE),
        "CALLUP_BATCH_SIZE": "50",
        "CALLUP_CLAIM_STALE_SECONDS": str(STALE_SECONDS),
        "MAIL_BACKEND": "locmem",
        "PUBLIC_URL": "http://zorgreserve.test",
        "LOG_LEVEL": "WARNING",
    }
    workers: list[subprocess.Popen[bytes]] = []
    try:
        with app.app_context():
            from zorgreserve.reference.loader import load_all

            load_all(db.session)
            db.session.commit()
            yield SimpleNamespace(app=app, env=env, workers=workers, sms=tmp_path / "sms" / "messages.jsonl")
    finally:
        for worker in workers:
            _kill_tree(worker.pid)
            worker.wait(timeout=10)
        app.config.update(saved)
        db.session.remove()
        db.session.configure(bind=previous)
        engine.dispose()


def _start_worker(live: SimpleNamespace, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "zorgreserve.cli", "worker"],
            cwd=ROOT,
            env=live.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    live.workers.append(worker)
    return worker


def _descendants(pid: int) -> list[int]:
    """Child processes (an RQ work horse runs in a process group of its own), from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def _kill_tree(pid: int) -> None:
    """SIGKILL a worker and every process it started, as the kernel's OOM killer or a lost node would."""
    for target in [pid, *_descendants(pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(target, signal.SIGKILL)


def _sent_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _wave_of_500() -> tuple[int, dict[int, str]]:
    """An approved request and its wave of 500 offers (SMS only); returns (wave id, reservist id -> phone)."""
    region = region_named("Netwerk Acute Zorg Midden-Nederland")
    inst = InstitutionFactory(name=f"Ziekenhuis {uuid.uuid4().hex[:6]}", region_id=region.id)
    staff = UserFactory(role=Role.INSTITUTION_STAFF.value, institution_id=inst.id)
    coordinator = UserFactory(role=Role.REGIONAL_COORDINATOR.value, region_id=region.id)
    location = location_for(inst, "3584")
    db.session.commit()
    request, _ = services.create_request(
        staff,
        details_for(location),
        day_pattern(days=2, places=3),
        idempotency_key=uuid.uuid4().hex,
        submit=True,
    )
    services.approve(coordinator, request)
    db.session.commit()

    tag, now = uuid.uuid4().hex[:8], utcnow()
    db.session.execute(
        User.__table__.insert(),
        [
            {
                "email": f"kill{i}-{tag}@example.org",
                "password_hash": "!",
                "role": Role.RESERVIST.value,
                "first_name": f"Res{i}",
                "last_name": "Test",
                "phone": f"+3162{i:07d}",
                "locale": "nl",
                "session_nonce": uuid.uuid4().hex,
                "created_at": now,
                "password_changed_at": now,
            }
            for i in range(OFFERS)
        ],
    )
    users = dict(
        db.session.execute(select(User.id, User.phone).where(User.email.like(f"%-{tag}@example.org"))).all()
    )
    db.session.execute(
        Reservist.__table__.insert(),
        [{"user_id": uid, "pc4": "3584", "channels": "sms", "created_at": now} for uid in users],
    )
    phones = dict(
        db.session.execute(
            select(Reservist.id, User.phone)
            .join(User, User.id == Reservist.user_id)
            .where(User.id.in_(users))
        ).all()
    )
    shift_ids = [s.id for s in request.shifts]
    proposal = SimpleNamespace(
        offers=[
            SimpleNamespace(reservist_id=rid, shift_ids=shift_ids, score=1.0, parts={})
            for rid in sorted(phones)
        ]
    )
    step = waves.Step(k=OFFERS, reach=Reach.OWN_REGION, radius_km=None)
    wave = waves.create_wave(request, proposal, step, now=utcnow())
    db.session.commit()  # the send_wave job goes to Redis after this commit
    return wave.id, phones


def _cron(app: Any) -> None:
    """What ``zorgreserve cron`` runs: the outbox sweeper and the call-up clock."""
    from zorgreserve.jobs.services import sweep

    with app.app_context():
        sweep(db.session)
        db.session.commit()
        escalation.tick(utcnow())
        db.session.remove()


def _wave_status(wave_id: int) -> str:
    status = db.session.scalar(select(Wave.status).where(Wave.id == wave_id))
    db.session.remove()
    return status


def _wave_under_way(live: SimpleNamespace, log: Path) -> tuple[int, dict[int, str], Any, float]:
    """A wave of 500 offers and a first worker that has sent a quarter of it."""
    with live.app.test_request_context():
        wave_id, phones = _wave_of_500()
    started = time.monotonic()
    first = _start_worker(live, log)
    while len(_sent_lines(live.sms)) < OFFERS // 4:
        assert first.poll() is None, log.read_text()[-2000:]
        assert time.monotonic() - started < 40, (
            f"the first worker sent too little:\n{log.read_text()[-2000:]}"
        )
        time.sleep(0.05)
    return wave_id, phones, first, started


def _finish_with_a_new_worker(live: SimpleNamespace, log: Path, wave_id: int, started: float) -> None:
    """A new worker, and the cron played until the wave is sent."""
    _start_worker(live, log)
    while _wave_status(wave_id) != "sent":
        assert time.monotonic() - started < 60, f"the wave did not finish:\n{log.read_text()[-2000:]}"
        _cron(live.app)
        time.sleep(1)


def _assert_one_sms_each(live: SimpleNamespace, wave_id: int, phones: dict[int, str], at_stop: int) -> None:
    """Every selected reservist has one offer in the wave, one SMS row (sent) and one SMS received."""
    # Every selected reservist has exactly one offer in the wave, and one SMS message row, sent.
    offers = dict(
        db.session.execute(select(Offer.id, Offer.reservist_id).where(Offer.wave_id == wave_id)).all()
    )
    assert sorted(offers.values()) == sorted(phones)
    rows = db.session.execute(
        select(Message.offer_id, Message.channel, Message.status).where(Message.offer_id.in_(offers))
    ).all()
    assert Counter((offer_id, channel) for offer_id, channel, _ in rows) == Counter(
        {(offer_id, "sms"): 1 for offer_id in offers}
    )
    assert {status for *_, status in rows} == {"sent"}

    # The provider (the file) received exactly one SMS per offer, to that reservist's phone.
    lines = _sent_lines(live.sms)
    assert Counter(line["idempotency_key"] for line in lines) == Counter(
        {f"offer:{offer_id}:sms": 1 for offer_id in offers}
    )
    to_of = {line["idempotency_key"]: line["to"] for line in lines}
    assert all(to_of[f"offer:{oid}:sms"] == phones[rid] for oid, rid in offers.items())
    assert len(lines) == OFFERS and at_stop < len(lines)
    assert db.session.scalar(select(func.count()).select_from(Wave).where(Wave.id == wave_id)) == 1
    db.session.remove()


def test_worker_killed_mid_wave_every_reservist_gets_exactly_one_sms(live, tmp_path):
    log = tmp_path / "workers.log"
    wave_id, phones, first, started = _wave_under_way(live, log)
    _kill_tree(first.pid)
    first.wait(timeout=10)
    at_kill = len(_sent_lines(live.sms))
    assert at_kill < OFFERS, "the wave was over before the kill: slow the sending down"
    assert _wave_status(wave_id) == "sending"

    _finish_with_a_new_worker(live, log, wave_id, started)

    _assert_one_sms_each(live, wave_id, phones, at_kill)


def test_two_senders_claiming_at_the_same_moment_take_different_batches(live):
    """A sender never waits for (and then loses) the rows another is claiming: it takes the next ones.

    Waiting, the second sender of a wave found every row it had picked claimed once the
    first committed, and stopped until the claims went stale: the wave went out at the
    speed of one sender.
    """
    from zorgreserve.callups import sending

    with live.app.test_request_context():
        wave_id, _phones = _wave_of_500()
        sending.ensure_offer_messages(db.session.get(Wave, wave_id))
        db.session.commit()
        engine = db.session.get_bind()
        db.session.remove()
    with engine.connect() as other:
        transaction = other.begin()
        # Another sender in the middle of its claim: the first 50 queued rows are locked, not yet claimed.
        held = list(
            other.scalars(
                select(Message.id)
                .where(Message.wave_id == wave_id)
                .order_by(Message.id)
                .limit(50)
                .with_for_update()
            )
        )
        with live.app.app_context():
            started = time.monotonic()
            claimed = sending._claim(Message.wave_id == wave_id, 50, utcnow())
            waited = time.monotonic() - started
            db.session.remove()
        transaction.rollback()
    assert len(claimed) == 50 and not set(claimed) & set(held)
    assert min(claimed) > max(held)
    assert waited < 2  # passed over, not waited for (the lock timeout is 3 s)


def test_a_worker_stopped_with_sigterm_mid_wave_finishes_its_batch_and_the_next_one_goes_on(live, tmp_path):
    """A warm shutdown (deploys, scaling down): the worker finishes the job in hand and exits; no
    message is left claimed and unsent, and a new worker sends the rest, each SMS once."""
    log = tmp_path / "workers.log"
    wave_id, phones, first, started = _wave_under_way(live, log)
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=60) == 0, log.read_text()[-2000:]
    at_stop = len(_sent_lines(live.sms))
    assert at_stop < OFFERS, "the wave was over before the stop: slow the sending down"
    # The job in hand was finished: every message it had claimed went out and is marked sent.
    claimed_unsent = db.session.scalar(
        select(func.count())
        .select_from(Message)
        .where(Message.wave_id == wave_id, Message.status == "queued", Message.claimed_at.is_not(None))
    )
    db.session.remove()
    assert claimed_unsent == 0
    sent_rows = db.session.scalar(
        select(func.count()).select_from(Message).where(Message.wave_id == wave_id, Message.status == "sent")
    )
    db.session.remove()
    assert sent_rows == at_stop

    _finish_with_a_new_worker(live, log, wave_id, started)
    _assert_one_sms_each(live, wave_id, phones, at_stop)
