"""Random input into every form a signed-in user can post without an id in the URL (QUALITY.md,
"Input robustness"): never a 5xx, and a rejected form changes nothing.

For each POST route in the access tables without URL arguments, the test signs in as a role the
table allows, reads the field names of the form on the page, and posts Hypothesis-generated values
for them: empty, very long, control characters and NUL bytes (which PostgreSQL refuses in text),
numbers, dates and times in odd shapes, other scripts. A form that answers with itself (200) or
a 4xx rejected the input; then every table but the logs has the same number of rows as before.
The routes with ids in the URL get the same treatment in the feature tests that own those ids
(e.g. ``tests/test_deployments_pages.py``).
"""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.access_table import EXPECTED, ROLES
from tests.conftest import login
from zorgreserve import db

#: Tables a rejected form may still write to: the logs of what happened, and throttling.
LOGS = {"audit_event", "access_log", "login_attempt", "security_event"}
#: Posts that end the session or need a browser's own state: covered by their own tests.
SKIP = {"accounts.logout POST", "core.language POST"}

#: Posts whose success is a page (200), not a redirect: the new secret link is shown only once.
SUCCEED_WITH_A_PAGE = {"shifts.feed_settings"}

FIELD = re.compile(r'<(?:input|select|textarea)\b[^>]*\bname="([^"]+)"', re.I)

odd_text = st.one_of(
    st.just(""),
    st.text(max_size=40),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=31), min_size=1, max_size=5),
    st.text(min_size=1, max_size=10).map(lambda s: s + "\x00" + s),
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
    st.sampled_from(["2026-02-30", "31-12-2026", "24:00", "9999-12-31", "0", "-1", "1e309", "NaN", "on"]),
    st.sampled_from(["<script>alert(1)</script>", "' OR 1=1 --", "=1+1", "اختبار", "测试", "🙂" * 3]),
    st.integers(min_value=300, max_value=6000).map(lambda n: "é" * n),
)


def _post_routes(app: Any) -> list[tuple[str, str, str]]:
    """(endpoint, URL, role) for each POST route without arguments that some signed-in role may use."""
    found = []
    for rule in app.url_map.iter_rules():
        key = f"{rule.endpoint} POST"
        if "POST" not in rule.methods or rule.arguments or key in SKIP or key not in EXPECTED:
            continue
        allowed = [role for role, letter in zip(ROLES, EXPECTED[key], strict=True) if letter == "A"]
        signed_in = [role for role in allowed if role != "anonymous"]
        role = signed_in[0] if signed_in else (allowed[0] if allowed else None)
        if role is not None:
            found.append((rule.endpoint, rule.rule, role))
    return sorted(found)


def _row_counts() -> dict[str, int]:
    counts = {}
    for table in db.Base.metadata.sorted_tables:
        if table.name not in LOGS:
            counts[table.name] = db.session.scalar(select(func.count()).select_from(table))
    return counts


def test_every_post_route_without_ids_is_fuzzed(app):
    endpoints = {endpoint for endpoint, _url, _role in _post_routes(app)}
    # The forms that matter most are in the list (a change in the access tables must not empty it).
    wanted = {"reservists.profile", "deployments.create", "surge.declare", "availability.add_period"}
    assert wanted <= endpoints


def _fuzzer(client: Any, endpoint: str, url: str, names: list[str], failures: list[str]) -> Any:
    """Random posts of the form's fields to ``url``; what goes wrong is added to ``failures``."""

    @settings(
        max_examples=int(os.environ.get("ZR_FUZZ_EXAMPLES", "12")),
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )
    @given(values=st.fixed_dictionaries({name: odd_text for name in names}))
    def post(values: dict[str, str]) -> None:
        db.session.remove()
        before = _row_counts()
        response = client.post(url, data=values)
        db.session.remove()
        if response.status_code >= 500:
            failures.append(f"{endpoint}: {response.status_code} for {values!r:.300}")
            return
        ok_page = response.status_code == 200 and endpoint not in SUCCEED_WITH_A_PAGE
        if ok_page or 400 <= response.status_code < 500:  # rejected
            after = _row_counts()
            changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
            if changed:
                failures.append(f"{endpoint}: rejected ({response.status_code}) but changed {changed}")

    return post


@pytest.mark.parametrize("role_index", range(len(ROLES)), ids=ROLES)
def test_random_input_never_breaks_a_form_and_a_rejected_one_changes_nothing(app, cast, role_index):
    role = ROLES[role_index]
    targets = [(endpoint, url) for endpoint, url, who in _post_routes(app) if who == role]
    if not targets:
        return  # this role is nobody's first choice to post with; the others cover every route
    client = app.test_client()
    if role != "anonymous":
        login(client, getattr(cast, role))
    failures: list[str] = []
    for endpoint, url in targets:
        page = client.get(url)
        names = sorted(set(FIELD.findall(page.get_data(as_text=True)))) if page.status_code == 200 else []
        names = [n for n in names if n not in ("csrf_token", "next")] or ["value"]

        _fuzzer(client, endpoint, url, names, failures)()
        if role != "anonymous" and client.get("/me/data/" if role == "reservist" else "/").status_code in (
            302,
            401,
        ):
            login(client, getattr(cast, role))  # a post may have ended the session (e.g. erasure)
    assert not failures, "\n".join(failures[:8])


def test_a_null_character_anywhere_is_refused_with_a_clear_page_and_changes_nothing(app, cast):
    client = app.test_client()
    login(client, cast.reservist)
    before = _row_counts()
    for response in (
        client.post("/me/availability/periods/new", data={"note": "Vakantie\x00", "kind": "unavailable"}),
        client.get("/me/shifts/?page=1\x00"),
        client.post("/sms/inbound", json={"from": "+31612345678", "text": "JA\x00"}),
    ):
        assert response.status_code == 400
        assert "nulteken" in response.get_data(as_text=True)  # Dutch, the default
    db.session.remove()
    assert _row_counts() == before
