"""The reservist's e-mail about a verification decision (outbox job ``verification.notify``).

The job carries ids and the outcome only; the text is made when it is sent, in
the reservist's language, from the item as it is then. A reservist erased
meanwhile gets nothing (erasure also drops the pending job). A rejection's
reason is read from the item: if the reservist already changed the item, the
reason was cleared with it and the e-mail says only that it was not verified.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import format_date

from zorgreserve import db
from zorgreserve.notifications.mail import external_url, send_mail
from zorgreserve.reservists.models import BigRegistration, Reservist, ReservistQualification, Verification
from zorgreserve.verification.services import local_today

OUTCOMES = ("verified", "rejected", "flagged")


def _record_link(item_type: str) -> str:
    """Where the reservist sees and corrects the item: their own pages, as far as they exist."""
    endpoints = (
        ("reservists.big", "reservists.overview")
        if item_type == "big"
        else ("reservists.qualifications", "reservists.overview")
    )
    for endpoint in endpoints:
        if endpoint in current_app.view_functions:
            return external_url(endpoint)
    return current_app.config["PUBLIC_URL"] + "/me/"


def send_verification_email(reservist_id: int, item_type: str, item_id: int, outcome: str) -> None:
    """Tell the reservist that an item was verified, rejected (with the reason) or needs a new check."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown verification outcome {outcome!r}")
    reservist = db.session.get(Reservist, reservist_id)
    if reservist is None or reservist.erased_at is not None or reservist.user is None:
        return
    model = BigRegistration if item_type == "big" else ReservistQualification
    item = db.session.get(model, item_id)
    if item is None or item.reservist_id != reservist.id:
        return  # removed meanwhile: nothing left to tell
    if isinstance(item, BigRegistration):
        name = item.profession.name
        due = item.reregistration_due
    else:
        name = item.qualification.name
        due = None
    reason = item.rejection_reason if item.verification == Verification.REJECTED.value else None
    decided_on = local_today(item.verified_at) if item.verified_at and outcome != "flagged" else None
    user = reservist.user
    send_mail(
        to=user.email,
        template="verification/email/decision",
        locale=user.locale,
        user=user,
        outcome=outcome,
        item_type=item_type,
        name=name,
        reason=reason,
        decided_on=decided_on,
        reregistration_due=due,
        link=_record_link(item_type),
        format_date=format_date,
    )
