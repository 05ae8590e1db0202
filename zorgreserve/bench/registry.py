"""``zorgreserve bench registry``: the coordinator search at registry scale.

Builds (or reuses) a synthetic registry in the database of ``DATABASE_URL`` —
reservists spread over the regions in proportion to their postcodes, with
qualifications, BIG registrations, skills, training, weekly windows, dated
periods and stand-by — then times what coordinators do, through the whole web
stack (the Flask test client: session, scope, query, template):

* the issue's target: a regional coordinator's search for region +
  qualification + "available in the next 7 days", first page rendered, against
  the bare SQL of the same filter (one statement, first page and total count,
  on a raw driver cursor) measured in the same run;
* other representative searches, the reservist page, and the CSV export of a region.

Everything the timed requests write (access-log rows) happens inside one outer
transaction that is rolled back, so the dataset stays as built and can be
reused by the next run. The last line printed is one JSON object with the figures.

The benchmark refuses a database that holds accounts of its own: it is meant
for a scratch database (see docs/performance.md).
"""

from __future__ import annotations

import json
import math
import os
import random
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import click

BENCH_DOMAIN = "bench.zorgreserve.invalid"
#: Not an Argon2 hash, so no password ever matches: benchmark accounts cannot sign in.
UNUSABLE_PASSWORD = "!bench-account-cannot-sign-in"  # noqa: S105 (not a secret)
TARGET_P95_MS = 150.0
TARGET_RATIO = 3.0
QUALIFICATION_WEIGHTS = {
    "verpleegkundige": 30,
    "ic_verpleegkundige": 10,
    "seh_verpleegkundige": 7,
    "ccu_verpleegkundige": 4,
    "ambulanceverpleegkundige": 3,
    "verpleegkundig_specialist": 2,
    "anesthesiemedewerker": 5,
    "ok_assistent": 5,
    "verzorgende_ig": 18,
    "basisarts": 6,
    "medisch_specialist": 3,
    "physician_assistant": 1,
    "doktersassistent": 5,
    "helpende": 3,
}
WINDOW_PATTERNS: list[tuple[int, list[tuple[int, int, int]]]] = [
    (30, [(d, 7 * 60, 17 * 60) for d in range(5)]),  # weekdays, office hours
    (15, [(d, 17 * 60, 23 * 60) for d in range(7)]),  # evenings
    (10, [(d, 23 * 60, 7 * 60) for d in range(7)]),  # nights, past midnight
    (15, [(d, 0, 24 * 60) for d in (5, 6)]),  # weekends
    (20, []),  # one to three random windows (filled in below)
    (10, []),  # no weekly windows at all
]


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile (p95 of 30 runs is the 29th fastest)."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


# Building the dataset ------------------------------------------------------------------------


def _bulk_insert(connection: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert many rows fast: COPY on PostgreSQL, an executemany of dicts elsewhere."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        columns = list(rows[0])
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor:
            statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
            with cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row([row[c] for c in columns])
        return
    for start in range(0, len(rows), 5000):
        connection.execute(table.insert(), rows[start : start + 5000])


def _next_id(connection: Any, table: Any) -> int:
    from sqlalchemy import func, select

    return (connection.scalar(select(func.max(table.c.id))) or 0) + 1


def _names(seed: int) -> tuple[list[str], list[str]]:
    from faker import Faker

    fake = Faker("nl_NL")
    fake.seed_instance(seed)
    firsts = sorted({fake.first_name() for _ in range(1500)})
    lasts = sorted({fake.last_name() for _ in range(3000)})
    return firsts, lasts


def build_dataset(connection: Any, count: int, seed: int) -> dict[str, int]:
    """Insert ``count`` synthetic reservists with everything a record holds; returns rows per table."""
    from sqlalchemy import select

    from zorgreserve.accounts.models import User
    from zorgreserve.availability.models import AvailabilityPeriod, WeeklyWindow
    from zorgreserve.reference.models import (
        MunicipalityRegion,
        Postcode,
        Profession,
        Qualification,
        RegionNeighbour,
        Skill,
    )
    from zorgreserve.reservists.models import (
        BigRegistration,
        Reservist,
        ReservistQualification,
        ReservistRegion,
        ReservistSkill,
        TrainingRecord,
    )

    rng = random.Random(seed)
    firsts, lasts = _names(seed)
    now = datetime.now(UTC)
    today = now.date()
    postcodes = connection.execute(
        select(Postcode.pc4, Postcode.latitude, Postcode.longitude, MunicipalityRegion.region_id)
        .join(MunicipalityRegion, MunicipalityRegion.municipality_code == Postcode.municipality_code)
        .where(MunicipalityRegion.valid_to.is_(None))
        .order_by(Postcode.pc4)
    ).all()
    neighbours: dict[int, list[int]] = {}
    for a, b in connection.execute(select(RegionNeighbour.region_a_id, RegionNeighbour.region_b_id)):
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    regions = sorted({p.region_id for p in postcodes})
    qualifications = {
        q.code: q
        for q in connection.execute(select(Qualification.id, Qualification.code, Qualification.profession_id))
    }
    registered = set(connection.scalars(select(Profession.id).where(Profession.has_big_register)))
    codes = [c for c in QUALIFICATION_WEIGHTS if c in qualifications]
    weights = [QUALIFICATION_WEIGHTS[c] for c in codes]
    skills = list(connection.scalars(select(Skill.id).order_by(Skill.id)))
    patterns, pattern_weights = zip(*[(i, w) for i, (w, _p) in enumerate(WINDOW_PATTERNS)], strict=True)

    tables: dict[str, list[dict[str, Any]]] = {
        name: []
        for name in (
            "user",
            "reservist",
            "region",
            "qualification",
            "big",
            "skill",
            "training",
            "window",
            "period",
        )
    }
    uid, rid = _next_id(connection, User.__table__), _next_id(connection, Reservist.__table__)
    qid, bid = (
        _next_id(connection, ReservistQualification.__table__),
        _next_id(connection, BigRegistration.__table__),
    )
    tid, wid = _next_id(connection, TrainingRecord.__table__), _next_id(connection, WeeklyWindow.__table__)
    pid = _next_id(connection, AvailabilityPeriod.__table__)
    for index in range(count):
        user_id, reservist_id = uid + index, rid + index
        created = now - timedelta(days=rng.randrange(1, 900))
        tables["user"].append(
            {
                "id": user_id,
                "email": f"bench-{index:07d}@{BENCH_DOMAIN}",
                "password_hash": UNUSABLE_PASSWORD,
                "role": "reservist",
                "first_name": rng.choice(firsts),
                "last_name": rng.choice(lasts),
                "phone": f"+316{rng.randrange(10_000_000, 99_999_999)}",
                "locale": "nl",
                "is_active_account": True,
                "email_verified_at": created,
                "session_nonce": f"{seed:08x}{index:024x}",
                "created_at": created,
                "password_changed_at": created,
            }
        )
        pc = rng.choice(postcodes)
        roll = rng.random()
        status = "active" if roll < 0.90 else "paused" if roll < 0.96 else "withdrawn"
        tables["reservist"].append(
            {
                "id": reservist_id,
                "user_id": user_id,
                "pc4": pc.pc4,
                "home_region_id": pc.region_id,
                "latitude": pc.latitude,
                "longitude": pc.longitude,
                "max_travel_km": rng.choice([15, 25, 40, 60, 100]),
                "max_hours_per_week": rng.choice([None, 16, 24, 32, 40]),
                "channels": rng.choice(["sms", "email", "both", "both"]),
                "languages": rng.choice(["nl", "nl", "nl", "nl,en", "nl,de"]),
                "status": status,
                "paused_until": today + timedelta(days=rng.randrange(1, 90)) if status == "paused" else None,
                "standby_until": now + timedelta(hours=rng.randrange(1, 48)) if rng.random() < 0.02 else None,
                "withdrawn_at": now - timedelta(days=rng.randrange(1, 200))
                if status == "withdrawn"
                else None,
                "erased_at": None,
                "created_at": created,
                "updated_at": created + (now - created) * rng.random(),
            }
        )
        if rng.random() < 0.25:
            others = neighbours.get(pc.region_id) or [r for r in regions if r != pc.region_id]
            for region_id in rng.sample(others, k=min(len(others), rng.choice([1, 1, 2]))):
                tables["region"].append({"reservist_id": reservist_id, "region_id": region_id})
        held = set(rng.choices(codes, weights, k=rng.choices([1, 2, 3], [70, 25, 5])[0]))
        professions_done: set[int] = set()
        for code in sorted(held):
            qualification = qualifications[code]
            state = rng.choices(["verified", "unverified", "rejected"], [80, 15, 5])[0]
            obtained = today - timedelta(days=rng.randrange(200, 365 * 25))
            expires = obtained + timedelta(days=rng.randrange(365, 365 * 30)) if rng.random() < 0.1 else None
            tables["qualification"].append(
                {
                    "id": qid,
                    "reservist_id": reservist_id,
                    "qualification_id": qualification.id,
                    "obtained_on": obtained,
                    "expires_on": expires,
                    "evidence_id": None,
                    "evidence_verified": state == "verified",
                    "verification": state,
                    "rejection_reason": "Bench: evidence unreadable" if state == "rejected" else None,
                    "verified_by_id": None,
                    "verified_at": now if state == "verified" else None,
                    "changed_at": created,
                }
            )
            qid += 1
            profession = qualification.profession_id
            if profession in registered and profession not in professions_done:
                professions_done.add(profession)
                tables["big"].append(
                    {
                        "id": bid,
                        "reservist_id": reservist_id,
                        "profession_id": profession,
                        "big_number": f"{rng.randrange(10**10, 10**11):011d}",
                        "verification": state,
                        "rejection_reason": None,
                        "reregistration_due": today + timedelta(days=rng.randrange(-30, 5 * 365)),
                        "lookup_result": None,
                        "lookup_at": None,
                        "verified_by_id": None,
                        "verified_at": now if state == "verified" else None,
                        "changed_at": created,
                    }
                )
                bid += 1
        for skill_id in rng.sample(skills, k=rng.choice([0, 1, 1, 2, 3, 4])):
            tables["skill"].append({"reservist_id": reservist_id, "skill_id": skill_id})
        if rng.random() < 0.3:
            completed = today - timedelta(days=rng.randrange(30, 2000))
            tables["training"].append(
                {
                    "id": tid,
                    "reservist_id": reservist_id,
                    "course": rng.choice(["BLS", "ALS", "Buikligging", "Beademing opfrissen"]),
                    "completed_on": completed,
                    "expires_on": completed + timedelta(days=730) if rng.random() < 0.5 else None,
                }
            )
            tid += 1
        pattern = rng.choices(patterns, pattern_weights)[0]
        windows = list(WINDOW_PATTERNS[pattern][1])
        if pattern == 4:
            for weekday in rng.sample(range(7), k=rng.randrange(1, 4)):
                start = rng.randrange(0, 20) * 60
                windows.append((weekday, start, min(start + rng.choice([4, 8, 12]) * 60, 24 * 60)))
        for weekday, start, end in windows:
            tables["window"].append(
                {
                    "id": wid,
                    "reservist_id": reservist_id,
                    "weekday": weekday,
                    "start_minute": start,
                    "end_minute": end,
                }
            )
            wid += 1
        for kind, chance in (("unavailable", 0.2), ("available", 0.1)):
            if rng.random() < chance:
                starts = now + timedelta(days=rng.randrange(-10, 60), hours=rng.randrange(24))
                tables["period"].append(
                    {
                        "id": pid,
                        "reservist_id": reservist_id,
                        "kind": kind,
                        "reason": "holiday" if kind == "unavailable" else "other",
                        "starts_at": starts,
                        "ends_at": starts + timedelta(days=rng.randrange(1, 21)),
                        "note": None,
                        "created_at": now,
                    }
                )
                pid += 1
    targets = [
        ("user", User.__table__),
        ("reservist", Reservist.__table__),
        ("region", ReservistRegion.__table__),
        ("qualification", ReservistQualification.__table__),
        ("big", BigRegistration.__table__),
        ("skill", ReservistSkill.__table__),
        ("training", TrainingRecord.__table__),
        ("window", WeeklyWindow.__table__),
        ("period", AvailabilityPeriod.__table__),
    ]
    for key, table in targets:
        _bulk_insert(connection, table, tables[key])
    if connection.dialect.name == "postgresql":
        for _key, table in targets:
            if "id" in table.c:
                # Table names come from the models, not from input.
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "  # noqa: S608
                    f"(SELECT coalesce(max(id), 1) FROM {table.name}))"
                )
    return {table.name: len(tables[key]) for key, table in targets}


def _bench_accounts(connection: Any) -> tuple[int, int]:
    """Counts of (bench reservist accounts, accounts that are not the benchmark's)."""
    from sqlalchemy import func, select

    from zorgreserve.accounts.models import User

    ours = User.email.like(f"%@{BENCH_DOMAIN}")
    bench = connection.scalar(select(func.count()).where(ours, User.role == "reservist"))
    others = connection.scalar(select(func.count()).select_from(User).where(~ours))
    return bench or 0, others or 0


def _drop_dataset(connection: Any) -> None:
    """Empty the registry for a rebuild (the database holds benchmark accounts only: checked before).

    On PostgreSQL the reservists go by TRUNCATE first (with everything that
    refers to them), so deleting the accounts afterwards finds the tables that
    refer to accounts (verified by, changed by) nearly empty.
    """
    from sqlalchemy import delete, select

    from zorgreserve.accounts.models import User
    from zorgreserve.reservists.models import Reservist

    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
        connection.exec_driver_sql("TRUNCATE TABLE reservist CASCADE")
    bench_users = select(User.id).where(User.email.like(f"%@{BENCH_DOMAIN}"))
    connection.execute(delete(Reservist).where(Reservist.user_id.in_(bench_users)))
    connection.execute(delete(User).where(User.email.like(f"%@{BENCH_DOMAIN}")))


def _coordinator(connection: Any, key: str, role: str, region_id: int | None) -> int:
    """A bench coordinator account (it cannot sign in: the password hash is not a hash)."""
    from sqlalchemy import insert, select, update

    from zorgreserve.accounts.models import User

    email = f"{key}@{BENCH_DOMAIN}"
    found = connection.scalar(select(User.id).where(User.email == email))
    if found is not None:
        connection.execute(update(User).where(User.id == found).values(region_id=region_id))
        return int(found)
    now = datetime.now(UTC)
    return int(
        connection.scalar(
            insert(User)
            .values(
                email=email,
                password_hash=UNUSABLE_PASSWORD,
                role=role,
                first_name="Bench",
                last_name=key.title(),
                locale="en",
                region_id=region_id,
                session_nonce=os.urandom(16).hex(),
                email_verified_at=now,
                created_at=now,
                password_changed_at=now,
                is_active_account=True,
            )
            .returning(User.id)
        )
    )


def ensure_schema(engine: Any) -> None:
    """Create missing tables and indexes from the models (for a scratch benchmark database)."""
    from zorgreserve import db

    db.import_models()
    db.Base.metadata.create_all(engine)
    listing = {
        "postgresql": "SELECT indexname FROM pg_indexes",
        "sqlite": "SELECT name FROM sqlite_master WHERE type = 'index'",
    }.get(engine.dialect.name)
    if listing is None:
        return
    with engine.begin() as connection:
        present = set(connection.exec_driver_sql(listing).scalars())
        for table in db.Base.metadata.sorted_tables:
            for index in table.indexes:
                if index.name not in present:
                    index.create(connection)


# Timing ------------------------------------------------------------------------------------------


class Timer:
    """Collects timings per case and prints the table."""

    def __init__(self) -> None:
        self.cases: dict[str, dict[str, Any]] = {}

    def run(self, name: str, runs: int, action: Callable[[int], Any], warmup: int = 2) -> dict[str, Any]:
        for index in range(warmup):
            action(index)
        samples, found = [], None
        for index in range(runs):
            started = time.perf_counter()
            found = action(index)
            samples.append((time.perf_counter() - started) * 1000)
        case = {
            "runs": runs,
            "p50_ms": round(statistics.median(samples), 2),
            "p95_ms": round(percentile(samples, 0.95), 2),
            "results": found,
        }
        self.cases[name] = case
        return case

    def table(self) -> str:
        width = max(len(name) for name in self.cases)
        lines = [f"{'case':<{width}}  {'runs':>5}  {'p50 ms':>9}  {'p95 ms':>9}  {'results':>8}"]
        for name, case in self.cases.items():
            results = "" if case["results"] is None else str(case["results"])
            p50, p95 = case["p50_ms"], case["p95_ms"]
            lines.append(f"{name:<{width}}  {case['runs']:>5}  {p50:>9.1f}  {p95:>9.1f}  {results:>8}")
        return "\n".join(lines)


def _result_count(body: str) -> str | None:
    """What the page says it found: the exact total, or the rows shown ("50+" when there are more)."""
    marker = 'data-testid="result-count"'
    if marker not in body:
        return None
    tag = body[body.index(marker) : body.index(">", body.index(marker))]
    for attribute, shown in (('data-total="', "{}"), ('data-at-least="', "{}")):
        if attribute in tag:
            return shown.format(tag.split(attribute, 1)[1].split('"', 1)[0])
    return None


def _signed_in_client(app: Any, user_id: int) -> Any:
    from zorgreserve import db
    from zorgreserve.accounts.models import User
    from zorgreserve.accounts.sessions import LAST_SEEN

    user = db.session.get(User, user_id)
    client = app.test_client()
    with client.session_transaction() as session:
        session.permanent = True
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
        session[LAST_SEEN] = time.time()
    return client


def _get(client: Any, url: str) -> str:
    response = client.get(url)
    if response.status_code != 200:
        raise click.ClickException(f"GET {url} answered {response.status_code}")
    return response.get_data(as_text=True)


def bare_sql(connection: Any, user: Any, criteria: Any) -> list[str]:
    """The same filter in SQL alone, with literal values: the count, then the first page.

    Availability as far as SQL can say it: the availability module's prefilter
    (a necessary condition; the exact answer needs its Python rules).
    """
    from sqlalchemy import func, select

    from zorgreserve.coordination import filters
    from zorgreserve.coordination import search as finder
    from zorgreserve.reference.models import Region
    from zorgreserve.reservists.models import Reservist

    today = date.today()
    count = select(func.count()).select_from(
        filters.filtered(user, criteria, (Reservist.id,), today, prefilter=True).subquery()
    )
    page = (
        filters.filtered(user, criteria, finder.ROW_COLUMNS, today, prefilter=True)
        .outerjoin(Region, Region.id == Reservist.home_region_id)
        .order_by(*finder.SORT_KEY)
        .limit(finder.PAGE_SIZE)
    )
    dialect = connection.dialect
    return [str(q.compile(dialect=dialect, compile_kwargs={"literal_binds": True})) for q in (count, page)]


def measure(app: Any, connection: Any, runs: int, seed: int) -> dict[str, Any]:
    """Time the searches, the reservist page and the export; everything written is rolled back."""
    from sqlalchemy import func, select

    from zorgreserve import db
    from zorgreserve.accounts.models import User
    from zorgreserve.coordination import filters
    from zorgreserve.reservists.models import Reservist

    rng = random.Random(seed)
    region_id = connection.scalar(
        select(Reservist.home_region_id)
        .where(Reservist.home_region_id.is_not(None))
        .group_by(Reservist.home_region_id)
        .order_by(func.count().desc(), Reservist.home_region_id)
        .limit(1)
    )
    regional_id = _coordinator(connection, "regional", "regional_coordinator", region_id)
    national_id = _coordinator(connection, "national", "national_coordinator", None)
    connection.commit()

    outer = connection.begin()
    db.session.remove()
    db.session.configure(bind=connection, join_transaction_mode="create_savepoint")
    timer = Timer()
    try:
        regional = _signed_in_client(app, regional_id)
        national = _signed_in_client(app, national_id)
        start = date.today() + timedelta(days=1)
        week = f"available_from={start}&available_to={start + timedelta(days=6)}"

        target_url = f"/coordination/?region={region_id}&qualification=verpleegkundige&{week}"
        target = timer.run(
            "search: region + qualification + available 7 days (web, first page)",
            runs,
            lambda _i: _result_count(_get(regional, target_url)),
        )
        user = db.session.get(User, regional_id)
        criteria = filters.Criteria(
            region_id=region_id,
            qualification="verpleegkundige",
            available_from=start,
            available_to=start + timedelta(days=6),
        )
        sql = bare_sql(connection, user, criteria)
        raw = connection.connection.dbapi_connection

        def run_sql(_index: int, statements: list[str] = sql) -> int:
            cursor = raw.cursor()
            cursor.execute(statements[0])
            total = int(cursor.fetchone()[0])
            cursor.execute(statements[1])
            cursor.fetchall()
            cursor.close()
            return total

        bare = timer.run("bare SQL of that filter (first page + count)", runs, run_sql)
        floor_sql = bare_sql(connection, user, replace(criteria, available_from=None, available_to=None))
        floor = timer.run(
            "bare SQL, region + qualification only (no availability)",
            runs,
            lambda _i: run_sql(_i, floor_sql),
        )

        cases = [
            ("same search, available ones counted exactly (web)", regional, target_url + "&count=all"),
            ("search: own region, no filter (web)", regional, "/coordination/"),
            (
                "search: own region, IC nurse verified, active (web)",
                regional,
                "/coordination/?qualification=ic_verpleegkundige&status=active",
            ),
            (
                "search: national, qualification + skill + active (web)",
                national,
                "/coordination/?qualification=seh_verpleegkundige&skill=triage&status=active",
            ),
            ("search: national, pending verification (web)", national, "/coordination/?verification=pending"),
            ("search: national, available 7 days, no other filter (web)", national, f"/coordination/?{week}"),
            ("search: national, no filter, page 100 (web)", national, "/coordination/?page=100"),
        ]
        for name, client, url in cases:
            timer.run(name, runs, lambda _i, c=client, u=url: _result_count(_get(c, u)))

        posted = regional.post("/coordination/", data={"name": "de", "qualification_state": "verified"})
        name_url = posted.headers["Location"]
        timer.run(
            "search: own region, name prefix (web)", runs, lambda _i: _result_count(_get(regional, name_url))
        )

        in_region = list(
            connection.scalars(
                filters.filtered(user, filters.Criteria(), (Reservist.id,), date.today()).order_by(
                    Reservist.id
                )
            )
        )
        sample = rng.sample(in_region, k=min(len(in_region), runs + 2))
        timer.run(
            "reservist page (web, logged)",
            runs,
            lambda i: len(_get(regional, f"/coordination/reservists/{sample[i % len(sample)]}")) and None,
        )

        def export(_index: int) -> int:
            response = regional.post("/coordination/export.csv")
            if response.status_code != 200:
                raise click.ClickException(f"export answered {response.status_code}")
            return response.get_data(as_text=True).count("\n") - 1

        export_case = timer.run(
            "CSV export of a region (web, logged)", max(3, min(runs, 5)), export, warmup=1
        )
    finally:
        db.session.remove()
        outer.rollback()
    ratio = target["p95_ms"] / bare["p95_ms"] if bare["p95_ms"] else float("inf")
    return {
        "timer": timer,
        "region_id": region_id,
        "search_p50_ms": target["p50_ms"],
        "search_p95_ms": target["p95_ms"],
        "search_results": target["results"],
        "sql_p50_ms": bare["p50_ms"],
        "sql_p95_ms": bare["p95_ms"],
        "sql_without_availability_p95_ms": floor["p95_ms"],
        "search_ratio_to_sql": round(ratio, 2),
        "detail_p95_ms": timer.cases["reservist page (web, logged)"]["p95_ms"],
        "export_region_p50_ms": export_case["p50_ms"],
        "export_region_rows": export_case["results"],
        "cases": {name: {k: v for k, v in case.items()} for name, case in timer.cases.items()},
    }


def _analyze(engine: Any) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("ANALYZE")


def _counts(connection: Any, tables: Iterable[Any]) -> dict[str, int]:
    from sqlalchemy import func, select

    return {t.name: int(connection.scalar(select(func.count()).select_from(t)) or 0) for t in tables}


@click.command("registry")
@click.option("--reservists", "count", default=100_000, show_default=True, help="Size of the dataset.")
@click.option("--runs", default=30, show_default=True, help="Timed runs per case (after 2 warm-up runs).")
@click.option("--seed", default=2026, show_default=True)
@click.option("--rebuild", is_flag=True, help="Drop the benchmark's reservists and build them again.")
@click.option(
    "--create-schema", is_flag=True, help="Create missing tables and indexes from the models (scratch DB)."
)
def command(count: int, runs: int, seed: int, rebuild: bool, create_schema: bool) -> None:
    """Build (or reuse) COUNT synthetic reservists in DATABASE_URL and time coordinator searches."""
    from sqlalchemy import inspect, select

    from zorgreserve import db
    from zorgreserve.cli import _app
    from zorgreserve.reference.loader import load_all
    from zorgreserve.reference.models import Region

    os.environ.setdefault("RATELIMIT_ENABLED", "false")
    app = _app()
    app.config["WTF_CSRF_ENABLED"] = False  # the timed requests post no forms of a browser
    engine = db.get_engine()
    if create_schema:
        ensure_schema(engine)
    if not inspect(engine).has_table("reservist"):
        raise click.ClickException("No schema: run `zorgreserve db upgrade` (or pass --create-schema).")
    with app.app_context():
        with engine.begin() as connection:
            bench, others = _bench_accounts(connection)
            if others:
                raise click.ClickException(
                    f"DATABASE_URL holds {others} accounts that are not the benchmark's; "
                    "run it against a database of its own."
                )
            if connection.scalar(select(Region.id).limit(1)) is None:
                from sqlalchemy.orm import Session

                with Session(bind=connection) as session:
                    load_all(session)
                    session.flush()
        reused = bench == count and not rebuild
        load_seconds = 0.0
        if reused and create_schema and engine.dialect.name == "postgresql":
            _analyze(engine)  # statistics for indexes the schema step may just have added
        if not reused:
            click.echo(f"Building {count} reservists ...")
            started = time.perf_counter()
            with engine.begin() as connection:
                if bench:
                    _drop_dataset(connection)
                build_dataset(connection, count, seed)
            if engine.dialect.name == "postgresql":
                _analyze(engine)
            load_seconds = time.perf_counter() - started
        from zorgreserve.accounts.models import User
        from zorgreserve.availability.models import AvailabilityPeriod, WeeklyWindow
        from zorgreserve.reservists.models import (
            BigRegistration,
            Reservist,
            ReservistQualification,
            ReservistRegion,
            ReservistSkill,
        )

        with engine.connect() as connection:
            sizes = _counts(
                connection,
                [
                    t.__table__
                    for t in (
                        Reservist,
                        User,
                        ReservistQualification,
                        BigRegistration,
                        ReservistSkill,
                        ReservistRegion,
                        WeeklyWindow,
                        AvailabilityPeriod,
                    )
                ],
            )
    # No application context is held while measuring: each request of the test
    # client must get its own, as in production (the signed-in user is cached there).
    with engine.connect() as connection:
        figures = measure(app, connection, runs, seed)
    timer: Timer = figures.pop("timer")
    met = figures["search_p95_ms"] < TARGET_P95_MS and figures["search_ratio_to_sql"] <= TARGET_RATIO
    click.echo("")
    click.echo(
        f"Database: {engine.dialect.name}; reservists: {count}; "
        + ("dataset reused" if reused else f"loaded in {load_seconds:.1f} s")
    )
    click.echo(timer.table())
    click.echo(
        f"Target: search p95 < {TARGET_P95_MS:.0f} ms and <= {TARGET_RATIO:.0f}x the bare SQL p95: "
        + ("met" if met else "NOT met")
        + f" (p95 {figures['search_p95_ms']:.1f} ms, {figures['search_ratio_to_sql']:.2f}x)"
    )
    summary = {
        "reservists": count,
        "backend": engine.dialect.name,
        "dataset_reused": reused,
        "load_seconds": round(load_seconds, 1),
        "rows": sizes,
        "runs": runs,
        **figures,
        "target_search_p95_ms": TARGET_P95_MS,
        "target_ratio": TARGET_RATIO,
        "targets_met": met,
    }
    click.echo(json.dumps(summary, sort_keys=False))
