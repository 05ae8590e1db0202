"""Delivery reports from the SMS provider: a message's state only ever moves forward.

``queued`` → ``sent`` → ``delivered`` or ``failed``. Providers repeat their callbacks
and send them out of order (an "accepted" may arrive after "delivered"), so each
report is one conditional UPDATE that applies only to a message in an earlier
state: a delivered message never goes back to sent, and two reports racing each
other cannot undo one another.

A report about a message that is still ``queued`` proves the provider has it:
the sender died after the hand-off and before recording it. Moving it on here
keeps the next sender from sending it again (providers without an idempotency
key, such as Vonage, would deliver a second SMS). Such reports find their
message through the dedupe key the sender passed along (Vonage's ``client-ref``),
as the provider's id was never recorded.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, or_, select, update

from zorgreserve import db
from zorgreserve.callups.models import Channel, Message, MessageStatus, Offer, OfferStatus

#: From which states each reported state may be reached.
_EARLIER = {
    MessageStatus.SENT.value: (MessageStatus.QUEUED.value,),
    MessageStatus.DELIVERED.value: (MessageStatus.QUEUED.value, MessageStatus.SENT.value),
    MessageStatus.FAILED.value: (MessageStatus.QUEUED.value, MessageStatus.SENT.value),
}


def record_delivery(
    *, provider_id: str, state: str, now: datetime, dedupe_key: str | None = None, error: str | None = None
) -> bool:
    """Apply one delivery report; ``True`` if it moved the message on. The caller commits.

    ``state`` is ``sent`` (the provider or carrier has it), ``delivered`` or ``failed``.
    A report for a message we do not know, or one already further along, changes nothing.
    """
    if state not in _EARLIER:
        raise ValueError(f"unknown delivery state {state!r}")
    match = Message.provider_id == provider_id
    if dedupe_key:
        match = or_(match, and_(Message.dedupe_key == dedupe_key, Message.channel == Channel.SMS.value))
    found = db.session.execute(
        select(Message.id, Message.offer_id, Message.kind).where(match).limit(1)
    ).first()
    if found is None:
        return False
    values: dict[str, object] = {
        "status": state,
        "provider_id": func.coalesce(Message.provider_id, provider_id[:80]),
        "sent_at": func.coalesce(Message.sent_at, now),
    }
    if state == MessageStatus.DELIVERED.value:
        values |= {"delivered_at": now, "error": None}
    elif state == MessageStatus.FAILED.value:
        values["error"] = (error or "provider reported failure")[:200]
    moved = db.session.execute(
        update(Message)
        .where(Message.id == found.id, Message.status.in_(_EARLIER[state]))
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved and found.offer_id and found.kind == "offer":
        # The offer went out, even if its sender died before saying so.
        db.session.execute(
            update(Offer)
            .where(Offer.id == found.offer_id, Offer.status == OfferStatus.PENDING.value)
            .values(status=OfferStatus.SENT.value, sent_at=now)
            .execution_options(synchronize_session=False)
        )
    return bool(moved)
