"""Bulk import of reservists from CSV: dry run with per-row errors, all-or-nothing apply."""

from __future__ import annotations

import hashlib
import io
import re

import pytest
from sqlalchemy import func, select

from tests.conftest import login
from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.accounts.services import SignInOutcome, authenticate
from zorgreserve.audit.models import AccessLogEntry, AuditEvent
from zorgreserve.jobs.models import OutboxJob
from zorgreserve.privacy import importer
from zorgreserve.reservists.models import Reservist, ReservistQualification

HEADER = "first_name,last_name,email,mobile,pc4,qualification_code,obtained_on"


def csv_bytes(*rows: str, header: str = HEADER, delimiter: str = ",", encoding: str = "utf-8") -> bytes:
    lines = [header, *rows]
    return ("\n".join(lines) + "\n").replace(",", delimiter).encode(encoding)


def counts() -> tuple[int, int, int, int]:
    return (
        db.session.scalar(select(func.count(User.id))),
        db.session.scalar(select(func.count(Reservist.id))),
        db.session.scalar(select(func.count(ReservistQualification.id))),
        db.session.scalar(select(func.count(OutboxJob.id))),
    )


def errors_by_row(check: importer.ImportCheck) -> dict[int, set[str | None]]:
    return {row.number: {e.column for e in row.errors} for row in check.error_rows}


GOOD = "Anna,de Vries,anna@example.org,0612345678,3511,verpleegkundige,2015-06-30"


def test_dry_run_reports_every_kind_of_bad_row_with_its_row_number(ctx, cast):
    data = csv_bytes(
        GOOD,  # row 2
        "Bram,,bram@example.org,0612345679,3511,verpleegkundige,2015-06-30",  # 3: empty last name
        "Cor,Jansen,not-an-address,0612345670,3511,verpleegkundige,2015-06-30",  # 4: e-mail
        "Dini,Bakker,dini@example.org,12345,3511,verpleegkundige,2015-06-30",  # 5: phone
        "Eva,Smit,eva@example.org,0302345678,3511,verpleegkundige,2015-06-30",  # 6: landline
        "Fred,Mulder,fred@example.org,0612345671,1000,verpleegkundige,2015-06-30",  # 7: unknown pc4
        "Gijs,Visser,gijs@example.org,0612345672,3511,astronaut,2015-06-30",  # 8: unknown code
        "Hans,Bos,hans@example.org,0612345673,3511,verpleegkundige,2015/06/30",  # 9: date format
        "Ans,Kopie,ANNA@example.org,0612345674,3511,verpleegkundige,2015-06-30",  # 10: duplicate
        "Iris,Bestaand,reservist@example.org,0612345675,3511,verpleegkundige,2015-06-30",  # 11: has account
        "Jan,Extra,jan@example.org,0612345676,3511,verpleegkundige,2015-06-30,extra",  # 12: extra field
        "Kim,Later,kim@example.org,0612345677,3511,verpleegkundige,2999-01-01",  # 13: future date
        "",  # 14: an empty line is skipped, not an error
        "Lot,Datum,lot@example.org,0612345600,3511 AB,verpleegkundige,31-12-2014",  # 15: fine
    )
    before = counts()
    with ctx():
        check = importer.check_import(data, cast.national)
    assert check.file_errors == []
    assert not check.ok
    assert errors_by_row(check) == {
        3: {"last_name"},
        4: {"email"},
        5: {"mobile"},
        6: {"mobile"},
        7: {"pc4"},
        8: {"qualification_code"},
        9: {"obtained_on"},
        10: {"email"},
        11: {"email"},
        12: {None},
        13: {"obtained_on"},
    }
    assert [row.number for row in check.rows if not row.errors] == [2, 15]
    duplicate = next(row for row in check.rows if row.number == 10)
    assert "2" in str(duplicate.errors[0].message)  # names the first row with the address
    last = check.rows[-1]
    assert last.pc4 == "3511" and last.obtained_on.isoformat() == "2014-12-31"
    assert counts() == before  # the dry run writes nothing


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty"),
        (csv_bytes(header="voornaam,achternaam,email"), "columns are not right"),
        (csv_bytes(GOOD, header=HEADER + ",role"), "Not recognised: role"),
        (csv_bytes(header=HEADER), "no rows below the header"),
        (
            csv_bytes(
                "Zoë,Ünal,zoe@example.org,0612345678,3511,verpleegkundige,2015-06-30", encoding="latin-1"
            ),
            "not in UTF-8",
        ),
        (b"\x00\x01binary" * 10, "not a CSV"),
        (csv_bytes(*[GOOD] * (importer.MAX_ROWS + 1)), "at most 5000"),
        (b"x" * (importer.MAX_BYTES + 1), "larger than 2 MB"),
    ],
    ids=[
        "empty",
        "wrong-columns",
        "extra-column",
        "no-rows",
        "latin-1",
        "binary",
        "too-many-rows",
        "too-big",
    ],
)
def test_file_level_problems_give_one_clear_message(ctx, cast, data, expected):
    with ctx():
        check = importer.check_import(data, cast.national)
    assert len(check.file_errors) == 1
    assert expected in str(check.file_errors[0])
    assert check.rows == [] or not check.ok


def test_utf8_with_bom_and_semicolons_is_read(ctx, cast):
    data = "\ufeff".encode() + csv_bytes(
        "Zoë,Ünal,zoe@example.org,0612345678,3511,verpleegkundige,30-06-2015", delimiter=";"
    )
    with ctx():
        check = importer.check_import(data, cast.national)
    assert check.ok, [str(e) for e in check.file_errors] + [
        str(e.message) for r in check.rows for e in r.errors
    ]
    assert check.rows[0].values["first_name"] == "Zoë"


def test_apply_creates_accounts_records_and_activation_emails(app, ctx, cast, run_jobs, mail_outbox):
    data = csv_bytes(
        GOOD, "Lot,Janssen,Lot.Janssen@Example.org,+31 6 87654321,3512,ic_verpleegkundige,01-02-2019"
    )
    with ctx():
        check = importer.apply_import(data, cast.coordinator_x, hashlib.sha256(data).hexdigest())
        db.session.commit()
    assert check.created == 2
    anna = db.session.scalar(select(User).where(User.email == "anna@example.org"))
    lot = db.session.scalar(select(User).where(User.email == "lot.janssen@example.org"))
    assert anna.role == "reservist" and anna.email_verified_at is None and anna.phone == "+31612345678"
    assert lot.last_name == "Janssen" and lot.phone == "+31687654321"
    record = db.session.scalar(select(Reservist).where(Reservist.user_id == anna.id))
    assert record.pc4 == "3511" and record.home_region_id == cast.region_x.id and record.latitude
    qualification = db.session.scalar(
        select(ReservistQualification).where(ReservistQualification.reservist_id == record.id)
    )
    assert (
        qualification.verification == "unverified" and qualification.obtained_on.isoformat() == "2015-06-30"
    )
    with ctx():
        assert authenticate("anna@example.org", "").outcome is SignInOutcome.FAILED  # no usable password
    logged = db.session.scalars(
        select(AccessLogEntry).where(AccessLogEntry.subject_reservist_id == record.id)
    ).all()
    assert [(a.action, a.actor_id, a.context) for a in logged] == [
        ("change", cast.coordinator_x.id, "privacy.import")
    ]
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "reservists.imported"))
    assert audit.details == {"rows": 2, "created": 2}  # counts only

    run_jobs()
    assert sorted(m.to[0] for m in mail_outbox) == ["anna@example.org", "lot.janssen@example.org"]
    link = re.search(r"http://zorgreserve\.test(/account/activate/\S+)", mail_outbox[0].body)
    assert link, mail_outbox[0].body
    visitor = app.test_client()
    assert visitor.get(link.group(1)).status_code == 200


def test_apply_with_one_bad_row_saves_nothing(ctx, cast):
    data = csv_bytes(GOOD, "Bram,Bad,bram@example.org,0612,3511,verpleegkundige,2015-06-30")
    before = counts()
    with ctx(), pytest.raises(importer.ImportRefused) as refused:
        importer.apply_import(data, cast.national, hashlib.sha256(data).hexdigest())
    assert errors_by_row(refused.value.check) == {3: {"mobile"}}
    assert counts() == before


def test_apply_refuses_a_file_other_than_the_one_checked(ctx, cast):
    checked = csv_bytes(GOOD)
    other = csv_bytes(GOOD.replace("anna@", "anne@"))
    before = counts()
    with ctx(), pytest.raises(importer.ImportRefused) as refused:
        importer.apply_import(other, cast.national, hashlib.sha256(checked).hexdigest())
    assert "not the file that was checked" in str(refused.value.check.file_errors[0])
    assert counts() == before


def test_regional_coordinators_import_only_people_in_their_region(ctx, cast):
    maastricht = "Maud,Limburg,maud@example.org,0612345678,6211,verpleegkundige,2015-06-30"
    data = csv_bytes(GOOD, maastricht)
    with ctx():
        own = importer.check_import(data, cast.coordinator_x)
        other = importer.check_import(data, cast.coordinator_y)
        national = importer.check_import(data, cast.national)
    assert errors_by_row(own) == {3: {"pc4"}}
    assert "outside your region" in str(own.rows[1].errors[0].message)
    assert errors_by_row(other) == {2: {"pc4"}}
    assert national.ok


# The pages (the ``imports`` blueprint) -------------------------------------------------


def upload(data: bytes, name: str = "reservists.csv") -> tuple[io.BytesIO, str]:
    return (io.BytesIO(data), name)


def test_import_pages_dry_run_then_apply(app, cast, run_jobs, mail_outbox):
    """The views: the dry run shows row errors in a table; apply re-uploads and creates all."""
    assert "imports" in app.blueprints
    client = login(app.test_client(), cast.coordinator_x)
    assert client.get("/coordination/import/").status_code == 200

    bad = csv_bytes(GOOD, "Bram,Bad,bram@example.org,0612,3511,verpleegkundige,2015-06-30")
    page = client.post("/coordination/import/", data={"file": upload(bad)})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-testid="row-errors"' in html
    assert re.search(r"<td>3</td>\s*<td>mobile</td>", html)
    assert 'data-testid="apply-import"' not in html  # nothing to apply while rows are wrong

    latin = csv_bytes(
        "Zoë,Ünal,zoe@example.org,0612345678,3511,verpleegkundige,2015-06-30", encoding="latin-1"
    )
    page = client.post("/coordination/import/", data={"file": upload(latin)})
    assert 'data-testid="file-error"' in page.get_data(as_text=True)
    assert "UTF-8" in page.get_data(as_text=True)

    before = counts()
    refused = client.post(
        "/coordination/import/apply",
        data={"file": upload(bad), "sha256": hashlib.sha256(bad).hexdigest(), "role": "administrator"},
    )
    assert refused.status_code == 422 and 'data-testid="import-refused"' in refused.get_data(as_text=True)
    assert counts() == before

    good = csv_bytes(GOOD)
    checked = client.post("/coordination/import/", data={"file": upload(good)}).get_data(as_text=True)
    sha = re.search(r'name="sha256" type="hidden" value="([0-9a-f]{64})"', checked)
    assert sha and sha.group(1) == hashlib.sha256(good).hexdigest()
    done = client.post("/coordination/import/apply", data={"file": upload(good), "sha256": sha.group(1)})
    assert done.status_code == 200 and 'data-testid="import-created"' in done.get_data(as_text=True)
    user = db.session.scalar(select(User).where(User.email == "anna@example.org"))
    assert user.role == "reservist"
    run_jobs()
    assert [m.to for m in mail_outbox] == [["anna@example.org"]]

    missing_hash = client.post("/coordination/import/apply", data={"file": upload(good)})
    assert missing_hash.status_code == 400


def test_import_pages_are_for_coordinators_only(app, cast):
    data = csv_bytes(GOOD)
    sha = hashlib.sha256(data).hexdigest()
    for role in ("reservist", "staff_a", "admin"):
        client = login(app.test_client(), getattr(cast, role))
        assert client.get("/coordination/import/").status_code == 403
        assert client.post("/coordination/import/", data={"file": upload(data)}).status_code == 403
        response = client.post("/coordination/import/apply", data={"file": upload(data), "sha256": sha})
        assert response.status_code == 403
    assert db.session.scalar(select(func.count(User.id)).where(User.email == "anna@example.org")) == 0


def test_regional_scope_is_enforced_on_the_pages(app, cast):
    data = csv_bytes(GOOD)
    client = login(app.test_client(), cast.coordinator_y)
    response = client.post(
        "/coordination/import/apply", data={"file": upload(data), "sha256": hashlib.sha256(data).hexdigest()}
    )
    assert response.status_code == 422
    assert "buiten je regio" in response.get_data(as_text=True)  # Dutch by default
    assert db.session.scalar(select(func.count(User.id)).where(User.email == "anna@example.org")) == 0
