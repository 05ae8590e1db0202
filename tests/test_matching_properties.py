"""Properties of the matching engine over generated registries (hypothesis).

* every reservist is in a shift's candidate list exactly when ``why`` passes every rule;
* no proposed offer breaks a rule: each shift passes ``why`` and the whole set keeps the
  working-time rules together with the reservist's existing work;
* the ranking does not depend on the order in which people or shifts come in.
"""

from __future__ import annotations

import itertools
import random
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.deployments_support import in_english_fixture, qualification, skill, world_fixture  # noqa: F401
from tests.test_matching import CONFIG, book, empty_request, hold, local, person
from zorgreserve import db
from zorgreserve.availability.models import AvailabilityPeriod, WeeklyWindow
from zorgreserve.deployments.models import Shift
from zorgreserve.matching import engine, worktime
from zorgreserve.matching.eligibility import existing_work
from zorgreserve.matching.loading import load_people
from zorgreserve.matching.ranking import weights
from zorgreserve.reference.models import Profession
from zorgreserve.reservists.models import BigRegistration, Reservist, ReservistQualification, ReservistSkill
from zorgreserve.reservists.services import set_home_postcode

POSTCODES = ["3511", "3584", "3811", "8011", "1012", "6229"]
QUALS = ["ic_verpleegkundige", "verpleegkundige", "seh_verpleegkundige", "helpende"]
FIRST = date(2026, 3, 23)  # the week the clocks go forward (Sunday 29 March)

shift_spec = st.tuples(
    st.integers(0, 9), st.sampled_from([7, 15, 23, 2, 19]), st.sampled_from([4, 8, 10, 12, 13])
)
people_spec = st.fixed_dictionaries(
    {
        "pc4": st.sampled_from(POSTCODES),
        "travel": st.sampled_from([5, 25, 60, 200]),
        "max_hours": st.sampled_from([None, 16, 40]),
        "status": st.sampled_from(["active", "active", "active", "paused", "withdrawn"]),
        "paused_days": st.integers(-3, 8),
        "quals": st.lists(st.tuples(st.sampled_from(QUALS), st.booleans(), st.integers(-2, 30)), max_size=2),
        "big": st.sampled_from([None, "verified", "unverified"]),
        "big_days": st.integers(-2, 400),
        "skill": st.booleans(),
        "windows": st.lists(
            st.tuples(st.integers(0, 6), st.integers(0, 23), st.integers(1, 24)), min_size=0, max_size=6
        ),
        "everything": st.booleans(),
        "bookings": st.lists(
            st.tuples(st.integers(-1, 10), st.integers(0, 23), st.integers(2, 12)), max_size=3
        ),
        "held": st.lists(st.tuples(st.integers(0, 10), st.integers(0, 23), st.integers(2, 10)), max_size=1),
        "work": st.lists(st.tuples(st.integers(0, 10), st.integers(0, 23), st.integers(2, 10)), max_size=1),
    }
)


def _apply(w, request, other, rid: int, spec: dict) -> None:
    reservist = db.session.get(Reservist, rid)
    set_home_postcode(reservist, spec["pc4"])
    reservist.max_travel_km = spec["travel"]
    reservist.max_hours_per_week = spec["max_hours"]
    reservist.status = spec["status"]
    reservist.paused_until = FIRST + timedelta(spec["paused_days"]) if spec["status"] == "paused" else None
    for code, verified, years in {q[0]: q for q in spec["quals"]}.values():
        db.session.add(
            ReservistQualification(
                reservist_id=rid,
                qualification_id=qualification(code).id,
                obtained_on=date(2000, 1, 1),
                expires_on=FIRST + timedelta(days=years) if years < 10 else None,
                verification="verified" if verified else "unverified",
                evidence_verified=verified,
            )
        )
    if spec["big"]:
        nurse = db.session.query(Profession).filter_by(code="verpleegkundige").one()
        db.session.add(
            BigRegistration(
                reservist_id=rid,
                profession_id=nurse.id,
                big_number=f"{rid:011d}",
                verification=spec["big"],
                reregistration_due=FIRST + timedelta(days=spec["big_days"]),
            )
        )
    if spec["skill"]:
        db.session.add(ReservistSkill(reservist_id=rid, skill_id=skill().id))
    windows = [(d, 0, 1440) for d in range(7)] if spec["everything"] else []
    windows += [(d, h * 60, (h * 60 + length * 60) % 1440 or 1440) for d, h, length in spec["windows"]]
    for weekday, start, end in windows:
        if start != end:
            db.session.add(
                WeeklyWindow(reservist_id=rid, weekday=weekday, start_minute=start, end_minute=end)
            )
    taken: list[tuple] = []
    for day, hour, hours in spec["bookings"]:
        start = local(FIRST + timedelta(day), hour)
        if any(a < start + timedelta(hours=hours) and start < b for a, b in taken):
            continue  # the database refuses overlapping active bookings of one person
        taken.append((start, start + timedelta(hours=hours)))
        shift = Shift(request_id=other.id, start_at=start, end_at=start + timedelta(hours=hours), places=50)
        db.session.add(shift)
        db.session.flush()
        book(rid, shift, status="approved")
    for day, hour, hours in spec["held"]:
        start = local(FIRST + timedelta(day), hour)
        shift = Shift(request_id=other.id, start_at=start, end_at=start + timedelta(hours=hours), places=50)
        db.session.add(shift)
        db.session.flush()
        hold(rid, shift)
    for day, hour, hours in spec["work"]:
        start = local(FIRST + timedelta(day), hour)
        db.session.add(
            AvailabilityPeriod(
                reservist_id=rid,
                kind="unavailable",
                reason="work",
                starts_at=start,
                ends_at=start + timedelta(hours=hours),
            )
        )
    db.session.flush()


def test_why_agrees_with_the_candidates_and_proposals_keep_every_rule(w):
    base = [person(quals=(), big=None, skills=(), windows=[]) for _ in range(8)]
    request = empty_request(w)
    other = empty_request(w)

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        st.lists(shift_spec, min_size=1, max_size=5),
        st.lists(people_spec, min_size=8, max_size=8),
        st.sampled_from([None, "neighbours", "national"]),
        st.integers(1, 3),
        st.randoms(),
    )
    def check(shifts, specs, reach, k, rnd):
        savepoint = db.session.begin_nested()
        try:
            made = []
            for day, hour, hours in shifts:
                start = local(FIRST + timedelta(day), hour)
                shift = Shift(
                    request_id=request.id, start_at=start, end_at=start + timedelta(hours=hours), places=2
                )
                db.session.add(shift)
                made.append(shift)
            db.session.flush()
            for rid, spec in zip(base, specs, strict=True):
                _apply(w, request, other, rid, spec)
            now = local(FIRST, 0) - timedelta(days=1)
            ranked = engine.rank_request(db.session, request.id, config=CONFIG, now=now, reach=reach)
            for shift in made:
                listed = {c.reservist_id for c in ranked.get(shift.id, [])}
                for rid in base:
                    results = engine.why(db.session, rid, shift.id, config=CONFIG, now=now, reach=reach)
                    assert (rid in listed) == all(r.passed for r in results), (rid, shift.id, results)
            proposal = engine.propose_wave(db.session, request.id, config=CONFIG, now=now, reach=reach, k=k)
            by_id = {s.id: s for s in made}
            s = engine.situation(db.session, request.id, config=CONFIG, now=now, reach=reach)
            loaded = load_people(db.session, base, s.facts, list(s.facts.shifts), now=now)
            for offer in proposal.offers:
                for shift_id in offer.shift_ids:
                    assert offer.reservist_id in {c.reservist_id for c in ranked[shift_id]}
                proposed = [worktime.Interval(by_id[i].start_at, by_id[i].end_at) for i in offer.shift_ids]
                person_ = loaded[offer.reservist_id]
                assert (
                    worktime.check(s.rules, existing_work(person_), proposed, person_.max_hours_per_week)
                    == []
                )
            counts: dict[int, int] = {}
            for offer in proposal.offers:
                for shift_id in offer.shift_ids:
                    counts[shift_id] = counts.get(shift_id, 0) + 1
            for shift_id, count in counts.items():
                assert count <= k * proposal.open_places[shift_id]
            # The same ranking whatever order people and shifts are given in.
            open_shifts = s.facts.open_shifts(now)
            people = load_people(db.session, base, s.facts, open_shifts, now=now)
            order = list(people.items())
            rnd.shuffle(order)
            shuffled_shifts = list(open_shifts)
            rnd.shuffle(shuffled_shifts)
            again = engine._rank(s, dict(order), shuffled_shifts, weights(CONFIG))
            assert {k_: v for k_, v in again.items() if v} == {k_: v for k_, v in ranked.items() if v}
        finally:
            savepoint.rollback()

    check()


def test_ranking_is_identical_across_runs(w):
    request = empty_request(w)
    rng = random.Random(7)
    for _ in range(12):
        person(pc4=rng.choice(["3511", "3584", "3811"]), max_travel_km=60)
    for day in range(3):
        start = local(FIRST + timedelta(day), 7)
        db.session.add(
            Shift(request_id=request.id, start_at=start, end_at=start + timedelta(hours=8), places=2)
        )
    db.session.flush()
    now = local(FIRST, 0) - timedelta(days=1)
    first = engine.rank_request(db.session, request.id, config=CONFIG, now=now)
    assert first == engine.rank_request(db.session, request.id, config=CONFIG, now=now)
    assert engine.propose_wave(db.session, request.id, config=CONFIG, now=now) == engine.propose_wave(
        db.session, request.id, config=CONFIG, now=now
    )
    # Ties are broken by id: equal scores appear in increasing id order.
    for found in first.values():
        for a, b in itertools.pairwise(found):
            assert (-a.score, a.reservist_id) < (-b.score, b.reservist_id)
