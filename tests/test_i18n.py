"""The interface speaks Dutch by default and English on request, and the catalogues are complete.

These tests guard the translation workflow: a string added to the code without running
``scripts/i18n`` (or without a Dutch translation) fails here, not in front of a reservist.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "zorgreserve" / "translations"


def _catalog(path: Path):
    with path.open("rb") as handle:
        return read_po(handle)


def _fresh_extract(tmp_path: Path):
    target = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-k",
            "_n:1,2",
            "-o",
            str(target),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return _catalog(target)


def test_every_message_in_the_code_is_in_the_dutch_catalogue(tmp_path):
    extracted = {m.id if isinstance(m.id, str) else m.id[0] for m in _fresh_extract(tmp_path) if m.id}
    dutch = _catalog(TRANSLATIONS / "nl" / "LC_MESSAGES" / "messages.po")
    known = {m.id if isinstance(m.id, str) else m.id[0] for m in dutch if m.id}
    missing = sorted(extracted - known)
    assert missing == [], f"run scripts/i18n and translate: {missing[:20]}"


def test_every_dutch_message_is_translated():
    dutch = _catalog(TRANSLATIONS / "nl" / "LC_MESSAGES" / "messages.po")
    untranslated = []
    for message in dutch:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            untranslated.append(message.id)
    assert untranslated == [], f"{len(untranslated)} Dutch messages missing, e.g. {untranslated[:10]}"


def test_home_page_is_dutch_by_default_and_english_on_request(client):
    dutch = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert b'<html lang="nl"' in dutch.data
    assert b"Inloggen" in dutch.data

    token_page = client.get("/login")
    assert token_page.status_code == 200
    english = client.post("/language", data={"language": "en"}, follow_redirects=True)
    assert b'<html lang="en"' in english.data
    assert b"Sign in" in english.data


def test_error_pages_are_translated(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert b'<html lang="nl"' in response.data
    assert b"niet gevonden" in response.data.lower()
