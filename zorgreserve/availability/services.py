"""The reservist's own availability: reading it and changing it, with the rules for bad input.

Time arithmetic lives in :mod:`zorgreserve.availability.timeline` (pure) and the
many-reservists queries in :mod:`zorgreserve.availability.search`; both are
re-exported here so callers need one import.

Choices:

- **Overlapping weekly windows are refused**, identical ones included, with a
  message naming the window in the way. Merging would silently reshape windows
  the reservist typed (and a merge can exceed the 24 hours one window holds).
  Windows that only touch (Monday 07:00–17:00 and 17:00–23:00) are fine. A
  preset that overlaps anything is refused as a whole: nothing half-added.
- At most :data:`MAX_WINDOWS` weekly windows and :data:`MAX_PERIODS` periods
  that are not over yet, so a record stays readable and cheap to evaluate.
- Stand-by ends in the future and at most :data:`MAX_STANDBY` ahead: a
  forgotten switch must not keep someone "on call" for weeks.

Services flush; the view commits. Every change writes an audit event with
codes and times only (a period's free-text note never goes into the audit).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select

from zorgreserve import db
from zorgreserve.audit.services import record
from zorgreserve.availability.calendar import window_label
from zorgreserve.availability.models import AvailabilityPeriod, PeriodKind, PeriodReason, WeeklyWindow
from zorgreserve.availability.search import (
    availability_prefilter,
    load_availabilities,
    reservist_ids_available_between,
)
from zorgreserve.availability.timeline import (
    MINUTES_PER_DAY,
    Availability,
    Interval,
    Window,
    available_intervals,
    blocked_intervals,
    covers,
    same_window,
    standby_interval,
    windows_overlap,
)
from zorgreserve.db import utcnow
from zorgreserve.reservists.models import Reservist

__all__ = [
    "Availability",
    "AvailabilityRefused",
    "Interval",
    "Window",
    "availability_of",
    "availability_prefilter",
    "available_intervals",
    "blocked_intervals",
    "covers",
    "load_availabilities",
    "reservist_ids_available_between",
]

MAX_WINDOWS = 28
MAX_PERIODS = 100
MAX_PERIOD_LENGTH = timedelta(days=366)
MAX_STANDBY = timedelta(hours=72)

#: Quick starts on the page (weekday 0 = Monday; minutes of the day, end at or before start = next day).
PRESETS: dict[str, tuple[Window, ...]] = {
    "weekdays": tuple(Window(day, 7 * 60, 17 * 60) for day in range(5)),
    "evenings": tuple(Window(day, 17 * 60, 23 * 60) for day in range(7)),
    "nights": tuple(Window(day, 23 * 60, 7 * 60) for day in range(7)),
    "weekends": tuple(Window(day, 0, MINUTES_PER_DAY) for day in (5, 6)),
}


class AvailabilityRefused(ValueError):
    """Bad input: ``message`` (translated) belongs at form field ``field``; nothing was changed."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class NotYours(LookupError):
    """No such window or period of this reservist (answered as 404)."""


# Reading -------------------------------------------------------------------------------


def windows_of(reservist: Reservist) -> list[WeeklyWindow]:
    return list(
        db.session.scalars(
            select(WeeklyWindow)
            .where(WeeklyWindow.reservist_id == reservist.id)
            .order_by(WeeklyWindow.weekday, WeeklyWindow.start_minute, WeeklyWindow.id)
        )
    )


def periods_of(reservist: Reservist, *, now: datetime | None = None) -> list[AvailabilityPeriod]:
    """The periods that are not over yet, soonest first."""
    return list(
        db.session.scalars(
            select(AvailabilityPeriod)
            .where(
                AvailabilityPeriod.reservist_id == reservist.id,
                AvailabilityPeriod.ends_at > (now or utcnow()),
            )
            .order_by(AvailabilityPeriod.starts_at, AvailabilityPeriod.id)
        )
    )


def availability_of(reservist: Reservist, *, now: datetime | None = None) -> Availability:
    """Everything the reservist declared that is not over, ready for :mod:`timeline`."""
    now = now or utcnow()
    return Availability(
        tuple(windows_of(reservist)),
        tuple(periods_of(reservist, now=now)),
        standby_interval(reservist.standby_until, now),
    )


def window_of(reservist: Reservist, window_id: int) -> WeeklyWindow:
    window = db.session.get(WeeklyWindow, window_id)
    if window is None or window.reservist_id != reservist.id:
        raise NotYours(window_id)
    return window


def period_of(reservist: Reservist, period_id: int) -> AvailabilityPeriod:
    period = db.session.get(AvailabilityPeriod, period_id)
    if period is None or period.reservist_id != reservist.id:
        raise NotYours(period_id)
    return period


# Weekly windows --------------------------------------------------------------------------


def _window(weekday: int, start_minute: int, end_minute: int) -> Window:
    """A valid window from form values; an end of 00:00 means midnight at the end of the day."""
    if start_minute == end_minute:
        raise AvailabilityRefused("end", _("Start and end cannot be the same time."))
    if end_minute == 0:
        end_minute = MINUTES_PER_DAY
    return Window(weekday, start_minute, end_minute)


def _check_against(new: Window, others: Iterable[WeeklyWindow | Window]) -> None:
    for other in others:
        if same_window(new, other):
            raise AvailabilityRefused(
                "days", _("You already have these times: %(window)s.", window=window_label(other))
            )
        if windows_overlap(new, other):
            raise AvailabilityRefused(
                "days",
                _(
                    "%(new)s overlaps your weekly time %(window)s. Change or remove that one first.",
                    new=window_label(new),
                    window=window_label(other),
                ),
            )


def _audit(action: str, reservist: Reservist, **details: object) -> None:
    record(
        f"availability.{action}",
        subject_type="reservist",
        subject_id=reservist.id,
        subject_user_id=reservist.user_id,
        **details,
    )


def _window_details(window: WeeklyWindow | Window) -> dict[str, int]:
    return {"weekday": window.weekday, "start_minute": window.start_minute, "end_minute": window.end_minute}


def add_windows(reservist: Reservist, specs: Iterable[tuple[int, int, int]]) -> list[WeeklyWindow]:
    """Add weekly windows ``(weekday, start_minute, end_minute)``: all of them, or none (refused)."""
    wanted = [_window(*spec) for spec in specs]
    existing: list[WeeklyWindow | Window] = list(windows_of(reservist))
    if len(existing) + len(wanted) > MAX_WINDOWS:
        raise AvailabilityRefused(
            "days",
            _("You can have at most %(max)d weekly times. Remove one first.", max=MAX_WINDOWS),
        )
    for window in wanted:
        _check_against(window, existing)
        existing.append(window)
    rows = [WeeklyWindow(reservist_id=reservist.id, **_window_details(w)) for w in wanted]
    db.session.add_all(rows)
    db.session.flush()
    for row in rows:
        _audit("window_added", reservist, window_id=row.id, **_window_details(row))
    return rows


def add_preset(reservist: Reservist, name: str) -> list[WeeklyWindow]:
    if name not in PRESETS:
        raise AvailabilityRefused("preset", _("Choose one of the quick starts."))
    return add_windows(reservist, [(w.weekday, w.start_minute, w.end_minute) for w in PRESETS[name]])


def change_window(reservist: Reservist, window: WeeklyWindow, weekday: int, start: int, end: int) -> None:
    """Change one of the reservist's windows (``window`` comes from :func:`window_of`)."""
    new = _window(weekday, start, end)
    _check_against(new, [w for w in windows_of(reservist) if w.id != window.id])
    before = _window_details(window)
    window.weekday, window.start_minute, window.end_minute = new.weekday, new.start_minute, new.end_minute
    db.session.flush()
    _audit("window_changed", reservist, window_id=window.id, before=before, after=_window_details(window))


def remove_window(reservist: Reservist, window: WeeklyWindow) -> None:
    _audit("window_removed", reservist, window_id=window.id, **_window_details(window))
    db.session.delete(window)
    db.session.flush()


# Dated periods ---------------------------------------------------------------------------


def add_period(
    reservist: Reservist,
    *,
    kind: str,
    reason: str,
    starts_at: datetime,
    ends_at: datetime,
    note: str | None = None,
    now: datetime | None = None,
) -> AvailabilityPeriod:
    """Add a dated period (UTC instants). An available period has no reason (``other``)."""
    now = now or utcnow()
    if kind not in {k.value for k in PeriodKind}:
        raise AvailabilityRefused("kind", _("Choose available or not available."))
    if reason not in {r.value for r in PeriodReason}:
        raise AvailabilityRefused("reason", _("Choose a reason."))
    if ends_at <= starts_at:
        raise AvailabilityRefused("end_date", _("The end must be after the start."))
    if ends_at <= now:
        raise AvailabilityRefused("end_date", _("This period is already over."))
    if ends_at - starts_at > MAX_PERIOD_LENGTH:
        raise AvailabilityRefused(
            "end_date", _("A period can last at most a year. For a longer break, pause your membership.")
        )
    ahead = db.session.scalar(
        select(func.count())
        .select_from(AvailabilityPeriod)
        .where(AvailabilityPeriod.reservist_id == reservist.id, AvailabilityPeriod.ends_at > now)
    )
    if (ahead or 0) >= MAX_PERIODS:
        raise AvailabilityRefused(
            "kind", _("You can have at most %(max)d periods ahead. Remove one first.", max=MAX_PERIODS)
        )
    if kind == PeriodKind.AVAILABLE:
        reason = PeriodReason.OTHER.value
    period = AvailabilityPeriod(
        reservist_id=reservist.id,
        kind=kind,
        reason=reason,
        starts_at=starts_at,
        ends_at=ends_at,
        note=(note or "").strip() or None,
    )
    db.session.add(period)
    db.session.flush()
    _audit(
        "period_added",
        reservist,
        period_id=period.id,
        kind=kind,
        reason=reason,
        starts_at=starts_at.isoformat(),
        ends_at=ends_at.isoformat(),
    )
    return period


def remove_period(reservist: Reservist, period: AvailabilityPeriod) -> None:
    _audit("period_removed", reservist, period_id=period.id, kind=period.kind, reason=period.reason)
    db.session.delete(period)
    db.session.flush()


# Stand-by --------------------------------------------------------------------------------


def switch_standby_on(reservist: Reservist, until: datetime, *, now: datetime | None = None) -> None:
    """Available from now until ``until`` (in the future, at most :data:`MAX_STANDBY` ahead)."""
    now = now or utcnow()
    if until <= now:
        raise AvailabilityRefused("until_time", _("The end of stand-by must be in the future."))
    if until - now > MAX_STANDBY:
        raise AvailabilityRefused(
            "until_time",
            _("Stand-by can last at most %(hours)d hours.", hours=int(MAX_STANDBY.total_seconds() // 3600)),
        )
    reservist.standby_until = until
    db.session.flush()
    _audit("standby_on", reservist, until=until.isoformat())


def switch_standby_off(reservist: Reservist) -> None:
    if reservist.standby_until is None:
        return
    reservist.standby_until = None
    db.session.flush()
    _audit("standby_off", reservist)


def standby_active(reservist: Reservist, *, now: datetime | None = None) -> bool:
    return standby_interval(reservist.standby_until, now or utcnow()) is not None
