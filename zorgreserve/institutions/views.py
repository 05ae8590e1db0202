"""Institution pages: the list and creation for coordinators and administrators, each
institution's own page with its locations and staff, and location management (also by
the institution's staff, who know their sites best)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from zorgreserve import db
from zorgreserve.accounts.roles import Role, roles
from zorgreserve.institutions import services
from zorgreserve.institutions.forms import KIND_LABELS, InstitutionForm, LocationForm
from zorgreserve.institutions.models import Institution
from zorgreserve.reference.services import active_regions

bp = Blueprint("institutions", __name__, url_prefix="/institutions")

MANAGERS = (Role.REGIONAL_COORDINATOR, Role.NATIONAL_COORDINATOR, Role.ADMINISTRATOR)
MEMBERS_AND_MANAGERS = (Role.INSTITUTION_STAFF, *MANAGERS)


def _kind_labels() -> dict[str, Any]:
    return {k.value: v for k, v in KIND_LABELS.items()}


def _institution_or_404(institution_id: int) -> Institution:
    try:
        return services.institution_in_scope(current_user, institution_id)
    except services.NotInScope:
        abort(404)


def _region_choices(form: InstitutionForm) -> None:
    regions = active_regions()
    if current_user.role_enum is Role.REGIONAL_COORDINATOR:
        regions = [r for r in regions if r.id == current_user.region_id]
    form.region_id.choices = [(r.id, r.name) for r in regions]


@bp.route("/")
@roles(*MANAGERS)
def index() -> Any:
    return render_template(
        "institutions/index.html",
        institutions=services.institutions_in_scope(current_user),
        kind_labels=_kind_labels(),
    )


@bp.route("/new", methods=["GET", "POST"])
@roles(*MANAGERS)
def create() -> Any:
    form = InstitutionForm()
    _region_choices(form)
    if form.validate_on_submit():
        if services.name_taken(form.name.data):
            form.name.errors.append(_("An institution with this name already exists."))
        else:
            institution = services.create_institution(
                current_user,
                name=form.name.data,
                kind=form.kind.data,
                region_id=form.region_id.data,
                postcode=form.postcode.data or None,
            )
            db.session.commit()
            flash(_("The institution has been added. Add its locations and invite its staff."), "success")
            return redirect(url_for("institutions.detail", institution_id=institution.id))
    return render_template("institutions/form.html", form=form, institution=None)


@bp.route("/mine")
@roles(Role.INSTITUTION_STAFF)
def mine() -> Any:
    return redirect(url_for("institutions.detail", institution_id=current_user.institution_id))


@bp.route("/<int:institution_id>")
@roles(*MEMBERS_AND_MANAGERS)
def detail(institution_id: int) -> Any:
    institution = _institution_or_404(institution_id)
    is_manager = current_user.role_enum in MANAGERS
    return render_template(
        "institutions/detail.html",
        institution=institution,
        kind_labels=_kind_labels(),
        staff=services.staff_of(institution),
        invitations=services.open_invitations_for(institution) if is_manager else [],
        is_manager=is_manager,
    )


@bp.route("/<int:institution_id>/edit", methods=["GET", "POST"])
@roles(*MANAGERS)
def edit(institution_id: int) -> Any:
    institution = _institution_or_404(institution_id)
    form = InstitutionForm(obj=institution)
    _region_choices(form)
    if form.validate_on_submit():
        if services.name_taken(form.name.data, except_id=institution.id):
            form.name.errors.append(_("An institution with this name already exists."))
        else:
            services.update_institution(
                current_user,
                institution,
                name=form.name.data,
                kind=form.kind.data,
                region_id=form.region_id.data,
                postcode=form.postcode.data or None,
            )
            db.session.commit()
            flash(_("The institution has been saved."), "success")
            return redirect(url_for("institutions.detail", institution_id=institution.id))
    return render_template("institutions/form.html", form=form, institution=institution)


@bp.route("/<int:institution_id>/locations/new", methods=["GET", "POST"])
@roles(*MEMBERS_AND_MANAGERS)
def location_create(institution_id: int) -> Any:
    institution = _institution_or_404(institution_id)
    form = LocationForm()
    del form.active  # a new location is in use
    if form.validate_on_submit():
        try:
            services.add_location(
                current_user,
                institution,
                name=form.name.data,
                street_address=form.street_address.data,
                postcode=form.postcode.data,
                city=form.city.data,
            )
        except services.LocationError as exc:
            db.session.rollback()
            getattr(form, exc.field).errors.append(str(exc.message))
        else:
            db.session.commit()
            flash(_("The location has been added."), "success")
            return redirect(url_for("institutions.detail", institution_id=institution.id))
    status = 400 if form.errors else 200
    return render_template("institutions/location_form.html", form=form, institution=institution), status


@bp.route("/<int:institution_id>/locations/<int:location_id>/edit", methods=["GET", "POST"])
@roles(*MEMBERS_AND_MANAGERS)
def location_edit(institution_id: int, location_id: int) -> Any:
    institution = _institution_or_404(institution_id)
    try:
        location = services.location_in_scope(current_user, institution, location_id)
    except services.NotInScope:
        abort(404)
    form = LocationForm(obj=location)
    if form.validate_on_submit():
        try:
            services.update_location(
                current_user,
                location,
                name=form.name.data,
                street_address=form.street_address.data,
                postcode=form.postcode.data,
                city=form.city.data,
                active=form.active.data,
            )
        except services.LocationError as exc:
            db.session.rollback()
            getattr(form, exc.field).errors.append(str(exc.message))
        else:
            db.session.commit()
            flash(_("The location has been saved."), "success")
            return redirect(url_for("institutions.detail", institution_id=institution.id))
    status = 400 if form.errors else 200
    return (
        render_template(
            "institutions/location_form.html", form=form, institution=institution, location=location
        ),
        status,
    )
