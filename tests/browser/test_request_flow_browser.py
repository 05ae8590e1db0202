"""In a real Chromium: a hospital asks for 3 IC nurses a day for 14 days, the regional
coordinator approves, the hospital sees the request open with 14 shifts × 3 places; and the
coordinator raises and lowers the region's surge phase, with its history shown.

The accounts read English (their language setting), so the assertions hold whatever the
Dutch catalogue says; the Dutch pages are covered by the smoke test.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

import pyotp
import pytest

from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

REGION = "Netwerk Acute Zorg Midden-Nederland"


@pytest.fixture(scope="module")
def people(live_server: Any) -> SimpleNamespace:
    """A hospital in Utrecht with one staff member, and two coordinators of its region (with 2FA)."""
    from sqlalchemy import select

    from tests.factories import password_hash
    from zorgreserve import db
    from zorgreserve.accounts import crypto
    from zorgreserve.accounts.models import User
    from zorgreserve.accounts.services import new_nonce
    from zorgreserve.db import utcnow
    from zorgreserve.institutions.models import Institution
    from zorgreserve.reference.models import Region

    secret, duty_secret = pyotp.random_base32(), pyotp.random_base32()
    with live_server.app.app_context():
        region = db.session.scalar(select(Region).where(Region.name == REGION))
        hospital = Institution(name="UMC Utrecht (browser)", kind="hospital", region_id=region.id)
        db.session.add(hospital)
        db.session.flush()
        common = {
            "password_hash": password_hash(),
            "email_verified_at": utcnow(),
            "locale": "en",
        }
        db.session.add_all(
            [
                User(
                    email="ic-planner@umc.example",
                    role="institution_staff",
                    institution_id=hospital.id,
                    first_name="Ilse",
                    last_name="Planner",
                    session_nonce=new_nonce(),
                    **common,
                ),
                User(
                    email="roaz-duty@example.org",
                    role="regional_coordinator",
                    region_id=region.id,
                    first_name="Dana",
                    last_name="Dienstdoend",
                    session_nonce=new_nonce(),
                    totp_secret_encrypted=crypto.encrypt(duty_secret),
                    totp_enabled_at=utcnow(),
                    **common,
                ),
                User(
                    email="roaz-coordinator@example.org",
                    role="regional_coordinator",
                    region_id=region.id,
                    first_name="Ruud",
                    last_name="Coördinator",
                    session_nonce=new_nonce(),
                    totp_secret_encrypted=crypto.encrypt(secret),
                    totp_enabled_at=utcnow(),
                    **common,
                ),
            ]
        )
        db.session.commit()
        region_id = region.id
        db.session.remove()
    return SimpleNamespace(secret=secret, duty_secret=duty_secret, region_id=region_id)


def sign_in(page: Any, email: str, totp_secret: str | None = None) -> None:
    from playwright.sync_api import expect

    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.locator("main form button[type=submit]").click()
    if totp_secret:
        expect(page).to_have_url(re.compile(r"/login/second-factor$"))
        page.fill("#code", pyotp.TOTP(totp_secret).now())
        page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))


@pytest.fixture
def second_page(chromium: Any, live_server: Any) -> Any:
    """Another browser profile: the coordinator works on another computer than the hospital."""
    context = chromium.new_context(base_url=live_server.url, locale="en-GB")
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_a_hospital_request_is_approved_and_opens_with_14_shifts_of_3_places(
    browser_page, second_page, people
):
    from playwright.sync_api import expect

    hospital = browser_page
    sign_in(hospital, "ic-planner@umc.example")

    # The hospital adds the location where reservists report.
    hospital.locator("nav a[href='/institutions/mine']").click()
    hospital.locator("main a[href$='/locations/new']").click()
    hospital.fill("#name", "Hoofdgebouw")
    hospital.fill("#street_address", "Heidelberglaan 100")
    hospital.fill("#postcode", "3584 CX")
    hospital.fill("#city", "Utrecht")
    hospital.locator("main form button[type=submit]").click()
    expect(hospital.get_by_test_id("locations")).to_contain_text(REGION)

    # A request: IC-verpleegkundigen, every day 07:00–15:30 for 14 days, 3 per shift.
    hospital.locator("nav a[href='/requests/']").click()
    hospital.get_by_test_id("new-request").click()
    first_day = date.today() + timedelta(days=2)
    hospital.fill("#department", "IC")
    hospital.select_option("#qualification_id", label="IC-verpleegkundige")
    hospital.select_option("#urgency", "high")
    hospital.select_option("#repeat", "daily")
    hospital.fill("#first_day", first_day.isoformat())
    hospital.fill("#days", "14")
    hospital.select_option("#preset", "day")
    hospital.fill("#places", "3")
    hospital.fill("#report_to", "Hoofdingang, balie IC (verdieping 2), vraag naar de dienstdoende teamleider")
    hospital.fill("#bring", "Legitimatie en BIG-pas")
    hospital.fill("#contact_name", "Teamleider IC")
    hospital.fill("#contact_phone", "030 250 9111")

    # The preview shows the shifts before anything is saved.
    hospital.get_by_test_id("preview-button").click()
    preview = hospital.get_by_test_id("preview")
    expect(preview.get_by_role("heading")).to_have_text("14 shifts")
    expect(preview.locator("tbody tr")).to_have_count(14)
    expect(preview.locator("tbody tr").first).to_contain_text("07:00")

    hospital.get_by_test_id("submit-button").click()
    expect(hospital).to_have_url(re.compile(r"/requests/\d+$"))
    expect(hospital.get_by_test_id("request-status")).to_have_text("Waiting for approval")
    request_path = re.search(r"/requests/\d+$", hospital.url).group(0)

    # The regional coordinator finds it in the overview and approves it.
    coordinator = second_page
    sign_in(coordinator, "roaz-coordinator@example.org", people.secret)
    coordinator.locator("nav a[href='/requests/overview']").click()
    waiting = coordinator.get_by_test_id("waiting")
    expect(waiting.get_by_test_id("request-row")).to_have_count(1)
    waiting.locator(f"a[href='{request_path}']").click()
    coordinator.fill("#note", "Akkoord, past in het regionale beeld")
    coordinator.get_by_test_id("approve-button").click()
    expect(coordinator.get_by_test_id("request-status")).to_have_text("Open")

    # The hospital sees it open: 14 shifts × 3 places, nobody accepted yet.
    hospital.reload()
    expect(hospital.get_by_test_id("request-status")).to_have_text("Open")
    rows = hospital.get_by_test_id("shift-row")
    expect(rows).to_have_count(14)
    expect(hospital.get_by_test_id("places")).to_have_text(["3"] * 14)
    expect(hospital.get_by_test_id("request-totals")).to_have_text("14 shifts, 0 of 42 places accepted")
    expect(hospital.get_by_test_id("history")).to_contain_text("Ruud Coördinator")


def test_a_coordinator_raises_and_lowers_the_regions_surge_phase_and_sees_the_history(browser_page, people):
    from playwright.sync_api import expect

    page = browser_page
    # A colleague of the approving coordinator: a code's time step is used once only.
    sign_in(page, "roaz-duty@example.org", people.duty_secret)
    page.locator("nav a[href='/surge/']").click()
    row = page.locator(f"[data-region='{people.region_id}']")
    expect(row.get_by_test_id("own-phase")).to_have_text("0")

    row.get_by_role("link", name="Declare").click()
    page.select_option("#phase_code", "2A")
    page.fill("#reason", "Drie ziekenhuizen melden een volle IC; planbare zorg wordt afgeschaald")
    page.get_by_test_id("declare-button").click()
    expect(page.get_by_test_id("declaration")).to_have_count(1)
    expect(page.get_by_test_id("declared-phase")).to_contain_text("2A")

    page.goto(f"/surge/declare?scope={people.region_id}")
    page.select_option("#phase_code", "1")
    page.fill("#reason", "Patiënten gespreid; de druk neemt af")
    page.get_by_test_id("declare-button").click()
    declarations = page.get_by_test_id("declaration")
    expect(declarations).to_have_count(2)
    expect(declarations.first).to_contain_text("Patiënten gespreid")
    expect(declarations.first).to_contain_text("Dana Dienstdoend")
    expect(declarations.nth(1)).to_contain_text("Drie ziekenhuizen")

    page.locator("nav a[href='/surge/']").click()
    row = page.locator(f"[data-region='{people.region_id}']")
    expect(row.get_by_test_id("own-phase")).to_contain_text("1")
    expect(row.get_by_test_id("effective-phase")).to_have_text("1")
