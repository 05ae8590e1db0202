"""Expiry reminders: once per item and expiry date, 30 days ahead, one e-mail per reservist.

The outbox job ``privacy.expiry_reminders`` (enqueued daily by the cron job
``worker.jobs.daily_expiry_reminders``) runs :func:`send_expiry_reminders`
in two steps, both through that one registered job name:

1. Without arguments it finds, with one query per kind of item, every
   qualification, training and BIG re-registration of an active or paused,
   not erased reservist that expires within the next 30 days and has no
   reminder yet for that expiry date. It records an :class:`ExpiryReminder` per
   item and queues the sending in batches, all in one transaction: the unique
   key (item_type, item_id, expires_on) makes a second run, or two runs at
   once, add nothing. A changed expiry date is a new key, so it gets a reminder.
2. With ``reminder_ids`` it sends each reservist in the batch one e-mail in
   their language listing their items. Items erased or changed meanwhile are
   left out. A batch that fails is retried as a whole by the outbox, so a crash
   in the middle of a batch can repeat an e-mail to someone earlier in it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import format_date
from sqlalchemy import and_, exists, select

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.jobs.services import add_job
from zorgreserve.notifications.mail import external_url, send_mail
from zorgreserve.reference.models import Profession, Qualification
from zorgreserve.reservists.models import (
    BigRegistration,
    ExpiryReminder,
    Reservist,
    ReservistQualification,
    ReservistStatus,
    TrainingRecord,
    Verification,
)

JOB = "privacy.expiry_reminders"
DAYS_AHEAD = 30
BATCH_SIZE = 50
LOCAL = ZoneInfo("Europe/Amsterdam")


@dataclass
class DueItem:
    reservist_id: int
    item_type: str
    item_id: int
    expires_on: date


def send_expiry_reminders(reminder_ids: list[int] | None = None) -> int:
    """Outbox handler: find and record what is due (no ids), or send one batch (ids).

    Returns how many reminders were recorded, or how many e-mails were sent.
    """
    if reminder_ids is None:
        return queue_expiry_reminders()
    return mail_expiry_reminders(reminder_ids)


def local_today() -> date:
    """Expiry dates are Dutch calendar dates: "today" is today in Europe/Amsterdam."""
    return datetime.now(LOCAL).date()


def _eligible() -> Any:
    return and_(
        Reservist.erased_at.is_(None),
        Reservist.user_id.is_not(None),
        Reservist.status.in_((ReservistStatus.ACTIVE.value, ReservistStatus.PAUSED.value)),
    )


def _due(item_type: str, model: Any, expiry: Any, today: date, horizon: date) -> list[DueItem]:
    """One query for one kind of item: due within the window, not rejected, not yet reminded."""
    reminded = exists().where(
        ExpiryReminder.item_type == item_type,
        ExpiryReminder.item_id == model.id,
        ExpiryReminder.expires_on == expiry,
    )
    query = (
        select(model.reservist_id, model.id, expiry)
        .join(Reservist, Reservist.id == model.reservist_id)
        .where(_eligible(), expiry.is_not(None), expiry >= today, expiry <= horizon, ~reminded)
    )
    if hasattr(model, "verification"):
        query = query.where(model.verification != Verification.REJECTED.value)
    return [DueItem(rid, item_type, item_id, expires) for rid, item_id, expires in db.session.execute(query)]


def find_due(today: date | None = None) -> list[DueItem]:
    """Everything that expires within ``DAYS_AHEAD`` days and has no reminder for that date yet."""
    today = today or local_today()
    horizon = today + timedelta(days=DAYS_AHEAD)
    return (
        _due("qualification", ReservistQualification, ReservistQualification.expires_on, today, horizon)
        + _due("training", TrainingRecord, TrainingRecord.expires_on, today, horizon)
        + _due("big", BigRegistration, BigRegistration.reregistration_due, today, horizon)
    )


def queue_expiry_reminders(today: date | None = None) -> int:
    """Record a reminder per due item and queue their e-mails, in the caller's transaction."""
    due = find_due(today)
    if not due:
        return 0
    rows = [
        ExpiryReminder(
            reservist_id=item.reservist_id,
            item_type=item.item_type,
            item_id=item.item_id,
            expires_on=item.expires_on,
        )
        for item in due
    ]
    db.session.add_all(rows)
    db.session.flush()
    by_reservist: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        by_reservist[row.reservist_id].append(row.id)
    reservists = sorted(by_reservist)
    for start in range(0, len(reservists), BATCH_SIZE):
        batch = reservists[start : start + BATCH_SIZE]
        ids = [reminder_id for rid in batch for reminder_id in by_reservist[rid]]
        add_job(
            db.session, JOB, {"reminder_ids": ids}, description="expiry reminder e-mails", queue="messages"
        )
    return len(rows)


def _names(model: Any, label: Any, expiry: Any, ids: set[int], *joins: Any) -> dict[int, tuple[str, Any]]:
    if not ids:
        return {}
    query = select(model.id, label, expiry).where(model.id.in_(ids))
    for target, on in joins:
        query = query.join(target, on)
    return {item_id: (name, expires) for item_id, name, expires in db.session.execute(query)}


def _profile_link() -> str:
    """Where the reservist updates the item: their qualifications page, else their profile."""
    for endpoint in ("reservists.qualifications", "reservists.profile", "reservists.overview"):
        if endpoint in current_app.view_functions:
            return external_url(endpoint)
    return current_app.config["PUBLIC_URL"] + "/me/profile"


def mail_expiry_reminders(reminder_ids: list[int]) -> int:
    """Send one e-mail per reservist of the batch, listing their items still due on that date."""
    reminders = db.session.execute(
        select(ExpiryReminder, User)
        .join(Reservist, Reservist.id == ExpiryReminder.reservist_id)
        .join(User, User.id == Reservist.user_id)
        .where(ExpiryReminder.id.in_(reminder_ids), _eligible())
        .order_by(ExpiryReminder.expires_on, ExpiryReminder.id)
    ).all()
    ids: dict[str, set[int]] = defaultdict(set)
    for reminder, _user in reminders:
        ids[reminder.item_type].add(reminder.item_id)
    names = {
        "qualification": _names(
            ReservistQualification,
            Qualification.name,
            ReservistQualification.expires_on,
            ids["qualification"],
            (Qualification, Qualification.id == ReservistQualification.qualification_id),
        ),
        "training": _names(TrainingRecord, TrainingRecord.course, TrainingRecord.expires_on, ids["training"]),
        "big": _names(
            BigRegistration,
            Profession.name,
            BigRegistration.reregistration_due,
            ids["big"],
            (Profession, Profession.id == BigRegistration.profession_id),
        ),
    }
    per_user: dict[int, tuple[User, list[dict[str, Any]]]] = {}
    for reminder, user in reminders:
        name, current_expiry = names[reminder.item_type].get(reminder.item_id, (None, None))
        if name is None or current_expiry != reminder.expires_on:
            continue  # removed or changed since: the new date has a reminder of its own
        per_user.setdefault(user.id, (user, []))[1].append(
            {"kind": reminder.item_type, "name": name, "expires_on": reminder.expires_on}
        )
    if not per_user:
        return 0
    link = _profile_link()
    for user, items in per_user.values():
        send_mail(
            to=user.email,
            template="privacy/email/expiry",
            locale=user.locale,
            user=user,
            items=items,
            link=link,
            days=DAYS_AHEAD,
            format_date=format_date,
        )
    return len(per_user)
