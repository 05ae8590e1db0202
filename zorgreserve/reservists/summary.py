"""What a reservist still has to do on their record, for the overview page.

Each :class:`Task` is one sentence with a link to the page that fixes it, and a
level: ``todo`` (the reservist must act: missing BIG registration, rejection,
expiry), ``waiting`` (a coordinator must act: verification) or ``info``
(status). Expiry warnings start :data:`WARN_DAYS` days ahead, the same window as
the reminder e-mails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import format_date, ngettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.reservists.credentials import missing_big_registrations
from zorgreserve.reservists.models import (
    Channel,
    Reservist,
    ReservistQualification,
    ReservistStatus,
    Verification,
)

WARN_DAYS = 30


@dataclass
class Task:
    level: str  # todo | waiting | info
    message: Any
    endpoint: str
    values: dict[str, Any] = field(default_factory=dict)


def load_record(reservist_id: int) -> Reservist:
    """The whole record for the overview with a fixed number of queries."""
    reservist = db.session.scalar(
        select(Reservist)
        .where(Reservist.id == reservist_id)
        .options(
            selectinload(Reservist.qualifications).selectinload(ReservistQualification.evidence),
            selectinload(Reservist.big_registrations),
            selectinload(Reservist.trainings),
            selectinload(Reservist.skills),
            selectinload(Reservist.regions),
        )
        .execution_options(populate_existing=True)
    )
    assert reservist is not None  # the caller got the id from reservist_for_user
    return reservist


def _expiry(name: str, expires_on: date | None, today: date, endpoint: str, **values: Any) -> Task | None:
    if expires_on is None:
        return None
    days = (expires_on - today).days
    if days < 0:
        message = _l("%(name)s expired on %(date)s.", name=name, date=format_date(expires_on))
    elif days <= WARN_DAYS:
        message = ngettext(
            "%(name)s expires in %(num)s day (%(date)s).",
            "%(name)s expires in %(num)s days (%(date)s).",
            days,
            name=name,
            date=format_date(expires_on),
        )
    else:
        return None
    return Task("todo", message, endpoint, values)


def _profile_tasks(user: User, reservist: Reservist) -> list[Task]:
    tasks = []
    if user.email_verified_at is None:
        tasks.append(
            Task(
                "todo",
                _l("Confirm your e-mail address with the link we sent to %(email)s.", email=user.email),
                "reservists.profile",
            )
        )
    if reservist.pc4 is None:
        tasks.append(
            Task("todo", _l("Add your home postcode, so we can call you up nearby."), "reservists.profile")
        )
    if not user.phone and reservist.channels != Channel.EMAIL:
        tasks.append(
            Task(
                "todo", _l("Add your mobile number: call-ups are sent by text message."), "reservists.profile"
            )
        )
    return tasks


def _big_tasks(reservist: Reservist, today: date) -> list[Task]:
    tasks = []
    for profession, qualifications in missing_big_registrations(reservist).items():
        tasks.append(
            Task(
                "todo",
                _l(
                    "Add your BIG registration as %(profession)s: %(qualifications)s needs it.",
                    profession=profession,
                    qualifications=", ".join(qualifications),
                ),
                "reservists.big",
            )
        )
    for b in reservist.big_registrations:
        link = {"registration_id": b.id}
        name = b.profession.name
        if b.verification == Verification.REJECTED:
            tasks.append(
                Task(
                    "todo",
                    _l(
                        "Your BIG registration as %(profession)s was rejected: %(reason)s",
                        profession=name,
                        reason=b.rejection_reason or "—",
                    ),
                    "reservists.big_edit",
                    link,
                )
            )
        elif b.verification == Verification.UNVERIFIED:
            tasks.append(
                Task(
                    "waiting",
                    _l("Your BIG registration as %(profession)s awaits verification.", profession=name),
                    "reservists.big_edit",
                    link,
                )
            )
        if b.reregistration_due is not None and (b.reregistration_due - today).days <= WARN_DAYS:
            tasks.append(
                Task(
                    "todo",
                    _l(
                        "Your BIG registration as %(profession)s is due for re-registration on %(date)s.",
                        profession=name,
                        date=format_date(b.reregistration_due),
                    ),
                    "reservists.big_edit",
                    link,
                )
            )
    return tasks


def _qualification_tasks(reservist: Reservist, today: date) -> list[Task]:
    if not reservist.qualifications:
        return [Task("todo", _l("Add the qualifications you hold."), "reservists.qualification_add")]
    tasks = []
    for held in sorted(reservist.qualifications, key=lambda q: q.qualification.name):
        name = held.qualification.name
        link = {"held_id": held.id}
        if held.verification == Verification.REJECTED:
            message = _l("%(name)s was rejected: %(reason)s", name=name, reason=held.rejection_reason or "—")
            tasks.append(Task("todo", message, "reservists.qualification_edit", link))
        elif held.verification == Verification.UNVERIFIED:
            message = _l("%(name)s awaits verification.", name=name)
            tasks.append(Task("waiting", message, "reservists.qualification_edit", link))
        if held.qualification.further_evidence and held.evidence_id is None:
            message = _l(
                "Upload your evidence for %(name)s: %(evidence)s.",
                name=name,
                evidence=held.qualification.further_evidence,
            )
            tasks.append(Task("todo", message, "reservists.qualification_edit", link))
        task = _expiry(name, held.expires_on, today, "reservists.qualification_edit", **link)
        if task:
            tasks.append(task)
    return tasks


def _status_tasks(reservist: Reservist, today: date) -> list[Task]:
    if reservist.status == ReservistStatus.WITHDRAWN:
        message = _l("You have left the reserve. Set your status to active to rejoin.")
        return [Task("info", message, "reservists.status")]
    if reservist.status == ReservistStatus.PAUSED and reservist.paused_until is not None:
        if reservist.paused_until >= today:
            message = _l(
                "You are paused until %(date)s: no call-ups until then.",
                date=format_date(reservist.paused_until),
            )
        else:
            message = _l(
                "Your pause ended on %(date)s: you can be called up again.",
                date=format_date(reservist.paused_until),
            )
        return [Task("info", message, "reservists.status")]
    return []


def tasks_for(user: User, reservist: Reservist, today: date) -> list[Task]:
    """Everything still to do on the record, the reservist's own actions first."""
    tasks = (
        _profile_tasks(user, reservist)
        + _big_tasks(reservist, today)
        + _qualification_tasks(reservist, today)
        + [
            task
            for t in reservist.trainings
            if (task := _expiry(t.course, t.expires_on, today, "reservists.training_edit", training_id=t.id))
        ]
        + _status_tasks(reservist, today)
    )
    order = {"todo": 0, "waiting": 1, "info": 2}
    return sorted(tasks, key=lambda task: order[task.level])
