"""Reservists check themselves in with the shift's code shown at the location.

The institution shows or prints a short per-shift code (and a QR code that
opens the check-in page with it filled in). A signed-in reservist booked on
that shift enters it and is checked in at that moment, through the same
:func:`zorgreserve.shifts.roster.check_in` the staff use, so the booking moves
once and the actual start lands in the timesheet.

A code only ever opens the reservist's *own* booking: an unknown code, another
shift's code and the code of a shift they are not (or no longer) booked on all
give the same "not valid" answer, so trying codes tells nobody which shifts
exist. The page is rate limited per account and every attempt is audited.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.audit.services import record
from zorgreserve.callups.models import Booking, BookingStatus
from zorgreserve.db import utcnow
from zorgreserve.deployments.models import Shift, ShiftState
from zorgreserve.reservists.models import Reservist
from zorgreserve.shifts import roster
from zorgreserve.shifts.models import CheckinCode
from zorgreserve.shifts.services import ShiftError

B = BookingStatus

#: Letters and digits that cannot be mistaken for one another (no 0/O, 1/I/L).
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
#: 31⁶ ≈ 890 million codes; with the rate limit guessing one's own shift's code is hopeless.
LENGTH = 6
_CLEAN = re.compile(r"[\s\-.]")


class CheckinRefused(ShiftError):
    """A self check-in that did not happen; ``reason`` names why for the audit trail."""

    def __init__(self, message: object, reason: str, shift_id: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.shift_id = shift_id


def normalise(code: str | None) -> str:
    """What the reservist typed, as stored: upper case, without spaces, dashes or dots."""
    return _CLEAN.sub("", code or "").upper()


def _new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def existing_code(shift: Shift) -> str | None:
    return db.session.scalar(select(CheckinCode.code).where(CheckinCode.shift_id == shift.id))


def code_for(user: User, shift: Shift) -> str:
    """The shift's check-in code, made the first time anyone asks (two staff asking at once get one)."""
    found = existing_code(shift)
    if found:
        return found
    for _attempt in range(5):
        code = _new_code()
        try:
            with db.session.begin_nested():
                db.session.add(CheckinCode(shift_id=shift.id, code=code, created_by_id=user.id))
        except IntegrityError:
            # Either another request made this shift's code just now, or the code was taken.
            found = existing_code(shift)
            if found:
                return found
            continue
        record("checkin_code.created", actor=user, subject_type="shift", subject_id=shift.id)
        return code
    raise RuntimeError("no free check-in code after 5 attempts")


@dataclass(frozen=True)
class CheckedIn:
    booking: Booking
    shift: Shift


def _invalid() -> CheckinRefused:
    return CheckinRefused(_l("This code is not valid for any shift of yours."), "not_valid")


def check_in_with_code(
    user: User, reservist: Reservist, code: str | None, now: datetime | None = None
) -> CheckedIn:
    """Check the reservist in on their booking of the shift with ``code``, at ``now``.

    Allowed from ``SHIFT_HOURS_TOLERANCE_MINUTES`` before the shift's start until
    its end, for an approved booking of an active shift. Raises
    :class:`CheckinRefused` (nothing changed) otherwise.
    """
    now = now or utcnow()
    code = normalise(code)
    if len(code) != LENGTH or any(ch not in ALPHABET for ch in code):
        raise _invalid()
    row = db.session.execute(
        select(Booking, Shift)
        .join(Shift, Shift.id == Booking.shift_id)
        .join(CheckinCode, CheckinCode.shift_id == Shift.id)
        .where(CheckinCode.code == code, Booking.reservist_id == reservist.id)
    ).first()
    # Not booked, or no longer: the same answer as an unknown code.
    if row is None or row[0].status in (B.CANCELLED.value, B.REJECTED.value):
        raise _invalid()
    booking, shift = row
    if booking.status in (B.CHECKED_IN.value, B.COMPLETED.value):
        raise CheckinRefused(_l("You are already checked in for this shift."), "already", shift.id)
    if shift.state != ShiftState.ACTIVE.value:
        raise CheckinRefused(_l("This shift is cancelled."), "cancelled", shift.id)
    if booking.status == B.ACCEPTED.value:
        raise CheckinRefused(
            _l("Your deployment on this shift is not approved yet. Please report to the contact person."),
            "not_approved",
            shift.id,
        )
    if booking.status == B.NO_SHOW.value:
        raise CheckinRefused(
            _l("The institution recorded you as absent. Please report to the contact person."),
            "no_show",
            shift.id,
        )
    opens = shift.start_at - roster.tolerance()
    if now < opens:
        raise CheckinRefused(
            _l("Check-in for this shift opens %(minutes)s minutes before its start.", minutes=_minutes()),
            "too_early",
            shift.id,
        )
    if now >= shift.end_at:
        raise CheckinRefused(_l("This shift has ended; check-in is closed."), "ended", shift.id)
    try:
        roster.check_in(user, booking, shift, now, now=now)
    except ShiftError as exc:
        raise CheckinRefused(exc.message, "refused", shift.id) from exc
    record(
        "checkin_code.used",
        actor=user,
        subject_type="booking",
        subject_id=booking.id,
        shift_id=shift.id,
        reservist_id=reservist.id,
    )
    return CheckedIn(booking, shift)


def _minutes() -> int:
    return int(roster.tolerance().total_seconds() // 60)


def record_refusal(user: User, refusal: CheckinRefused) -> None:
    """Audit a refused attempt (the code typed is not kept: it may be a near miss of a real one)."""
    record(
        "checkin_code.refused",
        actor=user,
        subject_type="shift" if refusal.shift_id else None,
        subject_id=refusal.shift_id,
        reason=refusal.reason,
    )
