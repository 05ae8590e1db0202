"""Reservist pages (my shifts, cancelling, calendar feed, hours); the roster pages are in roster_views.

Every page reaches only the signed-in reservist's own bookings: another
reservist's booking id answers 404, like one that does not exist. The feed URL
is public (calendar apps cannot sign in); its secret token is the credential,
and an unknown, stale or revoked token answers 404.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from zorgreserve import db
from zorgreserve.accounts.roles import Role, public, roles
from zorgreserve.db import utcnow
from zorgreserve.reservists.services import reservist_for_user
from zorgreserve.shifts import calendar, services
from zorgreserve.shifts.forms import CancelForm, ConfirmForm

bp = Blueprint("shifts", __name__)


def _mine(booking_id: int) -> services.MyShift:
    try:
        return services.my_shift(reservist_for_user(current_user), booking_id)
    except services.NotYours:
        abort(404)


@bp.route("/me/shifts/")
@roles(Role.RESERVIST)
def mine() -> Any:
    reservist = reservist_for_user(current_user)
    upcoming, past = services.my_shifts(reservist)
    return render_template(
        "shifts/mine.html",
        upcoming=upcoming,
        past=past[:20],
        now=utcnow(),
        has_feed=calendar.active_feed(reservist),
    )


@bp.route("/me/shifts/<int:booking_id>")
@roles(Role.RESERVIST)
def detail(booking_id: int) -> Any:
    item = _mine(booking_id)
    return render_template(
        "shifts/detail.html",
        item=item,
        can_cancel=services.can_cancel(item),
        deadline=services.cancel_deadline(item),
        now=utcnow(),
    )


@bp.route("/me/shifts/<int:booking_id>/cancel", methods=["GET", "POST"])
@roles(Role.RESERVIST)
def cancel(booking_id: int) -> Any:
    item = _mine(booking_id)
    form = CancelForm()
    allowed = services.can_cancel(item)
    error = None
    if allowed and form.validate_on_submit():
        try:
            services.cancel(reservist_for_user(current_user), item, form.reason.data)
        except services.ShiftError as exc:
            db.session.rollback()
            error = exc.message
        else:
            db.session.commit()
            flash(_("Your shift is cancelled. Thank you for letting us know in time."), "success")
            return redirect(url_for("shifts.mine"))
    refused = request.method == "POST" and not allowed
    return (
        render_template(
            "shifts/cancel.html",
            item=item,
            form=form,
            allowed=allowed,
            error=error,
            deadline=services.cancel_deadline(item),
            min_hours=services.cancel_min_hours(),
            now=utcnow(),
        ),
        409 if refused else 200,
    )


# Calendar feed -----------------------------------------------------------------------------------


@bp.route("/me/shifts/calendar", methods=["GET", "POST"])
@roles(Role.RESERVIST)
def feed_settings() -> Any:
    """GET: whether a feed exists. POST: make a new secret URL (any earlier one stops working)."""
    g.no_store = True
    reservist = reservist_for_user(current_user)
    form = ConfirmForm()
    url = None
    if form.validate_on_submit():
        token = calendar.renew(reservist)
        db.session.commit()
        url = url_for("shifts.feed", token=token, _external=True)
    return render_template(
        "shifts/calendar.html",
        form=form,
        url=url,
        feed=calendar.active_feed(reservist),
        revoke_form=ConfirmForm(),
    )


@bp.route("/me/shifts/calendar/revoke", methods=["POST"])
@roles(Role.RESERVIST)
def feed_revoke() -> Any:
    if ConfirmForm().validate_on_submit() and calendar.revoke(reservist_for_user(current_user)):
        db.session.commit()
        flash(_("Your calendar link no longer works."), "success")
    return redirect(url_for("shifts.feed_settings"))


@bp.route("/calendar/<token>.ics")
@public
def feed(token: str) -> Any:
    g.no_store = True
    g.referrer_policy = "no-referrer"
    subscription = calendar.feed_for_token(token)
    if subscription is None:
        abort(404)
    body = calendar.feed_ics(subscription)
    db.session.commit()
    return Response(
        body, mimetype="text/calendar", headers={"Content-Disposition": "inline; filename=zorgreserve.ics"}
    )


# Hours and certificate ---------------------------------------------------------------------------


@bp.route("/me/shifts/hours")
@roles(Role.RESERVIST)
def hours() -> Any:
    summary = services.hours_worked(reservist_for_user(current_user))
    return render_template("shifts/hours.html", summary=summary)


@bp.route("/me/shifts/certificate")
@roles(Role.RESERVIST)
def certificate() -> Any:
    summary = services.hours_worked(reservist_for_user(current_user))
    return render_template("shifts/certificate.html", summary=summary, user=current_user, today=utcnow())


# The roster, self check-in and today pages register on the same blueprint.
from zorgreserve.shifts import checkin_views, roster_views, today_views  # noqa: E402, F401
