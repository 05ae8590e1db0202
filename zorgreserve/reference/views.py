"""Reference data pages: administrators read and change, national coordinators read.

Changes go through ``reference.services`` (validated, audited, never a delete of
a referenced row); every view commits once, at the end, when something changed.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from zorgreserve import db
from zorgreserve.accounts.roles import Role, roles
from zorgreserve.reference import services
from zorgreserve.reference.forms import (
    MoveMunicipalityForm,
    NewSkillForm,
    PostcodeLookupForm,
    QualificationForm,
    SkillForm,
)
from zorgreserve.reference.models import ApprovalMode, Qualification, Reach, Region, Skill

bp = Blueprint("reference", __name__, url_prefix="/reference")

READERS = (Role.NATIONAL_COORDINATOR, Role.ADMINISTRATOR)
EDITORS = (Role.ADMINISTRATOR,)

APPROVAL_LABELS = {
    ApprovalMode.MANUAL.value: _l("by a coordinator"),
    ApprovalMode.AUTOMATIC.value: _l("automatic"),
}
REACH_LABELS = {
    Reach.OWN_REGION.value: _l("own region"),
    Reach.NEIGHBOURS.value: _l("own and neighbouring regions"),
    Reach.NATIONAL.value: _l("the whole country"),
}


def _can_edit() -> bool:
    return current_user.role_enum in EDITORS


def _get_or_404(model: type[Any], ident: int) -> Any:
    obj = db.session.get(model, ident)
    if obj is None:
        abort(404)
    return obj


# Regions ---------------------------------------------------------------------------


@bp.route("/")
@roles(*READERS)
def index() -> Any:
    return render_template("reference/index.html", summaries=services.region_summaries())


def _move_form(region: Region, municipalities: list[services.MunicipalityRow]) -> MoveMunicipalityForm:
    form = MoveMunicipalityForm()
    # An empty first choice, so nothing moves by leaving a pre-selected option in place.
    form.municipality.choices = [("", _("Choose a municipality"))] + [
        (row.mapping.municipality_code, row.mapping.municipality.name) for row in municipalities
    ]
    form.region_id.choices = [("", _("Choose a region"))] + [
        (r.id, r.name) for r in services.active_regions() if r.id != region.id
    ]
    return form


def _render_region(region: Region, form: MoveMunicipalityForm | None = None) -> Any:
    municipalities = services.region_municipalities(region.id)
    if form is None and _can_edit():
        form = _move_form(region, municipalities)
    return render_template(
        "reference/region.html",
        region=region,
        municipalities=municipalities,
        postcodes=sum(row.postcodes for row in municipalities),
        neighbours=services.neighbours_of(region.id),
        history=services.region_history(region.id),
        form=form,
    )


@bp.route("/regions/<int:region_id>")
@roles(*READERS)
def region(region_id: int) -> Any:
    return _render_region(_get_or_404(Region, region_id))


@bp.route("/regions/<int:region_id>/move", methods=["POST"])
@roles(*EDITORS)
def move_municipality(region_id: int) -> Any:
    region = _get_or_404(Region, region_id)
    form = _move_form(region, services.region_municipalities(region.id))
    if form.validate_on_submit():
        try:
            mapping = services.move_municipality(
                form.municipality.data, form.region_id.data, form.note.data, actor=current_user
            )
        except services.ReferenceDataError:
            db.session.rollback()
            form.municipality.errors = [_("This municipality cannot be moved to that region.")]
        else:
            db.session.commit()
            flash(
                _(
                    "%(municipality)s now belongs to %(region)s.",
                    municipality=mapping.municipality.name,
                    region=mapping.region.name,
                ),
                "success",
            )
            return redirect(url_for("reference.region", region_id=region.id))
    return _render_region(region, form), 200


# Postcodes -------------------------------------------------------------------------


@bp.route("/postcode")
@roles(*READERS)
def postcode() -> Any:
    """Look up PC4 → municipality → region; a GET form, since it only reads."""
    asked = "pc4" in request.args
    form = PostcodeLookupForm(formdata=request.args if asked else None)
    result = None
    if asked and form.validate():
        result = services.lookup_postcode(form.pc4_digits)
        if result is None:
            form.pc4.errors.append(_("Postcode area %(pc4)s is not known.", pc4=form.pc4_digits))
    return render_template("reference/postcode.html", form=form, result=result)


# Qualifications and professions ----------------------------------------------------


@bp.route("/qualifications")
@roles(*READERS)
def qualifications() -> Any:
    return render_template(
        "reference/qualifications.html",
        qualifications=services.qualifications(),
        professions=services.professions(),
        can_edit=_can_edit(),
    )


@bp.route("/qualifications/<int:qualification_id>", methods=["GET", "POST"])
@roles(*EDITORS)
def edit_qualification(qualification_id: int) -> Any:
    qualification: Qualification = _get_or_404(Qualification, qualification_id)
    form = QualificationForm(obj=qualification, qualification_id=qualification.id)
    if form.validate_on_submit():
        try:
            changed = services.update_qualification(
                qualification,
                name=form.name.data,
                has_expiry=form.has_expiry.data,
                active=form.active.data,
                actor=current_user,
            )
        except services.ReferenceDataError:
            db.session.rollback()
            form.name.errors = [_("Another qualification already has this name.")]
        else:
            db.session.commit()
            if changed:
                flash(_("The qualification has been saved."), "success")
            return redirect(url_for("reference.qualifications"))
    return render_template("reference/qualification_form.html", form=form, qualification=qualification)


# Skills ----------------------------------------------------------------------------


@bp.route("/skills")
@roles(*READERS)
def skills() -> Any:
    return render_template("reference/skills.html", skills=services.skills(), can_edit=_can_edit())


@bp.route("/skills/new", methods=["GET", "POST"])
@roles(*EDITORS)
def add_skill() -> Any:
    form = NewSkillForm()
    if form.validate_on_submit():
        try:
            services.add_skill(code=form.code.data, name=form.name.data, actor=current_user)
        except services.ReferenceDataError:
            db.session.rollback()
            form.code.errors = [_("A skill with this code or name already exists.")]
        else:
            db.session.commit()
            flash(_("The skill has been added."), "success")
            return redirect(url_for("reference.skills"))
    return render_template("reference/skill_form.html", form=form, skill=None)


@bp.route("/skills/<int:skill_id>", methods=["GET", "POST"])
@roles(*EDITORS)
def edit_skill(skill_id: int) -> Any:
    skill: Skill = _get_or_404(Skill, skill_id)
    form = SkillForm(obj=skill, skill_id=skill.id)
    if form.validate_on_submit():
        try:
            changed = services.update_skill(
                skill, name=form.name.data, active=form.active.data, actor=current_user
            )
        except services.ReferenceDataError:
            db.session.rollback()
            form.name.errors = [_("Another skill already has this name.")]
        else:
            db.session.commit()
            if changed:
                flash(_("The skill has been saved."), "success")
            return redirect(url_for("reference.skills"))
    return render_template("reference/skill_form.html", form=form, skill=skill)


# Surge phases ----------------------------------------------------------------------


@bp.route("/surge-phases")
@roles(*READERS)
def surge_phases() -> Any:
    return render_template(
        "reference/surge_phases.html",
        phases=services.surge_phases(),
        approval_labels=APPROVAL_LABELS,
        reach_labels=REACH_LABELS,
    )
