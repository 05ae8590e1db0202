"""``zorgreserve bench callups``: a 10,000-offer wave, the same throttled, and 200 concurrent accepts.

Runs against the database of ``DATABASE_URL`` (a scratch PostgreSQL database;
``--create-schema`` creates the tables). Three parts:

1. **Wave.** ``--offers`` reservists are written in bulk, then the real path
   runs: :func:`zorgreserve.callups.waves.create_wave` writes the wave, its
   offers and the ``callups.send_wave`` outbox job in one transaction, and a
   worker (the in-process queue of this process, so no other worker on the
   machine picks the jobs up) runs the job chain — one batch of
   ``CALLUP_BATCH_SIZE`` messages per job — until the wave is sent. The
   messages go to recording backends: e-mail to Flask-Mailman's ``locmem``
   outbox, SMS to a recorder that keeps messages by idempotency key (the test
   recorder compares each message with every one kept, which is quadratic at
   this size). ``wave_seconds`` runs from ``create_wave`` to the last message.
2. **Throttled wave.** The same for a second request with
   ``SMS_RATE_PER_SECOND = --rate``; ``throttled_wave_ratio`` is the time taken
   divided by the provider-bound time (SMS count / rate). The recorder also
   reports the most SMS it received within any one second.
3. **Concurrent accepts.** ``--accepts`` reservists hold an offer for one shift
   of ``--places`` places. ``--processes`` forked processes (as gunicorn
   workers), each with ``--threads`` threads and a connection pool of that
   size, call the real :func:`zorgreserve.callups.booking.accept` (and commit)
   for their share of the offers, all released at the same moment.
   ``accept_*_ms`` time the accept itself (call and commit, from the moment a
   thread starts it); ``accept_wait_*_ms`` add the time an accept waited for a
   free thread of its process, as a client would.

The last line printed is one JSON object with the figures and the sizes.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import statistics
import threading
import time
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from datetime import time as dtime
from types import SimpleNamespace
from typing import Any

import click

from zorgreserve.app import freeze_startup_objects

BENCH_DOMAIN = "bench-callups.zorgreserve.invalid"
TARGET_WAVE_SECONDS = 10.0
TARGET_THROTTLED_RATIO = 1.1
TARGET_P95_MS = 200.0


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# Data set ----------------------------------------------------------------------------------


def _base() -> SimpleNamespace:
    """An institution with a location in Utrecht, a staff member and the region's coordinator."""
    from sqlalchemy import select

    from zorgreserve import db
    from zorgreserve.institutions.models import Institution, InstitutionLocation
    from zorgreserve.reference.models import Postcode
    from zorgreserve.reference.services import region_for_postcode

    tag = uuid.uuid4().hex[:8]
    region = region_for_postcode("3584")
    inst = Institution(name=f"Bench {tag}", kind="hospital", region_id=region.id)
    db.session.add(inst)
    db.session.flush()
    area = db.session.get(Postcode, "3584")
    location = InstitutionLocation(
        institution_id=inst.id,
        name="Bench",
        street_address="Heidelberglaan 100",
        postcode="3584 CX",
        pc4="3584",
        city=area.place,
        region_id=region.id,
        latitude=area.latitude,
        longitude=area.longitude,
    )
    db.session.add(location)
    staff = _account("institution_staff", institution_id=inst.id)
    coordinator = _account("regional_coordinator", region_id=region.id)
    from zorgreserve.reference.models import Qualification, Skill

    qualification = db.session.scalar(select(Qualification).where(Qualification.code == "verpleegkundige"))
    skill = db.session.scalar(select(Skill).limit(1))
    db.session.commit()
    return SimpleNamespace(
        staff_id=staff.id,
        coordinator_id=coordinator.id,
        location_id=location.id,
        qualification_id=qualification.id,
        skill_ids=[skill.id] if skill else [],
    )


def _account(role: str, **extra: Any) -> Any:
    from zorgreserve import db
    from zorgreserve.accounts.models import User

    user = User(
        email=f"{role}-{uuid.uuid4().hex[:10]}@{BENCH_DOMAIN}",
        password_hash="!bench-account-cannot-sign-in",  # noqa: S106 (not a secret)
        role=role,
        first_name="Bench",
        last_name=role,
        session_nonce=uuid.uuid4().hex,
        locale="nl",
        **extra,
    )
    db.session.add(user)
    db.session.flush()
    return user


def _open_request(base: SimpleNamespace, *, days: int, places: int) -> Any:
    """A submitted and approved request with ``days`` day shifts of ``places`` places, from in 3 days."""
    from zorgreserve import db
    from zorgreserve.accounts.models import User
    from zorgreserve.deployments import services
    from zorgreserve.deployments.patterns import Repeat, ShiftPattern

    details = services.RequestDetails(
        department="IC",
        qualification_id=base.qualification_id,
        location_id=base.location_id,
        urgency="high",
        report_to="Hoofdingang",
        contact_name="Teamleider",
        contact_phone="030 250 9111",
        skill_ids=base.skill_ids,
    )
    pattern = ShiftPattern(
        first_day=date.today() + timedelta(days=3),
        start_time=dtime(7, 0),
        end_time=dtime(15, 30),
        repeat=Repeat.ONCE if days == 1 else Repeat.DAILY,
        days=days,
        places=places,
    )
    staff = db.session.get(User, base.staff_id)
    req, _ = services.create_request(staff, details, pattern, idempotency_key=uuid.uuid4().hex, submit=True)
    if req.status == "submitted":
        services.approve(db.session.get(User, base.coordinator_id), req)
    db.session.commit()
    return req


def _bulk_reservists(count: int, channels: str) -> list[int]:
    """``count`` reservist accounts with e-mail and a mobile number, written in a few statements."""
    from sqlalchemy import select

    from zorgreserve import db
    from zorgreserve.accounts.models import User
    from zorgreserve.db import utcnow
    from zorgreserve.reservists.models import Reservist

    tag = uuid.uuid4().hex[:8]
    now = utcnow()
    db.session.execute(
        User.__table__.insert(),
        [
            {
                "email": f"r{i}-{tag}@{BENCH_DOMAIN}",
                "password_hash": "!bench-account-cannot-sign-in",
                "role": "reservist",
                "first_name": f"Reservist{i}",
                "last_name": "Bench",
                "phone": f"+3161{i:07d}",
                "locale": "nl" if i % 4 else "en",
                "session_nonce": uuid.uuid4().hex,
                "created_at": now,
                "password_changed_at": now,
            }
            for i in range(count)
        ],
    )
    user_ids = list(
        db.session.scalars(
            select(User.id).where(User.email.like(f"%-{tag}@{BENCH_DOMAIN}")).order_by(User.id)
        )
    )
    db.session.execute(
        Reservist.__table__.insert(),
        [{"user_id": uid, "pc4": "3584", "channels": channels, "created_at": now} for uid in user_ids],
    )
    ids = list(
        db.session.scalars(select(Reservist.id).where(Reservist.user_id.in_(user_ids)).order_by(Reservist.id))
    )
    db.session.commit()
    return ids


# Wave ------------------------------------------------------------------------------------


def _drain(app: Any) -> None:
    """Run every job queued now, in this process, as a worker would (the in-process queue)."""
    from zorgreserve.jobs.queue import QUEUE_NAMES, ThreadSafeWorker, get_queue

    with app.app_context():
        queues = [get_queue(name, app) for name in QUEUE_NAMES]
        ThreadSafeWorker(queues, connection=queues[0].connection).work(burst=True, logging_level="WARNING")


class BenchRecorder:
    """Records SMS by idempotency key (a repeated key is accepted once, as a provider does)."""

    def __init__(self) -> None:
        self.messages: dict[str, Any] = {}
        self.handed = 0
        self.peak_per_second = 0
        self._window: deque[float] = deque()
        self._lock = threading.Lock()

    def send(self, message: Any) -> str:
        now = time.monotonic()
        with self._lock:
            self.handed += 1
            self.messages.setdefault(message.idempotency_key, message)
            self._window.append(now)
            while self._window[0] <= now - 1.0:
                self._window.popleft()
            self.peak_per_second = max(self.peak_per_second, len(self._window))
        return f"bench-{message.idempotency_key}"


def _sender_process(app: Any, url: str, recorder: BenchRecorder, stop: Any, results: Any) -> None:
    """One forked worker process: an RQ worker on the bench's Redis database, without a fork per job.

    ``zorgreserve worker`` forks a work horse per job; here the jobs run in the process
    itself so that what the recording backends received can be reported at the end.
    """
    from zorgreserve import db
    from zorgreserve.jobs.queue import QUEUE_NAMES, get_queue
    from zorgreserve.jobs.queue import ThreadSafeWorker as PlainWorker

    db.dispose_engine_after_fork()
    db.session.remove()
    db.session.configure(bind=db.make_engine(url, pool_size=2, max_overflow=0))
    cpu = time.process_time()
    mailman = app.extensions["mailman"]
    mailman.outbox = []
    with app.app_context():
        queues = [get_queue(name, app) for name in QUEUE_NAMES]
        worker = PlainWorker(queues, connection=queues[0].connection)
        while not stop.is_set():
            worker.work(burst=True, logging_level="WARNING", with_scheduler=True)
            time.sleep(0.02)
    results.put(
        {
            "sms_keys": list(recorder.messages),
            "sms_handed": recorder.handed,
            "peak": recorder.peak_per_second,
            "emails": len(mailman.outbox),
            "cpu": time.process_time() - cpu,
        }
    )


def _run_wave(
    app: Any,
    base: SimpleNamespace,
    reservist_ids: list[int],
    rate: int,
    *,
    workers: int = 1,
    url: str = "",
) -> dict[str, Any]:
    """Create and send one wave of offers to ``reservist_ids``; returns timings and counts.

    ``workers`` > 1 runs the jobs in that many forked worker processes on the real Redis
    of ``REDIS_URL`` (as several ``zorgreserve worker`` processes would), with
    ``CALLUP_SENDERS`` set to match; otherwise this process's in-process queue runs them.
    """
    from sqlalchemy import func, select

    from zorgreserve import db
    from zorgreserve.callups import sending, waves
    from zorgreserve.callups.models import Message, Reach, Wave
    from zorgreserve.db import utcnow
    from zorgreserve.deployments.models import DeploymentRequest
    from zorgreserve.jobs.models import OutboxJob

    with app.test_request_context():
        req = _open_request(base, days=3, places=5)
        request_id, shift_ids = req.id, [s.id for s in req.shifts]
        db.session.remove()
    # Opening the request queued its hand-off to matching: run it now, outside the timing, so the
    # wave below is the request's only one and the worker runs nothing but its jobs.
    _drain(app)
    proposal = SimpleNamespace(
        offers=[
            SimpleNamespace(reservist_id=rid, shift_ids=shift_ids, score=1.0, parts={"bench": 1.0})
            for rid in reservist_ids
        ]
    )
    recorder = BenchRecorder()
    mailman = app.extensions["mailman"]
    mailman.outbox = []  # the locmem backend appends here
    real_backend, previous_rate = sending.get_backend, app.config["SMS_RATE_PER_SECOND"]
    previous_senders = app.config["CALLUP_SENDERS"]
    sending.get_backend = lambda: recorder  # type: ignore[assignment]
    app.config["SMS_RATE_PER_SECOND"] = rate
    app.config["CALLUP_SENDERS"] = workers
    children: list[Any] = []
    reports: list[dict[str, Any]] = []
    if workers > 1:
        db.session.remove()
        db.get_engine().dispose()
        freeze_startup_objects()  # as `zorgreserve worker` does before it starts
        context = multiprocessing.get_context("fork")
        stop, results = context.Event(), context.Queue()
        children = [
            context.Process(target=_sender_process, args=(app, url, recorder, stop, results), daemon=True)
            for _ in range(workers)
        ]
        for child in children:
            child.start()
    try:
        started, started_at, cpu = time.perf_counter(), utcnow(), time.process_time()
        with app.test_request_context():
            request = db.session.get(DeploymentRequest, request_id)
            step = waves.Step(k=len(reservist_ids), reach=Reach.OWN_REGION, radius_km=None)
            wave = waves.create_wave(request, proposal, step, now=utcnow())
            db.session.commit()  # the send_wave job is enqueued after this commit
            wave_id = wave.id
            db.session.remove()
        created = time.perf_counter() - started
        with app.app_context():
            status = None
            while status != "sent" and time.perf_counter() - started < 900:
                if not children:
                    _drain(app)
                status = db.session.scalar(select(Wave.status).where(Wave.id == wave_id))
                db.session.remove()
                if status != "sent":
                    time.sleep(0.05 if not children else 0.02)  # a follow-up scheduled a moment ahead
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        if children:
            stop.set()
            reports = [results.get(timeout=120) for _ in children]
            for child in children:
                child.join(timeout=30)
            cpu += sum(report["cpu"] for report in reports)
        with app.app_context():
            jobs = db.session.scalar(
                select(func.count())
                .select_from(OutboxJob)
                .where(OutboxJob.job == "callups.send_wave", OutboxJob.created_at >= started_at)
            )
            by_state = dict(
                db.session.execute(
                    select(Message.status, func.count())
                    .where(Message.request_id == request_id)
                    .group_by(Message.status)
                ).all()
            )
            db.session.remove()
    finally:
        sending.get_backend = real_backend  # type: ignore[assignment]
        app.config["SMS_RATE_PER_SECOND"] = previous_rate
        app.config["CALLUP_SENDERS"] = previous_senders
        for child in children:
            if child.is_alive():
                child.kill()
    emails = len(mailman.outbox) + sum(report["emails"] for report in reports)
    mailman.outbox = []
    keys = list(recorder.messages) + [key for report in reports for key in report["sms_keys"]]
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "create_seconds": created,
        "status": status,
        "sms": len(set(keys)),
        "sms_twice": len(keys) - len(set(keys)),
        "sms_handed": recorder.handed + sum(report["sms_handed"] for report in reports),
        "emails": emails,
        "messages_by_state": by_state,
        "jobs": jobs,
        "workers": max(workers, 1),
        "peak_sms_per_second": max([recorder.peak_per_second] + [report["peak"] for report in reports]),
    }


# Concurrent accepts ------------------------------------------------------------------------


def _sent_offers(req: Any, shift_id: int, people: list[int]) -> list[int]:
    """A sent wave of ``req`` with one offer of ``shift_id`` to each of ``people``; returns the offer ids."""
    from zorgreserve import db
    from zorgreserve.callups.models import Offer, OfferShift, Wave
    from zorgreserve.db import utcnow

    wave = Wave(request_id=req.id, number=1, status="sent", expires_at=utcnow() + timedelta(hours=1))
    db.session.add(wave)
    db.session.flush()
    offers = []
    for person_id in people:
        offer = Offer(
            wave_id=wave.id,
            request_id=req.id,
            reservist_id=person_id,
            code=uuid.uuid4().hex[:8].upper(),
            status="sent",
            expires_at=utcnow() + timedelta(hours=1),
        )
        offer.shifts = [OfferShift(shift_id=shift_id)]
        db.session.add(offer)
        offers.append(offer)
    db.session.commit()
    return [o.id for o in offers]


def _setup_accepts(base: SimpleNamespace, accepts: int, places: int, processes: int) -> SimpleNamespace:
    """One shift of ``places`` places and ``accepts`` sent offers for it.

    Also, for warming each process up as a web worker is warm after its first requests,
    two offers per process on shifts of other requests: one with a free place (booked)
    and one on a shift already full (stand-by).
    """
    from sqlalchemy import update

    from zorgreserve import db
    from zorgreserve.deployments.models import Shift

    req = _open_request(base, days=1, places=places)
    shift_id = req.shifts[0].id
    offer_ids = _sent_offers(req, shift_id, _bulk_reservists(accepts, "email"))
    warm_free = _open_request(base, days=1, places=processes)
    warm_full = _open_request(base, days=1, places=1)
    free_id, full_id = warm_free.shifts[0].id, warm_full.shifts[0].id
    db.session.execute(update(Shift).where(Shift.id == full_id).values(booked=1))
    db.session.commit()
    warm_people = _bulk_reservists(2 * processes, "email")
    warm = list(
        zip(
            [(free_id, o) for o in _sent_offers(warm_free, free_id, warm_people[:processes])],
            [(full_id, o) for o in _sent_offers(warm_full, full_id, warm_people[processes:])],
            strict=True,
        )
    )
    return SimpleNamespace(shift_id=shift_id, offer_ids=offer_ids, warm=warm)


def _accept_process(
    app: Any,
    url: str,
    shift_id: int,
    offer_ids: list[int],
    warm: list[tuple[int, int]],
    threads: int,
    ready: Any,
    go: Any,
    results: Any,
) -> None:
    """One forked 'web worker': its own pool of ``threads`` connections and ``threads`` threads."""
    from zorgreserve import db
    from zorgreserve.callups import booking
    from zorgreserve.db import utcnow

    db.dispose_engine_after_fork()
    engine = db.make_engine(url, pool_size=threads, max_overflow=0, pool_timeout=60)
    db.session.remove()
    db.session.configure(bind=engine)
    # Open the pool's connections before the start, as a warm web worker has them.
    connections = [engine.connect() for _ in range(threads)]
    for conn in connections:
        conn.close()

    def one(offer_id: int, queued_at: float, shift_id: int = shift_id) -> tuple[str, float, float, str]:
        with app.test_request_context():
            started = time.perf_counter()
            detail = ""
            try:
                result = booking.accept(db.session, offer_id, [shift_id], channel="web", now=utcnow())
                db.session.commit()
                kind = "booked" if result.booked else "standby" if result.standby else "refused"
            except booking.OfferClosed as exc:
                db.session.rollback()
                kind, detail = "closed", exc.reason
            except booking.TryAgain:
                db.session.rollback()
                kind = "try_again"
            except Exception as exc:  # counted and printed: the benchmark must show every failure
                db.session.rollback()
                kind, detail = "error", f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
            finally:
                db.session.remove()
            ended = time.perf_counter()
            return kind, (ended - started) * 1000, (ended - queued_at) * 1000, detail

    # Warm up, as a web worker is after its first requests: imports, compiled statements.
    warm_outcomes = [one(offer_id, time.perf_counter(), shift_id=sid)[0] for sid, offer_id in warm]
    ready.put(warm_outcomes)
    go.wait(timeout=120)
    queued_at, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        outcomes = list(pool.map(lambda oid: one(oid, queued_at), offer_ids))
    cpu = time.process_time() - cpu
    engine.dispose()
    results.put((outcomes, cpu))


def _run_accepts(
    app: Any, url: str, setup: SimpleNamespace, processes: int, threads: int, warm: bool
) -> dict[str, Any]:
    from zorgreserve import db

    db.session.remove()
    db.get_engine().dispose()
    freeze_startup_objects()  # as zorgreserve.wsgi does in every web process
    context = multiprocessing.get_context("fork")
    ready, results, go = context.Queue(), context.Queue(), context.Event()
    offer_ids = setup.offer_ids
    shares = [offer_ids[i::processes] for i in range(processes)]
    children = [
        context.Process(
            target=_accept_process,
            args=(
                app,
                url,
                setup.shift_id,
                share,
                list(setup.warm[i]) if warm else [],
                threads,
                ready,
                go,
                results,
            ),
            daemon=True,
        )
        for i, share in enumerate(shares)
    ]
    for child in children:
        child.start()
    warm_outcomes = [kind for _ in children for kind in ready.get(timeout=120)]
    started = time.perf_counter()
    go.set()
    reports = [results.get(timeout=300) for _ in children]
    outcomes = [item for items, _cpu in reports for item in items]
    cpu = sum(cpu for _items, cpu in reports)
    seconds = time.perf_counter() - started
    for child in children:
        child.join(timeout=30)
    service = [o[1] for o in outcomes]
    waited = [o[2] for o in outcomes]
    counts: dict[str, int] = {}
    for kind, *_rest in outcomes:
        counts[kind] = counts.get(kind, 0) + 1
    closed = sorted({o[3] for o in outcomes if o[0] == "closed"})
    errors = sorted({o[3] for o in outcomes if o[0] == "error"})
    return {
        "seconds": seconds,
        "counts": counts,
        "closed_reasons": closed,
        "errors": errors[:3],
        "p50": statistics.median(service),
        "p95": _percentile(service, 0.95),
        "max": max(service),
        "by_kind": {
            kind: (
                statistics.median([o[1] for o in outcomes if o[0] == kind]),
                max(o[1] for o in outcomes if o[0] == kind),
            )
            for kind in counts
        },
        "warm_up": sorted(warm_outcomes),
        "cpu_seconds": cpu,
        "wait_p50": statistics.median(waited),
        "wait_p95": _percentile(waited, 0.95),
    }


# Command -----------------------------------------------------------------------------------


@click.command("callups")
@click.option("--offers", default=10_000, show_default=True, help="Offers in the wave (0: skip the waves).")
@click.option("--rate", default=200, show_default=True, help="SMS per second of the throttled wave.")
@click.option(
    "--channels",
    default="both",
    show_default=True,
    type=click.Choice(["sms", "email", "both"]),
    help="The wave's reservists' channels.",
)
@click.option(
    "--throttled-channels",
    default="sms",
    show_default=True,
    type=click.Choice(["sms", "both"]),
    help="Channels of the throttled wave's reservists.",
)
@click.option(
    "--workers",
    default=2,
    show_default=True,
    help="Worker processes sending the waves (1: this process's in-process queue).",
)
@click.option(
    "--redis-url",
    default="redis://127.0.0.1:6379/14",
    show_default=True,
    help="A Redis database for the bench's worker processes alone (it is emptied first).",
)
@click.option("--accepts", default=200, show_default=True, help="Concurrent accepts (0: skip).")
@click.option("--places", default=5, show_default=True, help="Places of the shift they compete for.")
@click.option("--processes", default=8, show_default=True, help="Processes making the accepts.")
@click.option("--threads", default=2, show_default=True, help="Threads (and pooled connections) per process.")
@click.option(
    "--warm/--cold",
    default=True,
    show_default=True,
    help="Warm each process up with two accepts elsewhere first (as a web worker after its first requests).",
)
@click.option(
    "--create-schema", is_flag=True, help="Create missing tables and indexes from the models (scratch DB)."
)
def command(
    offers: int,
    rate: int,
    channels: str,
    throttled_channels: str,
    workers: int,
    redis_url: str,
    accepts: int,
    places: int,
    processes: int,
    threads: int,
    warm: bool,
    create_schema: bool,
) -> None:
    """Time a call-up wave (plain and throttled) and concurrent accepts against DATABASE_URL (scratch DB)."""
    from sqlalchemy import inspect, select

    from zorgreserve import db
    from zorgreserve.cli import _app

    # Recording backends, and this process's in-process queue: no other worker runs these jobs.
    os.environ.update({"RATELIMIT_ENABLED": "false", "MAIL_BACKEND": "locmem", "SMS_BACKEND": "recorder"})
    os.environ.pop("REDIS_URL", None)
    app = _app()
    app.config["REDIS_URL"] = None
    if workers > 1 and offers:
        from redis import Redis
        from redis.exceptions import RedisError

        try:
            Redis.from_url(redis_url, socket_connect_timeout=2).flushdb()
        except RedisError as exc:
            raise click.ClickException(f"No Redis at --redis-url ({exc}); or use --workers 1.") from exc
        app.config["REDIS_URL"] = redis_url
    engine = db.get_engine()
    url = engine.url.render_as_string(hide_password=False)
    if create_schema:
        db.import_models()
        db.Base.metadata.create_all(engine)
    if not inspect(engine).has_table("callup_offer"):
        raise click.ClickException("No schema: run `zorgreserve db upgrade` (or pass --create-schema).")
    if processes * threads > 40:
        raise click.ClickException("At most 40 connections (processes × threads): the server's are shared.")
    figures: dict[str, Any] = {"database": engine.dialect.name, "cpus": os.cpu_count()}
    with app.app_context():
        from zorgreserve.reference.models import Region

        if db.session.scalar(select(Region.id).limit(1)) is None:
            from zorgreserve.reference.loader import load_all

            load_all(db.session)
            db.session.commit()
        with app.test_request_context():
            base = _base()
            db.session.remove()

        if offers:
            started = time.perf_counter()
            people = _bulk_reservists(offers, channels)
            click.echo(f"set-up: {offers} reservists ({channels}) in {time.perf_counter() - started:.1f} s")
            plain = _run_wave(app, base, people, rate=0, workers=workers, url=url)
            click.echo(
                f"wave: {offers} offers -> {plain['sms']} SMS + {plain['emails']} e-mails "
                f"({plain['jobs']} jobs, batch {app.config['CALLUP_BATCH_SIZE']}, "
                f"{plain['workers']} worker process(es); SMS handed twice {plain['sms_twice']}) "
                f"in {plain['seconds']:.2f} s (create_wave {plain['create_seconds']:.2f} s; "
                f"CPU of the sending processes {plain['cpu_seconds']:.2f} s; "
                f"target < {TARGET_WAVE_SECONDS:.0f} s); "
                f"messages {plain['messages_by_state']}, wave {plain['status']}"
            )
            throttled_people = people if throttled_channels == channels else _bulk_reservists(offers, "sms")
            throttled = _run_wave(app, base, throttled_people, rate=rate, workers=workers, url=url)
            bound = throttled["sms"] / rate
            ratio = throttled["seconds"] / bound
            click.echo(
                f"throttled wave ({rate} SMS/s): {throttled['sms']} SMS + {throttled['emails']} e-mails "
                f"in {throttled['seconds']:.2f} s, provider-bound {bound:.2f} s, ratio {ratio:.3f} "
                f"(target <= {TARGET_THROTTLED_RATIO}); peak {throttled['peak_sms_per_second']} SMS in 1 s"
            )
            figures |= {
                "offers": offers,
                "channels": channels,
                "wave_sms": plain["sms"],
                "wave_emails": plain["emails"],
                "wave_messages_not_sent": sum(
                    v for k, v in plain["messages_by_state"].items() if k != "sent"
                ),
                "wave_jobs": plain["jobs"],
                "wave_workers": plain["workers"],
                "wave_sms_handed_twice": plain["sms_twice"],
                "batch_size": app.config["CALLUP_BATCH_SIZE"],
                "wave_create_seconds": round(plain["create_seconds"], 3),
                "wave_seconds": round(plain["seconds"], 3),
                "wave_cpu_seconds": round(plain["cpu_seconds"], 3),
                "throttled_rate": rate,
                "throttled_sms": throttled["sms"],
                "throttled_emails": throttled["emails"],
                "throttled_wave_seconds": round(throttled["seconds"], 3),
                "throttled_bound_seconds": round(bound, 3),
                "throttled_wave_ratio": round(ratio, 3),
                "throttled_peak_sms_per_second": throttled["peak_sms_per_second"],
            }
        else:
            figures |= {"offers": 0, "wave_seconds": None, "throttled_wave_ratio": None}

        if accepts:
            with app.test_request_context():
                setup = _setup_accepts(base, accepts, places, processes)
                db.session.remove()
            shift_id = setup.shift_id
            result = _run_accepts(app, url, setup, processes, threads, warm)
            from zorgreserve.deployments.models import Shift

            booked = db.session.scalar(select(Shift.booked).where(Shift.id == shift_id))
            db.session.remove()
            click.echo(
                "accept ms by outcome (p50 / max): "
                + ", ".join(f"{kind} {p50:.0f} / {top:.0f}" for kind, (p50, top) in result["by_kind"].items())
            )
            for line in result["errors"]:
                click.echo(f"error: {line}")
            click.echo(
                f"accepts: {accepts} at once on one shift of {places} places from {processes} processes × "
                f"{threads} threads ({processes * threads} connections): {result['counts']} "
                f"(closed: {', '.join(result['closed_reasons']) or '-'}) in {result['seconds']:.2f} s; "
                f"booked {booked}; accept p50 {result['p50']:.1f} ms, p95 {result['p95']:.1f} ms, "
                f"max {result['max']:.1f} ms (target p95 < {TARGET_P95_MS:.0f} ms); with the wait for a "
                f"free thread p50 {result['wait_p50']:.0f} ms, p95 {result['wait_p95']:.0f} ms; "
                f"CPU of the accepting processes {result['cpu_seconds']:.2f} s "
                f"({result['cpu_seconds'] / accepts * 1000:.1f} ms an accept); "
                f"warm-up accepts per process: {'booked + stand-by elsewhere' if warm else 'none (cold)'}"
            )
            counts = result["counts"]
            figures |= {
                "concurrent_accepts": accepts,
                "places": places,
                "processes": processes,
                "threads_per_process": threads,
                "warm_up": result["warm_up"],
                "accept_cpu_seconds": round(result["cpu_seconds"], 3),
                "booked": booked,
                "standby": counts.get("standby", 0),
                "already_filled": counts.get("closed", 0),
                "try_again": counts.get("try_again", 0),
                "errors": counts.get("error", 0),
                "accepts_per_second": round(accepts / result["seconds"], 1),
                "accept_p50_ms": round(result["p50"], 1),
                "accept_p95_ms": round(result["p95"], 1),
                "accept_max_ms": round(result["max"], 1),
                "accept_wait_p50_ms": round(result["wait_p50"], 1),
                "accept_wait_p95_ms": round(result["wait_p95"], 1),
                "accept_ms_by_outcome": {
                    k: [round(a, 1), round(b, 1)] for k, (a, b) in result["by_kind"].items()
                },
            }
        else:
            figures |= {"concurrent_accepts": 0, "places": places, "booked": None}
    click.echo(json.dumps(figures))
