"""A new visitor, in a real Chromium: signs up, confirms the e-mail, signs in and switches language.

The Dutch the visitor must see is taken from the compiled Dutch catalogue the
server uses, so a change of wording there does not break this test, while an
untranslated text does: the journey runs to the end (the page then shows the
English source text) and the test fails listing every message that was missing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from babel.support import Translations

pytestmark = pytest.mark.browser

TRANSLATIONS = Path(__file__).resolve().parents[2] / "zorgreserve" / "translations"
EMAIL = "anna.devries@example.org"
PASSWORD = "lantaarn-kwartet-fietsbel-83"


class Dutch:
    """Looks up what a visitor sees in Dutch, and remembers which texts had no translation."""

    def __init__(self) -> None:
        self.catalogue = Translations.load(str(TRANSLATIONS), ["nl"], domain="messages")
        self.missing: list[str] = []

    def __call__(self, msgid: str, **values: Any) -> str:
        text = self.catalogue.gettext(msgid)
        if text == msgid and msgid not in self.missing:
            self.missing.append(msgid)
        return text % values if values else text


def submit(page: Any) -> None:
    page.locator("main form button[type=submit]").click()


def test_visitor_signs_up_confirms_signs_in_and_switches_language(browser_page, live_server):
    from playwright.sync_api import expect  # here, so a missing Playwright is reported by the fixture

    page = browser_page
    dutch = Dutch()
    html = page.locator("html")
    heading = page.get_by_role("heading", level=1)

    # Dutch by default, although the browser asks for English.
    page.goto("/")
    expect(html).to_have_attribute("lang", "nl")
    expect(heading).to_have_text(dutch("The national reserve of care professionals"))

    page.locator("main a[href='/signup']").click()
    page.fill("#first_name", "Anna")
    page.fill("#last_name", "de Vries")
    page.fill("#email", EMAIL)
    page.fill("#phone", "06 12345678")
    page.fill("#password", PASSWORD)
    page.fill("#password_confirm", PASSWORD)
    page.check("#consent")
    submit(page)
    expect(heading).to_have_text(dutch("Check your e-mail"))

    # The verification e-mail is sent by a job on the in-process queue, in Dutch.
    message = live_server.wait_for_mail(EMAIL)
    assert message.subject == dutch("Confirm your e-mail address for Zorgreserve")
    link = re.search(re.escape(live_server.url) + r"/signup/verify/\S+", message.body)
    assert link, "the verification e-mail holds no link to this server"
    page.goto(link.group(0))
    expect(page.get_by_test_id("verify-result")).to_have_attribute("data-result", "verified")
    expect(heading).to_have_text(dutch("Your e-mail address is confirmed"))

    # A wrong password: a translated error and still on the sign-in page.
    page.locator("main a[href='/login']").click()
    page.fill("#email", EMAIL)
    page.fill("#password", "this-is-not-my-password")
    submit(page)
    expect(page.get_by_role("alert")).to_have_text(dutch("The e-mail address or password is not correct."))
    expect(page).to_have_url(re.compile(r"/login$"))

    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    submit(page)
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(heading).to_have_text(dutch("Welcome, %(name)s", name="Anna"))

    # The footer switch turns the same page English, and back.
    page.get_by_test_id("language-en").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(html).to_have_attribute("lang", "en")
    expect(heading).to_have_text("Welcome, Anna")
    expect(page.get_by_test_id("logout")).to_have_text("Sign out")

    page.get_by_test_id("language-nl").click()
    expect(html).to_have_attribute("lang", "nl")
    expect(heading).to_have_text(dutch("Welcome, %(name)s", name="Anna"))

    assert dutch.missing == [], (
        "texts the visitor saw in English on Dutch pages; translate them in "
        f"zorgreserve/translations/nl/LC_MESSAGES/messages.po and run scripts/i18n compile: {dutch.missing}"
    )
