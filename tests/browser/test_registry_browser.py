"""In a real Chromium on a phone-sized screen: a new reservist signs up, confirms the e-mail, fills
in the profile, adds an IC-verpleegkundige qualification with its diploma (a real PDF upload) and
the BIG registration it needs, and sets weekly availability; a regional coordinator of the
reservist's region, on a desktop, opens the verification queue, downloads the diploma, verifies the
BIG registration and then the qualification; the reservist then sees both verified.

The reservist reads Dutch (the default); what the reservist must see is looked up in the compiled
Dutch catalogue, as in the smoke test, and the test fails listing any text that had no
translation. The coordinator's account reads English. Every reservist page is checked to fit the
phone's width (no sideways scrolling).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyotp
import pytest
from babel.dates import get_day_names

from tests.browser.test_request_flow_browser import sign_in
from tests.browser.test_smoke_browser import Dutch

pytestmark = pytest.mark.browser

REGION = "Netwerk Acute Zorg Midden-Nederland"  # PC4 3511 (Utrecht) lies in it
OTHER_REGION = "Acute Zorgregio Oost"
EMAIL = "sanne.bakker@example.org"
PASSWORD = "kompas-lavendel-treinstel-47"
PHONE_SCREEN = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(scope="module")
def coordinator(live_server: Any) -> SimpleNamespace:
    """A regional coordinator of the region of PC4 3511, with two-step verification, reading English."""
    from sqlalchemy import select

    from tests.factories import password_hash
    from zorgreserve import db
    from zorgreserve.accounts import crypto
    from zorgreserve.accounts.models import User
    from zorgreserve.accounts.services import new_nonce
    from zorgreserve.db import utcnow
    from zorgreserve.reference.models import Region

    secret = pyotp.random_base32()
    hashed = password_hash()
    with live_server.app.app_context():
        region_id = db.session.scalar(select(Region.id).where(Region.name == REGION))
        # The live server's worker writes to the same SQLite file meanwhile: end the read before
        # writing, so the insert waits for the lock instead of failing on a stale snapshot.
        db.session.rollback()
        db.session.add(
            User(
                email="registry-coordinator@example.org",
                role="regional_coordinator",
                region_id=region_id,
                first_name="Vera",
                last_name="Verifieerder",
                password_hash=hashed,
                email_verified_at=utcnow(),
                locale="en",
                session_nonce=new_nonce(),
                totp_secret_encrypted=crypto.encrypt(secret),
                totp_enabled_at=utcnow(),
            )
        )
        db.session.commit()
        db.session.remove()
    return SimpleNamespace(email="registry-coordinator@example.org", secret=secret)


@pytest.fixture
def phone(chromium: Any, live_server: Any) -> Any:
    """The reservist's phone: a 390×844 touch screen, browser asking for Dutch."""
    context = chromium.new_context(base_url=live_server.url, locale="nl-NL", **PHONE_SCREEN)
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def desktop(chromium: Any, live_server: Any) -> Any:
    """The coordinator's computer, another browser profile."""
    context = chromium.new_context(
        base_url=live_server.url,
        locale="en-GB",
        viewport={"width": 1280, "height": 900},
        accept_downloads=True,
    )
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def submit(page: Any) -> None:
    page.locator("main form button[type=submit]").first.click()


def assert_fits_the_phone(page: Any) -> None:
    """Nothing on the page is wider than the phone, so nothing needs sideways scrolling."""
    page.wait_for_load_state("load")  # measured with the style sheets applied, as the reservist sees it
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.viewport_size["width"]
    assert width <= viewport, f"{page.url} is {width} px wide on a {viewport} px phone screen"


def wait_for_subject(live_server: Any, to: str, subject: str, timeout: float = 15) -> Any:
    """The captured e-mail to ``to`` with ``subject``, waiting for the worker thread to send it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in list(live_server.app.extensions["mailman"].outbox):
            if to in message.to and message.subject == subject:
                return message
        time.sleep(0.1)
    seen = [m.subject for m in live_server.app.extensions["mailman"].outbox if to in m.to]
    pytest.fail(f"no e-mail {subject!r} to {to} within {timeout} s; there were: {seen}")


def test_reservist_registers_on_a_phone_and_a_coordinator_verifies(
    phone, desktop, coordinator, live_server, tmp_path: Path
):
    from playwright.sync_api import expect

    dutch = Dutch()
    same = dutch.catalogue.gettext  # for texts whose Dutch is the same as the English
    page = phone
    heading = page.get_by_role("heading", level=1)
    nav = page.get_by_role("navigation", name=dutch("Main navigation"))

    # 1. Sign up, confirm the e-mail through the link in the captured mail, sign in.
    page.goto("/")
    page.locator("main a[href='/signup']").click()
    assert_fits_the_phone(page)
    page.fill("#first_name", "Sanne")
    page.fill("#last_name", "Bakker")
    page.fill("#email", EMAIL)
    page.fill("#phone", "06 12345678")
    page.fill("#password", PASSWORD)
    page.fill("#password_confirm", PASSWORD)
    page.check("#consent")
    submit(page)
    expect(heading).to_have_text(dutch("Check your e-mail"))
    link = re.search(
        re.escape(live_server.url) + r"/signup/verify/\S+", live_server.wait_for_mail(EMAIL).body
    )
    assert link, "the verification e-mail holds no link to this server"
    page.goto(link.group(0))
    expect(page.get_by_test_id("verify-result")).to_have_attribute("data-result", "verified")
    page.goto("/login")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    submit(page)
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(heading).to_have_text(dutch("Welcome, %(name)s", name="Sanne"))
    assert_fits_the_phone(page)

    # 2. The profile: another mobile number, the home PC4, travel distance, a second region, channel.
    nav.get_by_role("link", name=dutch("My record")).click()
    expect(heading).to_have_text(dutch("My record"))
    assert_fits_the_phone(page)
    page.get_by_role("button", name=dutch("Edit profile")).click()
    expect(heading).to_have_text(dutch("Edit profile"))
    assert_fits_the_phone(page)
    page.fill("#phone", "0687654321")
    page.fill("#pc4", "3511 AB")  # only the four digits are kept
    page.fill("#max_travel_km", "35")
    page.get_by_label(OTHER_REGION).check()
    page.get_by_label(dutch("Text message"), exact=True).check()
    page.get_by_test_id("save-profile").click()
    expect(page.get_by_role("status")).to_have_text(dutch("Your profile is saved."))
    expect(heading).to_have_text(dutch("My record"))
    facts = page.locator("section[aria-labelledby=h-profile] dl")
    expect(facts).to_contain_text("06 87654321")
    expect(facts).to_contain_text(f"3511 ({REGION})")
    expect(facts).to_contain_text(same("%(km)s km") % {"km": 35})
    expect(facts).to_contain_text(OTHER_REGION)
    channel = facts.locator("dt", has_text=dutch("Call-ups by")).locator("xpath=following-sibling::dd[1]")
    expect(channel).to_have_text(dutch("Text message"))

    # 3. A qualification that needs a BIG registration and a diploma: upload the diploma as a PDF.
    diploma = tmp_path / "czo-diploma-ic.pdf"
    diploma.write_bytes(PDF)
    page.get_by_role("link", name=dutch("Manage qualifications")).click()
    expect(heading).to_have_text(dutch("Qualifications"))
    page.get_by_test_id("add-qualification").click()
    expect(heading).to_have_text(dutch("Add a qualification"))
    assert_fits_the_phone(page)
    page.select_option("#qualification", label="IC-verpleegkundige")
    page.fill("#obtained_on", "2019-06-28")
    page.set_input_files("#evidence", str(diploma))
    page.get_by_test_id("save-qualification").click()
    # The qualification is kept; the page for the BIG registration it needs comes next.
    expect(heading).to_have_text(dutch("BIG registration"))
    expect(page.get_by_role("status")).to_contain_text(
        dutch("%(name)s is added. A coordinator will verify it.", name="IC-verpleegkundige")
    )
    expect(page.get_by_test_id("big-required")).to_contain_text("IC-verpleegkundige")
    assert_fits_the_phone(page)

    # A BIG number of 10 digits is refused at the field; 11 digits (typed with spaces) are saved.
    page.select_option("#profession", label="Verpleegkundige")
    page.fill("#big_number", "1234567890")
    page.get_by_test_id("add-big").click()
    expect(page.locator("#big_number-error")).to_have_text(dutch("A BIG number has 11 digits."))
    page.fill("#big_number", "1234 5678 901")
    page.get_by_test_id("add-big").click()
    expect(page.get_by_role("status")).to_have_text(
        dutch("Your BIG registration is saved. A coordinator will verify it.")
    )
    expect(page.get_by_test_id("big-required")).to_have_count(0)
    registration = page.locator("article[data-testid^=big-]")
    expect(registration).to_contain_text("12345678901")
    expect(registration.locator("[data-verification]")).to_have_text(dutch("Not yet verified"))

    page.goto("/me/qualifications")
    held = page.locator("main article[data-testid^=qualification-]")
    expect(held).to_have_count(1)
    expect(held.get_by_role("heading")).to_have_text("IC-verpleegkundige")
    expect(held.locator("[data-verification]")).to_have_attribute("data-verification", "unverified")
    expect(held.locator("[data-verification]")).to_have_text(dutch("Not yet verified"))
    expect(held.get_by_role("link", name="czo-diploma-ic.pdf")).to_be_visible()
    expect(page.get_by_test_id("big-required")).to_have_count(0)
    assert_fits_the_phone(page)

    # 4. Availability: the weekdays quick start, and Saturday morning through the form.
    nav.get_by_role("link", name=dutch("Availability")).click()
    expect(heading).to_have_text(dutch("My availability"))
    assert_fits_the_phone(page)
    page.get_by_role("button", name=dutch("Weekdays 07:00–17:00")).click()
    expect(page.get_by_role("status")).to_have_text(
        dutch.catalogue.ngettext("%(num)d weekly time added.", "%(num)d weekly times added.", 5) % {"num": 5}
    )
    page.get_by_role("button", name=dutch("Add weekly times")).click()
    expect(heading).to_have_text(dutch("Add weekly times"))
    assert_fits_the_phone(page)
    page.check("#days-5")  # Saturday
    page.fill("#start", "09:00")
    page.fill("#end", "13:00")
    submit(page)
    expect(page.get_by_role("status")).to_have_text(
        dutch.catalogue.ngettext("%(num)d weekly time added.", "%(num)d weekly times added.", 1) % {"num": 1}
    )
    names = get_day_names("wide", locale="nl")
    days = [str(names[i]) for i in range(7)]  # Monday first
    windows = page.get_by_test_id("windows").locator("li")
    expect(windows).to_have_count(6)
    expect(windows.nth(0)).to_contain_text(
        same("%(day)s %(start)s–%(end)s") % {"day": days[0], "start": "07:00", "end": "17:00"}
    )
    expect(windows.nth(5)).to_contain_text(
        same("%(day)s %(start)s–%(end)s") % {"day": days[5], "start": "09:00", "end": "13:00"}
    )
    # The week view: bands of four hours from 00:00; Monday 07–17 fills 08–16 and half of 04–08, 16–20.
    week = page.locator("section[aria-labelledby=h-week] table.calendar tbody tr")
    expect(week).to_have_count(7)
    states = {"full": dutch("yes"), "part": dutch("partly"), "none": dutch("no")}
    expected = {
        0: ["none", "part", "full", "full", "part", "none"],
        4: ["none", "part", "full", "full", "part", "none"],
        5: ["none", "none", "part", "part", "none", "none"],
        6: ["none"] * 6,
    }
    for weekday, cells in expected.items():
        row = week.nth(weekday)
        expect(row.get_by_role("rowheader")).to_have_text(re.compile(days[weekday][:2], re.IGNORECASE))
        for band, state in enumerate(cells):
            cell = row.locator("td").nth(band)
            expect(cell).to_have_class(f"avail-{state}")
            expect(cell).to_contain_text(states[state])
    assert_fits_the_phone(page)

    # 5. The coordinator of the region, on a desktop: the queue holds both items of this reservist.
    office = desktop
    sign_in(office, coordinator.email, coordinator.secret)
    office.get_by_role("link", name="Verification", exact=True).click()
    expect(office.get_by_role("heading", level=1)).to_have_text("Verification")
    queue = office.get_by_test_id("queue").locator("tbody tr")
    expect(queue).to_have_count(2)
    expect(queue.filter(has_text="Sanne Bakker")).to_have_count(2)
    entry = queue.filter(has=office.get_by_role("link", name="IC-verpleegkundige", exact=True))
    expect(entry).to_contain_text("document attached")
    expect(entry).to_contain_text(REGION)
    entry.get_by_role("link", name="IC-verpleegkundige").click()
    expect(office.get_by_role("heading", level=1)).to_have_text("IC-verpleegkundige of Sanne Bakker")

    # The diploma opens: the very file the reservist uploaded.
    evidence = office.get_by_test_id("evidence")
    expect(evidence).to_contain_text("czo-diploma-ic.pdf")
    with office.expect_download() as download:
        evidence.get_by_role("link", name="Open the document").click()
    assert download.value.suggested_filename == "czo-diploma-ic.pdf"
    assert Path(download.value.path()).read_bytes() == PDF

    # Not verifiable yet: the BIG registration it needs is not verified.
    requirements = office.get_by_test_id("requirements").locator("li")
    expect(requirements.filter(has_text="BIG registration as Verpleegkundige")).to_have_attribute(
        "data-met", "no"
    )
    expect(requirements.filter(has_text="CZO-diploma IC-verpleegkundige")).to_have_attribute(
        "data-met", "yes"
    )
    expect(office.get_by_test_id("not-ready")).to_be_visible()
    office.get_by_role("link", name="view the BIG registration").click()

    # The BIG registration: checked by hand in the public register; the confirmation is required.
    expect(office.get_by_role("heading", level=1)).to_have_text("BIG registration of Sanne Bakker")
    expect(office.get_by_test_id("big-number")).to_have_text("12345678901")
    expect(office.get_by_test_id("lookup-manual")).to_be_visible()
    verify = office.get_by_test_id("verify-form")
    verify.get_by_role("button", name="Verify").click()
    expect(office.locator("#verify-confirmed-error")).to_have_text("Confirm that you checked the register.")
    office.get_by_label(
        "I compared the BIG number, the profession and the name with the BIG register."
    ).check()
    verify.get_by_role("button", name="Verify").click()
    expect(office.get_by_role("status")).to_have_text(
        "The BIG registration is verified. The reservist receives an e-mail."
    )
    expect(queue).to_have_count(1)

    # Now the qualification: everything present, and the coordinator confirms having read the diploma.
    queue.get_by_role("link", name="IC-verpleegkundige").click()
    expect(requirements).to_have_count(2)
    for requirement in requirements.all():
        expect(requirement).to_have_attribute("data-met", "yes")
    office.get_by_label("I opened the document and it shows what is asked for.").check()
    verify.get_by_role("button", name="Verify").click()
    expect(office.get_by_role("status")).to_have_text(
        "The qualification is verified. The reservist receives an e-mail."
    )
    expect(office.get_by_test_id("queue-empty")).to_be_visible()

    # 6. The reservist is told by e-mail, in Dutch, and sees both verified on the phone.
    wait_for_subject(live_server, EMAIL, dutch("Verified: %(name)s", name="Verpleegkundige"))
    wait_for_subject(live_server, EMAIL, dutch("Verified: %(name)s", name="IC-verpleegkundige"))
    nav.get_by_role("link", name=dutch("My record")).click()
    expect(heading).to_have_text(dutch("My record"))
    for section in ("h-big", "h-qualifications"):
        status = page.locator(f"section[aria-labelledby={section}] [data-verification]")
        expect(status).to_have_attribute("data-verification", "verified")
        expect(status).to_have_text(dutch("Verified"))
    page.get_by_role("link", name=dutch("Manage qualifications")).click()
    expect(held.locator("[data-verification]")).to_have_attribute("data-verification", "verified")
    expect(held.locator("[data-verification]")).to_have_text(dutch("Verified"))
    assert_fits_the_phone(page)

    assert dutch.missing == [], (
        "texts the reservist saw in English on Dutch pages; translate them in "
        f"zorgreserve/translations/nl/LC_MESSAGES/messages.po and run scripts/i18n compile: {dutch.missing}"
    )
