"""Pages of the reservists module: the reservist's own record, and evidence downloads.

The own pages live under ``/me`` and always show the signed-in reservist's own
record; an id in their URLs (a BIG registration, qualification, training or
document) is looked up within that record only, so another reservist's id
answers 404. Coordinators download a reservist's evidence at
``/reservists/<id>/evidence/<id>``, checked against their scope (404 outside it)
and written to the access log. Views parse the form, call one service, and
commit once; a refused change is rolled back, so nothing of it is saved.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.accounts.roles import Role, roles
from zorgreserve.audit.services import log_access
from zorgreserve.extensions import limiter
from zorgreserve.phones import display_phone
from zorgreserve.privacy import labels
from zorgreserve.reference.services import active_regions, today
from zorgreserve.reservists import credentials, services, summary
from zorgreserve.reservists import evidence as evidence_files
from zorgreserve.reservists.forms import (
    BigRegistrationForm,
    ConfirmForm,
    ProfileForm,
    QualificationAddForm,
    QualificationEditForm,
    SkillsForm,
    StatusForm,
    TrainingForm,
)
from zorgreserve.reservists.models import Evidence, Reservist

bp = Blueprint("reservists", __name__)

ME = "/me"
INVALID = 422  # a form with errors: shown again with the messages, nothing saved


@bp.before_request
def _personal() -> None:
    g.no_store = True


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"format_date": format_date, "labels": labels, "language_names": services.language_names}


def _initial(data: dict[str, Any]) -> dict[str, Any] | None:
    """A form's values from the record on GET only: on POST only what was sent counts.

    (An unticked box or an emptied date is absent from a POST; falling back to the
    stored value would silently keep what the reservist removed.)
    """
    return data if request.method == "GET" else None


def _me() -> User:
    user = db.session.get(User, current_user.id)
    assert user is not None  # the session loader only lets existing accounts through
    return user


def _record() -> Reservist:
    return services.reservist_for_user(_me())


def _own(lookup: Any, item_id: int) -> Any:
    try:
        return lookup(_record(), item_id)
    except services.NotInScope:
        abort(404)


def _refused(form: Any, refused: services.Refused) -> None:
    """Show a service's refusal at its fields, after undoing anything the request changed."""
    db.session.rollback()
    for name, message in refused.errors.items():
        getattr(form, name).errors.append(message)


def _cap_upload_size() -> None:
    """Refuse absurd uploads before they are read (413); up to twice the limit gets a field message."""
    request.max_content_length = 2 * evidence_files.max_bytes() + 1024 * 1024


def _upload(form: Any) -> credentials.Upload | None:
    file = form.evidence.data
    if not file or not getattr(file, "filename", None):
        return None
    filename, data = evidence_files.read_upload(file)
    return credentials.Upload(filename, data)


def _saved(message: str, endpoint: str, **values: Any) -> Response:
    db.session.commit()
    flash(message, "success")
    return redirect(url_for(endpoint, **values))


# Overview ----------------------------------------------------------------------------


@bp.route(f"{ME}/")
@roles(Role.RESERVIST)
def overview() -> Any:
    user = _me()
    reservist = summary.load_record(services.reservist_for_user(user).id)
    return render_template(
        "reservists/overview.html",
        user=user,
        r=reservist,
        tasks=summary.tasks_for(user, reservist, today()),
    )


# Profile -----------------------------------------------------------------------------


@bp.route(f"{ME}/profile", methods=["GET", "POST"])
@roles(Role.RESERVIST)
@limiter.limit("30 per hour", methods=["POST"])  # the form checks the current password
def profile() -> Any:
    user = _me()
    reservist = services.reservist_for_user(user)
    form = ProfileForm(
        data=_initial(
            {
                "first_name": user.first_name,
                "last_name": user.last_name,
                "email": user.email,
                "phone": display_phone(user.phone),
                "pc4": reservist.pc4,
                "max_travel_km": reservist.max_travel_km,
                "regions": [r.id for r in reservist.regions] + [reservist.home_region_id],
                "max_hours_per_week": reservist.max_hours_per_week,
                "channels": reservist.channels,
                "languages": (reservist.languages or "").split(","),
            }
        )
    )
    # Every active region; the home region is shown ticked and disabled (it is always included).
    form.regions.choices = [
        (
            r.id,
            _("%(region)s (your home region)", region=r.name) if r.id == reservist.home_region_id else r.name,
        )
        for r in active_regions(today())
    ]
    if form.validate_on_submit():
        change = services.ProfileChange(
            first_name=form.first_name.data,
            last_name=form.last_name.data,
            email=form.email.data,
            phone=form.phone.data or None,
            pc4=form.pc4.data,
            max_travel_km=form.max_travel_km.data,
            max_hours_per_week=form.max_hours_per_week.data,
            channels=form.channels.data,
            languages=form.languages.data,
            region_ids=form.regions.data or [],
        )
        try:
            changed = services.update_profile(user, reservist, change, password=form.current_password.data)
        except services.Refused as refused:
            _refused(form, refused)
        else:
            if "email" in changed:
                message = _(
                    "Your profile is saved. Confirm your new e-mail address with the link we sent to it."
                )
            else:
                message = _("Your profile is saved.")
            return _saved(message, "reservists.overview")
    status = INVALID if form.errors else 200
    return render_template("reservists/profile.html", form=form, reservist=reservist), status


# BIG registration --------------------------------------------------------------------


def _big_form(**kwargs: Any) -> BigRegistrationForm:
    form = BigRegistrationForm(**kwargs)
    form.profession.choices = [(p.id, p.name) for p in credentials.registered_professions()]
    return form


@bp.route(f"{ME}/big", methods=["GET", "POST"])
@roles(Role.RESERVIST)
def big() -> Any:
    reservist = _record()
    form = _big_form()
    if form.validate_on_submit():
        try:
            credentials.add_big_registration(reservist, form.profession.data, form.big_number.data)
        except services.Refused as refused:
            _refused(form, refused)
        else:
            return _saved(
                _("Your BIG registration is saved. A coordinator will verify it."), "reservists.big"
            )
    return render_template(
        "reservists/big.html",
        form=form,
        reservist=reservist,
        missing=credentials.missing_big_registrations(reservist),
        remove_form=ConfirmForm(),
    ), (INVALID if form.errors else 200)


@bp.route(f"{ME}/big/<int:registration_id>", methods=["GET", "POST"])
@roles(Role.RESERVIST)
def big_edit(registration_id: int) -> Any:
    registration = _own(services.own_big_registration, registration_id)
    form = _big_form(
        data=_initial({"profession": registration.profession_id, "big_number": registration.big_number})
    )
    if form.validate_on_submit():
        try:
            changed = credentials.update_big_registration(
                registration, form.profession.data, form.big_number.data
            )
        except services.Refused as refused:
            _refused(form, refused)
        else:
            if not changed:
                return redirect(url_for("reservists.big"))
            return _saved(
                _("Your BIG registration is changed. A coordinator will verify it again."),
                "reservists.big",
            )
    return render_template(
        "reservists/big_edit.html", form=form, registration=registration, remove_form=ConfirmForm()
    ), (INVALID if form.errors else 200)


@bp.route(f"{ME}/big/<int:registration_id>/remove", methods=["POST"])
@roles(Role.RESERVIST)
def big_remove(registration_id: int) -> Any:
    registration = _own(services.own_big_registration, registration_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    credentials.remove_big_registration(registration)
    return _saved(_("The BIG registration is removed."), "reservists.big")


# Qualifications ----------------------------------------------------------------------


@bp.route(f"{ME}/qualifications")
@roles(Role.RESERVIST)
def qualifications() -> Any:
    reservist = summary.load_record(_record().id)
    return render_template(
        "reservists/qualifications.html",
        reservist=reservist,
        missing=credentials.missing_big_registrations(reservist),
        remove_form=ConfirmForm(),
    )


@bp.route(f"{ME}/qualifications/add", methods=["GET", "POST"])
@roles(Role.RESERVIST)
@limiter.limit("60 per hour", methods=["POST"])  # uploads take disk space
def qualification_add() -> Any:
    _cap_upload_size()
    reservist = _record()
    catalogue = credentials.addable_qualifications(reservist)
    form = QualificationAddForm()
    form.qualification.choices = [(q.id, q.name) for q in catalogue]
    if form.validate_on_submit():
        try:
            held = credentials.add_qualification(
                reservist, form.qualification.data, form.obtained_on.data, form.expires_on.data, _upload(form)
            )
        except services.Refused as refused:
            _refused(form, refused)
        else:
            message = _("%(name)s is added. A coordinator will verify it.", name=held.qualification.name)
            if held.qualification.needs_big_registration and not any(
                b.profession_id == held.qualification.profession_id for b in reservist.big_registrations
            ):
                message += " " + _(
                    "It needs your BIG registration as %(profession)s: add it now.",
                    profession=held.qualification.profession.name,
                )
                return _saved(message, "reservists.big")
            return _saved(message, "reservists.qualifications")
    return render_template(
        "reservists/qualification_add.html",
        form=form,
        catalogue=catalogue,
        max_mb=evidence_files.max_bytes() // (1024 * 1024),
    ), (INVALID if form.errors else 200)


@bp.route(f"{ME}/qualifications/<int:held_id>", methods=["GET", "POST"])
@roles(Role.RESERVIST)
@limiter.limit("60 per hour", methods=["POST"])  # uploads take disk space
def qualification_edit(held_id: int) -> Any:
    _cap_upload_size()
    held = _own(services.own_qualification, held_id)
    form = QualificationEditForm(
        data=_initial({"obtained_on": held.obtained_on, "expires_on": held.expires_on})
    )
    if form.validate_on_submit():
        try:
            changed = credentials.update_qualification(
                held,
                form.obtained_on.data,
                form.expires_on.data,
                _upload(form),
                remove_evidence=form.remove_evidence.data,
            )
        except services.Refused as refused:
            _refused(form, refused)
        else:
            if not changed:
                return redirect(url_for("reservists.qualifications"))
            return _saved(
                _("%(name)s is changed. A coordinator will verify it again.", name=held.qualification.name),
                "reservists.qualifications",
            )
    return render_template(
        "reservists/qualification_edit.html",
        form=form,
        held=held,
        remove_form=ConfirmForm(),
        max_mb=evidence_files.max_bytes() // (1024 * 1024),
    ), (INVALID if form.errors else 200)


@bp.route(f"{ME}/qualifications/<int:held_id>/remove", methods=["POST"])
@roles(Role.RESERVIST)
def qualification_remove(held_id: int) -> Any:
    held = _own(services.own_qualification, held_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    name = held.qualification.name
    credentials.remove_qualification(held)
    return _saved(_("%(name)s is removed.", name=name), "reservists.qualifications")


# Evidence downloads ------------------------------------------------------------------


def _send_evidence(evidence: Evidence) -> Response:
    path = evidence_files.evidence_path(evidence)
    if not path.is_file():
        abort(404)
    response = send_file(
        path,
        mimetype=evidence.content_type,
        as_attachment=True,
        download_name=evidence.filename,
        max_age=0,
    )
    # A document is never a page of ours: no scripts, no plugins, even if a browser tried.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.route(f"{ME}/evidence/<int:evidence_id>")
@roles(Role.RESERVIST)
def evidence(evidence_id: int) -> Any:
    """The reservist's own document."""
    return _send_evidence(_own(services.own_evidence, evidence_id))


@bp.route("/reservists/<int:reservist_id>/evidence/<int:evidence_id>")
@roles(Role.REGIONAL_COORDINATOR, Role.NATIONAL_COORDINATOR)
def evidence_for_coordinator(reservist_id: int, evidence_id: int) -> Any:
    """A reservist's document for a coordinator in scope (verification); the download is logged."""
    try:
        reservist, evidence = services.evidence_in_scope(_me(), reservist_id, evidence_id)
    except services.NotInScope:
        abort(404)
    if not evidence_files.evidence_path(evidence).is_file():
        abort(404)
    log_access("download", reservist.id, "reservists.evidence_for_coordinator", evidence_id=evidence.id)
    db.session.commit()
    return _send_evidence(evidence)


# Skills and training -----------------------------------------------------------------


@bp.route(f"{ME}/skills", methods=["GET", "POST"])
@roles(Role.RESERVIST)
def skills() -> Any:
    reservist = _record()
    form = SkillsForm(data=_initial({"skills": [s.id for s in reservist.skills]}))
    form.skills.choices = [(s.id, s.name) for s in services.selectable_skills(reservist)]
    if form.validate_on_submit():
        try:
            services.set_skills(reservist, form.skills.data or [])
        except services.Refused as refused:
            _refused(form, refused)
        else:
            return _saved(_("Your skills are saved."), "reservists.overview")
    return render_template("reservists/skills.html", form=form), (INVALID if form.errors else 200)


@bp.route(f"{ME}/training", methods=["GET", "POST"])
@roles(Role.RESERVIST)
def trainings() -> Any:
    reservist = _record()
    form = TrainingForm()
    if form.validate_on_submit():
        try:
            services.add_training(reservist, form.course.data, form.completed_on.data, form.expires_on.data)
        except services.Refused as refused:
            _refused(form, refused)
        else:
            return _saved(_("The training is added."), "reservists.trainings")
    return render_template(
        "reservists/trainings.html", form=form, reservist=reservist, remove_form=ConfirmForm()
    ), (INVALID if form.errors else 200)


@bp.route(f"{ME}/training/<int:training_id>", methods=["GET", "POST"])
@roles(Role.RESERVIST)
def training_edit(training_id: int) -> Any:
    training = _own(services.own_training, training_id)
    form = TrainingForm(
        data=_initial(
            {
                "course": training.course,
                "completed_on": training.completed_on,
                "expires_on": training.expires_on,
            }
        )
    )
    if form.validate_on_submit():
        try:
            services.update_training(training, form.course.data, form.completed_on.data, form.expires_on.data)
        except services.Refused as refused:
            _refused(form, refused)
        else:
            return _saved(_("The training is saved."), "reservists.trainings")
    return render_template(
        "reservists/training_edit.html", form=form, training=training, remove_form=ConfirmForm()
    ), (INVALID if form.errors else 200)


@bp.route(f"{ME}/training/<int:training_id>/remove", methods=["POST"])
@roles(Role.RESERVIST)
def training_remove(training_id: int) -> Any:
    training = _own(services.own_training, training_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    services.remove_training(training)
    return _saved(_("The training is removed."), "reservists.trainings")


# Status ------------------------------------------------------------------------------


@bp.route(f"{ME}/status", methods=["GET", "POST"])
@roles(Role.RESERVIST)
def status() -> Any:
    reservist = _record()
    form = StatusForm(data=_initial({"status": reservist.status, "paused_until": reservist.paused_until}))
    if form.validate_on_submit():
        try:
            services.set_status(
                reservist, form.status.data, form.paused_until.data, confirmed=form.confirm_withdraw.data
            )
        except services.Refused as refused:
            _refused(form, refused)
        else:
            return _saved(_("Your status is saved."), "reservists.overview")
    return render_template("reservists/status.html", form=form, reservist=reservist), (
        INVALID if form.errors else 200
    )
