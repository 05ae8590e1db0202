"""The registry as coordinators see it: search, scope, the reservist page, export and access log."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from tests.conftest import BACKEND, scratch_postgres_database
from tests.factories import ReservistFactory, region_named
from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.audit.models import AccessLogEntry, AuditEvent
from zorgreserve.availability.models import AvailabilityPeriod, WeeklyWindow
from zorgreserve.coordination import filters, services
from zorgreserve.coordination import search as finder
from zorgreserve.coordination.export import safe_cell
from zorgreserve.reference.models import Qualification, Skill
from zorgreserve.reservists.models import Reservist, ReservistQualification
from zorgreserve.reservists.services import set_home_postcode

ROOT_DIR = Path(__file__).resolve().parent.parent
UTRECHT, MAASTRICHT = "3511", "6211"  # region X (Midden-Nederland), region Y (Limburg)


def person(
    first: str,
    last: str,
    *,
    pc4: str = UTRECHT,
    serves: tuple[str, ...] = (),
    qualifications: tuple[tuple[str, str], ...] = (),
    skills: tuple[str, ...] = (),
    status: str = "active",
    paused_until: date | None = None,
    windows: tuple[tuple[int, int, int], ...] = (),
    email: str | None = None,
    phone: str | None = None,
) -> Reservist:
    """A reservist with a home postcode (and so a home region) and the given record."""
    extra = {"user__email": email} if email else {}
    reservist = ReservistFactory(
        user__first_name=first, user__last_name=last, user__phone=phone, pc4=pc4, **extra
    )
    set_home_postcode(reservist, pc4)
    reservist.status, reservist.paused_until = status, paused_until
    reservist.regions = [region_named(name) for name in serves]
    reservist.skills = [db.session.scalar(select(Skill).where(Skill.code == c)) for c in skills]
    for code, verification in qualifications:
        qualification = db.session.scalar(select(Qualification).where(Qualification.code == code))
        expires = date.today() - timedelta(days=1) if verification == "expired" else None
        db.session.add(
            ReservistQualification(
                reservist_id=reservist.id,
                qualification_id=qualification.id,
                obtained_on=date(2015, 1, 1),
                expires_on=expires,
                verification="verified" if verification == "expired" else verification,
            )
        )
    for weekday, start, end in windows:
        db.session.add(
            WeeklyWindow(reservist_id=reservist.id, weekday=weekday, start_minute=start, end_minute=end)
        )
    db.session.commit()
    return reservist


def names(response: Any) -> list[str]:
    """The names in the result table, in order."""
    body = response.get_data(as_text=True)
    assert response.status_code == 200, body
    if 'data-testid="results"' not in body:
        return []
    table = body[
        body.index('data-testid="results"') : body.index("</table>", body.index('data-testid="results"'))
    ]
    found = []
    for chunk in table.split('<th scope="row">')[1:]:
        found.append(chunk.split(">", 1)[1].split("</a>", 1)[0])
    return found


def criteria(**kwargs: Any) -> services.Criteria:
    return filters.Criteria(**kwargs)


# Filters -------------------------------------------------------------------------------


def test_qualification_filter_finds_the_verified_holder_and_not_the_unverified_one(client, login_as, cast):
    person("Vera", "Verified", qualifications=(("ic_verpleegkundige", "verified"),))
    person("Uwe", "Unverified", qualifications=(("ic_verpleegkundige", "unverified"),))
    person("Eef", "Expired", qualifications=(("ic_verpleegkundige", "expired"),))
    person("Otto", "Other", qualifications=(("basisarts", "verified"),))
    login_as(cast.coordinator_x)

    verified = client.get("/coordination/?qualification=ic_verpleegkundige&qualification_state=verified")
    assert names(verified) == ["Verified, Vera"]
    held = client.get("/coordination/?qualification=ic_verpleegkundige&qualification_state=any")
    assert names(held) == ["Expired, Eef", "Unverified, Uwe", "Verified, Vera"]
    # IC-verpleegkundige includes verpleegkundige: a search for nurses finds the IC nurse too.
    nurses = client.get("/coordination/?qualification=verpleegkundige")
    assert names(nurses) == ["Verified, Vera"]
    # Only verified, unexpired qualifications are listed in the row.
    assert "IC-verpleegkundige" in verified.get_data(as_text=True)


def test_skill_status_and_verification_filters(client, login_as, cast):
    person("Tara", "Triage", skills=("triage",), qualifications=(("verpleegkundige", "verified"),))
    person("Paul", "Paused", status="paused", paused_until=date.today() + timedelta(days=30))
    person("Wim", "Withdrawn", status="withdrawn", qualifications=(("verpleegkundige", "unverified"),))
    person("Rik", "Rejected", qualifications=(("verpleegkundige", "rejected"),))
    login_as(cast.coordinator_x)

    assert names(client.get("/coordination/?skill=triage")) == ["Triage, Tara"]
    assert names(client.get("/coordination/?status=paused")) == ["Paused, Paul"]
    assert names(client.get("/coordination/?status=withdrawn")) == ["Withdrawn, Wim"]
    assert names(client.get("/coordination/?verification=pending")) == ["Withdrawn, Wim"]
    assert names(client.get("/coordination/?verification=rejected")) == ["Rejected, Rik"]
    assert names(client.get("/coordination/?verification=verified")) == ["Triage, Tara"]


def test_region_filter_means_lives_in_or_serves(client, login_as, cast):
    person("Lotte", "Limburg", pc4=MAASTRICHT)
    person("Sanne", "Serves", pc4=UTRECHT, serves=("Netwerk Acute Zorg Limburg",))
    person("Ulla", "Utrecht", pc4=UTRECHT)
    login_as(cast.national)
    found = names(client.get(f"/coordination/?region={cast.region_y.id}"))
    assert found == ["Limburg, Lotte", "Serves, Sanne"]


def test_availability_filter_keeps_who_is_available_in_the_range(client, login_as, cast):
    every_day = tuple((day, 8 * 60, 16 * 60) for day in range(7))
    person("Anna", "Available", windows=every_day)
    person("Nina", "Nowindows")
    person(
        "Piet", "Paused", windows=every_day, status="paused", paused_until=date.today() + timedelta(days=60)
    )
    away = person("Harm", "Holiday", windows=every_day)
    start = date.today() + timedelta(days=1)
    end = start + timedelta(days=6)
    db.session.add(
        AvailabilityPeriod(
            reservist_id=away.id,
            kind="unavailable",
            starts_at=filters.Criteria(available_from=start, available_to=end).availability_window[0]
            - timedelta(days=1),
            ends_at=filters.Criteria(available_from=start, available_to=end).availability_window[1]
            + timedelta(days=1),
        )
    )
    db.session.commit()
    login_as(cast.coordinator_x)
    found = client.get(f"/coordination/?available_from={start}&available_to={end}")
    assert names(found) == ["Available, Anna"]
    assert 'data-total="1"' in found.get_data(as_text=True)  # every candidate was checked: exact
    counted = client.get(f"/coordination/?available_from={start}&available_to={end}&count=all")
    assert names(counted) == ["Available, Anna"]
    assert 'data-total="1"' in counted.get_data(as_text=True)


def test_availability_is_checked_only_as_far_as_the_page_needs(client, login_as, cast, monkeypatch):
    monkeypatch.setattr(finder, "PAGE_SIZE", 2)
    monkeypatch.setattr(finder, "FIRST_BATCH", 1)
    every_day = tuple((day, 8 * 60, 16 * 60) for day in range(7))
    for index in range(10):
        person("Anna", f"Available{index}", windows=every_day if index != 1 else ())
    checked: list[int] = []
    real = finder.available_ids
    monkeypatch.setattr(finder, "available_ids", lambda c, ids: checked.extend(ids) or real(c, ids))
    login_as(cast.coordinator_x)
    start = date.today() + timedelta(days=1)
    url = f"/coordination/?available_from={start}&available_to={start + timedelta(days=6)}"
    first = client.get(url)
    assert names(first) == ["Available0, Anna", "Available2, Anna"]
    assert 'data-at-least="2+"' in first.get_data(as_text=True)
    assert len(checked) < 10  # not everyone was checked for the first page
    assert names(client.get(url + "&page=2")) == ["Available3, Anna", "Available4, Anna"]
    assert names(client.get(url + "&page=5")) == ["Available9, Anna"]
    assert 'data-total="9"' in client.get(url + "&count=all").get_data(as_text=True)


def test_bad_filters_get_a_message_and_no_results(client, login_as, cast):
    person("Anna", "Available")
    login_as(cast.coordinator_x)
    response = client.get("/coordination/?available_from=2030-01-10&available_to=2030-01-01")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "must not be before the start date" in body or "niet vóór" in body
    assert names(response) == []
    only_one = client.get("/coordination/?available_from=2030-01-10").get_data(as_text=True)
    assert 'aria-invalid="true"' in only_one
    assert names(client.get("/coordination/?region=abc")) == []


# The name search -------------------------------------------------------------------------


def test_name_search_is_posted_and_never_in_the_url(client, login_as, cast):
    person("Maria", "de Groot")
    person("Mark", "Jansen")
    person("Anne", "Marsman")
    person("Piet", "100%_Test")
    login_as(cast.coordinator_x)
    response = client.post("/coordination/", data={"name": "MAR", "qualification_state": "verified"})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert "mar" not in location.lower().replace("coordination", "")
    token = parse_qs(urlsplit(location).query)["n"][0]
    assert len(token) >= 8
    found = client.get(location)
    assert names(found) == ["de Groot, Maria", "Jansen, Mark", "Marsman, Anne"]
    # The export of that search has the same people; the log keeps that a name was used, not which.
    exported = client.post("/coordination/export.csv?n=" + token).get_data(as_text=True)
    assert "Marsman" in exported and "100%_Test" not in exported
    logged = db.session.scalars(select(AccessLogEntry)).all()
    assert len(logged) == 3 and all(e.details["name_filter"] is True for e in logged)
    assert all("mar" not in json.dumps(e.details).lower() for e in logged)
    # A wildcard in the term is a letter, not a pattern.
    pct = client.post("/coordination/", data={"name": "100%", "qualification_state": "verified"})
    assert names(client.get(pct.headers["Location"])) == ["100%_Test, Piet"]
    wild = client.post("/coordination/", data={"name": "%a", "qualification_state": "verified"})
    assert names(client.get(wild.headers["Location"])) == []
    # A name put in the URL by hand is ignored.
    assert len(names(client.get("/coordination/?name=Maria"))) == 4


def test_a_forgotten_name_reference_is_not_silently_dropped(client, login_as, cast):
    person("Maria", "de Groot")
    person("Otto", "Other")
    login_as(cast.coordinator_x)
    body = client.get("/coordination/?n=unknownreference").get_data(as_text=True)
    assert "no longer remembered" in body or "niet meer" in body
    # An export of that search would hold more people than asked for: refused, nothing logged.
    export = client.post("/coordination/export.csv?n=unknownreference")
    assert export.status_code == 302
    assert db.session.scalars(select(AccessLogEntry)).all() == []


# Scope ---------------------------------------------------------------------------------------


def test_a_regional_coordinator_never_sees_another_regions_reservists(client, login_as, cast):
    only_y = person("Yara", "Limburg", pc4=MAASTRICHT)
    serves_x = person("Xander", "Limburg", pc4=MAASTRICHT, serves=("Netwerk Acute Zorg Midden-Nederland",))
    login_as(cast.coordinator_x)
    assert names(client.get("/coordination/")) == ["Limburg, Xander"]
    assert names(client.get(f"/coordination/?region={cast.region_y.id}")) == ["Limburg, Xander"]
    assert client.get(f"/coordination/reservists/{only_y.id}").status_code == 404
    assert client.get(f"/coordination/reservists/{only_y.id}/access-log").status_code == 404
    assert client.get(f"/coordination/reservists/{serves_x.id}").status_code == 200
    export = client.post("/coordination/export.csv").get_data(as_text=True)
    assert "Xander" in export and "Yara" not in export
    # Nothing was logged about the reservist out of scope.
    assert (
        db.session.scalars(
            select(AccessLogEntry).where(AccessLogEntry.subject_reservist_id == only_y.id)
        ).all()
        == []
    )
    login_as(cast.coordinator_y)
    assert client.get(f"/coordination/reservists/{only_y.id}").status_code == 200
    login_as(cast.national)
    assert names(client.get("/coordination/?status=active")).count("Limburg, Yara") == 1


def test_erased_reservists_are_not_found(client, login_as, cast):
    shell = person("Erik", "Erased")
    shell.erased_at = shell.created_at
    db.session.commit()
    login_as(cast.national)
    assert "Erased" not in names(client.get("/coordination/"))
    assert client.get(f"/coordination/reservists/{shell.id}").status_code == 404


# Pagination ---------------------------------------------------------------------------------


def test_pages_are_stable_and_cover_every_result_once(app, ctx, cast):
    for index in range(7):
        person("Sam", "Same" if index < 4 else f"Zee{index}")
    coordinator = db.session.get(User, cast.coordinator_x.id)
    with ctx():
        seen = []
        for page in (1, 2, 3):
            result = finder.search(coordinator, criteria(), page=page, page_size=3)
            assert result.total == 7 and result.pages == 3
            seen += [row.id for row in result.rows]
        again = [row.id for p in (1, 2, 3) for row in finder.search(coordinator, criteria(), p, 3).rows]
    assert seen == again
    assert len(seen) == len(set(seen)) == 7
    same = [rid for rid in seen[:4]]
    assert same == sorted(same)  # equal names: the id decides


def test_pagination_links_keep_the_filters(client, login_as, cast, monkeypatch):
    monkeypatch.setattr(finder, "PAGE_SIZE", 2)
    for index in range(5):
        person("Tess", f"Triage{index}", skills=("triage",))
    login_as(cast.coordinator_x)
    first = client.get("/coordination/?skill=triage")
    assert names(first) == ["Triage0, Tess", "Triage1, Tess"]
    body = first.get_data(as_text=True)
    assert "/coordination/?page=2&amp;skill=triage" in body or "skill=triage&amp;page=2" in body
    second = client.get("/coordination/?skill=triage&page=2")
    assert names(second) == ["Triage2, Tess", "Triage3, Tess"]
    assert names(client.get("/coordination/?skill=triage&page=3")) == ["Triage4, Tess"]


# The reservist page ---------------------------------------------------------------------------


def test_the_reservist_page_shows_the_record_and_is_logged(client, login_as, cast):
    reservist = person(
        "Vera",
        "Verified",
        qualifications=(("ic_verpleegkundige", "verified"), ("basisarts", "rejected")),
        skills=("triage",),
        windows=((0, 7 * 60, 17 * 60),),
        email="vera@example.org",
    )
    login_as(cast.coordinator_x)
    response = client.get(f"/coordination/reservists/{reservist.id}")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    for expected in ("vera@example.org", "IC-verpleegkundige", "Basisarts", "Triage", "07:00", "17:00"):
        assert expected in body, expected
    entries = db.session.scalars(
        select(AccessLogEntry).where(AccessLogEntry.subject_reservist_id == reservist.id)
    ).all()
    assert [(e.action, e.context, e.actor_id) for e in entries] == [
        ("view", "coordination.detail", cast.coordinator_x.id)
    ]
    assert entries[0].organisation == "Netwerk Acute Zorg Midden-Nederland"


# Export --------------------------------------------------------------------------------------


def test_csv_export_has_the_search_and_escapes_formulas(client, login_as, cast):
    person(
        '=HYPERLINK("http://x")',
        "+Plus",
        email="formula@example.org",
        qualifications=(("verpleegkundige", "verified"),),
    )
    person("@Sum", "-Minus", phone="+4915112345678")
    person("Tab", "\tTab")
    person("Other", "Skillless", skills=("triage",))
    login_as(cast.coordinator_x)
    response = client.post("/coordination/export.csv?status=active")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], rows[1:]
    assert len(header) == 12
    by_email = {row[3]: row for row in body}
    formula = by_email["formula@example.org"]
    assert formula[1] == '\'=HYPERLINK("http://x")'
    assert formula[2] == "'+Plus"
    assert formula[9] == "Verpleegkundige"
    minus = next(row for row in body if row[1] == "'@Sum")
    assert minus[2] == "'-Minus"
    assert minus[4] == "'+49 1511 2345678"
    assert any(row[2] == "'\tTab" for row in body)
    # Every cell that a spreadsheet would run is neutralised.
    for row in body:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_export_writes_one_access_log_row_per_reservist(client, login_as, cast):
    first = person("Tess", "Triage", skills=("triage",))
    second = person("Toon", "Triage", skills=("triage",))
    person("Nico", "Noskill")
    login_as(cast.coordinator_x)
    client.post("/coordination/export.csv?skill=triage")
    entries = db.session.scalars(
        select(AccessLogEntry).where(AccessLogEntry.context == "coordination.export")
    ).all()
    assert sorted(e.subject_reservist_id for e in entries) == sorted([first.id, second.id])
    assert {e.actor_id for e in entries} == {cast.coordinator_x.id}
    assert len({e.details["export_id"] for e in entries}) == 1
    assert entries[0].details["skill"] == "triage"
    assert entries[0].details["name_filter"] is False


def test_export_needs_a_post(client, login_as, cast):
    login_as(cast.coordinator_x)
    assert client.get("/coordination/export.csv").status_code == 405


def test_safe_cell():
    assert safe_cell("=1+1") == "'=1+1"
    assert safe_cell("\rx") == "'\rx"
    assert safe_cell("Jan") == "Jan"
    assert safe_cell(None) == ""
    assert safe_cell(12) == "12"


# Access log ----------------------------------------------------------------------------------


def test_the_reservist_sees_who_viewed_and_exported_their_data(client, login_as, cast):
    me = db.session.scalar(select(Reservist).where(Reservist.user_id == cast.reservist.id))
    set_home_postcode(me, UTRECHT)
    db.session.commit()
    login_as(cast.coordinator_x)
    client.get(f"/coordination/reservists/{me.id}")
    client.post("/coordination/export.csv")
    login_as(cast.reservist)
    response = client.get("/me/access-log/")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    table = body[body.index('data-testid="access-log"') :]
    assert table.count("<tr>") == 3  # the header and two entries
    assert "Netwerk Acute Zorg Midden-Nederland" in table
    assert "Reservist page (coordinator)" in table or "coördinator" in table
    assert cast.coordinator_x.last_name not in body  # role and organisation, not the person


def test_a_coordinator_reads_a_reservists_access_log_and_that_is_logged(client, login_as, cast):
    reservist = person("Vera", "Viewed")
    login_as(cast.coordinator_x)
    client.get(f"/coordination/reservists/{reservist.id}")
    login_as(cast.national)
    body = client.get(f"/coordination/reservists/{reservist.id}/access-log").get_data(as_text=True)
    assert cast.coordinator_x.last_name in body  # coordinators see which colleague it was
    contexts = db.session.scalars(
        select(AccessLogEntry.context)
        .where(AccessLogEntry.subject_reservist_id == reservist.id)
        .order_by(AccessLogEntry.id)
    ).all()
    assert contexts == ["coordination.detail", "coordination.access_log"]


def test_national_coordinators_browse_the_whole_log_by_actor_and_date(client, login_as, cast):
    a = person("Anna", "Een")
    b = person("Bert", "Twee")
    login_as(cast.coordinator_x)
    client.get(f"/coordination/reservists/{a.id}")
    login_as(cast.national)
    client.get(f"/coordination/reservists/{b.id}")
    by_x = client.get(f"/coordination/access-log?actor={cast.coordinator_x.id}")
    body = by_x.get_data(as_text=True)
    table = body[body.index('data-testid="access-log"') :]
    assert table.count("<tr>") == 2  # header and the one view by coordinator X
    assert f"reservist={a.id}" in table and f"reservist={b.id}" not in table
    tomorrow = date.today() + timedelta(days=1)
    later = client.get(f"/coordination/access-log?date_from={tomorrow}").get_data(as_text=True)
    assert 'data-testid="access-log"' not in later
    reads = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "access_log.read")).all()
    assert len(reads) == 2 and reads[0].actor_id == cast.national.id
    assert reads[0].details["filters"]["actor_id"] == cast.coordinator_x.id
    login_as(cast.coordinator_x)
    assert client.get("/coordination/access-log").status_code == 403


# The benchmark -------------------------------------------------------------------------------


def test_a_small_benchmark_run_ends_with_its_figures_as_json(app, tmp_path, request):
    if BACKEND == "postgres":
        url = scratch_postgres_database(request.getfixturevalue("postgres_url"), "zorgreserve_bench_test")
    else:
        url = f"sqlite:///{tmp_path / 'bench.sqlite3'}"
    env = dict(os.environ, DATABASE_URL=url, ZORGRESERVE_ENV="development", SECRET_KEY="bench-test")
    env.pop("REDIS_URL", None)
    command = [sys.executable, "-m", "zorgreserve.cli", "bench", "registry"]
    options = ["--reservists", "200", "--runs", "3", "--create-schema"]
    result = subprocess.run(
        command + options, env=env, cwd=ROOT_DIR, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["reservists"] == 200
    for key in ("search_p50_ms", "search_p95_ms", "sql_p95_ms", "search_ratio_to_sql"):
        assert figures[key] > 0, key
    again = subprocess.run(
        command + options, env=env, cwd=ROOT_DIR, capture_output=True, text=True, timeout=600
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(again.stdout.strip().splitlines()[-1])["dataset_reused"] is True


def test_walking_in_name_order_gives_the_same_pages_as_sorting(app, ctx, cast, monkeypatch):
    """Large result sets are walked in name order, small ones sorted whole: the same order either way."""
    for index in range(9):
        person("Sam" if index % 2 else "Bo", "Same" if index < 5 else f"Zee{index % 3}")
    coordinator = db.session.get(User, cast.coordinator_x.id)
    with ctx():
        sorted_pages = [[r.id for r in finder.search(coordinator, criteria(), p, 4).rows] for p in (1, 2, 3)]
        monkeypatch.setattr(finder, "SORT_ALL_BELOW", 0)
        walked_pages = [[r.id for r in finder.search(coordinator, criteria(), p, 4).rows] for p in (1, 2, 3)]
        walk = finder.NameOrderWalk(coordinator, criteria(), date.today(), first_step=2)
        stepwise = walk.take(3) + walk.take(3) + walk.take(10)
        monkeypatch.setattr(finder, "WALK_AT_MOST", 3)  # then the rest is sorted whole
        short_walk = finder.NameOrderWalk(coordinator, criteria(), date.today(), first_step=2)
        switched = short_walk.take(3) + short_walk.take(10)
    assert walked_pages == sorted_pages
    assert [len(p) for p in sorted_pages] == [4, 4, 1]
    assert stepwise == switched == [rid for page in sorted_pages for rid in page]
