"""BIG registrations, qualifications and their evidence on the reservist's own pages.

Covers the rules coordinators rely on: a change sends a checked item back to
unverified, uploads are checked by content (not by name) and by size, evidence
is served only to its owner and to coordinators in scope (with an access-log
row), and ids of other people's items answer 404 and change nothing.
"""

from __future__ import annotations

import hashlib
import io
import stat
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests import reservists_support
from tests.reservists_support import (
    JPEG,
    PDF,
    PNG,
    add_big,
    add_evidence,
    add_qualification,
    code,
    field_error,
    files_in,
    last_audit,
    make_reservist,
    snapshot,
)
from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.audit.models import AccessLogEntry
from zorgreserve.reference.models import Profession, Qualification
from zorgreserve.reference.services import today
from zorgreserve.reservists.models import BigRegistration, Evidence, ReservistQualification

# The fixtures ``me``, ``other`` and ``evidence_dir``, shared by the test_reservists_* modules.
me_fixture = reservists_support.me_fixture
other_fixture = reservists_support.other_fixture
evidence_dir_fixture = reservists_support.evidence_dir_fixture


@pytest.fixture
def signed_in(client, login_as, me):
    login_as(db.session.get(User, me.user_id))
    return client


def profession_id(value: str) -> int:
    return code(Profession, value).id


def qualification_id(value: str) -> int:
    return code(Qualification, value).id


@pytest.fixture
def expiring(database: Any) -> Qualification:
    """A catalogue qualification that expires (the shipped catalogue has none yet)."""
    qualification = code(Qualification, "anesthesiemedewerker")
    qualification.has_expiry = True
    db.session.commit()
    return qualification


# BIG registration ----------------------------------------------------------------------


def test_a_big_registration_is_added_unverified(signed_in, me):
    response = signed_in.post(
        "/me/big", data={"profession": profession_id("verpleegkundige"), "big_number": "123 456 789 01"}
    )
    assert response.status_code == 302
    registration = db.session.scalar(select(BigRegistration).where(BigRegistration.reservist_id == me.id))
    assert (registration.big_number, registration.verification) == ("12345678901", "unverified")
    event = last_audit("reservist.big_added")
    assert event.subject_user_id == me.user_id and "12345678901" not in str(event.details)
    page = signed_in.get("/me/big").get_data(as_text=True)
    assert "12345678901" in page and "Not yet verified" in page


def test_leading_zeros_of_a_big_number_are_kept(signed_in, me):
    signed_in.post("/me/big", data={"profession": profession_id("arts"), "big_number": "09876543210"})
    assert db.session.scalar(select(BigRegistration.big_number)) == "09876543210"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"big_number": "1234567890"}, "big_number", "A BIG number has 11 digits."),
        ({"big_number": "123456789012"}, "big_number", "A BIG number has 11 digits."),
        ({"big_number": "1234567890a"}, "big_number", "A BIG number has 11 digits."),
        ({"big_number": ""}, "big_number", "This field is required."),
        ({"profession": "dietist"}, "profession", "Not a valid choice."),  # article 34: no register
        ({"profession": "999999"}, "profession", "Not a valid choice."),
        (
            {"profession": "verpleegkundige"},
            "profession",
            "You already have a BIG registration for this profession.",
        ),
    ],
)
def test_bad_big_input_is_refused_and_nothing_changes(signed_in, me, data, field, message):
    add_big(me.id, "11111111111", profession="verpleegkundige")
    before = snapshot(me.user_id)
    form = {"profession": str(profession_id("arts")), "big_number": "12345678901"}
    form.update(data)
    if form["profession"].isalpha():
        form["profession"] = str(profession_id(form["profession"]))
    response = signed_in.post("/me/big", data=form)
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), field, message)
    assert snapshot(me.user_id) == before


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"big_number": "123"}, "big_number", "A BIG number has 11 digits."),
        ({"profession": "arts"}, "profession", "You already have a BIG registration for this profession."),
        ({"profession": "dietist"}, "profession", "Not a valid choice."),
    ],
)
def test_bad_changes_to_a_big_registration_are_refused(signed_in, me, data, field, message):
    registration_id = add_big(me.id, "11111111111", profession="verpleegkundige", verification="verified")
    add_big(me.id, "22222222222", profession="arts")
    before = snapshot(me.user_id)
    form = {"profession": str(profession_id("verpleegkundige")), "big_number": "11111111111", **data}
    if form["profession"].isalpha():
        form["profession"] = str(profession_id(form["profession"]))
    response = signed_in.post(f"/me/big/{registration_id}", data=form)
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), field, message)
    assert snapshot(me.user_id) == before


def test_changing_the_big_number_resets_verification(signed_in, me, cast):
    registration_id = add_big(
        me.id,
        verification="verified",
        verified_by_id=cast.national.id,
        verified_at=db.utcnow(),
        lookup_result="verified",
        reregistration_due=date(2029, 5, 1),
    )
    # Saving the same values changes nothing and keeps the verification.
    same = {"profession": profession_id("verpleegkundige"), "big_number": "12345678901"}
    signed_in.post(f"/me/big/{registration_id}", data=same)
    assert db.session.get(BigRegistration, registration_id).verification == "verified"

    response = signed_in.post(f"/me/big/{registration_id}", data={**same, "big_number": "12345678902"})
    assert response.status_code == 302
    db.session.expire_all()
    registration = db.session.get(BigRegistration, registration_id)
    assert registration.big_number == "12345678902"
    assert registration.verification == "unverified"
    assert (registration.verified_by_id, registration.lookup_result, registration.reregistration_due) == (
        None,
        None,
        None,
    )
    event = last_audit("reservist.big_changed")
    assert event.details["previous_verification"] == "verified"
    assert event.details["verification"] == "unverified"


def test_changing_the_profession_resets_verification(signed_in, me):
    registration_id = add_big(me.id, verification="rejected", rejection_reason="Wrong profession")
    signed_in.post(
        f"/me/big/{registration_id}", data={"profession": profession_id("arts"), "big_number": "12345678901"}
    )
    db.session.expire_all()
    registration = db.session.get(BigRegistration, registration_id)
    assert (registration.profession_id, registration.verification, registration.rejection_reason) == (
        profession_id("arts"),
        "unverified",
        None,
    )


def test_a_rejected_registration_shows_the_reason(signed_in, me):
    add_big(me.id, verification="rejected", rejection_reason="Not found in the register")
    page = signed_in.get("/me/big").get_data(as_text=True)
    assert "Rejected" in page and "Not found in the register" in page


def test_the_big_page_says_clearly_when_a_qualification_needs_a_registration(signed_in, me):
    add_qualification(me.id, "ic_verpleegkundige")
    add_qualification(me.id, "verpleegkundige")
    add_qualification(me.id, "helpende")  # no BIG profession
    page = signed_in.get("/me/big").get_data(as_text=True)
    required = page[page.index('data-testid="big-required"') : page.index("</article>")]
    assert "as Verpleegkundige, for IC-verpleegkundige, Verpleegkundige" in required
    assert "Helpende" not in required
    add_big(me.id, profession="verpleegkundige")
    assert 'data-testid="big-required"' not in signed_in.get("/me/big").get_data(as_text=True)


def test_a_big_registration_can_be_removed(signed_in, me):
    registration_id = add_big(me.id)
    assert signed_in.post(f"/me/big/{registration_id}/remove").status_code == 302
    db.session.expire_all()
    assert db.session.get(BigRegistration, registration_id) is None
    assert last_audit("reservist.big_removed").details["big_registration_id"] == registration_id


# Qualifications ------------------------------------------------------------------------


def upload(data: bytes, name: str) -> tuple[io.BytesIO, str]:
    return io.BytesIO(data), name


def add_form(qualification: str = "ic_verpleegkundige", **changes: Any) -> dict[str, Any]:
    form = {"qualification": str(qualification_id(qualification)), "obtained_on": "2015-06-30"}
    form.update(changes)
    return form


def test_a_qualification_is_added_with_a_pdf_stored_outside_the_web_root(signed_in, me, evidence_dir):
    response = signed_in.post(
        "/me/qualifications/add",
        data=add_form(evidence=upload(PDF, "CZO diploma.PDF")),
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/me/big"  # it needs a BIG registration: go there next
    held = db.session.scalar(
        select(ReservistQualification).where(ReservistQualification.reservist_id == me.id)
    )
    assert (held.obtained_on, held.verification) == (date(2015, 6, 30), "unverified")
    evidence = held.evidence
    assert (evidence.filename, evidence.content_type, evidence.size_bytes) == (
        "CZO diploma.PDF",
        "application/pdf",
        len(PDF),
    )
    assert evidence.sha256 == hashlib.sha256(PDF).hexdigest()
    assert len(evidence.storage_key) == 64 and "diploma" not in evidence.storage_key
    stored = evidence_dir / evidence.storage_key
    assert stored.read_bytes() == PDF
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert last_audit("reservist.qualification_added").details["qualification"] == "ic_verpleegkundige"


@pytest.mark.parametrize(("data", "name"), [(JPEG, "scan.jpg"), (PNG, "photo.png")])
def test_jpeg_and_png_evidence_is_accepted(signed_in, me, evidence_dir, data, name):
    response = signed_in.post(
        "/me/qualifications/add",
        data=add_form("helpende", evidence=upload(data, name)),
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert db.session.scalar(select(Evidence.content_type)) == (
        "image/jpeg" if name.endswith("jpg") else "image/png"
    )


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (
            b"<html><script>alert(1)</script></html>",
            "diploma.pdf",
            "This file is not a PDF, JPEG or PNG document.",
        ),
        (b"MZ\x90\x00\x03" + b"\x00" * 64, "diploma.pdf", "This file is not a PDF, JPEG or PNG document."),
        (PNG, "diploma.pdf", "The file's name does not match its content."),
        (PDF, "diploma.exe", "The file's name does not match its content."),
        (b"", "diploma.pdf", "The file is empty."),
        (PDF + b"x" * 2000, "big.pdf", "The file is larger than"),
    ],
)
def test_a_wrong_or_too_large_upload_is_refused_and_nothing_is_kept(
    signed_in, app, me, evidence_dir, monkeypatch, data, name, message
):
    monkeypatch.setitem(app.config, "EVIDENCE_MAX_BYTES", 2000)
    before = snapshot(me.user_id)
    response = signed_in.post(
        "/me/qualifications/add",
        data=add_form(evidence=upload(data, name)),
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "evidence", message)
    assert snapshot(me.user_id) == before
    assert files_in(evidence_dir) == []


def test_an_absurdly_large_upload_is_refused_before_it_is_read(signed_in, app, me, evidence_dir, monkeypatch):
    monkeypatch.setitem(app.config, "EVIDENCE_MAX_BYTES", 2000)
    before = snapshot(me.user_id)
    response = signed_in.post(
        "/me/qualifications/add",
        data=add_form(evidence=upload(PDF + b"x" * (2 * 1024 * 1024), "huge.pdf")),
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert "File too large" in response.get_data(as_text=True)
    assert snapshot(me.user_id) == before and files_in(evidence_dir) == []


def test_an_upload_with_a_bad_date_leaves_no_file_behind(signed_in, me, evidence_dir):
    future = (today() + timedelta(days=3)).isoformat()
    before = snapshot(me.user_id)
    response = signed_in.post(
        "/me/qualifications/add",
        data=add_form(obtained_on=future, evidence=upload(PDF, "diploma.pdf")),
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "obtained_on", "This date is in the future.")
    assert snapshot(me.user_id) == before
    assert files_in(evidence_dir) == []


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"obtained_on": ""}, "obtained_on", "This field is required."),
        ({"obtained_on": "30-06-2015"}, "obtained_on", "Not a valid date value."),
        ({"obtained_on": "2999-01-01"}, "obtained_on", "This date is in the future."),
        ({"qualification": "999999"}, "qualification", "Not a valid choice."),
        (
            {"expires_on": "2030-01-01"},
            "expires_on",
            "IC-verpleegkundige does not expire: leave the expiry date empty.",
        ),
        (
            {"qualification": "expiring", "expires_on": "2014-01-01"},
            "expires_on",
            "The expiry date cannot be before the date obtained.",
        ),
        ({"qualification": "expiring"}, "expires_on", "Anesthesiemedewerker expires: enter the expiry date."),
    ],
)
def test_bad_qualification_dates_are_refused_and_nothing_changes(
    signed_in, me, expiring, changes, field, message
):
    form = {**add_form(), **changes}
    if changes.get("qualification") == "expiring":
        form["qualification"] = str(expiring.id)
    before = snapshot(me.user_id)
    response = signed_in.post("/me/qualifications/add", data=form)
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), field, message)
    assert snapshot(me.user_id) == before


def test_a_held_qualification_is_not_offered_again(signed_in, me):
    add_qualification(me.id, "verpleegkundige")
    page = signed_in.get("/me/qualifications/add").get_data(as_text=True)
    assert f'<option value="{qualification_id("verpleegkundige")}"' not in page
    before = snapshot(me.user_id)
    response = signed_in.post("/me/qualifications/add", data=add_form("verpleegkundige"))
    assert response.status_code == 422
    assert snapshot(me.user_id) == before


def test_an_expiring_qualification_keeps_its_expiry_date(signed_in, me, expiring):
    form = add_form(obtained_on="2024-01-01", expires_on="2027-01-01")
    form["qualification"] = str(expiring.id)
    assert signed_in.post("/me/qualifications/add", data=form).status_code == 302
    held = db.session.scalar(select(ReservistQualification))
    assert held.expires_on == date(2027, 1, 1)


def test_editing_a_verified_qualification_makes_it_unverified(signed_in, me, cast):
    held_id = add_qualification(
        me.id,
        "verpleegkundige",
        verification="verified",
        verified_by_id=cast.national.id,
        verified_at=db.utcnow(),
    )
    signed_in.post(f"/me/qualifications/{held_id}", data={"obtained_on": "2015-06-30"})  # unchanged
    assert db.session.get(ReservistQualification, held_id).verification == "verified"

    response = signed_in.post(f"/me/qualifications/{held_id}", data={"obtained_on": "2016-01-31"})
    assert response.status_code == 302
    db.session.expire_all()
    held = db.session.get(ReservistQualification, held_id)
    assert (held.obtained_on, held.verification, held.verified_by_id) == (
        date(2016, 1, 31),
        "unverified",
        None,
    )
    event = last_audit("reservist.qualification_changed")
    assert (event.details["previous_verification"], event.details["dates_changed"]) == ("verified", True)
    assert "A coordinator will verify it again." in signed_in.get("/me/qualifications").get_data(as_text=True)


def test_new_evidence_replaces_the_old_document_and_its_file(signed_in, me, evidence_dir):
    old_id = add_evidence(evidence_dir, me.id)
    old_key = db.session.get(Evidence, old_id).storage_key
    held_id = add_qualification(
        me.id, "ic_verpleegkundige", evidence_id=old_id, evidence_verified=True, verification="verified"
    )
    response = signed_in.post(
        f"/me/qualifications/{held_id}",
        data={"obtained_on": "2015-06-30", "evidence": upload(PNG, "nieuw.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    db.session.expire_all()
    held = db.session.get(ReservistQualification, held_id)
    assert held.evidence.filename == "nieuw.png"
    assert (held.verification, held.evidence_verified) == ("unverified", False)
    assert db.session.get(Evidence, old_id) is None
    assert files_in(evidence_dir) == [held.evidence.storage_key]
    assert old_key not in files_in(evidence_dir)


def test_a_document_can_be_removed_from_a_qualification(signed_in, me, evidence_dir):
    evidence_id = add_evidence(evidence_dir, me.id)
    held_id = add_qualification(me.id, "helpende", evidence_id=evidence_id)
    signed_in.post(
        f"/me/qualifications/{held_id}", data={"obtained_on": "2015-06-30", "remove_evidence": "y"}
    )
    db.session.expire_all()
    assert db.session.get(ReservistQualification, held_id).evidence_id is None
    assert db.session.get(Evidence, evidence_id) is None and files_in(evidence_dir) == []


def test_removing_a_qualification_removes_its_document(signed_in, me, evidence_dir):
    evidence_id = add_evidence(evidence_dir, me.id)
    held_id = add_qualification(me.id, "helpende", evidence_id=evidence_id)
    assert signed_in.post(f"/me/qualifications/{held_id}/remove").status_code == 302
    db.session.expire_all()
    assert db.session.get(ReservistQualification, held_id) is None
    assert db.session.get(Evidence, evidence_id) is None and files_in(evidence_dir) == []
    assert last_audit("reservist.qualification_removed").details["qualification"] == "helpende"


def test_a_bad_edit_keeps_the_qualification_and_its_file(signed_in, me, evidence_dir):
    evidence_id = add_evidence(evidence_dir, me.id)
    held_id = add_qualification(me.id, "helpende", evidence_id=evidence_id, verification="verified")
    before, files = snapshot(me.user_id), files_in(evidence_dir)
    response = signed_in.post(
        f"/me/qualifications/{held_id}",
        data={"obtained_on": "2999-01-01", "evidence": upload(b"GIF89a", "x.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_error(html, "obtained_on", "This date is in the future.")
    assert field_error(html, "evidence", "This file is not a PDF, JPEG or PNG document.")
    assert snapshot(me.user_id) == before and files_in(evidence_dir) == files


# Evidence downloads --------------------------------------------------------------------


def test_the_owner_downloads_their_document(signed_in, me, evidence_dir):
    evidence_id = add_evidence(evidence_dir, me.id, filename="czo-diploma.pdf")
    response = signed_in.get(f"/me/evidence/{evidence_id}")
    assert response.status_code == 200
    assert response.data == PDF
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "czo-diploma.pdf" in response.headers["Content-Disposition"]
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def access_log_rows(reservist_id: int) -> list[AccessLogEntry]:
    return list(
        db.session.scalars(select(AccessLogEntry).where(AccessLogEntry.subject_reservist_id == reservist_id))
    )


def test_another_reservist_cannot_download_my_document(client, login_as, me, other, evidence_dir):
    evidence_id = add_evidence(evidence_dir, me.id)
    login_as(db.session.get(User, other.user_id))
    assert client.get(f"/me/evidence/{evidence_id}").status_code == 404


def test_a_coordinator_of_another_region_gets_404(client, login_as, cast, me, evidence_dir):
    evidence_id = add_evidence(evidence_dir, me.id)  # me lives in region X
    login_as(cast.coordinator_y)
    assert client.get(f"/reservists/{me.id}/evidence/{evidence_id}").status_code == 404
    assert access_log_rows(me.id) == []


def test_a_coordinator_of_the_region_downloads_it_and_it_is_logged(client, login_as, cast, me, evidence_dir):
    evidence_id = add_evidence(evidence_dir, me.id)
    login_as(cast.coordinator_x)
    response = client.get(f"/reservists/{me.id}/evidence/{evidence_id}")
    assert response.status_code == 200 and response.data == PDF
    [entry] = access_log_rows(me.id)
    assert (entry.action, entry.actor_id, entry.actor_role, entry.organisation) == (
        "download",
        cast.coordinator_x.id,
        "regional_coordinator",
        cast.region_x.name,
    )
    assert entry.context == "reservists.evidence_for_coordinator"
    assert entry.details == {"evidence_id": evidence_id}


def test_a_coordinator_serving_region_by_choice_also_sees_it(client, login_as, cast, evidence_dir):
    from zorgreserve.reservists.models import Reservist

    limburger = make_reservist("limburg@example.org", pc4="6211")
    reservist = db.session.get(Reservist, limburger.id)
    reservist.regions = [cast.region_x]  # lives in Y, willing to serve in X
    db.session.commit()
    evidence_id = add_evidence(evidence_dir, limburger.id)
    login_as(cast.coordinator_x)
    assert client.get(f"/reservists/{limburger.id}/evidence/{evidence_id}").status_code == 200


def test_a_document_is_only_found_under_its_own_reservist(client, login_as, cast, me, other, evidence_dir):
    """Both reservists are in scope; the document of one is not reachable through the other's id."""
    evidence_id = add_evidence(evidence_dir, me.id)
    login_as(cast.national)
    assert client.get(f"/reservists/{other.id}/evidence/{evidence_id}").status_code == 404
    assert client.get(f"/reservists/{me.id}/evidence/{evidence_id}").status_code == 200
    assert len(access_log_rows(me.id)) == 1 and access_log_rows(other.id) == []


@pytest.mark.parametrize("role", ["staff_a", "admin"])
def test_staff_and_administrators_get_no_documents(client, login_as, cast, me, evidence_dir, role):
    evidence_id = add_evidence(evidence_dir, me.id)
    login_as(getattr(cast, role))
    assert client.get(f"/reservists/{me.id}/evidence/{evidence_id}").status_code == 403


# Other people's ids --------------------------------------------------------------------


def test_another_reservists_items_answer_404_and_stay_as_they_are(signed_in, other, evidence_dir):
    big_id = add_big(other.id)
    evidence_id = add_evidence(evidence_dir, other.id)
    held_id = add_qualification(other.id, "verpleegkundige", evidence_id=evidence_id, verification="verified")
    before = snapshot(other.user_id)
    attempts = [
        ("get", f"/me/big/{big_id}", None),
        (
            "post",
            f"/me/big/{big_id}",
            {"profession": profession_id("verpleegkundige"), "big_number": "99999999999"},
        ),
        ("post", f"/me/big/{big_id}/remove", None),
        ("get", f"/me/qualifications/{held_id}", None),
        ("post", f"/me/qualifications/{held_id}", {"obtained_on": "2016-01-01", "remove_evidence": "y"}),
        ("post", f"/me/qualifications/{held_id}/remove", None),
        ("get", f"/me/evidence/{evidence_id}", None),
    ]
    for method, url, data in attempts:
        assert getattr(signed_in, method)(url, data=data or {}).status_code == 404, url
    assert snapshot(other.user_id) == before
    assert len(files_in(evidence_dir)) == 1
