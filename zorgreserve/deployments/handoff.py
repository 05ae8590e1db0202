"""Outbox job handlers that hand deployment requests on to call-ups (``docs/callups.md``).

- ``deployments.request_opened`` (args ``request_id``) is written in the same
  transaction that opens a request. Its handler records the hand-off time on the
  request (``handed_off_at``), once, and only while the request is still
  running, and starts call-ups: wave 1 from the matching engine
  (``callups.waves.start_callups``, which finds the wave when it exists).
- ``deployments.request_changed`` (args ``request_id``, ``change``, ``shift_ids``)
  is written when a running request changes: ``headcount`` (places went up),
  ``shifts_added``, ``places_reduced``, ``shift_cancelled``, ``cancelled`` or
  ``closed``, and when a place reopens (``booking_cancelled`` by the reservist,
  ``booking_rejected`` by a coordinator). A place more or a place reopened → the
  call-up clock's next step is taken now (``escalation.consider``: the stand-by
  list first, then a new wave, or the ``too_near`` alert); a cancelled shift or
  request, or places lowered until the shift is full → open offers are withdrawn
  and their holders told. Booked reservists are told by the change itself, in
  its own transaction (``callups.changes``).

Both handlers are idempotent: running one twice changes nothing the second time.
"""

from __future__ import annotations

import logging

from sqlalchemy import update

from zorgreserve import db
from zorgreserve.db import utcnow
from zorgreserve.deployments.models import RUNNING, DeploymentRequest

log = logging.getLogger(__name__)


def request_opened(request_id: int) -> None:
    """Record the hand-off (once; ignored once the request has ended) and start call-ups: wave 1.

    Idempotent twice over: ``handed_off_at`` is set by one conditional update, and
    ``start_callups`` finds the first wave when it exists already.
    """
    from zorgreserve.callups.waves import start_callups

    result = db.session.execute(
        update(DeploymentRequest)
        .where(
            DeploymentRequest.id == request_id,
            DeploymentRequest.handed_off_at.is_(None),
            DeploymentRequest.status.in_([s.value for s in RUNNING]),
        )
        .values(handed_off_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    log.info("deployment request %s opened; handed off: %s", request_id, bool(result.rowcount))
    wave = start_callups(request_id)
    log.info("deployment request %s: first wave %s", request_id, wave.id if wave else None)


#: Changes that open places: the call-up clock's next step is taken at once.
MORE_PLACES = frozenset({"headcount", "shifts_added", "booking_cancelled", "booking_rejected"})


def request_changed(request_id: int, change: str, shift_ids: list[int] | None = None) -> None:
    """A running request changed: withdraw offers that can no longer be answered, or call up more.

    ``cancelled``/``closed``: every open offer is withdrawn. ``shift_cancelled``: the
    shift is taken out of open offers. ``places_reduced``: offers of shifts now full
    are withdrawn (their holders told). :data:`MORE_PLACES`: the next step is
    considered now instead of at the next tick — the stand-by list first, then a
    new wave (if a wave is still out, the tick sends the next one when it closes).
    Running it twice changes nothing the second time: withdrawn offers are not
    open any more, messages have unique dedupe keys, and the wave number is unique.
    """
    from zorgreserve.callups import booking, escalation
    from zorgreserve.callups.waves import refresh_offered

    now = utcnow()
    log.info("deployment request %s changed: %s (%s shifts)", request_id, change, len(shift_ids or []))
    if change in ("cancelled", "closed"):
        escalation.withdraw_open_offers(request_id, now)
        return
    if change in ("shift_cancelled", "places_reduced"):
        booking.withdraw_open_offers_for_filled_shifts(
            db.session, shift_ids or [], now, notify_all=change == "places_reduced"
        )
        refresh_offered(shift_ids or [])
        return
    if change in MORE_PLACES:
        request = db.session.get(DeploymentRequest, request_id)
        if request is not None:
            escalation.close_waves(now)  # waves left without open offers by the change, as the tick would
            escalation.consider(request, now)
