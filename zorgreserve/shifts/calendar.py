"""The personal iCalendar subscription feed: a secret URL listing the reservist's own shifts.

The token is shown once (when made or renewed); only its SHA-256 is stored.
Each booking is one VEVENT whose UID is the one the confirmation e-mail used
(``confirmations.calendar_uid``), so a calendar that imported the confirmation
and subscribes to the feed shows the shift once. A cancelled shift (by the
reservist, the coordinator or the institution) stays in the feed with
``STATUS:CANCELLED`` until its planned end, so subscribed calendars remove it;
after that it drops out. The feed holds no personal data of others: the
contact person's name and number stay on the shift page behind sign-in.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask_babel import force_locale
from flask_babel import gettext as _
from icalendar import Calendar, Event
from sqlalchemy import select, update

from zorgreserve import db
from zorgreserve.audit.services import record
from zorgreserve.callups.confirmations import calendar_uid
from zorgreserve.callups.models import BookingStatus
from zorgreserve.db import utcnow
from zorgreserve.reservists.models import Reservist
from zorgreserve.shifts.models import CalendarFeed
from zorgreserve.shifts.services import MyShift, my_shifts

B = BookingStatus
#: Past shifts kept in the feed (older ones are in the hours page, not in agendas).
PAST_DAYS = 90
_CONFIRMED = {B.APPROVED.value, B.CHECKED_IN.value, B.COMPLETED.value}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def active_feed(reservist: Reservist) -> CalendarFeed | None:
    return db.session.scalar(
        select(CalendarFeed).where(
            CalendarFeed.reservist_id == reservist.id, CalendarFeed.revoked_at.is_(None)
        )
    )


def revoke(reservist: Reservist, now: datetime | None = None) -> bool:
    """Revoke the reservist's feed URL (its calendar stops updating); False when there was none."""
    result = db.session.execute(
        update(CalendarFeed)
        .where(CalendarFeed.reservist_id == reservist.id, CalendarFeed.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:
        record("calendar_feed.revoked", subject_type="reservist", subject_id=reservist.id)
    return bool(result.rowcount)


def renew(reservist: Reservist, now: datetime | None = None) -> str:
    """Make a new secret URL token (revoking any earlier one); returns the token, shown once."""
    now = now or utcnow()
    had = revoke(reservist, now)
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed(reservist_id=reservist.id, token_hash=_hash(token), created_at=now)
    db.session.add(feed)
    db.session.flush()
    record(
        "calendar_feed.renewed" if had else "calendar_feed.created",
        subject_type="reservist",
        subject_id=reservist.id,
    )
    return token


def feed_for_token(token: str) -> CalendarFeed | None:
    """The feed a token opens, or None for an unknown, stale or revoked token."""
    if not token or len(token) > 100:
        return None
    return db.session.scalar(
        select(CalendarFeed).where(CalendarFeed.token_hash == _hash(token), CalendarFeed.revoked_at.is_(None))
    )


def _event(item: MyShift, now: datetime) -> Event:
    booking, shift, request = item.booking, item.shift, item.request
    location = request.location
    address = ", ".join(
        part
        for part in (location.name, location.street_address, f"{location.postcode} {location.city}")
        if part
    )
    cancelled = item.status in (B.CANCELLED.value, B.REJECTED.value)
    event = Event()
    event.add("uid", calendar_uid(booking.id))
    event.add("dtstamp", now)
    event.add("dtstart", shift.start_at)
    event.add("dtend", shift.end_at)
    summary = _(
        "Deployment: %(department)s, %(institution)s",
        department=request.department,
        institution=request.institution.name,
    )
    event.add("summary", (_("Cancelled") + ": " + summary) if cancelled else summary)
    event.add("location", address)
    briefing = [_("Report to") + ": " + request.report_to]
    if request.bring:
        briefing.append(_("Bring") + ": " + request.bring)
    event.add("description", "\n".join(briefing))
    if cancelled:
        event.add("status", "CANCELLED")
    elif item.status in _CONFIRMED:
        event.add("status", "CONFIRMED")
    else:
        event.add("status", "TENTATIVE")
    # A cancelled event must carry a higher sequence than the one it replaces.
    event.add("sequence", 1 if cancelled else 0)
    changed = booking.cancelled_at or shift.cancelled_at or booking.decided_at or booking.created_at
    event.add("last-modified", changed)
    return event


def feed_ics(feed: CalendarFeed, now: datetime | None = None) -> bytes:
    """The iCalendar document of one feed, in the reservist's language."""
    now = now or utcnow()
    reservist = db.session.get(Reservist, feed.reservist_id)
    assert reservist is not None
    locale = (reservist.user.locale if reservist.user else None) or "nl"
    calendar = Calendar()
    calendar.add("prodid", "-//Zorgreserve//Diensten//NL")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", "Zorgreserve")
    with force_locale(locale):
        upcoming, past = my_shifts(reservist, now)
        for item in upcoming:
            if item.status in (B.NO_SHOW.value,):
                continue
            calendar.add_component(_event(item, now))
        since = now - timedelta(days=PAST_DAYS)
        for item in past:
            if item.booking.end_at >= since and item.status in _CONFIRMED:
                calendar.add_component(_event(item, now))
    feed.last_used_at = now
    return calendar.to_ical()
