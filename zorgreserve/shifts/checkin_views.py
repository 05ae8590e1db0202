"""Self check-in pages: the reservist's code form and the institution's printable code per shift.

Routes live on the shifts blueprint (imported at the end of ``shifts/views.py``).
"""

from __future__ import annotations

import base64
from typing import Any

import segno
from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from zorgreserve import db
from zorgreserve.accounts.roles import Role, roles
from zorgreserve.db import utcnow
from zorgreserve.deployments.models import Shift
from zorgreserve.extensions import limiter
from zorgreserve.notifications.mail import external_url
from zorgreserve.reservists.services import reservist_for_user
from zorgreserve.shifts import checkin, roster
from zorgreserve.shifts.services import NotYours
from zorgreserve.shifts.views import bp

#: Attempts per account (and, before sign-in, per address); ``SHIFT_CHECKIN_LIMIT`` overrides it.
DEFAULT_LIMIT = "10 per 15 minutes"


class CheckinCodeForm(FlaskForm):
    code = StringField(
        _l("Check-in code"),
        description=_l("The code shown at the location, for example K7P 2QM."),
        validators=[
            DataRequired(_l("Enter the code shown at the location.")),
            Length(max=20, message=_l("The code has %(length)s characters.", length=checkin.LENGTH)),
        ],
        render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"},
    )


def _limit() -> str:
    return str(current_app.config.get("SHIFT_CHECKIN_LIMIT") or DEFAULT_LIMIT)


def _attempt_key() -> str:
    """Per account: reservists checking in behind one hospital Wi-Fi address do not block each other."""
    if current_user and current_user.is_authenticated:
        return f"checkin:user:{current_user.get_id()}"
    return f"checkin:addr:{request.remote_addr or 'unknown'}"


@bp.route("/check-in", methods=["GET", "POST"])
@roles(Role.RESERVIST)
@limiter.limit(_limit, key_func=_attempt_key, methods=["POST"])
def self_check_in() -> Any:
    """GET (also from the QR code, with ``?code=``): the form. POST: check in with the code."""
    g.no_store = True
    g.referrer_policy = "no-referrer"
    form = CheckinCodeForm()
    if request.method == "GET" and request.args.get("code"):
        form.code.data = checkin.normalise(request.args.get("code"))[:20]
    if form.validate_on_submit():
        reservist = reservist_for_user(current_user)
        try:
            done = checkin.check_in_with_code(current_user, reservist, form.code.data)
        except checkin.CheckinRefused as refusal:
            db.session.rollback()
            checkin.record_refusal(current_user, refusal)
            db.session.commit()
            form.code.errors = [str(refusal.message)]
            return render_template("shifts/self_check_in.html", form=form)
        db.session.commit()
        flash(_("You are checked in. Welcome, and thank you for coming!"), "success")
        return redirect(url_for("shifts.detail", booking_id=done.booking.id))
    return render_template("shifts/self_check_in.html", form=form)


def _qr(url: str) -> str:
    svg = segno.make(url, error="m").svg_inline(scale=6)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


@bp.route("/requests/<int:request_id>/shifts/<int:shift_id>/check-in-code")
@roles(Role.INSTITUTION_STAFF)
def checkin_code(request_id: int, shift_id: int) -> Any:
    """A printable page with the shift's check-in code and a QR code (the code is made on first view)."""
    g.no_store = True
    try:
        req = roster.request_for_roster(current_user, request_id)
    except NotYours:
        abort(404)
    if not roster.can_record(current_user, req):
        abort(404)
    shift = db.session.scalar(select(Shift).where(Shift.id == shift_id, Shift.request_id == req.id))
    if shift is None:
        abort(404)
    code = url = qr = None
    now = utcnow()
    if shift.is_active and shift.end_at > now:
        code = checkin.code_for(current_user, shift)
        db.session.commit()
        url = external_url("shifts.self_check_in", code=code)
        qr = _qr(url)
    return render_template(
        "shifts/checkin_code.html",
        req=req,
        shift=shift,
        code=code,
        url=url,
        plain_url=external_url("shifts.self_check_in"),
        qr=qr,
        minutes=int(roster.tolerance().total_seconds() // 60),
    )
