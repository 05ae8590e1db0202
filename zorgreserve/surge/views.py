"""Surge phase pages: the phase of every region, declaring a phase, its history, and phase policy.

Reading is open to every coordinator and administrator (phases are no personal
data and regions help each other); declaring is for the region's own
coordinator or a national one; policy is edited by national coordinators only.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from zorgreserve import db
from zorgreserve.accounts.roles import Role, roles
from zorgreserve.reference.models import Region, SurgePhase
from zorgreserve.reference.services import active_regions
from zorgreserve.surge import services
from zorgreserve.surge.forms import APPROVAL_LABELS, NATIONAL, REACH_LABELS, DeclareForm, PolicyForm

bp = Blueprint("surge", __name__, url_prefix="/surge")

READERS = (Role.REGIONAL_COORDINATOR, Role.NATIONAL_COORDINATOR, Role.ADMINISTRATOR)
COORDINATORS = (Role.REGIONAL_COORDINATOR, Role.NATIONAL_COORDINATOR)


def _labels() -> dict[str, Any]:
    return {"approval_labels": APPROVAL_LABELS, "reach_labels": REACH_LABELS}


@bp.route("/")
@roles(*READERS)
def overview() -> Any:
    return render_template(
        "surge/overview.html",
        national=services.current_declaration(None),
        national_phase=services.national_phase(),
        regions=services.region_overview(),
        recent=services.history(limit=10),
        **_labels(),
    )


@bp.route("/declare", methods=["GET", "POST"])
@roles(*COORDINATORS)
def declare() -> Any:
    form = DeclareForm()
    if current_user.role_enum is Role.NATIONAL_COORDINATOR:
        form.scope.choices = [(NATIONAL, _("Nationally (all regions)"))] + [
            (str(r.id), r.name) for r in active_regions()
        ]
    else:
        form.scope.choices = [(str(current_user.region_id), current_user.region.name)]
    form.phase_code.choices = [(p.code, p.name) for p in services.phases()]
    if request.method == "GET":
        wanted = request.args.get("scope")
        if wanted in {value for value, _label in form.scope.choices}:
            form.scope.data = wanted
    if form.validate_on_submit():
        region_id = None if form.scope.data == NATIONAL else int(form.scope.data)
        try:
            services.declare(
                current_user, region_id=region_id, phase_code=form.phase_code.data, reason=form.reason.data
            )
        except services.SurgeError as exc:
            db.session.rollback()
            getattr(form, exc.field or "phase_code").errors.append(str(exc.message))
        except PermissionError:
            db.session.rollback()
            abort(404)
        else:
            db.session.commit()
            flash(_("The phase has been declared."), "success")
            target = {"scope": NATIONAL} if region_id is None else {"scope": region_id}
            return redirect(url_for("surge.history", **target))
    current = {
        value: services.current_phase(None if value == NATIONAL else int(value))
        for value, _label in form.scope.choices
    }
    return (
        render_template("surge/declare.html", form=form, current=current, phases=services.phases()),
        400 if request.method == "POST" else 200,
    )


@bp.route("/history")
@roles(*READERS)
def history() -> Any:
    scope = request.args.get("scope", "")
    region = None
    if scope == NATIONAL:
        declarations = services.history(national=True)
    elif scope.isdigit():
        region = db.session.get(Region, int(scope))
        if region is None:
            abort(404)
        declarations = services.history(region.id)
    else:
        scope = ""
        declarations = services.history()
    return render_template(
        "surge/history.html",
        declarations=declarations,
        scope=scope,
        region=region,
        regions=active_regions(),
        national=NATIONAL,
    )


@bp.route("/phases")
@roles(*READERS)
def phases() -> Any:
    return render_template(
        "surge/phases.html",
        phases=services.phases(),
        changes=services.policy_changes(),
        can_edit=current_user.role_enum is Role.NATIONAL_COORDINATOR,
        **_labels(),
    )


@bp.route("/phases/<code>/edit", methods=["GET", "POST"])
@roles(Role.NATIONAL_COORDINATOR)
def edit_phase(code: str) -> Any:
    phase = db.session.get(SurgePhase, code)
    if phase is None:
        abort(404)
    form = PolicyForm(obj=phase)
    if form.validate_on_submit():
        try:
            changed = services.update_policy(
                current_user,
                phase,
                request_approval=form.request_approval.data,
                deployment_approval=form.deployment_approval.data,
                reach=form.reach.data,
                offer_expiry_minutes=form.offer_expiry_minutes.data,
                description=form.description.data,
            )
        except services.SurgeError as exc:
            db.session.rollback()
            getattr(form, exc.field or "description").errors.append(str(exc.message))
        else:
            db.session.commit()
            flash(
                _("The policy of %(phase)s has been saved.", phase=phase.name)
                if changed
                else _("Nothing changed."),
                "success",
            )
            return redirect(url_for("surge.phases"))
    return render_template(
        "surge/edit_phase.html", form=form, phase=phase
    ), 400 if request.method == "POST" else 200
