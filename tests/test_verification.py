"""Coordinator verification: the queue in scope, decisions, the BIG-register port and re-registration."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from babel.dates import format_date as babel_date
from flask import Flask
from sqlalchemy import func, select, update

from tests.conftest import login
from tests.factories import ReservistFactory
from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.audit.models import AccessLogEntry, AuditEvent
from zorgreserve.config import ConfigError, load_config
from zorgreserve.jobs.models import OutboxJob
from zorgreserve.reference.models import Profession, Qualification
from zorgreserve.reservists.models import (
    BigRegistration,
    Evidence,
    Reservist,
    ReservistQualification,
    ReservistRegion,
)
from zorgreserve.verification import services
from zorgreserve.verification.big_register import (
    EXTENSION_KEY,
    BigLookup,
    CibgBigRegister,
    FakeBigRegister,
    LookupStatus,
    ManualBigRegister,
    build_register,
    parse_group_codes,
)

NURSE_NUMBER = "19012345601"


# Helpers ----------------------------------------------------------------------------------


def code(model: Any, value: str) -> Any:
    return db.session.scalar(select(model).where(model.code == value))


def today() -> date:
    return services.local_today()


def person(
    email: str, region: Any, *, locale: str = "nl", last_name: str = "Jansen", **extra: Any
) -> Reservist:
    reservist = ReservistFactory(
        user__email=email, user__locale=locale, user__last_name=last_name, home_region_id=region.id, **extra
    )
    db.session.commit()
    return reservist


def big(
    reservist: Reservist,
    number: str = NURSE_NUMBER,
    profession: str = "verpleegkundige",
    verification: str = "unverified",
    **extra: Any,
) -> BigRegistration:
    registration = BigRegistration(
        reservist_id=reservist.id,
        profession_id=code(Profession, profession).id,
        big_number=number,
        verification=verification,
        **extra,
    )
    db.session.add(registration)
    db.session.commit()
    return registration


def document(reservist: Reservist) -> Evidence:
    evidence = Evidence(
        reservist_id=reservist.id,
        storage_key=f"key-{reservist.id}-{datetime.now(UTC).timestamp()}",
        filename="diploma.pdf",
        content_type="application/pdf",
        size_bytes=13,
        sha256="0" * 64,
    )
    db.session.add(evidence)
    db.session.flush()
    return evidence


def holding(
    reservist: Reservist,
    qualification: str,
    *,
    evidence: bool = False,
    verification: str = "unverified",
    **extra: Any,
) -> ReservistQualification:
    held = ReservistQualification(
        reservist_id=reservist.id,
        qualification_id=code(Qualification, qualification).id,
        obtained_on=date(2015, 6, 30),
        evidence_id=document(reservist).id if evidence else None,
        verification=verification,
        **extra,
    )
    db.session.add(held)
    db.session.commit()
    return held


def fresh(item: Any) -> Any:
    return db.session.get(type(item), item.id, populate_existing=True)


def audit_count(action: str) -> int:
    return db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == action))


def notify_jobs() -> list[dict[str, Any]]:
    return [j.args for j in db.session.scalars(select(OutboxJob).where(OutboxJob.job == services.NOTIFY_JOB))]


def verify_big_form(registration: BigRegistration, **extra: Any) -> dict[str, Any]:
    return {"verify-version": services.fingerprint(registration), "verify-confirmed": "y", **extra}


def reject_form(item: Any, grounds: str = "other", reason: str = "De naam op het diploma wijkt af.") -> dict:
    return {"reject-version": services.fingerprint(item), "reject-grounds": grounds, "reject-reason": reason}


@pytest.fixture(autouse=True)
def english_speaking_coordinators(cast: Any) -> None:
    """The page assertions below read English; Dutch pages are covered by tests/test_i18n.py."""
    for user in (cast.coordinator_x, cast.coordinator_y, cast.national):
        user.locale = "en"
    db.session.commit()


@pytest.fixture
def register(app: Flask, monkeypatch: pytest.MonkeyPatch) -> FakeBigRegister:
    """A fake BIG register for one test (the application's default is the manual check)."""
    fake = FakeBigRegister()
    monkeypatch.setitem(app.extensions, EXTENSION_KEY, fake)
    return fake


# The queue --------------------------------------------------------------------------------


def test_the_queue_shows_a_coordinator_only_their_region_and_a_national_coordinator_all(app, cast):
    here = person("here@example.org", cast.region_x, last_name="Hiermans")
    there = person("there@example.org", cast.region_y, last_name="Daarmans")
    serving = person("serving@example.org", cast.region_y, last_name="Helpmans")
    db.session.add(ReservistRegion(reservist_id=serving.id, region_id=cast.region_x.id))
    db.session.commit()
    big(here)
    holding(there, "verzorgende_ig", evidence=True)
    holding(serving, "doktersassistent")

    def names_seen(user: Any) -> set[str]:
        page = login(app.test_client(), user).get("/verification/")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        return {name for name in ("Hiermans", "Daarmans", "Helpmans") if name in html}

    assert names_seen(cast.coordinator_x) == {"Hiermans", "Helpmans"}
    assert names_seen(cast.coordinator_y) == {"Daarmans", "Helpmans"}
    assert names_seen(cast.national) == {"Hiermans", "Daarmans", "Helpmans"}
    for user in (cast.reservist, cast.staff_a, cast.admin):
        assert login(app.test_client(), user).get("/verification/").status_code == 403
    logged = db.session.scalars(
        select(AccessLogEntry.subject_reservist_id).where(AccessLogEntry.context == "verification.queue")
    ).all()
    assert sorted(set(logged)) == sorted({here.id, there.id, serving.id})


def test_the_queue_is_oldest_first_filtered_and_paginated(app, cast, ctx):
    start = datetime(2026, 1, 1, 9, tzinfo=UTC)
    waiting = []
    for n in range(services.PAGE_SIZE + 2):
        reservist = person(f"q{n}@example.org", cast.region_x)
        waiting.append(holding(reservist, "verzorgende_ig", changed_at=start + timedelta(hours=n)))
    oldest = person("oldest@example.org", cast.region_x, last_name="Oudste")
    registration = big(oldest, changed_at=start - timedelta(days=3))
    holding(oldest, "helpende", verification="verified")  # decided: not waiting

    with ctx():
        first = services.queue_page(cast.coordinator_x)
        second = services.queue_page(cast.coordinator_x, page=2)
        only_big = services.queue_page(cast.coordinator_x, kind="big")
    assert first.counts == {"big": 1, "qualification": services.PAGE_SIZE + 2}
    assert [e.item.id for e in first.entries][:2] == [registration.id, waiting[0].id]
    assert len(first.entries) == services.PAGE_SIZE and first.has_more
    assert [e.item.id for e in second.entries] == [w.id for w in waiting[-3:]]
    assert not second.has_more
    assert [e.item.id for e in only_big.entries] == [registration.id]

    client = login(app.test_client(), cast.coordinator_x)
    html = client.get("/verification/?kind=big").get_data(as_text=True)
    assert "Oudste" in html and 'aria-current="page" data-testid="filter-big"' in html
    assert "page=2" in client.get("/verification/").get_data(as_text=True)


# Decisions on BIG registrations -------------------------------------------------------------


def test_manual_check_verifies_and_the_reservist_gets_an_email_in_their_language(
    app, cast, client, login_as, run_jobs, mail_outbox
):
    english = person("english@example.org", cast.region_x, locale="en")
    dutch = person("dutch@example.org", cast.region_x, locale="nl")
    due = today() + timedelta(days=900)
    first, second = big(english), big(dutch, number="29012345602")
    login_as(cast.coordinator_x)

    page = client.get(f"/verification/big/{first.id}").get_data(as_text=True)
    assert 'data-testid="lookup-manual"' in page and NURSE_NUMBER in page
    version = re.search(r'name="verify-version" type="hidden" value="([0-9a-f]+)"', page).group(1)
    answer = client.post(
        f"/verification/big/{first.id}/verify",
        data={
            "verify-version": version,
            "verify-confirmed": "y",
            "verify-reregistration_due": due.isoformat(),
        },
    )
    assert answer.status_code == 303
    assert (
        client.post(f"/verification/big/{second.id}/verify", data=verify_big_form(second)).status_code == 303
    )

    first = fresh(first)
    assert (first.verification, first.reregistration_due, first.verified_by_id) == (
        "verified",
        due,
        cast.coordinator_x.id,
    )
    assert first.lookup_result is None  # nobody asked a register: the coordinator checked by hand
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.subject_id == str(first.id)))
    assert (event.action, event.actor_id, event.details["register"], event.details["lookup"]) == (
        "verification.big_verified",
        cast.coordinator_x.id,
        "manual",
        "manual",
    )
    assert (
        db.session.scalar(
            select(func.count(AccessLogEntry.id)).where(
                AccessLogEntry.subject_reservist_id == english.id, AccessLogEntry.action == "verify"
            )
        )
        == 1
    )

    run_jobs()
    mail = {m.to[0]: m for m in mail_outbox}
    assert set(mail) == {"english@example.org", "dutch@example.org"}
    assert mail["english@example.org"].subject == "Verified: Verpleegkundige"
    assert babel_date(due, "long", locale="en") in mail["english@example.org"].body
    assert babel_date(today(), "long", locale="nl") in mail["dutch@example.org"].body  # Dutch dates
    assert "/me/big" in mail["english@example.org"].body


def test_a_rejection_needs_a_reason_and_the_reservist_reads_it(
    app, cast, client, login_as, run_jobs, mail_outbox
):
    reservist = person("rejected@example.org", cast.region_x, locale="en")
    registration = big(reservist)
    login_as(cast.coordinator_x)

    for reason in ("", "   "):
        refused = client.post(
            f"/verification/big/{registration.id}/reject", data=reject_form(registration, reason=reason)
        )
        assert refused.status_code == 422
        assert "Give the reason" in refused.get_data(as_text=True)
    refused = client.post(
        f"/verification/big/{registration.id}/reject", data=reject_form(registration, grounds="")
    )
    assert "Choose the ground" in refused.get_data(as_text=True)
    assert fresh(registration).verification == "unverified" and notify_jobs() == []

    done = client.post(
        f"/verification/big/{registration.id}/reject",
        data=reject_form(
            registration, grounds="not_in_register", reason="Dit nummer staat niet in het register."
        ),
    )
    assert done.status_code == 303
    registration = fresh(registration)
    assert registration.verification == "rejected"
    assert registration.rejection_reason == "Dit nummer staat niet in het register."
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "verification.big_rejected"))
    assert event.details["grounds"] == "not_in_register"
    assert "register" not in str(event.details.values()).lower().replace(
        "not_in_register", ""
    )  # no free text
    run_jobs()
    [mail] = mail_outbox
    assert mail.subject == "Not verified: Verpleegkundige"
    assert "Dit nummer staat niet in het register." in mail.body


def test_an_unavailable_register_never_verifies(app, cast, client, login_as, register):
    reservist = person("waiting@example.org", cast.region_x)
    registration = big(reservist)
    register.register(NURSE_NUMBER, "verpleegkundige", initials="A.", last_name="Jansen")
    register.available = False
    login_as(cast.coordinator_x)

    page = client.get(f"/verification/big/{registration.id}").get_data(as_text=True)
    assert 'data-testid="lookup-unavailable"' in page and 'data-testid="verify-form"' not in page
    assert fresh(registration).lookup_result == "unavailable"
    refused = client.post(f"/verification/big/{registration.id}/verify", data=verify_big_form(registration))
    assert refused.status_code == 422
    assert "cannot be reached" in refused.get_data(as_text=True)
    assert fresh(registration).verification == "unverified"
    assert audit_count("verification.big_verified") == 0 and notify_jobs() == []

    register.available = True  # back: the same request now goes through
    assert (
        client.post(
            f"/verification/big/{registration.id}/verify", data=verify_big_form(registration)
        ).status_code
        == 303
    )
    assert fresh(registration).verification == "verified"
    assert fresh(registration).lookup_result == "verified"


def test_the_register_must_list_the_number_for_the_claimed_profession(app, cast, client, login_as, register):
    unknown = big(person("unknown@example.org", cast.region_x))
    doctor = big(person("doctor@example.org", cast.region_x), number="39012345603")
    register.register("39012345603", "arts", initials="B.", last_name="Jansen")
    login_as(cast.coordinator_x)

    page = client.get(f"/verification/big/{unknown.id}").get_data(as_text=True)
    assert 'data-testid="lookup-not-found"' in page
    refused = client.post(f"/verification/big/{unknown.id}/verify", data=verify_big_form(unknown))
    assert refused.status_code == 422 and "no current registration" in refused.get_data(as_text=True)

    page = client.get(f"/verification/big/{doctor.id}").get_data(as_text=True)
    assert 'data-testid="lookup-other-profession"' in page
    refused = client.post(f"/verification/big/{doctor.id}/verify", data=verify_big_form(doctor))
    assert refused.status_code == 422 and "does not list this number as Verpleegkundige" in refused.get_data(
        as_text=True
    )
    assert {fresh(unknown).verification, fresh(doctor).verification} == {"unverified"}


def test_the_register_answer_is_shown_and_its_date_is_used(app, cast, client, login_as, register):
    reservist = person("found@example.org", cast.region_x, last_name="de Vries-Bakker")
    registration = big(reservist)
    until = today() + timedelta(days=1000)
    register.register(NURSE_NUMBER, "verpleegkundige", initials="M.", last_name="Bakker", ends_on=until)
    login_as(cast.coordinator_x)

    page = client.get(f"/verification/big/{registration.id}").get_data(as_text=True)
    assert 'data-testid="lookup-verified"' in page and "M. Bakker" in page
    assert "the surname matches" in page
    assert register.asked == [NURSE_NUMBER]
    without_confirmation = {"verify-version": services.fingerprint(registration)}
    refused = client.post(f"/verification/big/{registration.id}/verify", data=without_confirmation)
    assert refused.status_code == 422 and "Confirm that you checked the register" in refused.get_data(
        as_text=True
    )
    typed = (today() + timedelta(days=30)).isoformat()
    done = client.post(
        f"/verification/big/{registration.id}/verify",
        data=verify_big_form(registration, **{"verify-reregistration_due": typed}),
    )
    assert done.status_code == 303
    assert fresh(registration).reregistration_due == until  # the register's date wins


def test_a_registration_past_its_re_registration_date_is_not_verified(app, cast, client, login_as):
    registration = big(person("late@example.org", cast.region_x))
    login_as(cast.coordinator_x)
    past = (today() - timedelta(days=1)).isoformat()
    refused = client.post(
        f"/verification/big/{registration.id}/verify",
        data=verify_big_form(registration, **{"verify-reregistration_due": past}),
    )
    assert refused.status_code == 422 and "has passed" in refused.get_data(as_text=True)
    assert fresh(registration).verification == "unverified"


# Decisions on qualifications ----------------------------------------------------------------


def test_ic_nurse_needs_a_verified_big_registration_and_a_checked_document(app, cast, client, login_as):
    nurse = person("ic@example.org", cast.region_x)
    registration = big(nurse)
    held = holding(nurse, "ic_verpleegkundige", evidence=True)
    no_document = person("nodoc@example.org", cast.region_x)
    big(no_document, number="49012345604", verification="verified")
    undocumented = holding(no_document, "ic_verpleegkundige")
    login_as(cast.coordinator_x)
    form = {"verify-version": services.fingerprint(held), "verify-evidence_checked": "y"}

    page = client.get(f"/verification/qualifications/{held.id}").get_data(as_text=True)
    assert "The BIG registration is not verified yet." in page and 'data-testid="not-ready"' in page
    assert f"/verification/big/{registration.id}" in page
    refused = client.post(f"/verification/qualifications/{held.id}/verify", data=form)
    assert refused.status_code == 422 and "cannot be verified yet" in refused.get_data(as_text=True)
    assert fresh(held).verification == "unverified"

    page = client.get(f"/verification/qualifications/{undocumented.id}").get_data(as_text=True)
    assert "No document has been uploaded." in page
    refused = client.post(
        f"/verification/qualifications/{undocumented.id}/verify",
        data={"verify-version": services.fingerprint(undocumented), "verify-evidence_checked": "y"},
    )
    assert refused.status_code == 422 and fresh(undocumented).verification == "unverified"

    assert (
        client.post(
            f"/verification/big/{registration.id}/verify", data=verify_big_form(registration)
        ).status_code
        == 303
    )
    page = client.get(f"/verification/qualifications/{held.id}").get_data(as_text=True)
    assert 'data-testid="verify-form"' in page and 'data-met="no"' not in page
    unchecked = client.post(
        f"/verification/qualifications/{held.id}/verify", data={"verify-version": form["verify-version"]}
    )
    assert unchecked.status_code == 422 and "Confirm that you opened the document" in unchecked.get_data(
        as_text=True
    )
    assert client.post(f"/verification/qualifications/{held.id}/verify", data=form).status_code == 303
    held = fresh(held)
    assert (held.verification, held.evidence_verified) == ("verified", True)


def test_the_evidence_link_goes_to_the_coordinator_download(app, cast, client, login_as):
    held = holding(person("doc@example.org", cast.region_x), "verzorgende_ig", evidence=True)
    login_as(cast.coordinator_x)
    page = client.get(f"/verification/qualifications/{held.id}").get_data(as_text=True)
    if "reservists.evidence_for_coordinator" in app.view_functions:
        assert f"/reservists/{held.reservist_id}/evidence/{held.evidence_id}" in page
    assert "diploma.pdf" in page
    assert (
        db.session.scalar(
            select(func.count(AccessLogEntry.id)).where(
                AccessLogEntry.context == "verification.qualification_item",
                AccessLogEntry.subject_reservist_id == held.reservist_id,
            )
        )
        == 1
    )


def test_a_second_decision_on_the_same_item_is_refused(app, cast, run_jobs, mail_outbox):
    held = holding(person("twice@example.org", cast.region_x), "verzorgende_ig", evidence=True)
    first = login(app.test_client(), cast.coordinator_x)
    second = login(app.test_client(), cast.national)
    version = services.fingerprint(held)

    ok = first.post(
        f"/verification/qualifications/{held.id}/verify",
        data={"verify-version": version, "verify-evidence_checked": "y"},
    )
    assert ok.status_code == 303
    late = second.post(
        f"/verification/qualifications/{held.id}/reject", data=reject_form(held), follow_redirects=True
    )
    assert "already decided" in late.get_data(as_text=True)
    again = first.post(
        f"/verification/qualifications/{held.id}/verify",
        data={"verify-version": version, "verify-evidence_checked": "y"},
        follow_redirects=True,
    )
    assert "already decided" in again.get_data(as_text=True)
    assert fresh(held).verification == "verified"
    assert audit_count("verification.qualification_verified") == 1
    assert audit_count("verification.qualification_rejected") == 0
    assert len(notify_jobs()) == 1
    run_jobs()
    assert len(mail_outbox) == 1


def test_a_decision_racing_another_is_stopped_by_the_conditional_update(app, cast, ctx):
    """The page check passed, then someone else committed first: the UPDATE matches no row."""
    held = holding(person("race@example.org", cast.region_x), "verzorgende_ig", evidence=True)
    with ctx():
        loaded = services.qualification_in_scope(cast.coordinator_x, held.id)
        version = services.fingerprint(loaded)
        db.session.execute(
            update(ReservistQualification)
            .where(ReservistQualification.id == held.id)
            .values(verification="rejected", rejection_reason="eerder")
            .execution_options(synchronize_session=False)
        )
        assert loaded.verification == "unverified"  # what the first coordinator still sees
        with pytest.raises(services.AlreadyDecided):
            services.verify_qualification(cast.national, loaded, version=version, evidence_checked=True)
    assert audit_count("verification.qualification_verified") == 0 and notify_jobs() == []


def test_a_decision_on_an_item_the_reservist_changed_meanwhile_is_refused(app, cast, client, login_as):
    reservist = person("changer@example.org", cast.region_x)
    held = holding(reservist, "verzorgende_ig", evidence=True)
    seen = services.fingerprint(held)
    held.evidence_id = document(reservist).id  # a new document after the coordinator opened the page
    db.session.commit()
    login_as(cast.coordinator_x)
    answer = client.post(
        f"/verification/qualifications/{held.id}/verify",
        data={"verify-version": seen, "verify-evidence_checked": "y"},
        follow_redirects=True,
    )
    assert "changed this item after you opened it" in answer.get_data(as_text=True)
    assert fresh(held).verification == "unverified"


def test_ids_outside_the_coordinators_scope_answer_404_and_change_nothing(app, cast, client, login_as):
    reservist = person("elsewhere@example.org", cast.region_x)
    registration = big(reservist)
    held = holding(reservist, "verzorgende_ig", evidence=True)
    login_as(cast.coordinator_y)
    for url, data in (
        (f"/verification/big/{registration.id}", None),
        (f"/verification/big/{registration.id}/verify", verify_big_form(registration)),
        (f"/verification/big/{registration.id}/reject", reject_form(registration)),
        (f"/verification/qualifications/{held.id}", None),
        (f"/verification/qualifications/{held.id}/verify", {"verify-version": services.fingerprint(held)}),
        (f"/verification/qualifications/{held.id}/reject", reject_form(held)),
        ("/verification/big/999999", None),
        ("/verification/qualifications/999999/verify", {}),
    ):
        answer = client.post(url, data=data) if data is not None else client.get(url)
        assert answer.status_code == 404, url
    assert {fresh(registration).verification, fresh(held).verification} == {"unverified"}
    assert db.session.scalar(select(func.count(AccessLogEntry.id))) == 0
    login(client, cast.national)
    assert client.get(f"/verification/big/{registration.id}").status_code == 200


def test_decisions_need_a_csrf_token(app, cast, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    registration = big(person("csrf@example.org", cast.region_x))
    client = login(app.test_client(), cast.coordinator_x)
    assert (
        client.post(
            f"/verification/big/{registration.id}/verify", data=verify_big_form(registration)
        ).status_code
        == 400
    )
    assert fresh(registration).verification == "unverified"


# Re-registration ----------------------------------------------------------------------------


def test_due_re_registrations_return_to_the_queue_with_what_stood_on_them(
    app, cast, ctx, run_jobs, mail_outbox
):
    long_ago = datetime.now(UTC) - timedelta(days=4 * 365)
    soon = person("soon@example.org", cast.region_x, locale="en")
    due_soon = big(
        soon, verification="verified", reregistration_due=today() + timedelta(days=30), verified_at=long_ago
    )
    ic = holding(soon, "ic_verpleegkundige", evidence=True, verification="verified", evidence_verified=True)
    aide = holding(soon, "verzorgende_ig", evidence=True, verification="verified")
    later = big(
        person("later@example.org", cast.region_x),
        verification="verified",
        reregistration_due=today() + timedelta(days=200),
        verified_at=long_ago,
    )
    knowingly = big(
        person("knowingly@example.org", cast.region_x),
        verification="verified",
        reregistration_due=today() + timedelta(days=40),
        verified_at=datetime.now(UTC) - timedelta(days=5),
    )
    lapsed = big(
        person("lapsed@example.org", cast.region_x),
        verification="verified",
        reregistration_due=today() - timedelta(days=1),
        verified_at=datetime.now(UTC) - timedelta(days=5),
    )

    with ctx():
        assert services.flag_due_reregistrations(datetime.now(UTC)) == 2
        db.session.commit()
        assert services.flag_due_reregistrations(datetime.now(UTC)) == 0  # a second run changes nothing
    states = {r.id: fresh(r).verification for r in (due_soon, later, knowingly, lapsed)}
    assert states == {
        due_soon.id: "unverified",
        later.id: "verified",
        knowingly.id: "verified",
        lapsed.id: "unverified",
    }
    assert fresh(ic).verification == "unverified"  # needs the BIG registration
    assert fresh(aide).verification == "verified"  # does not
    assert audit_count("verification.big_flagged") == 2
    with ctx():
        coordinator = db.session.get(User, cast.coordinator_x.id)
        waiting = {e.item.id for e in services.queue_page(coordinator, kind="big").entries}
    assert waiting == {due_soon.id, lapsed.id}
    run_jobs()
    mail = {m.to[0]: m for m in mail_outbox}
    assert set(mail) == {"soon@example.org", "lapsed@example.org"}
    assert mail["soon@example.org"].subject == "Your BIG registration needs a new check"


# The BIG-register port ----------------------------------------------------------------------

SAMPLE_ANSWER = b"""<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
               xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <soap:Body>
    <ListHcpApprox4Result xmlns="http://services.cibg.nl/ExternalUser">
      <ListHcpApprox>
        <ListHcpApprox4>
          <HcpNumber>1234567</HcpNumber>
          <BirthSurname>Vries</BirthSurname>
          <MailingName>A.B. de Vries</MailingName>
          <Prefix>de</Prefix>
          <Initial>A.B.</Initial>
          <Gender>V</Gender>
          <ArticleRegistration>
            <ArticleRegistrationExtApp>
              <ArticleRegistrationNumber>19012345601</ArticleRegistrationNumber>
              <ArticleRegistrationStartDate>2004-09-01T00:00:00</ArticleRegistrationStartDate>
              <ArticleRegistrationEndDate>0001-01-01T00:00:00</ArticleRegistrationEndDate>
              <ProfessionalGroupCode>30</ProfessionalGroupCode>
            </ArticleRegistrationExtApp>
            <ArticleRegistrationExtApp>
              <ArticleRegistrationNumber>59012345605</ArticleRegistrationNumber>
              <ArticleRegistrationStartDate>2001-01-01T00:00:00</ArticleRegistrationStartDate>
              <ArticleRegistrationEndDate>2010-01-01T00:00:00</ArticleRegistrationEndDate>
              <ProfessionalGroupCode>99</ProfessionalGroupCode>
            </ArticleRegistrationExtApp>
          </ArticleRegistration>
          <Specialism />
          <Mention />
          <JudgmentProvision />
          <Limitation>
            <LimitationExtApp>
              <LimitationId>1</LimitationId>
              <ArticleRegistrationNumber>59012345605</ArticleRegistrationNumber>
              <Description>Beperking</Description>
              <StartDate>2009-01-01T00:00:00</StartDate>
              <EndDate xsi:nil="true" />
            </LimitationExtApp>
          </Limitation>
        </ListHcpApprox4>
      </ListHcpApprox>
    </ListHcpApprox4Result>
  </soap:Body>
</soap:Envelope>
"""

EMPTY_ANSWER = b"""<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
<ListHcpApprox4Result xmlns="http://services.cibg.nl/ExternalUser"><ListHcpApprox /></ListHcpApprox4Result>
</soap:Body></soap:Envelope>"""

FAULT = b"""<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>
<soap:Fault><faultcode>soap:Server</faultcode>
<faultstring>Server was unable to process request.</faultstring></soap:Fault>
</soap:Body></soap:Envelope>"""


def cibg(answer: bytes | Exception, sent: list[Any] | None = None) -> CibgBigRegister:
    def transport(url: str, body: bytes, headers: dict[str, str], timeout: float) -> bytes:
        if sent is not None:
            sent.append((url, body, headers, timeout))
        if isinstance(answer, Exception):
            raise answer
        return answer

    return CibgBigRegister(
        url="https://register.test/soap", timeout=3, transport=transport, today=lambda: date(2026, 3, 1)
    )


def test_cibg_request_asks_by_number_only():
    sent: list[Any] = []
    cibg(EMPTY_ANSWER, sent).lookup(NURSE_NUMBER)
    [(url, body, headers, timeout)] = sent
    assert (url, timeout) == ("https://register.test/soap", 3)
    assert headers["SOAPAction"] == '"http://services.cibg.nl/ExternalUser/ListHcpApprox4"'
    assert b"<RegistrationNumber>19012345601</RegistrationNumber>" in body
    assert b"<Name>" not in body and b"<Initials>" not in body


def test_cibg_sample_answer_is_read_for_the_number_asked():
    answer = cibg(SAMPLE_ANSWER).lookup(NURSE_NUMBER)
    assert answer.status is LookupStatus.VERIFIED
    assert (answer.initials, answer.last_name, answer.mailing_name) == ("A.B.", "de Vries", "A.B. de Vries")
    [registration] = answer.registrations  # the person's other registration is not this number's
    assert (registration.group_code, registration.profession_code) == ("30", "verpleegkundige")
    assert (registration.registered_on, registration.ends_on) == (date(2004, 9, 1), None)
    assert answer.registration_for("verpleegkundige", date(2026, 3, 1)) is registration
    assert answer.registration_for("arts", date(2026, 3, 1)) is None
    assert not answer.has_measures  # the limitation belongs to the other registration
    assert answer.surname_matches("van der Berg-de Vries") is True  # a double name holding theirs
    assert answer.surname_matches("de Jong") is False  # only the prefix in common
    assert BigLookup(LookupStatus.MANUAL).surname_matches("de Vries") is None


def test_cibg_ended_unknown_and_unmapped_registrations():
    ended = cibg(SAMPLE_ANSWER).lookup("59012345605")
    assert ended.status is LookupStatus.NOT_FOUND  # only an ended registration under this number
    assert ended.registrations[0].profession_code is None and ended.has_measures
    assert cibg(EMPTY_ANSWER).lookup(NURSE_NUMBER).status is LookupStatus.NOT_FOUND
    assert cibg(SAMPLE_ANSWER).lookup("not-a-number").status is LookupStatus.NOT_FOUND


@pytest.mark.parametrize(
    "answer",
    [
        TimeoutError("timed out"),
        OSError("connection refused"),
        FAULT,
        b"<html>maintenance</html>",
        b"\x00garbage",
    ],
    ids=["timeout", "refused", "soap-fault", "html", "garbage"],
)
def test_cibg_failures_are_unavailable_never_verified(answer):
    result = cibg(answer).lookup(NURSE_NUMBER)
    assert result.status is LookupStatus.UNAVAILABLE
    assert result.stored_result == "unavailable" and result.registrations == ()


def test_register_adapters_are_chosen_by_configuration(tmp_path):
    assert load_config(tmp_path, {})["BIG_REGISTER"] == "manual"
    assert isinstance(build_register({"BIG_REGISTER": "manual"}), ManualBigRegister)
    assert isinstance(build_register({"BIG_REGISTER": "fake"}), FakeBigRegister)
    adapter = build_register(
        {
            "BIG_REGISTER": "cibg",
            "BIG_REGISTER_TIMEOUT": 4,
            "BIG_REGISTER_GROUP_CODES": "83=orthopedagoog_generalist",
        }
    )
    assert isinstance(adapter, CibgBigRegister) and adapter.timeout == 4
    assert (
        adapter.group_codes["83"] == "orthopedagoog_generalist"
        and adapter.group_codes["30"] == "verpleegkundige"
    )
    with pytest.raises(ConfigError):
        load_config(tmp_path, {"BIG_REGISTER": "soap"})
    with pytest.raises(ConfigError):
        load_config(
            tmp_path, {"BIG_REGISTER": "fake", "ZORGRESERVE_ENV": "production", "SECRET_KEY": "x" * 32}
        )
    with pytest.raises(ValueError):
        parse_group_codes("30")
    assert ManualBigRegister().lookup(NURSE_NUMBER) == BigLookup(LookupStatus.MANUAL)
