"""Expiry reminders: 30 days ahead, once per item and expiry date, one e-mail per reservist."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import event, func, select

from tests.factories import ReservistFactory
from zorgreserve import db
from zorgreserve.jobs.services import add_job
from zorgreserve.privacy import reminders
from zorgreserve.privacy.services import erase_reservist
from zorgreserve.reference.models import Profession, Qualification
from zorgreserve.reservists.models import (
    BigRegistration,
    ExpiryReminder,
    Reservist,
    ReservistQualification,
    TrainingRecord,
)


def today() -> date:
    return reminders.local_today()


def holding(
    email: str,
    *,
    qualification_in: int | None = None,
    training_in: int | None = None,
    big_in: int | None = None,
    locale: str = "nl",
    **reservist: Any,
) -> Reservist:
    """A reservist whose items expire the given number of days from today."""
    person = ReservistFactory(user__email=email, user__locale=locale, **reservist)
    if qualification_in is not None:
        qualification = db.session.scalar(select(Qualification).where(Qualification.code == "verzorgende_ig"))
        db.session.add(
            ReservistQualification(
                reservist_id=person.id,
                qualification_id=qualification.id,
                obtained_on=date(2010, 1, 1),
                expires_on=today() + timedelta(days=qualification_in),
            )
        )
    if training_in is not None:
        db.session.add(
            TrainingRecord(
                reservist_id=person.id,
                course="BLS-herhaling",
                completed_on=date(2020, 1, 1),
                expires_on=today() + timedelta(days=training_in),
            )
        )
    if big_in is not None:
        profession = db.session.scalar(select(Profession).where(Profession.code == "verpleegkundige"))
        db.session.add(
            BigRegistration(
                reservist_id=person.id,
                profession_id=profession.id,
                big_number="19012345601",
                reregistration_due=today() + timedelta(days=big_in),
            )
        )
    db.session.commit()
    return person


def run_daily(ctx: Any, run_jobs: Any) -> int:
    """What the cron job does: queue the daily outbox job, then let the worker run everything."""
    with ctx():
        add_job(db.session, reminders.JOB, {}, description="daily expiry reminders")
        db.session.commit()
    run_jobs()
    return db.session.scalar(select(func.count(ExpiryReminder.id)))


def test_one_email_per_reservist_listing_each_item_once(database, ctx, run_jobs, mail_outbox):
    holding("due@example.org", qualification_in=10, training_in=30, big_in=0)
    holding("later@example.org", qualification_in=31, training_in=45, big_in=400)
    holding("expired@example.org", qualification_in=-1)

    assert run_daily(ctx, run_jobs) == 3
    assert [m.to for m in mail_outbox] == [["due@example.org"]]
    body = mail_outbox[0].body
    assert "Verzorgende IG" in body and "BLS-herhaling" in body and "Verpleegkundige" in body
    assert "http://zorgreserve.test/" in body

    # The next day's run (or a second run today) sends nothing more.
    assert run_daily(ctx, run_jobs) == 3
    assert len(mail_outbox) == 1


def test_a_changed_expiry_date_gets_a_new_reminder(database, ctx, run_jobs, mail_outbox):
    person = holding("renewed@example.org", qualification_in=5, training_in=20)
    run_daily(ctx, run_jobs)
    assert len(mail_outbox) == 1

    qualification = db.session.scalar(
        select(ReservistQualification).where(ReservistQualification.reservist_id == person.id)
    )
    qualification.expires_on = today() + timedelta(days=25)
    db.session.commit()
    assert run_daily(ctx, run_jobs) == 3
    assert len(mail_outbox) == 2
    second = mail_outbox[1].body
    assert "Verzorgende IG" in second and "BLS-herhaling" not in second


def test_nothing_for_erased_or_withdrawn_reservists_or_rejected_items(database, ctx, run_jobs, mail_outbox):
    erased = holding("erased@example.org", qualification_in=3)
    holding("withdrawn@example.org", training_in=3, status="withdrawn")
    rejected = holding("rejected@example.org", qualification_in=3)
    db.session.execute(
        ReservistQualification.__table__.update()
        .where(ReservistQualification.reservist_id == rejected.id)
        .values(verification="rejected")
    )
    db.session.commit()
    with ctx():
        erase_reservist(db.session.get(Reservist, erased.id))
        db.session.commit()
    assert run_daily(ctx, run_jobs) == 0
    assert mail_outbox == []


def test_paused_reservists_are_reminded_in_their_own_language(database, ctx, run_jobs, mail_outbox):
    holding(
        "paused@example.org",
        training_in=12,
        locale="en",
        status="paused",
        paused_until=today() + timedelta(days=60),
    )
    holding("dutch@example.org", training_in=12)
    run_daily(ctx, run_jobs)
    by_address = {m.to[0]: m for m in mail_outbox}
    assert set(by_address) == {"paused@example.org", "dutch@example.org"}
    assert "expires on" in by_address["paused@example.org"].body
    assert by_address["paused@example.org"].subject == "Something in your Zorgreserve record expires soon"
    assert by_address["dutch@example.org"].subject  # rendered in Dutch once the catalogue exists


def test_an_item_changed_between_recording_and_sending_is_left_out(database, ctx, run_jobs, mail_outbox):
    person = holding("changed@example.org", training_in=7, qualification_in=8)
    with ctx():
        assert reminders.queue_expiry_reminders() == 2
        db.session.commit()
    training = db.session.scalar(select(TrainingRecord).where(TrainingRecord.reservist_id == person.id))
    training.expires_on = today() + timedelta(days=300)
    db.session.commit()
    run_jobs()
    assert len(mail_outbox) == 1
    assert "BLS-herhaling" not in mail_outbox[0].body and "Verzorgende IG" in mail_outbox[0].body


def test_reminders_use_bulk_queries_not_one_per_reservist(app, database, ctx, run_jobs, mail_outbox):
    for n in range(60):
        holding(f"bulk{n}@example.org", qualification_in=n % 30, training_in=(n + 3) % 30)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    connection = db.session.connection()
    event.listen(connection, "before_cursor_execute", count)
    try:
        with ctx():
            assert reminders.queue_expiry_reminders() == 120
            scan_selects = len(statements)
            statements.clear()
            ids = list(db.session.scalars(select(ExpiryReminder.id)))
            statements.clear()
            assert reminders.mail_expiry_reminders(ids) == 60
            send_selects = len(statements)
            db.session.rollback()
    finally:
        event.remove(connection, "before_cursor_execute", count)
    assert scan_selects <= 3  # one query per kind of item, whatever the number of reservists
    assert send_selects <= 5  # the reminders with their users, then one query per kind of item
    assert len(mail_outbox) == 60
