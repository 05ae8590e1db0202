"""Pages of the availability module: the reservist's own weekly windows, periods and stand-by.

Reservists only, and only their own record: the signed-in reservist is the
owner of every window and period changed here; another reservist's id is a 404.
Bad input re-renders the form with a translated message and changes nothing.
"""

from __future__ import annotations

import math
from datetime import time, timedelta
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from zorgreserve import db
from zorgreserve.accounts.roles import Role, roles
from zorgreserve.availability import calendar, services
from zorgreserve.availability.forms import (
    KIND_LABELS,
    PRESET_LABELS,
    REASON_LABELS,
    PeriodForm,
    PresetForm,
    StandbyForm,
    WindowEditForm,
    WindowForm,
)
from zorgreserve.availability.timeline import TZ, local_day
from zorgreserve.core.filters import local_datetime
from zorgreserve.db import utcnow
from zorgreserve.reservists.models import Reservist, ReservistStatus
from zorgreserve.reservists.services import reservist_for_user

bp = Blueprint("availability", __name__, url_prefix="/me/availability")


def _me() -> Reservist:
    g.no_store = True
    return reservist_for_user(current_user)


def _refused(form: FlaskForm, refused: services.AvailabilityRefused, fallback: str | None = None) -> None:
    """Put the service's message at its field (or ``fallback``, or above the form).

    Services check everything before they change anything, and a refused request
    never commits, so nothing is saved.
    """
    target = getattr(form, refused.field, None) or (getattr(form, fallback) if fallback else None)
    if target is not None:
        target.errors = [*list(target.errors), refused.message]
    else:
        form.form_errors.append(refused.message)


def _standby_form(reservist: Reservist) -> StandbyForm:
    """Prefilled with the current end, or eight hours from now rounded up to the quarter hour."""
    now = utcnow()
    if reservist.standby_until is not None and reservist.standby_until > now:
        until = reservist.standby_until.astimezone(TZ)
    else:
        until = (now + timedelta(hours=8)).astimezone(TZ)
        quarter = math.ceil((until.minute + until.second / 60) / 15) * 15
        until = until.replace(minute=0, second=0, microsecond=0) + timedelta(minutes=quarter)
    return StandbyForm(formdata=None, until_date=until.date(), until_time=until.time())


def _overview(reservist: Reservist, standby_form: StandbyForm | None = None, status: int = 200) -> Any:
    now = utcnow()
    availability = services.availability_of(reservist, now=now)
    windows = list(availability.windows)
    return (
        render_template(
            "availability/overview.html",
            reservist=reservist,
            paused=reservist.status != ReservistStatus.ACTIVE.value,
            windows=windows,
            window_label=calendar.window_label,
            periods=list(availability.periods),
            kind_labels=KIND_LABELS,
            reason_labels=REASON_LABELS,
            standby_on=availability.standby is not None,
            standby_form=standby_form or _standby_form(reservist),
            period_span=calendar.period_span,
            preset_form=PresetForm(formdata=None),
            presets=PRESET_LABELS,
            week=calendar.week_grid(windows),
            bands=[(calendar.hhmm(s), calendar.hhmm(e)) for s, e in calendar.BANDS],
            month=calendar.month_weeks(availability, local_day(now)),
            day_names=calendar.day_names("abbreviated"),
            format_date=format_date,
            max_windows=services.MAX_WINDOWS,
        ),
        status,
    )


@bp.route("/")
@roles(Role.RESERVIST)
def overview() -> Any:
    return _overview(_me())


# Stand-by ------------------------------------------------------------------------------


@bp.route("/standby", methods=["POST"])
@roles(Role.RESERVIST)
def standby_on() -> Any:
    reservist = _me()
    form = StandbyForm()
    if form.validate_on_submit():
        try:
            services.switch_standby_on(reservist, form.until())
        except services.AvailabilityRefused as refused:
            _refused(form, refused)
        else:
            db.session.commit()
            flash(
                _("You are on stand-by until %(time)s.", time=local_datetime(form.until(), "short")),
                "success",
            )
            return redirect(url_for("availability.overview"))
    return _overview(reservist, standby_form=form, status=400)


@bp.route("/standby/off", methods=["POST"])
@roles(Role.RESERVIST)
def standby_off() -> Any:
    services.switch_standby_off(_me())
    db.session.commit()
    flash(_("Stand-by is off."), "success")
    return redirect(url_for("availability.overview"))


# Weekly windows --------------------------------------------------------------------------


@bp.route("/windows/new", methods=["GET", "POST"])
@roles(Role.RESERVIST)
def add_window() -> Any:
    reservist = _me()
    form = WindowForm()
    form.days.choices = list(enumerate(calendar.day_names()))
    if form.validate_on_submit():
        start, end = form.minutes()
        try:
            added = services.add_windows(
                reservist, [(day, start, end) for day in sorted(set(form.days.data))]
            )
        except services.AvailabilityRefused as refused:
            _refused(form, refused)
        else:
            db.session.commit()
            flash(_added(len(added)), "success")
            return redirect(url_for("availability.overview"))
    status = 400 if form.is_submitted() else 200
    return render_template("availability/window_form.html", form=form, editing=False), status


@bp.route("/windows/<int:window_id>/edit", methods=["GET", "POST"])
@roles(Role.RESERVIST)
def edit_window(window_id: int) -> Any:
    reservist = _me()
    try:
        window = services.window_of(reservist, window_id)
    except services.NotYours:
        abort(404)
    form = WindowEditForm(
        data={
            "weekday": window.weekday,
            "start": _time(window.start_minute),
            "end": _time(window.end_minute),
            "whole_day": window.start_minute == 0 and window.end_minute == 24 * 60,
        },
    )
    form.weekday.choices = list(enumerate(calendar.day_names()))
    if form.validate_on_submit():
        start, end = form.minutes()
        try:
            services.change_window(reservist, window, form.weekday.data, start, end)
        except services.AvailabilityRefused as refused:
            _refused(form, refused, fallback="weekday")
        else:
            db.session.commit()
            flash(_("The weekly time has been changed."), "success")
            return redirect(url_for("availability.overview"))
    status = 400 if form.is_submitted() else 200
    return render_template("availability/window_form.html", form=form, editing=True, window=window), status


def _added(count: int) -> str:
    return ngettext("%(num)d weekly time added.", "%(num)d weekly times added.", count)


def _time(minute: int) -> time:
    return time(minute // 60 % 24, minute % 60)


@bp.route("/windows/<int:window_id>/delete", methods=["POST"])
@roles(Role.RESERVIST)
def delete_window(window_id: int) -> Any:
    reservist = _me()
    try:
        window = services.window_of(reservist, window_id)
    except services.NotYours:
        abort(404)
    services.remove_window(reservist, window)
    db.session.commit()
    flash(_("The weekly time has been removed."), "success")
    return redirect(url_for("availability.overview"))


@bp.route("/presets", methods=["POST"])
@roles(Role.RESERVIST)
def add_preset() -> Any:
    reservist = _me()
    form = PresetForm()
    if not form.validate_on_submit():
        flash(_("Choose one of the quick starts."), "error")
        return redirect(url_for("availability.overview"))
    try:
        added = services.add_preset(reservist, form.preset.data)
    except services.AvailabilityRefused as refused:
        flash(refused.message, "error")
        return redirect(url_for("availability.overview"))
    db.session.commit()
    flash(_added(len(added)), "success")
    return redirect(url_for("availability.overview"))


# Dated periods ----------------------------------------------------------------------------


@bp.route("/periods/new", methods=["GET", "POST"])
@roles(Role.RESERVIST)
def add_period() -> Any:
    reservist = _me()
    form = PeriodForm()
    if form.validate_on_submit():
        try:
            services.add_period(
                reservist,
                kind=form.kind.data,
                reason=form.reason.data,
                starts_at=form.starts_at(),
                ends_at=form.ends_at(),
                note=form.note.data,
            )
        except services.AvailabilityRefused as refused:
            _refused(form, refused)
        else:
            db.session.commit()
            flash(_("The period has been added."), "success")
            return redirect(url_for("availability.overview"))
    status = 400 if form.is_submitted() else 200
    return render_template("availability/period_form.html", form=form), status


@bp.route("/periods/<int:period_id>/delete", methods=["POST"])
@roles(Role.RESERVIST)
def delete_period(period_id: int) -> Any:
    reservist = _me()
    try:
        period = services.period_of(reservist, period_id)
    except services.NotYours:
        abort(404)
    services.remove_period(reservist, period)
    db.session.commit()
    flash(_("The period has been removed."), "success")
    return redirect(url_for("availability.overview"))
