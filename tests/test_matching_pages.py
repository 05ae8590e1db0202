"""The coordinator's candidates page: who sees it, what it shows, "why not?" and the access log."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.deployments_support import day_pattern, english, new_request, world_fixture  # noqa: F401
from tests.test_matching import person
from zorgreserve import db
from zorgreserve.audit.models import AccessLogEntry
from zorgreserve.reservists.models import BigRegistration, Reservist


def _setup(world, ctx):
    with english(ctx):
        request = new_request(world.staff_a, world.loc_a, pattern=day_pattern(days=2, places=1))
        eligible = person()
        unskilled = person(skills=())
        db.session.commit()
    return request, eligible, unskilled


def _name(reservist_id):
    return db.session.get(Reservist, reservist_id).user.full_name


def big_number(reservist_id):
    return db.session.scalar(
        select(BigRegistration.big_number).where(BigRegistration.reservist_id == reservist_id)
    )


def _logged(context):
    return set(
        db.session.scalars(
            select(AccessLogEntry.subject_reservist_id).where(AccessLogEntry.context == context)
        )
    )


def test_the_regional_coordinator_sees_candidates_with_score_parts_and_each_is_logged(world, ctx, login_as):
    request, eligible, unskilled = _setup(world, ctx)
    client = login_as(world.coordinator_x)
    page = client.get(f"/requests/{request.id}/candidates")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert _name(eligible) in body
    assert _name(unskilled) not in body
    assert body.count('data-testid="candidate"') == 2  # one per shift
    assert "Fewest hours in 28 days" in body and "Continuity" in body
    assert _logged("matching.candidates") == {eligible}
    detail = client.get(f"/requests/{request.id}").get_data(as_text=True)
    assert f"/requests/{request.id}/candidates" in detail


def test_only_coordinators_of_the_region_and_national_ones_see_it(world, ctx, login_as, client):
    request, _eligible, _unskilled = _setup(world, ctx)
    assert login_as(world.coordinator_y).get(f"/requests/{request.id}/candidates").status_code == 404
    assert login_as(world.staff_a).get(f"/requests/{request.id}/candidates").status_code == 403
    assert login_as(world.national).get(f"/requests/{request.id}/candidates").status_code == 200
    assert "/candidates" not in login_as(world.staff_a).get(f"/requests/{request.id}").get_data(as_text=True)


def test_filters_show_one_shift_and_a_narrower_reach(world, ctx, login_as):
    request, _eligible, _unskilled = _setup(world, ctx)
    client = login_as(world.coordinator_x)
    first = request.shifts[0]
    body = client.get(f"/requests/{request.id}/candidates?shift={first.id}").get_data(as_text=True)
    assert body.count('data-testid="candidate"') == 1
    body = client.get(f"/requests/{request.id}/candidates?radius=1").get_data(as_text=True)
    assert 'data-testid="candidate"' not in body  # Utrecht centre is more than 1 km from the hospital
    bad = client.get(f"/requests/{request.id}/candidates?radius=9999")
    assert bad.status_code == 200 and "Enter a distance from 1 to 400 km." in bad.get_data(as_text=True)


def test_why_not_by_big_number_explains_every_rule_without_personal_data_in_the_url(world, ctx, login_as):
    request, _eligible, unskilled = _setup(world, ctx)
    number = db.session.scalar(
        select(BigRegistration.big_number).where(BigRegistration.reservist_id == unskilled)
    )
    client = login_as(world.coordinator_x)
    shift = request.shifts[0]
    answer = client.post(f"/requests/{request.id}/candidates", data={"query": number, "shift_id": shift.id})
    assert answer.status_code == 200
    assert answer.request.url.endswith(f"/requests/{request.id}/candidates")
    body = answer.get_data(as_text=True)
    assert "does not meet every rule for this shift." in body
    assert 'data-rule="skills" data-passed="no"' in body
    assert 'data-rule="qualification" data-passed="yes"' in body
    assert "Missing required skills" in body
    assert unskilled in _logged("matching.why")


def test_why_by_name_and_unknown_names(world, ctx, login_as):
    request, eligible, _unskilled = _setup(world, ctx)
    client = login_as(world.coordinator_x)
    shift = request.shifts[0]
    last = db.session.get(Reservist, eligible).user.last_name
    body = client.post(
        f"/requests/{request.id}/candidates",
        data={"query": _name(eligible), "shift_id": shift.id, "reservist_id": str(eligible)},
    ).get_data(as_text=True)
    assert "meets every rule for this shift." in body or last in body
    missing = client.post(f"/requests/{request.id}/candidates", data={"query": "Zzyzx", "shift_id": shift.id})
    assert missing.status_code == 422
    assert "No reservist in your scope matches" in missing.get_data(as_text=True)
    empty = client.post(f"/requests/{request.id}/candidates", data={"query": "", "shift_id": shift.id})
    assert empty.status_code == 422 and "Enter a name or a BIG number." in empty.get_data(as_text=True)


def test_a_coordinator_cannot_look_up_reservists_outside_their_scope(world, ctx, login_as):
    request, _eligible, _unskilled = _setup(world, ctx)
    with english(ctx):
        outsider = person("6229")  # Maastricht: region Y
    number = db.session.scalar(
        select(BigRegistration.big_number).where(BigRegistration.reservist_id == outsider)
    )
    db.session.commit()
    answer = login_as(world.coordinator_x).post(
        f"/requests/{request.id}/candidates", data={"query": number, "shift_id": request.shifts[0].id}
    )
    assert answer.status_code == 422
    assert db.session.scalar(select(func.count()).where(AccessLogEntry.subject_reservist_id == outsider)) == 0
