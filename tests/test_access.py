"""Every route × every role × every method against the checked-in table (tests/access_table.py)."""

from __future__ import annotations

import pytest

from tests.access_table import EXPECTED, ROLES
from tests.conftest import login

SAMPLE_ARGS = {
    "token": "not-a-valid-token",
    "filename": "zorgreserve.css",
    # No reservist has id 0: the answer must not depend on which ids a backend's sequences hand out.
    "reservist_id": 0,
    "institution_id": 0,
}


def outcome(response) -> str:
    status = response.status_code
    if status >= 500:
        return f"5xx({status})"
    if status == 403:
        return "F"
    if status == 404:
        return "N"
    if status in (301, 302, 303) and response.headers.get("Location", "").startswith("/login?next="):
        return "L"
    return "A"


def routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def test_every_route_has_an_expectation(app):
    seen = {f"{rule.endpoint} {method}" for rule, method in routes(app)}
    missing = sorted(seen - set(EXPECTED))
    stale = sorted(set(EXPECTED) - seen)
    assert not missing, f"routes without an entry in tests/access_table.py: {missing}"
    assert not stale, f"entries in tests/access_table.py for routes that no longer exist: {stale}"


def test_every_view_declares_who_may_use_it(app):
    from zorgreserve.accounts.roles import access_of

    undeclared = [
        endpoint
        for endpoint, view in app.view_functions.items()
        if endpoint != "static" and access_of(view) is None
    ]
    assert undeclared == []


@pytest.mark.parametrize("role_index", range(len(ROLES)), ids=ROLES)
def test_route_role_matrix(app, cast, role_index):
    role = ROLES[role_index]
    failures = []
    for rule, method in routes(app):
        key = f"{rule.endpoint} {method}"
        expected = EXPECTED.get(key, "?" * len(ROLES))[role_index]
        client = app.test_client()
        if role != "anonymous":
            login(client, getattr(cast, role))
        url = rule.build({arg: SAMPLE_ARGS.get(arg, 1) for arg in rule.arguments})[1]
        response = client.open(url, method=method, data={})
        got = outcome(response)
        if got != expected:
            failures.append(f"{key} as {role}: expected {expected}, got {got} ({response.status_code})")
    assert failures == []
