"""In a real Chromium, on the embedded default: the coordinator approves a request, the worker
sends wave 1 (captured SMS), a reservist opens the link on a phone-sized window and accepts two
shifts, the coordinator approves the deployments, and the institution sees who is coming.
"""

from __future__ import annotations

import re
import time
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

import pyotp
import pytest

from tests.browser.test_request_flow_browser import sign_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def setting(live_server: Any) -> SimpleNamespace:
    """A hospital in Utrecht with a submitted two-day IC request, its coordinator (2FA) and one reservist."""
    import uuid

    from sqlalchemy import select

    from tests.deployments_support import day_pattern, details_for, location_for
    from tests.factories import password_hash
    from tests.test_matching import person
    from zorgreserve import db
    from zorgreserve.accounts import crypto
    from zorgreserve.accounts.models import User
    from zorgreserve.accounts.services import new_nonce
    from zorgreserve.db import utcnow
    from zorgreserve.deployments import services
    from zorgreserve.institutions.models import Institution
    from zorgreserve.reference.models import Region
    from zorgreserve.reservists.models import Reservist

    secret = pyotp.random_base32()
    with live_server.app.test_request_context():
        region = db.session.scalar(select(Region).where(Region.name == "Netwerk Acute Zorg Midden-Nederland"))
        hospital = Institution(name="Diakonessenhuis (browser)", kind="hospital", region_id=region.id)
        db.session.add(hospital)
        db.session.flush()
        common = {"password_hash": password_hash(), "email_verified_at": utcnow(), "locale": "en"}
        staff = User(
            email="callup-planner@dia.example",
            role="institution_staff",
            institution_id=hospital.id,
            first_name="Iris",
            last_name="Planner",
            session_nonce=new_nonce(),
            **common,
        )
        coordinator = User(
            email="callup-coordinator@example.org",
            role="regional_coordinator",
            region_id=region.id,
            first_name="Cor",
            last_name="Dinator",
            session_nonce=new_nonce(),
            totp_secret_encrypted=crypto.encrypt(secret),
            totp_enabled_at=utcnow(),
            **common,
        )
        db.session.add_all([staff, coordinator])
        db.session.flush()
        location = location_for(hospital, "3584")
        request, _ = services.create_request(
            staff,
            details_for(location),
            day_pattern(date.today() + timedelta(days=2), days=2, places=1),
            idempotency_key=uuid.uuid4().hex,
            submit=True,
        )
        reservist = db.session.get(Reservist, person())
        reservist.channels = "sms"
        user = db.session.get(User, reservist.user_id)
        user.first_name, user.last_name, user.locale, user.phone = (
            "Saskia",
            "Reservewacht",
            "en",
            "+31612345678",
        )
        db.session.commit()
        result = SimpleNamespace(secret=secret, request_id=request.id)
        db.session.remove()
    return result


def wait_for_sms(to: str, timeout: float = 20) -> Any:
    from zorgreserve.notifications.sms import recorder

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in list(recorder().messages):
            if message.to == to and "/o/" in message.body:
                return message
        time.sleep(0.1)
    pytest.fail("no call-up SMS: is the in-process worker sending wave 1?")


def test_from_approval_to_names_at_the_institution(chromium, browser_page, live_server, setting):
    from playwright.sync_api import expect

    from zorgreserve.notifications.sms import recorder

    recorder().messages.clear()
    coordinator = browser_page
    sign_in(coordinator, "callup-coordinator@example.org", setting.secret)
    coordinator.goto(f"/requests/{setting.request_id}")
    coordinator.get_by_test_id("approve-button").click()
    expect(coordinator.get_by_test_id("request-status")).to_have_text("Open")

    sms = wait_for_sms("+31612345678")
    link = re.search(r"https?://\S+/o/\S+", sms.body).group(0)
    assert "JA" in sms.body or "YES" in sms.body

    phone = chromium.new_context(viewport=PHONE, locale="en-GB", is_mobile=True, has_touch=True)
    try:
        reservist = phone.new_page()
        reservist.goto(link)
        expect(reservist.get_by_test_id("shift-checkbox")).to_have_count(2)
        expect(reservist.locator("main")).to_contain_text("Heidelberglaan 100")
        reservist.get_by_test_id("accept-button").click()
        expect(reservist.get_by_test_id("outcome-booked")).to_have_count(2)
    finally:
        phone.close()

    coordinator.goto("/coordination/approvals/")
    for _ in range(2):
        coordinator.locator("tr[data-testid^='approval-'] button[type=submit]").first.click()
    expect(coordinator.locator("tr[data-testid^='approval-']")).to_have_count(0)

    # The reservist gets the confirmation by SMS (the worker sends it).
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(
        m.to == "+31612345678" and m.idempotency_key.startswith("confirmation") for m in recorder().messages
    ):
        time.sleep(0.1)
    assert any(m.idempotency_key.startswith("confirmation") for m in recorder().messages)

    staff = chromium.new_context(base_url=live_server.url, locale="en-GB")
    try:
        page = staff.new_page()
        sign_in(page, "callup-planner@dia.example")
        page.goto(f"/requests/{setting.request_id}/callups")
        expect(page.get_by_test_id("offer-row").first).to_contain_text("Saskia Reservewacht")
    finally:
        staff.close()
