"""Institution pages for coordinators and administrators."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from zorgreserve import db
from zorgreserve.accounts.roles import Role, roles
from zorgreserve.institutions import services
from zorgreserve.institutions.forms import KIND_LABELS, InstitutionForm
from zorgreserve.reference.services import active_regions

bp = Blueprint("institutions", __name__, url_prefix="/institutions")

MANAGERS = (Role.REGIONAL_COORDINATOR, Role.NATIONAL_COORDINATOR, Role.ADMINISTRATOR)


@bp.route("/")
@roles(*MANAGERS)
def index() -> Any:
    return render_template(
        "institutions/index.html",
        institutions=services.institutions_in_scope(current_user),
        kind_labels={k.value: v for k, v in KIND_LABELS.items()},
    )


@bp.route("/new", methods=["GET", "POST"])
@roles(*MANAGERS)
def create() -> Any:
    form = InstitutionForm()
    regions = active_regions()
    if current_user.role_enum is Role.REGIONAL_COORDINATOR:
        regions = [r for r in regions if r.id == current_user.region_id]
    form.region_id.choices = [(r.id, r.name) for r in regions]
    if form.validate_on_submit():
        if services.name_taken(form.name.data):
            form.name.errors.append(_("An institution with this name already exists."))
        else:
            services.create_institution(
                current_user,
                name=form.name.data,
                kind=form.kind.data,
                region_id=form.region_id.data,
                postcode=form.postcode.data or None,
            )
            db.session.commit()
            flash(_("The institution has been added."), "success")
            return redirect(url_for("institutions.index"))
    return render_template("institutions/form.html", form=form)
