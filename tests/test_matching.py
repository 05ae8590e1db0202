"""The matching engine: every eligibility rule, the ranking, the wave proposal and "why (not)?".

The helpers here build reservists and shifts directly (exact times, Dutch local
time), so each rule can be put on its edge: the night the clocks change, a shift
across midnight, two shifts exactly 11 hours apart, the 60-hour week sliding.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.deployments_support import in_english_fixture, new_request, qualification, skill, world_fixture  # noqa: F401
from tests.factories import ReservistFactory
from zorgreserve import db
from zorgreserve.availability.models import AvailabilityPeriod, WeeklyWindow
from zorgreserve.callups.models import Booking, Offer, OfferShift, Reach, Wave
from zorgreserve.deployments.models import Shift, ShiftState
from zorgreserve.matching import engine
from zorgreserve.matching.engine import propose_wave, rank_request, why
from zorgreserve.reference.models import Profession
from zorgreserve.reservists.models import (
    BigRegistration,
    ReservistQualification,
    ReservistRegion,
    ReservistSkill,
)
from zorgreserve.reservists.services import set_home_postcode
from zorgreserve.surge.models import PhaseDeclaration

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday, before the spring change of the clocks
CONFIG: dict[str, Any] = {}
_seq = iter(range(10_000, 10**9))


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=AMS).astimezone(UTC)


def person(
    pc4: str = "3511",
    *,
    quals: tuple[str, ...] = ("ic_verpleegkundige",),
    verified: bool = True,
    expires_on: date | None = None,
    big: str | None = "verified",
    big_due: date | None = None,
    skills: tuple[str, ...] = ("beademing",),
    windows: list[tuple[int, int, int]] | None = None,
    max_travel_km: int = 50,
    max_hours_per_week: int | None = None,
    status: str = "active",
    paused_until: date | None = None,
    regions: tuple[int, ...] = (),
) -> int:
    """A reservist who, by default, qualifies for an IC request in Utrecht at any time of the week."""
    n = next(_seq)
    reservist = ReservistFactory(user__email=f"m{n}@example.org", pc4=None)
    set_home_postcode(reservist, pc4)
    reservist.max_travel_km = max_travel_km
    reservist.max_hours_per_week = max_hours_per_week
    reservist.status = status
    reservist.paused_until = paused_until
    db.session.flush()
    for code in quals:
        db.session.add(
            ReservistQualification(
                reservist_id=reservist.id,
                qualification_id=qualification(code).id,
                obtained_on=date(2010, 1, 1),
                expires_on=expires_on,
                verification="verified" if verified else "unverified",
                evidence_verified=verified,
            )
        )
    if big is not None:
        nurse = db.session.scalar(select(Profession).where(Profession.code == "verpleegkundige"))
        db.session.add(
            BigRegistration(
                reservist_id=reservist.id,
                profession_id=nurse.id,
                big_number=f"{n:011d}",
                verification=big,
                reregistration_due=big_due,
            )
        )
    for code in skills:
        db.session.add(ReservistSkill(reservist_id=reservist.id, skill_id=skill(code).id))
    for region_id in regions:
        db.session.add(ReservistRegion(reservist_id=reservist.id, region_id=region_id))
    for weekday, start, end in windows if windows is not None else [(d, 0, 1440) for d in range(7)]:
        db.session.add(
            WeeklyWindow(reservist_id=reservist.id, weekday=weekday, start_minute=start, end_minute=end)
        )
    db.session.flush()
    return reservist.id


def empty_request(world: SimpleNamespace, location: Any = None, **overrides: Any) -> Any:
    """A request whose pattern shifts are cancelled, so tests add exactly the shifts they need."""
    from tests.deployments_support import day_pattern

    request = new_request(world.staff_a, location or world.loc_a, pattern=day_pattern(days=1), **overrides)
    for shift in request.shifts:
        shift.state = ShiftState.CANCELLED.value
    db.session.flush()
    return request


def add_shift(request: Any, start: datetime, end: datetime, places: int = 1) -> Shift:
    shift = Shift(request_id=request.id, start_at=start, end_at=end, places=places)
    db.session.add(shift)
    db.session.flush()
    return shift


def book(reservist_id: int, shift: Shift, status: str = "approved") -> None:
    db.session.add(
        Booking(
            shift_id=shift.id,
            reservist_id=reservist_id,
            status=status,
            start_at=shift.start_at,
            end_at=shift.end_at,
        )
    )
    db.session.flush()


def hold(reservist_id: int, shift: Shift, *, expires: datetime | None = None) -> None:
    wave = Wave(
        request_id=shift.request_id, number=next(_seq), expires_at=expires or NOW + timedelta(hours=4)
    )
    db.session.add(wave)
    db.session.flush()
    offer = Offer(
        wave_id=wave.id,
        request_id=shift.request_id,
        reservist_id=reservist_id,
        code=f"C{next(_seq)}"[:8],
        status="sent",
        expires_at=expires or NOW + timedelta(hours=4),
    )
    offer.shifts.append(OfferShift(shift_id=shift.id))
    db.session.add(offer)
    db.session.flush()


def ranked_ids(request: Any, shift: Shift, **kwargs: Any) -> list[int]:
    found = rank_request(db.session, request.id, config=CONFIG, now=kwargs.pop("now", NOW), **kwargs)
    return [c.reservist_id for c in found.get(shift.id, [])]


def verdict(reservist_id: int, shift: Shift, **kwargs: Any) -> dict[str, engine.RuleResult]:
    results = why(db.session, reservist_id, shift.id, config=CONFIG, now=kwargs.pop("now", NOW), **kwargs)
    return {r.code: r for r in results}


def failing(reservist_id: int, shift: Shift, **kwargs: Any) -> set[str]:
    return {code for code, r in verdict(reservist_id, shift, **kwargs).items() if not r.passed}


@pytest.fixture(name="req")
def req_fixture(w: SimpleNamespace) -> Any:
    return empty_request(w)


DAY = date(2026, 3, 10)  # a Tuesday


# Qualification, BIG, skills, status ---------------------------------------------------------


def test_a_fully_qualified_reservist_is_a_candidate_and_every_rule_passes(req):
    rid = person()
    shift = add_shift(req, local(DAY, 7), local(DAY, 15, 30))
    assert ranked_ids(req, shift) == [rid]
    results = verdict(rid, shift)
    assert all(r.passed for r in results.values())
    assert set(results) == {
        "active",
        "qualification",
        "big_registration",
        "skills",
        "region_policy",
        "surge_drain",
        "distance",
        "no_overlap",
        "availability",
        "working_time",
    }


def test_a_qualification_that_includes_the_required_one_counts(w):
    request = empty_request(w, qualification_id=qualification("verpleegkundige").id)
    ic_nurse = person(quals=("ic_verpleegkundige",))
    helper = person(quals=("helpende",), big=None)
    shift = add_shift(request, local(DAY, 7), local(DAY, 15))
    assert ranked_ids(request, shift) == [ic_nurse]
    assert verdict(helper, shift)["qualification"].reason == "missing"


@pytest.mark.parametrize(
    ("kwargs", "rule", "reason"),
    [
        ({"verified": False}, "qualification", "unverified"),
        ({"expires_on": DAY - timedelta(days=1)}, "qualification", "expired"),
        ({"big": None}, "big_registration", "missing"),
        ({"big": "unverified"}, "big_registration", "unverified"),
        ({"big_due": DAY}, "big_registration", "due"),
        ({"skills": ()}, "skills", "missing"),
        ({"status": "withdrawn"}, "active", "withdrawn"),
        ({"status": "paused", "paused_until": DAY}, "active", "paused"),
        ({"pc4": "9711", "max_travel_km": 400}, "region_policy", "own_region"),
        ({"pc4": "3811", "max_travel_km": 15}, "distance", "too_far"),
        ({"windows": [(0, 7 * 60, 17 * 60)]}, "availability", "not_covered"),
    ],
)
def test_each_rule_excludes_with_its_reason(req, kwargs, rule, reason):
    shift = add_shift(req, local(DAY, 7), local(DAY, 15, 30))
    rid = person(**kwargs)
    assert rid not in ranked_ids(req, shift)
    result = verdict(rid, shift)[rule]
    assert not result.passed and result.reason == reason
    assert result.explanation


def test_a_qualification_valid_on_the_shift_date_and_a_pause_ending_before_it_pass(req):
    shift = add_shift(req, local(DAY, 7), local(DAY, 15, 30))
    rid = person(
        expires_on=DAY, big_due=DAY + timedelta(days=1), status="paused", paused_until=DAY - timedelta(1)
    )
    assert ranked_ids(req, shift) == [rid]


def test_explanations_name_what_is_missing(req):
    shift = add_shift(req, local(DAY, 7), local(DAY, 15, 30))
    rid = person(skills=())
    assert (
        "Beademing" in verdict(rid, shift)["skills"].explanation
        or "beademing" in verdict(rid, shift)["skills"].explanation.lower()
    )


# Reach and surge ------------------------------------------------------------------------------


def test_region_policy_follows_reach_and_regions_the_reservist_serves(w):
    request = empty_request(w)
    shift = add_shift(request, local(DAY, 7), local(DAY, 15))
    # Amersfoort-ish postcode in another region? Use Zwolle (Isala region), a neighbour of Midden-Nederland.
    zwolle = person("8011", max_travel_km=200)
    serving = person("8011", max_travel_km=200, regions=(w.region_x.id,))
    assert serving in ranked_ids(request, shift)
    assert zwolle not in ranked_ids(request, shift)
    assert zwolle in ranked_ids(request, shift, reach="national")


def test_a_region_at_a_higher_surge_phase_is_not_drained_without_a_national_override(w):
    request = empty_request(w)
    shift = add_shift(request, local(DAY, 7), local(DAY, 15))
    zwolle = person("8011", max_travel_km=200)
    home = db.session.get(engine_reservist(), zwolle).home_region_id
    db.session.add(PhaseDeclaration(region_id=home, phase_code="2A", reason="Druk op de IC", declared_at=NOW))
    db.session.flush()
    assert zwolle not in ranked_ids(request, shift, reach="national")
    assert verdict(zwolle, shift, reach="national")["surge_drain"].passed is False
    assert zwolle in ranked_ids(request, shift, reach="national", national_override=True)


def engine_reservist() -> Any:
    from zorgreserve.reservists.models import Reservist

    return Reservist


def test_radius_narrows_the_reach(req):
    shift = add_shift(req, local(DAY, 7), local(DAY, 15))
    amersfoort = person("3811", max_travel_km=60)  # about 20 km from Utrecht
    assert amersfoort in ranked_ids(req, shift)
    assert amersfoort not in ranked_ids(req, shift, radius_km=10)
    assert verdict(amersfoort, shift, radius_km=10)["distance"].reason == "outside_radius"


def test_reach_defaults_to_the_surge_phase_policy(w):
    request = empty_request(w)
    shift = add_shift(request, local(DAY, 7), local(DAY, 15))
    zwolle = person("8011", max_travel_km=200)
    assert zwolle not in ranked_ids(request, shift)
    # The policy of the phase is set here, so the test does not depend on the reference data's choice.
    phase = db.session.scalar(select(engine_phase()).where(engine_phase().code == "2D"))
    phase.reach = Reach.NATIONAL.value
    db.session.add(PhaseDeclaration(region_id=None, phase_code="2D", reason="Landelijk", declared_at=NOW))
    db.session.flush()
    assert zwolle in ranked_ids(request, shift)
    assert verdict(zwolle, shift)["region_policy"].passed


def engine_phase() -> Any:
    from zorgreserve.reference.models import SurgePhase

    return SurgePhase


# Time: availability, overlap, working time ----------------------------------------------------


def test_a_night_window_covers_a_shift_across_midnight_and_on_the_night_the_clocks_go_forward(req):
    nights = [(d, 22 * 60, 8 * 60) for d in range(7)]
    rid = person(windows=nights)
    ordinary = add_shift(req, local(DAY, 23), local(DAY + timedelta(1), 7, 30))
    spring = date(2026, 3, 28)  # Saturday night: the clocks go forward at 02:00
    dst = add_shift(req, local(spring, 23), local(spring + timedelta(1), 7, 30))
    assert ranked_ids(req, ordinary) == [rid]
    assert ranked_ids(req, dst) == [rid]
    # The DST night lasts 7.5 h of real time; a 10-hour night limit is kept.
    assert (dst.end_at - dst.start_at) == timedelta(hours=7, minutes=30)


def test_a_window_ending_before_the_shift_does_not_cover_it(req):
    rid = person(windows=[(1, 7 * 60, 15 * 60)])
    shift = add_shift(req, local(DAY, 7), local(DAY, 15, 30))
    assert rid not in ranked_ids(req, shift)


def test_an_overlapping_booking_or_held_offer_excludes_but_back_to_back_does_not(w, req):
    other = empty_request(w)
    shift = add_shift(req, local(DAY, 15), local(DAY, 23))
    booked, holding, adjacent = person(), person(), person()
    book(booked, add_shift(other, local(DAY, 14), local(DAY, 16)))
    hold(holding, add_shift(other, local(DAY, 22), local(DAY + timedelta(1), 2)))
    # Back-to-back is not overlap, but 0 hours of rest before the shift breaks the rest rule.
    book(adjacent, add_shift(other, local(DAY, 7), local(DAY, 15)))
    assert ranked_ids(req, shift) == []
    assert verdict(booked, shift)["no_overlap"].reason == "booked"
    assert verdict(holding, shift)["no_overlap"].reason == "held"
    adjacent_verdict = verdict(adjacent, shift)
    assert adjacent_verdict["no_overlap"].passed
    assert adjacent_verdict["working_time"].reason == "rest_too_short"


def test_an_expired_offer_no_longer_holds_the_shift(w, req):
    other = empty_request(w)
    shift = add_shift(req, local(DAY, 15), local(DAY, 23))
    rid = person()
    hold(rid, add_shift(other, local(DAY, 16), local(DAY, 20)), expires=NOW - timedelta(minutes=1))
    assert ranked_ids(req, shift) == [rid]


def test_shifts_exactly_11_hours_apart_are_allowed_and_10_hours_are_not(w, req):
    other = empty_request(w)
    ok, short = person(), person()
    book(ok, add_shift(other, local(DAY, 7), local(DAY, 15)))
    book(short, add_shift(other, local(DAY, 8), local(DAY, 16)))
    shift = add_shift(req, local(DAY + timedelta(1), 2), local(DAY + timedelta(1), 10))  # 11 h after 15:00
    assert ranked_ids(req, shift) == [ok]
    assert verdict(short, shift)["working_time"].reason == "rest_too_short"


def test_the_60_hour_week_slides(w, req):
    """Five 12-hour days Monday–Friday: a shift within 7 × 24 h of them breaks 60 h, one later does not."""
    other = empty_request(w)
    rid = person()
    monday = date(2026, 3, 9)
    for offset in range(5):
        day = monday + timedelta(offset)
        book(rid, add_shift(other, local(day, 7), local(day, 19)))
    sunday = add_shift(req, local(monday + timedelta(6), 7), local(monday + timedelta(6), 15))
    next_tuesday = add_shift(req, local(monday + timedelta(8), 7), local(monday + timedelta(8), 15))
    assert verdict(rid, sunday)["working_time"].reason == "weekly_hours"
    assert rid not in ranked_ids(req, sunday)
    # From Monday 19:00 on, only four long days remain within any 7 × 24 h window that reaches Tuesday.
    assert rid in ranked_ids(req, next_tuesday)


def test_declared_work_elsewhere_counts_for_rest(req):
    rid = person()
    db.session.add(
        AvailabilityPeriod(
            reservist_id=rid,
            kind="unavailable",
            reason="work",
            starts_at=local(DAY, 7),
            ends_at=local(DAY, 15),
        )
    )
    db.session.flush()
    shift = add_shift(req, local(DAY, 20), local(DAY + timedelta(1), 4))
    assert verdict(rid, shift)["working_time"].reason == "rest_too_short"


def test_own_weekly_maximum(req):
    rid = person(max_hours_per_week=8)
    shift = add_shift(req, local(DAY, 7), local(DAY, 17))
    assert verdict(rid, shift)["working_time"].reason == "own_weekly_max"


# Ranking ------------------------------------------------------------------------------------------


def test_ranking_prefers_fewer_recent_hours_then_shorter_travel_and_breaks_ties_by_id(w, req):
    other = empty_request(w)
    shift = add_shift(req, local(DAY, 7), local(DAY, 15))
    busy = person("3511")
    rested_near = person("3511")
    rested_far = person("3811", max_travel_km=60)
    twin = person("3511")
    past = add_shift(other, NOW - timedelta(days=3), NOW - timedelta(days=3) + timedelta(hours=10))
    book(busy, past, status="completed")
    order = ranked_ids(req, shift)
    assert order == [rested_near, twin, rested_far, busy]
    candidates = rank_request(db.session, req.id, config=CONFIG, now=NOW)[shift.id]
    parts = {p.name: p for p in candidates[-1].parts}
    assert parts["recent_hours"].value < 1 and parts["since_last"].value < 1


def test_weights_come_from_configuration(req):
    shift = add_shift(req, local(DAY, 7), local(DAY, 15))
    near = person("3511")
    serving = person("3811", max_travel_km=60)
    config = {"MATCHING_WEIGHT_TRAVEL": 0, "MATCHING_WEIGHT_OWN_REGION": 0}
    found = rank_request(db.session, req.id, config=config, now=NOW)[shift.id]
    assert [c.score for c in found] == [found[0].score, found[0].score]
    assert [c.reservist_id for c in found] == sorted([near, serving])


# Wave proposal ------------------------------------------------------------------------------------


def test_a_wave_asks_k_per_open_place_and_groups_consecutive_shifts_per_person(req):
    days = [
        add_shift(req, local(DAY + timedelta(i), 7), local(DAY + timedelta(i), 15), places=1)
        for i in range(3)
    ]
    people = [person() for _ in range(4)]
    proposal = propose_wave(db.session, req.id, config=CONFIG, now=NOW, k=2)
    assert proposal.open_places == {s.id: 1 for s in days}
    per_shift: dict[int, int] = {}
    for offer in proposal.offers:
        for shift_id in offer.shift_ids:
            per_shift[shift_id] = per_shift.get(shift_id, 0) + 1
    assert per_shift == {s.id: 2 for s in days}
    # Continuity: the same two people get all three days, one offer each.
    assert len(proposal.offers) == 2
    assert all(offer.shift_ids == tuple(s.id for s in days) for offer in proposal.offers)
    assert {o.reservist_id for o in proposal.offers} <= set(people)


def test_a_wave_never_gives_one_person_a_set_that_breaks_the_rules_together(req):
    # Two shifts 8 hours apart: each fine alone, not both for one person.
    first = add_shift(req, local(DAY, 7), local(DAY, 15))
    second = add_shift(req, local(DAY, 23), local(DAY + timedelta(1), 7))
    a, b = person(), person()
    proposal = propose_wave(db.session, req.id, config=CONFIG, now=NOW, k=1)
    assert sorted(len(o.shift_ids) for o in proposal.offers) == [1, 1]
    assert {o.reservist_id for o in proposal.offers} == {a, b}
    assert {s for o in proposal.offers for s in o.shift_ids} == {first.id, second.id}


def test_a_wave_leaves_out_earlier_offered_reservists_and_booked_places(req):
    shift = add_shift(req, local(DAY, 7), local(DAY, 15), places=2)
    a, b, c = person(), person(), person()
    book(c, shift, status="accepted")
    proposal = propose_wave(db.session, req.id, config=CONFIG, now=NOW, k=3, exclude_reservist_ids=[a])
    assert proposal.open_places == {shift.id: 1}
    assert [o.reservist_id for o in proposal.offers] == [b]
    assert proposal.offers[0].parts.keys() == {
        "recent_hours",
        "since_last",
        "travel",
        "continuity",
        "own_region",
    }


def test_full_past_and_cancelled_shifts_are_not_matched(req):
    full = add_shift(req, local(DAY, 7), local(DAY, 15), places=1)
    past = add_shift(req, NOW - timedelta(days=1), NOW - timedelta(hours=16))
    rid = person()
    book(person(), full)
    found = rank_request(db.session, req.id, config=CONFIG, now=NOW)
    assert found == {}
    assert verdict(rid, past)["active"].passed  # why still answers for any shift


def test_why_for_unknown_ids_raises_lookup_error(req):
    shift = add_shift(req, local(DAY, 7), local(DAY, 15))
    with pytest.raises(LookupError):
        why(db.session, 987654, shift.id, config=CONFIG, now=NOW)
    with pytest.raises(LookupError):
        why(db.session, person(), 987654, config=CONFIG, now=NOW)


def test_the_engine_imports_no_flask():
    import ast
    from pathlib import Path

    folder = Path(engine.__file__).parent
    for name in ("engine", "eligibility", "ranking", "loading", "distance"):
        tree = ast.parse((folder / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                module = getattr(node, "module", None) or node.names[0].name
                assert not module.startswith("flask"), (name, module)
