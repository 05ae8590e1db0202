"""``zorgreserve bench matching``: the matching engine at registry scale.

Builds (or reuses) the synthetic registry of ``zorgreserve bench registry``
(its builder is imported, not copied) in the database of ``DATABASE_URL``, adds
one hospital location in Utrecht with a 14-shift request and a single-shift
request for nurses (verpleegkundige, so IC/SEH/CCU nurses count too), and times:

* the wave proposal end to end (:func:`engine.propose_wave`: prefilter, bulk
  loads, rules, ranking and grouping) for the 14-shift and the single-shift request;
* the bare SQL prefilter of the same requests (the same statement, nothing else),
  measured in the same run.

It checks that every run gives the same ranking and prints the peak memory of
the process. The last line is one JSON object with the figures.
"""

from __future__ import annotations

import json
import os
import resource
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from zorgreserve.bench.registry import Timer, build_dataset, ensure_schema

BENCH_INSTITUTION = "Bench UMC (matching)"
TARGETS = {"single_p95_ms": 150.0, "single_ratio": 3.0, "multi_p95_ms": 1000.0, "multi_ratio": 4.0}


def _request(session: Any, shifts: int, key: str) -> int:
    """A request at a Utrecht location with ``shifts`` daily 07:00–15:30 shifts from next Monday."""
    from sqlalchemy import select

    from zorgreserve.availability.timeline import TZ
    from zorgreserve.deployments.models import DeploymentRequest, Shift
    from zorgreserve.institutions.models import Institution, InstitutionLocation
    from zorgreserve.reference.models import Postcode, Qualification
    from zorgreserve.reference.services import region_for_postcode

    found = session.scalar(select(DeploymentRequest.id).where(DeploymentRequest.idempotency_key == key))
    if found is not None:
        return int(found)
    institution = session.scalar(select(Institution).where(Institution.name == BENCH_INSTITUTION))
    region = region_for_postcode("3584")
    if institution is None:
        institution = Institution(name=BENCH_INSTITUTION, kind="hospital", region_id=region.id)
        session.add(institution)
        session.flush()
        area = session.get(Postcode, "3584")
        session.add(
            InstitutionLocation(
                institution_id=institution.id,
                name="Hoofdlocatie",
                street_address="Heidelberglaan 100",
                postcode="3584 CX",
                pc4="3584",
                city=area.place,
                region_id=region.id,
                latitude=area.latitude,
                longitude=area.longitude,
            )
        )
        session.flush()
    location = session.scalar(
        select(InstitutionLocation).where(InstitutionLocation.institution_id == institution.id)
    )
    nurse = session.scalar(select(Qualification).where(Qualification.code == "verpleegkundige"))
    request = DeploymentRequest(
        institution_id=institution.id,
        location_id=location.id,
        region_id=region.id,
        department="IC",
        qualification_id=nurse.id,
        urgency="high",
        status="open",
        report_to="Hoofdingang",
        contact_name="Teamleider",
        contact_phone="+31302509111",
        idempotency_key=key,
    )
    session.add(request)
    session.flush()
    today = datetime.now(TZ).date()
    monday = today + timedelta(days=7 - today.weekday())
    for index in range(shifts):
        day = monday + timedelta(days=index)
        start = datetime(day.year, day.month, day.day, 7, 0, tzinfo=TZ).astimezone(UTC)
        session.add(
            Shift(request_id=request.id, start_at=start, end_at=start + timedelta(hours=8.5), places=3)
        )
    session.flush()
    return request.id


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


@click.command("matching")
@click.option("--reservists", "count", default=100_000, show_default=True, help="Size of the registry.")
@click.option("--shifts", default=14, show_default=True, help="Shifts of the multi-shift request.")
@click.option("--runs", default=20, show_default=True, help="Timed runs per case (after 2 warm-up runs).")
@click.option("--seed", default=2026, show_default=True)
@click.option("--rebuild", is_flag=True, help="Drop the benchmark's reservists and build them again.")
@click.option("--create-schema", is_flag=True, help="Create missing tables and indexes from the models.")
def command(count: int, shifts: int, runs: int, seed: int, rebuild: bool, create_schema: bool) -> None:
    """Build (or reuse) COUNT synthetic reservists in DATABASE_URL and time matching."""
    from sqlalchemy import inspect, select
    from sqlalchemy.orm import Session

    from zorgreserve import db
    from zorgreserve.bench.registry import _bench_accounts, _drop_dataset
    from zorgreserve.cli import _app
    from zorgreserve.matching import engine
    from zorgreserve.matching.loading import prefilter_query
    from zorgreserve.reference.loader import load_all
    from zorgreserve.reference.models import Region

    app = _app()
    db_engine = db.get_engine()
    if create_schema:
        ensure_schema(db_engine)
    if not inspect(db_engine).has_table("reservist"):
        raise click.ClickException("No schema: run `zorgreserve db upgrade` (or pass --create-schema).")
    with app.app_context():
        with db_engine.begin() as connection:
            bench, others = _bench_accounts(connection)
            if others:
                raise click.ClickException(
                    f"DATABASE_URL holds {others} accounts that are not the benchmark's; "
                    "run it against a database of its own."
                )
            if connection.scalar(select(Region.id).limit(1)) is None:
                with Session(bind=connection) as session:
                    load_all(session)
                    session.flush()
        reused = bench == count and not rebuild
        load_seconds = 0.0
        if not reused:
            click.echo(f"Building {count} reservists ...")
            started = time.perf_counter()
            with db_engine.begin() as connection:
                if bench:
                    _drop_dataset(connection)
                build_dataset(connection, count, seed)
            if db_engine.dialect.name == "postgresql":
                with db_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                    connection.exec_driver_sql("ANALYZE")
            load_seconds = time.perf_counter() - started
        with Session(bind=db_engine) as session:
            multi_id = _request(session, shifts, f"bench-matching-{shifts}")
            single_id = _request(session, 1, "bench-matching-1")
            session.commit()

        config = dict(app.config)
        now = datetime.now(UTC)
        timer = Timer()
        with Session(bind=db_engine) as session:
            results: dict[str, Any] = {}

            def match(request_id: int, name: str) -> Any:
                def action(_index: int) -> int:
                    proposal = engine.propose_wave(session, request_id, config=config, now=now)
                    key = [(o.reservist_id, o.shift_ids, o.score) for o in proposal.offers]
                    if results.setdefault(name, key) != key:
                        raise click.ClickException(f"{name}: the ranking changed between runs")
                    session.rollback()
                    return len(proposal.offers)

                return action

            def bare(request_id: int) -> Any:
                s = engine.situation(session, request_id, config=config, now=now)
                open_shifts = s.facts.open_shifts(now)
                statement = prefilter_query(s.facts, s.policy, open_shifts, radius_km=None, now=now)

                def action(_index: int) -> int:
                    found = len(session.execute(statement).all())
                    session.rollback()
                    return found

                return action

            prefilter_multi = timer.run("prefilter, 14-shift request", runs, bare(multi_id))
            multi = timer.run(f"match, {shifts}-shift request", runs, match(multi_id, "multi"))
            prefilter_single = timer.run("prefilter, 1-shift request", runs, bare(single_id))
            single = timer.run("match, 1-shift request", runs, match(single_id, "single"))
            ranked = engine.rank_request(session, multi_id, config=config, now=now)
            eligible = len({c.reservist_id for found in ranked.values() for c in found})
            session.rollback()
    ratio = multi["p95_ms"] / max(prefilter_multi["p95_ms"], 0.001)
    single_ratio = single["p95_ms"] / max(prefilter_single["p95_ms"], 0.001)
    met = (
        single["p95_ms"] < TARGETS["single_p95_ms"]
        and single_ratio <= TARGETS["single_ratio"]
        and multi["p95_ms"] < TARGETS["multi_p95_ms"]
        and ratio <= TARGETS["multi_ratio"]
    )
    click.echo("")
    click.echo(
        f"Database: {db_engine.dialect.name}; reservists: {count}; "
        + ("dataset reused" if reused else f"loaded in {load_seconds:.1f} s")
    )
    click.echo(timer.table())
    summary = {
        "reservists": count,
        "shifts": shifts,
        "backend": db_engine.dialect.name,
        "dataset_reused": reused,
        "prefiltered": prefilter_multi["results"],
        "eligible": eligible,
        "offers": multi["results"],
        "match_p50_ms": multi["p50_ms"],
        "match_p95_ms": multi["p95_ms"],
        "prefilter_p95_ms": prefilter_multi["p95_ms"],
        "ratio_to_prefilter": round(ratio, 2),
        "single_shift_p95_ms": single["p95_ms"],
        "single_prefilter_p95_ms": prefilter_single["p95_ms"],
        "single_ratio_to_prefilter": round(single_ratio, 2),
        "identical_rankings": True,
        "peak_rss_mb": _peak_rss_mb(),
        "runs": runs,
        "targets": TARGETS,
        "targets_met": met,
        "pid": os.getpid(),
    }
    click.echo(json.dumps(summary))
