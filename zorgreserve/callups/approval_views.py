"""Deployment approval pages for coordinators: pending bookings in scope, approve, reject, approve a request.

Thin: each view parses a form, calls one service of :mod:`zorgreserve.callups.approval`
and commits once. Bookings outside the coordinator's region answer 404.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import InputRequired, Length

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.accounts.roles import Role, roles
from zorgreserve.audit.services import log_access
from zorgreserve.callups import approval

bp = Blueprint("approvals", __name__, url_prefix="/coordination/approvals")

COORDINATORS = (Role.REGIONAL_COORDINATOR, Role.NATIONAL_COORDINATOR)


class DecideForm(FlaskForm):
    """No fields: the CSRF token is the point."""


class RejectForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason (the reservist reads it)"), validators=[InputRequired(), Length(min=5, max=2000)]
    )


def _me() -> User:
    user = db.session.get(User, current_user.id)
    assert user is not None
    return user


def _booking(user: User, booking_id: int) -> Any:
    try:
        return approval.booking_in_scope(user, booking_id)
    except approval.NotInScope:
        abort(404)


@bp.route("/")
@roles(*COORDINATORS)
def index() -> Any:
    user = _me()
    items = approval.pending(user)
    groups: dict[int, list[approval.PendingBooking]] = {}
    for item in items:
        groups.setdefault(item.request.id, []).append(item)
    for reservist_id in {item.booking.reservist_id for item in items}:
        log_access("approvals.list", reservist_id, "deployment approval")
    db.session.commit()
    return render_template(
        "callups/approval.html", groups=groups, decide_form=DecideForm(), reject_form=RejectForm()
    )


@bp.route("/<int:booking_id>/approve", methods=["POST"])
@roles(*COORDINATORS)
def approve(booking_id: int) -> Any:
    user = _me()
    booking = _booking(user, booking_id)
    if not DecideForm().validate_on_submit():
        flash(_("The form has expired. Please try again."), "error")
        return redirect(url_for(".index"))
    if approval.approve(user, booking):
        flash(_("Deployment approved; the reservist gets a confirmation."), "success")
    else:
        flash(_("This booking had been decided already."), "info")
    db.session.commit()
    return redirect(url_for(".index"))


@bp.route("/<int:booking_id>/reject", methods=["GET", "POST"])
@roles(*COORDINATORS)
def reject(booking_id: int) -> Any:
    user = _me()
    booking = _booking(user, booking_id)
    form = RejectForm()
    if form.validate_on_submit():
        try:
            done = approval.reject(user, booking, form.reason.data)
        except approval.ApprovalError as exc:
            form.reason.errors = [str(exc.message)]
        else:
            flash(
                _("Deployment not approved; the place is open again.")
                if done
                else _("This booking had been decided already."),
                "success" if done else "info",
            )
            db.session.commit()
            return redirect(url_for(".index"))
    items = [i for i in approval.pending(user) if i.booking.id == booking.id]
    if items:
        log_access("approvals.view", booking.reservist_id, "deployment approval")
        db.session.commit()
    return render_template(
        "callups/approval_reject.html", form=form, booking=booking, item=items[0] if items else None
    )


@bp.route("/request/<int:request_id>/approve", methods=["POST"])
@roles(*COORDINATORS)
def approve_request(request_id: int) -> Any:
    user = _me()
    try:
        request = approval.request_in_scope(user, request_id)
    except approval.NotInScope:
        abort(404)
    if not DecideForm().validate_on_submit():
        flash(_("The form has expired. Please try again."), "error")
        return redirect(url_for(".index"))
    count = approval.approve_all(user, request)
    db.session.commit()
    flash(_("%(count)s deployments approved.", count=count), "success")
    return redirect(url_for(".index"))


@bp.app_template_global("approved_people")
def approved_people_global(request_id: int) -> list[approval.ApprovedPerson]:
    """For the request page (templates/deployments/detail.html): who is coming, once approved."""
    return approval.approved_people(request_id)
