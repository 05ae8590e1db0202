"""In a real Chromium, in Dutch: a regional coordinator opens the candidates of an IC request, sees
the candidates ranked with their score parts, narrows the page to one shift, and asks "why not?"
about a reservist who lacks the required skill.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

import pyotp
import pytest

from tests.browser.test_request_flow_browser import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def setting(live_server: Any) -> SimpleNamespace:
    """A hospital in Utrecht with a submitted two-day IC request, its coordinator (2FA, Dutch) and
    three reservists: one in Utrecht, one in Amersfoort (further away), one without the skill."""
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
    from zorgreserve.reservists.models import BigRegistration, Reservist

    secret = pyotp.random_base32()
    with live_server.app.test_request_context():
        region = db.session.scalar(select(Region).where(Region.name == "Netwerk Acute Zorg Midden-Nederland"))
        hospital = Institution(name="UMC Utrecht (matching browser)", kind="hospital", region_id=region.id)
        db.session.add(hospital)
        db.session.flush()
        common = {"password_hash": password_hash(), "email_verified_at": utcnow()}
        staff = User(
            email="match-planner@umc.example",
            role="institution_staff",
            institution_id=hospital.id,
            first_name="Pim",
            last_name="Planner",
            session_nonce=new_nonce(),
            locale="nl",
            **common,
        )
        coordinator = User(
            email="match-coordinator@example.org",
            role="regional_coordinator",
            region_id=region.id,
            first_name="Carla",
            last_name="Coördinator",
            session_nonce=new_nonce(),
            totp_secret_encrypted=crypto.encrypt(secret),
            totp_enabled_at=utcnow(),
            locale="nl",
            **common,
        )
        db.session.add_all([staff, coordinator])
        db.session.flush()
        request, _ = services.create_request(
            staff,
            details_for(location_for(hospital, "3584")),
            day_pattern(date.today() + timedelta(days=3), days=2, places=1),
            idempotency_key=uuid.uuid4().hex,
            submit=True,
        )
        near, far = person("3511"), person("3811", max_travel_km=60)
        unskilled = person("3511", skills=())
        names = {}
        for rid, (first, last) in {
            near: ("Noor", "Dichtbij"),
            far: ("Floor", "Verweg"),
            unskilled: ("Udo", "Zondervaardigheid"),
        }.items():
            user = db.session.get(User, db.session.get(Reservist, rid).user_id)
            user.first_name, user.last_name = first, last
            names[rid] = f"{first} {last}"
        number = db.session.scalar(
            select(BigRegistration.big_number).where(BigRegistration.reservist_id == unskilled)
        )
        shift_ids = [s.id for s in sorted(request.shifts, key=lambda s: s.start_at)]
        db.session.commit()
        result = SimpleNamespace(
            secret=secret,
            request_id=request.id,
            shift_ids=shift_ids,
            near=near,
            far=far,
            unskilled=unskilled,
            names=names,
            big_number=number,
        )
        db.session.remove()
    return result


def test_the_coordinator_ranks_filters_and_asks_why_not(browser_page, setting):
    from playwright.sync_api import expect

    page = browser_page
    sign_in(page, "match-coordinator@example.org", setting.secret)
    page.goto(f"/requests/{setting.request_id}/candidates")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Kandidaten")

    # Both shifts, each with the two qualified reservists, nearest first, and the score parts in Dutch.
    sections = page.locator('[data-testid="shift-candidates"]')
    expect(sections).to_have_count(2)
    first = sections.nth(0)
    rows = first.locator('[data-testid="candidate"]')
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_attribute("data-reservist", str(setting.near))
    expect(rows.nth(0)).to_contain_text(setting.names[setting.near])
    expect(rows.nth(1)).to_contain_text(setting.names[setting.far])
    for part in ("Minste uren in 28 dagen", "Continuïteit"):
        expect(first.get_by_role("columnheader", name=part)).to_be_visible()
    near_score = float(rows.nth(0).locator('[data-testid="score"]').inner_text())
    far_score = float(rows.nth(1).locator('[data-testid="score"]').inner_text())
    assert near_score > far_score
    expect(page.get_by_text(setting.names[setting.unskilled])).to_have_count(0)

    # Only the second shift.
    page.select_option("#shift", str(setting.shift_ids[1]))
    page.get_by_role("button", name="Tonen").click()
    expect(page).to_have_url(re.compile(rf"shift={setting.shift_ids[1]}"))
    expect(sections).to_have_count(1)
    expect(sections.nth(0)).to_have_attribute("data-shift", str(setting.shift_ids[1]))
    expect(sections.nth(0).locator('[data-testid="candidate"]')).to_have_count(2)

    # "Why not?" by BIG number for the reservist without the skill.
    page.fill("#query", setting.big_number)
    page.select_option("#shift_id", str(setting.shift_ids[0]))
    page.get_by_role("button", name="Uitleggen").click()
    result = page.locator('[data-testid="why-result"]')
    expect(result).to_contain_text(setting.names[setting.unskilled])
    expect(result.locator('[data-testid="why-verdict"]')).to_have_text(
        "voldoet niet aan alle regels voor deze dienst."
    )
    skills = result.locator('[data-testid="why-rule"][data-rule="skills"]')
    expect(skills).to_have_attribute("data-passed", "no")
    expect(skills).to_contain_text("Niet voldaan")
    expect(skills).to_contain_text("Ontbrekende vereiste vaardigheden")
    expect(result.locator('[data-testid="why-rule"][data-rule="qualification"]')).to_have_attribute(
        "data-passed", "yes"
    )
    assert setting.big_number not in page.url
