"""Booking an accepted offer: places, stand-by, overlap, working time, repeated answers, withdrawal."""

from __future__ import annotations

import itertools
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.deployments_support import day_pattern, in_english_fixture, new_request, world_fixture  # noqa: F401
from tests.factories import ReservistFactory
from zorgreserve import db
from zorgreserve.callups import booking
from zorgreserve.callups.models import (
    Booking,
    Message,
    Offer,
    OfferShift,
    OfferStatus,
    StandbyEntry,
    Wave,
)
from zorgreserve.db import utcnow
from zorgreserve.deployments import services
from zorgreserve.deployments.models import DeploymentRequest, RequestStatus, Shift
from zorgreserve.deployments.patterns import Preset, ShiftPattern
from zorgreserve.reservists.models import Reservist

_codes = itertools.count(1)


# Helpers (also used by test_approval.py and test_booking_reliability.py) -------------------


def open_request(
    w: Any, *, days: int = 1, places: int = 1, pattern: ShiftPattern | None = None
) -> DeploymentRequest:
    req = new_request(w.staff_a, w.loc_a, pattern=pattern or day_pattern(days=days, places=places))
    services.approve(w.coordinator_x, req)
    db.session.commit()
    return req


def reservist(**overrides: Any) -> Reservist:
    values: dict[str, Any] = {"user__phone": "+31612345678", "user__locale": "en", "channels": "both"}
    values.update(overrides)
    return ReservistFactory(**values)


def offer_for(
    person: Reservist,
    req: DeploymentRequest,
    shifts: list[Shift],
    *,
    expires_in: timedelta = timedelta(hours=2),
    wave_number: int = 1,
) -> Offer:
    wave = db.session.scalar(select(Wave).where(Wave.request_id == req.id, Wave.number == wave_number))
    if wave is None:
        wave = Wave(
            request_id=req.id, number=wave_number, status="sent", expires_at=utcnow() + timedelta(hours=2)
        )
        db.session.add(wave)
        db.session.flush()
    offer = Offer(
        wave_id=wave.id,
        request_id=req.id,
        reservist_id=person.id,
        code=f"T{next(_codes):07d}",
        status=OfferStatus.SENT.value,
        expires_at=utcnow() + expires_in,
    )
    offer.shifts = [OfferShift(shift_id=s.id) for s in shifts]
    db.session.add(offer)
    db.session.commit()
    return offer


def accept(offer: Offer, shifts: list[Shift], now: datetime | None = None) -> booking.AcceptResult:
    result = booking.accept(db.session, offer.id, [s.id for s in shifts], channel="web", now=now or utcnow())
    db.session.commit()
    return result


def fresh(model: Any, ident: int) -> Any:
    return db.session.get(model, ident, populate_existing=True)


# Places and stand-by -----------------------------------------------------------------------


def test_accepting_books_the_shift_and_the_request_fills(w):
    req = open_request(w, places=1)
    shift = req.shifts[0]
    person = reservist()
    offer = offer_for(person, req, [shift])
    result = accept(offer, [shift])
    assert result.booked == [shift.id] and result.standby == [] and result.refused == {}
    made = db.session.scalars(select(Booking).where(Booking.shift_id == shift.id)).all()
    assert [(b.reservist_id, b.status, b.start_at, b.end_at) for b in made] == [
        (person.id, "accepted", shift.start_at, shift.end_at)
    ]
    assert fresh(Shift, shift.id).booked == 1
    assert fresh(DeploymentRequest, req.id).status == RequestStatus.FILLED.value
    assert fresh(Offer, offer.id).status == OfferStatus.ACCEPTED.value
    assert fresh(OfferShift, (offer.id, shift.id)).status == "accepted"


def test_a_full_shift_puts_the_next_one_on_stand_by_and_withdraws_open_offers(w):
    req = open_request(w, places=1)
    shift = req.shifts[0]
    first, second, third = reservist(), reservist(), reservist()
    offers = [offer_for(p, req, [shift]) for p in (first, second, third)]
    assert accept(offers[0], [shift]).booked == [shift.id]
    # The other two offers were withdrawn when the shift filled; one answers anyway.
    assert fresh(Offer, offers[2].id).status == OfferStatus.WITHDRAWN.value
    with pytest.raises(booking.OfferClosed) as closed:
        accept(offers[1], [shift])
    assert closed.value.reason == "withdrawn"
    assert fresh(Shift, shift.id).booked == 1


def test_an_accept_racing_the_last_place_goes_on_the_stand_by_list(w, run_jobs):
    req = open_request(w, places=1)
    shift = req.shifts[0]
    winner, late = reservist(), reservist()
    offer_w = offer_for(winner, req, [shift])
    offer_l = offer_for(late, req, [shift])
    # The late offer was locked by its own answer while the place went (withdrawal skipped it).
    db.session.execute(
        Shift.__table__.update().where(Shift.id == shift.id).values(booked=Shift.places)  # type: ignore[attr-defined]
    )
    db.session.commit()
    result = accept(offer_l, [shift])
    assert result.booked == [] and result.standby == [shift.id]
    assert (
        db.session.scalar(select(StandbyEntry.reservist_id).where(StandbyEntry.shift_id == shift.id))
        == late.id
    )
    assert fresh(OfferShift, (offer_l.id, shift.id)).status == "standby"
    # The stand-by messages are written and sent by their job, once however often it runs.
    run_jobs()
    run_jobs()
    db.session.expire_all()
    kinds = db.session.execute(
        select(Message.kind, Message.channel, Message.status).where(Message.reservist_id == late.id)
    ).all()
    assert sorted(kinds) == [("standby", "email", "sent"), ("standby", "sms", "sent")]
    assert offer_w is not None


def test_the_same_accept_twice_books_once_and_answers_the_same(w):
    req = open_request(w, days=2, places=2)
    person = reservist()
    offer = offer_for(person, req, req.shifts)
    first = accept(offer, req.shifts)
    again = accept(offer, req.shifts)
    assert first.booked == again.booked == sorted(s.id for s in req.shifts)
    assert again.repeated and not first.repeated
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 2
    assert {fresh(Shift, s.id).booked for s in req.shifts} == {1}


def test_partial_accept_declines_the_rest_and_a_later_other_choice_is_refused(w):
    req = open_request(w, days=2, places=2)
    one, other = req.shifts
    offer = offer_for(reservist(), req, [one, other])
    assert accept(offer, [one]).booked == [one.id]
    assert fresh(Offer, offer.id).status == OfferStatus.PARTIALLY_ACCEPTED.value
    assert fresh(OfferShift, (offer.id, other.id)).status == "declined"
    with pytest.raises(booking.OfferClosed) as closed:
        accept(offer, [other])
    assert closed.value.reason == "answered"
    assert fresh(Shift, other.id).booked == 0


def test_an_expired_offer_is_refused_and_nothing_changes(w):
    req = open_request(w)
    shift = req.shifts[0]
    offer = offer_for(reservist(), req, [shift], expires_in=timedelta(minutes=5))
    with pytest.raises(booking.OfferClosed) as closed:
        accept(offer, [shift], now=utcnow() + timedelta(minutes=6))
    assert closed.value.reason == "expired"
    assert fresh(Shift, shift.id).booked == 0
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 0


def test_an_accept_without_shifts_or_of_an_unknown_offer_is_refused(w):
    req = open_request(w)
    offer = offer_for(reservist(), req, req.shifts)
    with pytest.raises(booking.NothingChosen):
        booking.accept(db.session, offer.id, [], channel="web", now=utcnow())
    with pytest.raises(booking.OfferClosed):
        booking.accept(db.session, offer.id + 999, [req.shifts[0].id], channel="web", now=utcnow())


def test_a_shift_not_in_the_offer_is_refused(w):
    req = open_request(w, days=2)
    one, other = req.shifts
    offer = offer_for(reservist(), req, [one])
    result = accept(offer, [one, other])
    assert result.booked == [one.id] and result.refused == {other.id: "not_offered"}
    assert fresh(Shift, other.id).booked == 0


def test_decline_records_the_answer_once(w):
    req = open_request(w)
    offer = offer_for(reservist(), req, req.shifts)
    booking.decline(db.session, offer.id, reason="Op vakantie", channel="sms", now=utcnow())
    booking.decline(db.session, offer.id, reason="again", channel="sms", now=utcnow())
    db.session.commit()
    offer = fresh(Offer, offer.id)
    assert (offer.status, offer.decline_reason, offer.answer_channel) == ("declined", "Op vakantie", "sms")
    with pytest.raises(booking.OfferClosed):
        accept(offer, req.shifts)


# Overlap and working time ------------------------------------------------------------------


def test_an_overlapping_shift_of_another_request_is_refused(w):
    first = open_request(w)
    second = open_request(w)  # the same day and times at the same location
    person = reservist()
    assert accept(offer_for(person, first, first.shifts), first.shifts).booked == [first.shifts[0].id]
    offer = offer_for(person, second, second.shifts)
    result = accept(offer, second.shifts)
    assert result.booked == [] and result.refused == {second.shifts[0].id: "overlap"}
    assert fresh(Shift, second.shifts[0].id).booked == 0
    assert fresh(OfferShift, (offer.id, second.shifts[0].id)).refusal == "overlap"
    # Asked again, the answer is the same and nothing changes.
    assert accept(offer, second.shifts).refused == {second.shifts[0].id: "overlap"}


def test_booking_refuses_what_breaks_the_rest_rule_and_names_the_rule(w):
    day = open_request(w, pattern=day_pattern(places=2, days=1, preset=Preset.EVENING))
    early = open_request(w, pattern=day_pattern(places=2, days=2, preset=Preset.DAY))
    person = reservist()
    late_shift = day.shifts[0]
    assert accept(offer_for(person, day, [late_shift]), [late_shift]).booked == [late_shift.id]
    next_morning = next(s for s in early.shifts if s.start_at > late_shift.end_at)
    result = accept(offer_for(person, early, [next_morning]), [next_morning])
    assert result.refused == {next_morning.id: "worktime"}
    assert result.rules[next_morning.id] == ["rest_too_short"]
    assert fresh(Shift, next_morning.id).booked == 0


def test_the_reservists_own_weekly_maximum_counts_at_booking(w):
    req = open_request(w, days=5, places=1)
    person = reservist(max_hours_per_week=20)
    offer = offer_for(person, req, req.shifts)
    result = accept(offer, req.shifts)
    hours = (req.shifts[0].end_at - req.shifts[0].start_at) / timedelta(hours=1)
    assert len(result.booked) == int(20 // hours) and result.booked == sorted(result.booked)
    assert set(result.refused.values()) == {"worktime"}
    assert all(codes == ["own_weekly_max"] for codes in result.rules.values())
    assert db.session.scalar(select(func.count()).select_from(Booking)) == len(result.booked)


def test_a_cancelled_shift_is_refused(w):
    req = open_request(w, days=2)
    gone = req.shifts[1]
    offer = offer_for(reservist(), req, req.shifts)
    services.cancel_shift(w.staff_a, req, gone, "Afdeling dicht")
    db.session.commit()
    result = accept(offer, req.shifts)
    assert result.booked == [req.shifts[0].id] and result.refused == {gone.id: "cancelled"}


@pytest.mark.postgres_only
def test_postgres_refuses_a_direct_insert_of_an_overlapping_booking(w):
    from sqlalchemy.exc import IntegrityError

    first, second = open_request(w), open_request(w)
    person = reservist()
    accept(offer_for(person, first, first.shifts), first.shifts)
    shift = second.shifts[0]
    with pytest.raises(IntegrityError, match="booking_no_overlap"), db.session.begin_nested():
        db.session.add(
            Booking(shift_id=shift.id, reservist_id=person.id, start_at=shift.start_at, end_at=shift.end_at)
        )
        db.session.flush()


def test_the_night_series_is_checked_again_on_the_set_actually_booked(w):
    """Nights 5, 6 and 7 after four booked nights are legal together; 5 and 7 alone are not
    (the long rest after the series would fall between them). When night 6 fills meanwhile,
    only night 5 is booked and night 7 is refused, naming the rule."""
    pattern = ShiftPattern(
        first_day=day_pattern().first_day,
        start_time=time(23, 0),
        end_time=time(7, 0),
        repeat=day_pattern().repeat,
        days=7,
        places=1,
    )
    req = open_request(w, pattern=pattern)
    nights = req.shifts
    person = reservist()
    assert len(accept(offer_for(person, req, nights[:4]), nights[:4]).booked) == 4
    db.session.execute(
        Shift.__table__.update().where(Shift.id == nights[5].id).values(booked=1)  # type: ignore[attr-defined]
    )
    db.session.commit()
    result = accept(offer_for(person, req, nights[4:], wave_number=2), nights[4:])
    assert result.booked == [nights[4].id] and result.standby == [nights[5].id]
    assert result.refused == {nights[6].id: "worktime"}
    assert result.rules[nights[6].id] == ["rest_after_night_series"]
    assert fresh(Shift, nights[6].id).booked == 0
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 5


def test_withdraw_takes_filled_shifts_out_of_open_offers(w):
    req = open_request(w, days=2, places=1)
    full, still_open = req.shifts
    waiting = offer_for(reservist(), req, [full, still_open])
    only_full = offer_for(reservist(), req, [full])
    db.session.execute(
        Shift.__table__.update().where(Shift.id == full.id).values(booked=1)  # type: ignore[attr-defined]
    )
    assert booking.withdraw_open_offers_for_filled_shifts(db.session, [full.id, still_open.id], utcnow()) == 1
    db.session.commit()
    assert fresh(Offer, only_full.id).status == "withdrawn"
    assert fresh(Offer, waiting.id).status == "sent"
    assert fresh(OfferShift, (waiting.id, full.id)).status == "withdrawn"
    assert fresh(OfferShift, (waiting.id, still_open.id)).status == "offered"
    assert booking.withdraw_open_offers_for_filled_shifts(db.session, [full.id], utcnow()) == 0


def test_booking_counts_a_recorded_late_end_against_the_rest_rule(w):
    """Recorded times count at booking, as in matching: a shift that ran late pushes the rest back."""
    from zorgreserve.shifts.models import TimesheetEntry

    first = open_request(w, pattern=day_pattern(places=2, days=1))
    shift = first.shifts[0]
    following = open_request(
        w, pattern=day_pattern(shift.start_at.date() + timedelta(days=1), places=2, days=1)
    )
    next_day = following.shifts[0]
    person, other = reservist(), reservist()
    for someone in (person, other):
        assert accept(offer_for(someone, first, [shift]), [shift]).booked == [shift.id]
    # 15.5 hours of rest on the planned times; the institution recorded an end 5 hours later for one of them.
    late = db.session.scalar(select(Booking).where(Booking.reservist_id == person.id))
    db.session.add(
        TimesheetEntry(
            booking_id=late.id,
            actual_start_at=shift.start_at,
            actual_end_at=shift.end_at + timedelta(hours=5),
        )
    )
    db.session.commit()
    refused = accept(offer_for(person, following, [next_day]), [next_day])
    assert refused.refused == {next_day.id: "worktime"} and refused.rules[next_day.id] == ["rest_too_short"]
    assert accept(offer_for(other, following, [next_day]), [next_day]).booked == [next_day.id]
