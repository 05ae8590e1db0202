"""The call-up clock: expire offers, close waves, send the next wave, raise alerts.

Everything here is driven from the database by :func:`tick`, which the cron
runs every minute (``worker.jobs.callups_tick``). Nothing depends on a delayed
job surviving in Redis: a lost queue or a dead worker delays the next tick's
work by a minute and loses none. Each request is handled in its own
transaction, so one broken request cannot hold up the others, and each step is
idempotent (running the tick twice at once makes one wave: the wave number is
unique per request).

Per request with places still open, call-ups running (not paused or stopped
by a coordinator), a reopened place on a shift that starts after the lead-time
cut-off goes to the shift's stand-by list first (:mod:`zorgreserve.callups.followup`),
even while another wave is out. Then, with no wave out:

* the first open shift starts within ``CALLUP_MIN_LEAD_MINUTES``: no new wave,
  alert ``too_near`` on the coordinators' overview (people called up now could
  not arrive in time; the coordinator phones around);
* otherwise the next wave, one rung further up the ladder (``waves.ladder``);
  when no rung finds anybody, alert ``no_candidates`` and look again after
  ``CALLUP_RETRY_MINUTES``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError

from zorgreserve import db
from zorgreserve.audit.services import record
from zorgreserve.callups import followup, waves
from zorgreserve.callups.models import (
    OPEN_OFFER,
    CallupControl,
    CallupState,
    Offer,
    OfferShift,
    OfferShiftStatus,
    OfferStatus,
    Wave,
    WaveStatus,
)
from zorgreserve.deployments.models import RUNNING, DeploymentRequest, RequestStatus, Shift, ShiftState

log = logging.getLogger(__name__)


@dataclass
class TickReport:
    expired: int = 0
    closed_waves: int = 0
    new_waves: list[int] = field(default_factory=list)
    alerts: dict[int, str] = field(default_factory=dict)
    withdrawn: int = 0


def expire_offers(now: datetime) -> int:
    """Offers past their expiry without an answer: expired, with their offered shifts."""
    ids = list(
        db.session.scalars(
            select(Offer.id).where(Offer.status.in_([s.value for s in OPEN_OFFER]), Offer.expires_at <= now)
        )
    )
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        shift_ids = set(db.session.scalars(select(OfferShift.shift_id).where(OfferShift.offer_id.in_(chunk))))
        db.session.execute(
            update(OfferShift)
            .where(OfferShift.offer_id.in_(chunk), OfferShift.status == OfferShiftStatus.OFFERED.value)
            .values(status=OfferShiftStatus.EXPIRED.value, answered_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.execute(
            update(Offer)
            .where(Offer.id.in_(chunk), Offer.status.in_([s.value for s in OPEN_OFFER]))
            .values(status=OfferStatus.EXPIRED.value)
            .execution_options(synchronize_session=False)
        )
        waves.refresh_offered(shift_ids)
    return len(ids)


def close_waves(now: datetime) -> int:
    """Sent waves whose offers are all answered, expired or withdrawn: closed."""
    still_open = exists().where(Offer.wave_id == Wave.id, Offer.status.in_([s.value for s in OPEN_OFFER]))
    result = db.session.execute(
        update(Wave)
        .where(Wave.status == WaveStatus.SENT.value, ~still_open)
        .values(status=WaveStatus.CLOSED.value, closed_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def _set_alert(control: CallupControl, alert: str | None, now: datetime) -> None:
    if control.alert != alert:
        control.alert, control.alert_at = alert, (now if alert else None)


def consider(request: DeploymentRequest, now: datetime, *, created_by_id: int | None = None) -> Wave | None:
    """Decide for one request whether the next wave goes out now, and write it if so."""
    if request.status_enum not in RUNNING:
        return None
    control = waves.control_for(request.id, lock=True)  # one decision per request at a time
    if control.state != CallupState.RUNNING.value:
        return None
    shifts = waves.open_shifts(request, now)
    if not shifts:
        _set_alert(control, None, now)
        return None
    lead = timedelta(minutes=current_app.config["CALLUP_MIN_LEAD_MINUTES"])
    # A reopened place goes to the people who said yes when the shift was full, before anyone new.
    standby = followup.offer_standby(
        request, [s for s in shifts if s.start_at > now + lead], now, created_by_id=created_by_id
    )
    if standby is not None:
        return standby
    if waves.open_wave(request.id) is not None:
        return None
    if min(s.start_at for s in shifts) <= now + lead:
        if control.alert != "too_near":
            _set_alert(control, "too_near", now)
            record("callups.too_near", subject_type="deployment_request", subject_id=request.id)
        return None
    if control.alert == "too_near":
        _set_alert(control, None, now)
    retry = timedelta(minutes=current_app.config["CALLUP_RETRY_MINUTES"])
    if control.alert == "no_candidates" and control.searched_at and control.searched_at > now - retry:
        return None
    has_waves = db.session.scalar(select(exists().where(Wave.request_id == request.id)))
    step = control.ladder_step + 1 if has_waves else 0
    return waves.next_wave(request, now=now, created_by_id=created_by_id, from_step=step)


def _withdraw_filled(now: datetime) -> int:
    """Open offers listing shifts that filled or were cancelled meanwhile (booking usually does this)."""
    from zorgreserve.callups import booking

    shift_ids = list(
        db.session.scalars(
            select(OfferShift.shift_id)
            .join(Shift, Shift.id == OfferShift.shift_id)
            .join(Offer, Offer.id == OfferShift.offer_id)
            .where(
                OfferShift.status == OfferShiftStatus.OFFERED.value,
                Offer.status.in_([s.value for s in OPEN_OFFER]),
                (Shift.booked >= Shift.places) | (Shift.state != ShiftState.ACTIVE.value),
            )
            .distinct()
        )
    )
    if not shift_ids:
        return 0
    withdrawn = booking.withdraw_open_offers_for_filled_shifts(db.session, shift_ids, now)
    waves.refresh_offered(shift_ids)
    return withdrawn


def tick(now: datetime | None = None) -> TickReport:
    """One run of the call-up clock. Commits per step and per request."""
    from zorgreserve.callups.sending import retry_stuck_messages

    now = now or db.utcnow()
    report = TickReport()
    report.expired = expire_offers(now)
    report.withdrawn = _withdraw_filled(now)
    report.closed_waves = close_waves(now)
    retry_stuck_messages(now)
    db.session.commit()
    candidates = list(
        db.session.scalars(
            select(DeploymentRequest.id)
            .where(
                DeploymentRequest.status.in_([RequestStatus.OPEN.value, RequestStatus.PARTIALLY_FILLED.value])
            )
            .order_by(DeploymentRequest.id)
        )
    )
    for request_id in candidates:
        try:
            request = db.session.get(DeploymentRequest, request_id)
            if request is None:
                continue
            wave = consider(request, now)
            control = db.session.get(CallupControl, request_id)
            if wave is not None:
                report.new_waves.append(wave.id)
            if control is not None and control.alert:
                report.alerts[request_id] = control.alert
            db.session.commit()
        except IntegrityError:  # another tick (or a coordinator) made this wave a moment ago
            db.session.rollback()
        except Exception:
            db.session.rollback()
            log.exception("call-up tick failed for request %s", request_id)
    return report


# Coordinator controls ---------------------------------------------------------------------


def set_state(request: DeploymentRequest, state: CallupState, actor: object, now: datetime) -> bool:
    """Pause, resume or stop call-ups for a request; returns whether anything changed.

    Stopping withdraws the offers still waiting for an answer (their shifts stay
    open for the coordinator to fill otherwise); pausing keeps them valid.
    """
    control = waves.control_for(request.id, lock=True)
    if control.state == state.value or control.state == CallupState.STOPPED.value:
        return False
    control.state = state.value
    control.changed_at, control.changed_by_id = now, getattr(actor, "id", None)
    if state is CallupState.STOPPED:
        withdraw_open_offers(request.id, now)
    record(
        f"callups.{state.value}",
        actor=actor,
        subject_type="deployment_request",
        subject_id=request.id,
    )
    return True


def withdraw_open_offers(request_id: int, now: datetime) -> int:
    """Withdraw every offer of a request still waiting for an answer (request cancelled, closed, stopped).

    Their holders are told they need not answer (``changes.notify_withdrawn``: once per
    offer and channel, only where the offer reached them and a shift still lies ahead).
    """
    from zorgreserve.callups.changes import notify_withdrawn

    offers = list(
        db.session.scalars(
            select(Offer)
            .where(Offer.request_id == request_id, Offer.status.in_([s.value for s in OPEN_OFFER]))
            .order_by(Offer.id)
            .with_for_update(key_share=True)
        )
    )
    if not offers:
        return 0
    ids = [o.id for o in offers]
    shift_ids = set(db.session.scalars(select(OfferShift.shift_id).where(OfferShift.offer_id.in_(ids))))
    db.session.execute(
        update(OfferShift)
        .where(OfferShift.offer_id.in_(ids), OfferShift.status == OfferShiftStatus.OFFERED.value)
        .values(status=OfferShiftStatus.WITHDRAWN.value, answered_at=now)
        .execution_options(synchronize_session=False)
    )
    for offer in offers:
        offer.status = OfferStatus.WITHDRAWN.value
    db.session.execute(
        update(Wave)
        .where(Wave.request_id == request_id, Wave.status != WaveStatus.CLOSED.value)
        .values(status=WaveStatus.CLOSED.value, closed_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
    waves.refresh_offered(shift_ids)
    notify_withdrawn(db.session, offers, now)
    return len(offers)


def send_next_wave_now(request: DeploymentRequest, actor: object, now: datetime) -> Wave | None:
    """A coordinator asks for the next wave at once (e.g. after raising the headcount)."""
    wave = consider(request, now, created_by_id=getattr(actor, "id", None))
    if wave is not None:
        record("callups.next_wave", actor=actor, subject_type="deployment_request", subject_id=request.id)
    return wave


def alerts_for(request_ids: list[int], now: datetime | None = None) -> dict[int, str]:
    """Alerts to show on the coordinators' overview, by request id.

    The call-up clock's own (``too_near``, ``no_candidates``) first; otherwise
    ``no_show`` when someone who did not come to a shift of the request is booked on
    a later one (``followup.at_risk``).
    """
    if not request_ids:
        return {}
    alerts: dict[int, str] = dict(
        db.session.execute(
            select(CallupControl.request_id, CallupControl.alert).where(
                CallupControl.request_id.in_(request_ids), CallupControl.alert.is_not(None)
            )
        ).all()
    )
    for request_id in followup.at_risk(request_ids, now or db.utcnow()):
        alerts.setdefault(request_id, "no_show")
    return alerts
