"""The reservist's deployment data on the "my data" page and in the export: call-ups, bookings and
hours, stand-by, messages, text messages and calendar links, and nothing of anyone else."""

from __future__ import annotations

import json
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import event, select, update

from tests.deployments_support import day_pattern, english, new_request, world_fixture  # noqa: F401
from tests.test_booking import accept, offer_for, reservist
from tests.test_privacy import reservist_of
from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.callups import booking
from zorgreserve.callups.models import Booking, InboundSms, Message, Offer, OfferShift, StandbyEntry, Wave
from zorgreserve.db import utcnow
from zorgreserve.deployments import services as requests
from zorgreserve.deployments.models import Shift
from zorgreserve.privacy import services
from zorgreserve.privacy.services import _time
from zorgreserve.reservists.models import Reservist
from zorgreserve.shifts import calendar
from zorgreserve.shifts.models import CalendarFeed, TimesheetCorrection, TimesheetEntry

MY_PHONE = "+31612340001"
MY_OLD_PHONE = "+31612340009"
OTHER_PHONE = "+31612340002"

MY_DECLINE = "Ik ben die week op vakantie in Zeeland"
MY_CORRECTION = "Later begonnen door file op de A12"
MY_SMS = "Kan ik ook een nachtdienst doen?"
OTHER_DECLINE = "Bruiloft van mijn zus Geertruida"
OTHER_CORRECTION = "Vergeten uit te klokken, Overbeek"
OTHER_SMS = "Graag, groet van Olga"


def _request(
    world: SimpleNamespace, department: str, first_day: date, *, days: int = 1, places: int = 1
) -> Any:
    req = new_request(
        world.staff_a,
        world.loc_a,
        pattern=day_pattern(first_day, days=days, places=places),
        department=department,
    )
    requests.approve(world.coordinator_x, req)
    db.session.commit()
    return req


def _booking(person: Reservist, shift: Shift) -> Booking:
    return db.session.scalar(
        select(Booking).where(Booking.reservist_id == person.id, Booking.shift_id == shift.id)
    )


def _hours(item: Booking, shift: Shift, reason: str) -> TimesheetEntry:
    """Hours as the institution records them: checked out, confirmed, then corrected once."""
    start, end = shift.start_at + timedelta(minutes=15), shift.end_at
    entry = TimesheetEntry(
        booking_id=item.id,
        actual_start_at=start,
        actual_end_at=end,
        break_minutes=30,
        confirmed_at=utcnow(),
    )
    db.session.add(entry)
    db.session.flush()
    db.session.add(
        TimesheetCorrection(
            entry_id=entry.id,
            previous_start_at=shift.start_at,
            previous_end_at=end,
            previous_break_minutes=45,
            new_start_at=start,
            new_end_at=end,
            new_break_minutes=30,
            reason=reason,
            was_confirmed=True,
            corrected_by_role="institution_staff",
        )
    )
    item.status = "completed"
    db.session.commit()
    return entry


def _deployments(world: SimpleNamespace, ctx: Any) -> SimpleNamespace:
    """Me and another reservist (Olga Overbeek) booked on the same shift, with everything around it."""
    me_user = world.reservist
    me_user.phone, me_user.locale = MY_PHONE, "en"
    db.session.commit()
    me = reservist_of(me_user)
    other = reservist(user__first_name="Olga", user__last_name="Overbeek", user__phone=OTHER_PHONE)
    soon = date.today() + timedelta(days=1)
    with english(ctx):
        # Both booked on the first shift of the lung ward; I declined the second day.
        ward = _request(world, "Longafdeling 3", soon, days=2, places=2)
        first, second = ward.shifts
        mine = offer_for(me, ward, [first, second])
        accept(mine, [first])
        accept(offer_for(other, ward, [first]), [first])
        # A call-up I declined, with a reason; the other declined it too, with theirs.
        emergency = _request(world, "Spoedeisende hulp", soon + timedelta(days=3))
        declined = offer_for(me, emergency, emergency.shifts)
        booking.decline(db.session, declined.id, reason=MY_DECLINE, channel="web", now=utcnow())
        theirs = offer_for(other, emergency, emergency.shifts)
        booking.decline(db.session, theirs.id, reason=OTHER_DECLINE, channel="web", now=utcnow())
        # A shift at the same time as my booking: refused for the overlap.
        clash = _request(world, "Hartbewaking", soon)
        accept(offer_for(me, clash, clash.shifts), clash.shifts)
        # A shift that filled just before my answer: on the stand-by list.
        children = _request(world, "Kinder-IC", soon + timedelta(days=5))
        late = offer_for(me, children, children.shifts)
        db.session.execute(update(Shift).where(Shift.id == children.shifts[0].id).values(booked=Shift.places))
        db.session.commit()
        accept(late, children.shifts)
        # Two calendar links: the first stopped when the second was made.
        calendar.renew(me, now=utcnow() - timedelta(days=2))
        calendar.renew(me)
        db.session.commit()
    entry = _hours(_booking(me, first), first, MY_CORRECTION)
    _hours(_booking(other, first), first, OTHER_CORRECTION)
    now = utcnow()
    db.session.add_all(
        [
            Message(
                dedupe_key="test:mine",
                kind="confirmation",
                channel="sms",
                reservist_id=me.id,
                status="delivered",
                sent_at=now,
                delivered_at=now,
            ),
            Message(dedupe_key="test:theirs", kind="booking_no_show", channel="email", reservist_id=other.id),
            # Sent from my number; and an answer to my call-up from the number I had before.
            InboundSms(provider_message_id="p-1", sender=MY_PHONE, body=MY_SMS, outcome="unparsed"),
            InboundSms(
                provider_message_id="p-2",
                sender=MY_OLD_PHONE,
                body=f"JA {mine.code}",
                offer_id=mine.id,
                outcome="accepted",
            ),
            # The other's text, and a text from their number quoting my code (never matched to my offer).
            InboundSms(provider_message_id="p-3", sender=OTHER_PHONE, body=OTHER_SMS, outcome="unparsed"),
            InboundSms(
                provider_message_id="p-4",
                sender=OTHER_PHONE,
                body=f"NEE {declined.code} Olga",
                outcome="wrong_sender",
            ),
        ]
    )
    db.session.commit()
    return SimpleNamespace(
        me=me,
        other=other,
        first=first,
        second=second,
        mine=mine,
        declined=declined,
        clash=clash.shifts[0],
        children=children.shifts[0],
        entry=entry,
    )


def _section(page: str, testid: str) -> str:
    start = page.index(f'data-testid="{testid}"')
    return page[start : page.index("</table>", start)]


def test_my_data_page_shows_my_call_ups_bookings_hours_and_texts(world, ctx, client, login_as):
    d = _deployments(world, ctx)
    login_as(world.reservist)
    page = client.get("/me/data/").get_data(as_text=True)

    offers = _section(page, "offers")
    assert d.mine.code in offers and d.declined.code in offers
    assert "Ziekenhuis A, Longafdeling 3" in offers and "Ziekenhuis A, Spoedeisende hulp" in offers
    assert f"Reason: {MY_DECLINE}" in offers
    assert "Partly accepted" in offers and "Booked" in offers
    assert "you had another shift at that time" in offers  # the clash, refused for the overlap

    bookings = _section(page, "bookings")
    assert "Ziekenhuis A, Longafdeling 3" in bookings and "Completed" in bookings
    assert "7.75 hours" in bookings  # 07:15–15:30 with a 30-minute break, as confirmed
    assert "confirmed" in bookings and MY_CORRECTION in bookings
    assert "break 45 min" in bookings and "break 30 min" in bookings  # before and after the correction

    assert "Ziekenhuis A, Kinder-IC" in _section(page, "standby")
    assert "Shift confirmed" in _section(page, "messages")
    texts = _section(page, "sms")
    assert MY_SMS in texts and f"JA {d.mine.code}" in texts and "Not understood" in texts
    assert "still in use" in _section(page, "calendar-feeds")

    for foreign in ("Overbeek", "Olga", OTHER_DECLINE, OTHER_CORRECTION, OTHER_SMS, OTHER_PHONE):
        assert foreign not in page, foreign


def test_my_data_page_says_none_for_deployment_sections_without_rows(client, login_as, cast):
    cast.reservist.locale = "en"
    db.session.commit()
    login_as(cast.reservist)
    page = client.get("/me/data/").get_data(as_text=True)
    for heading in (
        "h-offers",
        "h-bookings",
        "h-standby-lists",
        "h-messages",
        "h-sms",
        "h-calendar",
    ):
        section = page[page.index(f'aria-labelledby="{heading}"') :]
        section = section[: section.index("</section>")]
        assert f'<h2 id="{heading}">' in section
        assert "<p>None.</p>" in section, heading


def test_export_holds_my_deployment_data_and_nothing_of_the_other_on_my_shift(world, ctx, client, login_as):
    d = _deployments(world, ctx)
    login_as(world.reservist)
    body = client.get("/me/data/export.json").get_data(as_text=True)
    document = json.loads(body)
    assert document["version"] == 2

    offers = {o["code"]: o for o in document["call_up_offers"]}
    assert len(offers) == 4  # the ward, the declined one, the clash and the stand-by
    mine = offers[d.mine.code]
    assert {k: mine[k] for k in ("status", "institution", "department", "answer_channel")} == {
        "status": "partially_accepted",
        "institution": "Ziekenhuis A",
        "department": "Longafdeling 3",
        "answer_channel": "web",
    }
    assert mine["expires_at"] == _time(db.session.get(Offer, d.mine.id).expires_at)
    assert mine["answered_at"].endswith("Z") and mine["sent_at"] is None
    assert mine["shifts"] == [
        {
            "start_at": _time(d.first.start_at),
            "end_at": _time(d.first.end_at),
            "status": "accepted",
            "refusal": None,
            "answered_at": mine["shifts"][0]["answered_at"],
        },
        {
            "start_at": _time(d.second.start_at),
            "end_at": _time(d.second.end_at),
            "status": "declined",
            "refusal": None,
            "answered_at": mine["shifts"][1]["answered_at"],
        },
    ]
    declined = offers[d.declined.code]
    assert (declined["status"], declined["decline_reason"], declined["department"]) == (
        "declined",
        MY_DECLINE,
        "Spoedeisende hulp",
    )
    clash = next(o for o in offers.values() if o["department"] == "Hartbewaking")
    assert [(s["status"], s["refusal"]) for s in clash["shifts"]] == [("declined", "overlap")]

    [booked] = document["bookings"]
    assert {k: v for k, v in booked.items() if k != "hours_recorded"} == {
        "institution": "Ziekenhuis A",
        "department": "Longafdeling 3",
        "start_at": _time(d.first.start_at),
        "end_at": _time(d.first.end_at),
        "status": "completed",
        "created_at": booked["created_at"],
        "decided_at": None,
        "decision_reason": None,
        "cancelled_at": None,
        "cancel_reason": None,
    }
    hours = booked["hours_recorded"]
    assert hours["actual_start_at"] == _time(d.first.start_at + timedelta(minutes=15))
    assert hours["actual_end_at"] == _time(d.first.end_at)
    assert (hours["break_minutes"], hours["worked_hours"], hours["correction_count"]) == (30, 7.75, 1)
    assert hours["confirmed_at"] == _time(d.entry.confirmed_at)
    [correction] = hours["corrections"]
    assert correction["reason"] == MY_CORRECTION
    assert correction["corrected_by_role"] == "institution_staff"
    assert (correction["previous_start_at"], correction["previous_break_minutes"]) == (
        _time(d.first.start_at),
        45,
    )
    assert (correction["new_start_at"], correction["new_break_minutes"]) == (
        hours["actual_start_at"],
        30,
    )

    assert document["standby_entries"] == [
        {
            "institution": "Ziekenhuis A",
            "department": "Kinder-IC",
            "start_at": _time(d.children.start_at),
            "end_at": _time(d.children.end_at),
            "created_at": document["standby_entries"][0]["created_at"],
        }
    ]
    assert document["messages_sent"] == [
        {
            "kind": "confirmation",
            "channel": "sms",
            "status": "delivered",
            "created_at": document["messages_sent"][0]["created_at"],
            "sent_at": document["messages_sent"][0]["sent_at"],
            "delivered_at": document["messages_sent"][0]["delivered_at"],
        }
    ]
    assert document["messages_sent"][0]["delivered_at"].endswith("Z")
    assert sorted((s["body"], s["outcome"]) for s in document["sms_received"]) == [
        (f"JA {d.mine.code}", "accepted"),
        (MY_SMS, "unparsed"),
    ]
    feeds = document["calendar_feeds"]
    assert [f["revoked_at"] is None for f in feeds] == [True, False]  # newest first: the one in use
    assert all(set(f) == {"created_at", "revoked_at", "last_used_at"} for f in feeds)

    # Nothing of the other reservist on the same shift, nor their texts, nor any feed's token hash.
    for foreign in ("Overbeek", "Olga", OTHER_DECLINE, OTHER_CORRECTION, OTHER_SMS, OTHER_PHONE):
        assert foreign not in body, foreign
    for token_hash in db.session.scalars(select(CalendarFeed.token_hash)):
        assert token_hash not in body
    assert "token" not in body


def _deploy(person: Reservist, shift: Shift, number: int) -> None:
    """One of everything for ``person`` on ``shift``: offer, booking, hours and a correction,
    stand-by, a message and a text, each as the call-up and shifts modules write them."""
    wave = db.session.scalar(select(Wave).where(Wave.request_id == shift.request_id, Wave.number == number))
    if wave is None:
        wave = Wave(request_id=shift.request_id, number=number, status="sent", expires_at=utcnow())
        db.session.add(wave)
        db.session.flush()
    offer = Offer(
        wave_id=wave.id,
        request_id=shift.request_id,
        reservist_id=person.id,
        code=f"Q{person.id:03d}{number:03d}",
        status="accepted",
        expires_at=utcnow(),
    )
    offer.shifts = [OfferShift(shift_id=shift.id, status="accepted")]
    db.session.add(offer)
    db.session.flush()
    item = Booking(
        shift_id=shift.id,
        reservist_id=person.id,
        offer_id=offer.id,
        status="approved",
        start_at=shift.start_at,
        end_at=shift.end_at,
    )
    db.session.add_all(
        [
            item,
            StandbyEntry(shift_id=shift.id, reservist_id=person.id, offer_id=offer.id),
            Message(dedupe_key=f"count:{offer.code}", kind="offer", channel="sms", reservist_id=person.id),
            InboundSms(
                provider_message_id=f"count-{offer.code}", sender="+31600000000", body="JA", offer_id=offer.id
            ),
            CalendarFeed(reservist_id=person.id, token_hash=f"{offer.code:0>64}"[-64:]),
        ]
    )
    db.session.flush()
    _hours(item, shift, "count")


def test_the_number_of_queries_does_not_grow_with_the_number_of_deployments(world, ctx, client, login_as):
    with english(ctx):
        req = _request(world, "Longafdeling 3", date.today() + timedelta(days=1), days=5, places=2)
    one, five = reservist(), reservist()
    _deploy(one, req.shifts[0], 1)
    for number, shift in enumerate(req.shifts, start=1):
        _deploy(five, shift, number)
    db.session.commit()
    connection = db.session.connection()  # the test's connection: every request's session uses it too

    def statements(action: Any) -> int:
        seen: list[str] = []

        def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if not statement.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):  # the test's transaction
                seen.append(statement)

        db.session.expire_all()
        event.listen(connection, "before_cursor_execute", count)
        try:
            action()
        finally:
            event.remove(connection, "before_cursor_execute", count)
        return len(seen)

    held: dict[int, Any] = {}

    def gather(person: Reservist) -> None:
        held[person.id] = services.personal_data(person.user)
        services.export_document(held[person.id])

    assert statements(lambda: gather(one)) == statements(lambda: gather(five))
    assert len(held[one.id].deployments.bookings) == 1 and len(held[five.id].deployments.bookings) == 5
    assert len(held[five.id].deployments.offers) == 5 and len(held[five.id].deployments.sms) == 5
    assert all(len(b.corrections) == 1 for b in held[five.id].deployments.bookings)

    # The page itself reads nothing more per row either.
    few, many = one.user_id, five.user_id  # the requests end their sessions: keep plain ids

    def page(user_id: int) -> None:
        login_as(db.session.get(User, user_id))
        assert client.get("/me/data/").status_code == 200

    assert statements(lambda: page(few)) == statements(lambda: page(many))
