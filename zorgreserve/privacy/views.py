"""Pages of the privacy module.

``bp`` (``/me/data``): the reservist's own data — the readable page, the JSON
export and erasure. Always the signed-in reservist's own record: no route
takes an id, so there is nothing of anyone else to ask for.

``imports`` (``/coordination/import``): the bulk import of reservists from CSV
for regional and national coordinators, a dry run and an all-or-nothing apply.
"""

from __future__ import annotations

import json
from typing import Any

from babel.dates import get_day_names
from flask import Blueprint, Response, current_app, flash, g, render_template, session, url_for
from flask_babel import format_date, get_locale, ngettext
from flask_login import current_user, logout_user

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.accounts.roles import Role, roles
from zorgreserve.db import utcnow
from zorgreserve.extensions import limiter
from zorgreserve.privacy import importer, labels, services
from zorgreserve.privacy.forms import EraseForm, ImportApplyForm, ImportCheckForm

bp = Blueprint("privacy", __name__, url_prefix="/me/data")
imports = Blueprint("imports", __name__, url_prefix="/coordination/import")


def _me() -> User:
    user = db.session.get(User, current_user.id)
    assert user is not None  # the session loader only lets existing accounts through
    return user


def correction_links() -> dict[str, str]:
    """Where the reservist corrects their data (the profile pages of the reservists module)."""
    links = {}
    for key, endpoints, fallback in (
        ("profile", ("reservists.profile", "reservists.overview"), "/me/profile"),
        ("qualifications", ("reservists.qualifications", "reservists.overview"), "/me/profile"),
        ("availability", ("availability.overview",), "/me/availability/"),
    ):
        found = [e for e in endpoints if e in current_app.view_functions]
        links[key] = url_for(found[0]) if found else fallback
    return links


@bp.route("/")
@roles(Role.RESERVIST)
def overview() -> Any:
    g.no_store = True
    data = services.personal_data(_me())
    return render_template(
        "privacy/overview.html",
        data=data,
        labels=labels,
        links=correction_links(),
        weekdays=get_day_names("wide", locale=get_locale()),
        format_date=format_date,
    )


@bp.route("/export.json")
@roles(Role.RESERVIST)
def export() -> Any:
    g.no_store = True
    user = _me()
    document = services.export_document(services.personal_data(user))
    services.record_export(user)
    db.session.commit()
    body = json.dumps(document, ensure_ascii=False, indent=2)
    response = Response(body, mimetype="application/json")
    filename = f"zorgreserve-my-data-{utcnow().date().isoformat()}.json"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/erase", methods=["GET", "POST"])
@roles(Role.RESERVIST)
@limiter.limit("10 per hour", methods=["POST"])
def erase() -> Any:
    g.no_store = True
    form = EraseForm()
    if form.validate_on_submit():
        try:
            report = services.erase_own_data(_me(), email=form.email.data, password=form.password.data)
        except services.ErasureRefused as refused:
            db.session.rollback()
            getattr(form, refused.field).errors.append(refused.message)
            return render_template("privacy/erase.html", form=form, booked=_booked_ahead())
        db.session.commit()
        logout_user()
        session.clear()
        return render_template("privacy/erased.html", report=report)
    return render_template("privacy/erase.html", form=form, booked=_booked_ahead())


def _booked_ahead() -> list[Any]:
    """The shifts erasure would cancel, so the page can name them and their contact person."""
    from zorgreserve.callups.changes import HELD
    from zorgreserve.shifts.services import my_shifts

    reservist = services.reservist_of(_me())
    if reservist is None:
        return []
    upcoming, _past = my_shifts(reservist)
    now = utcnow()
    return [i for i in upcoming if i.booking.status in HELD and i.booking.start_at > now]


# Bulk import (coordinators) -----------------------------------------------------------


def _import_page(check: importer.ImportCheck | None, **extra: Any) -> str:
    apply_form = extra.pop("apply_form", None)
    if apply_form is None and check is not None and check.ok:
        apply_form = ImportApplyForm(sha256=check.sha256, formdata=None)
    return render_template(
        "privacy/import.html",
        form=extra.pop("form", None) or ImportCheckForm(formdata=None),
        apply_form=apply_form,
        check=check,
        columns=importer.COLUMNS,
        max_rows=importer.MAX_ROWS,
        preview=50,
        **extra,
    )


@imports.route("/", methods=["GET", "POST"])
@roles(Role.REGIONAL_COORDINATOR, Role.NATIONAL_COORDINATOR)
@limiter.limit("60 per hour", methods=["POST"])
def upload() -> Any:
    """Step 1, the dry run: check the file and show every problem with its row number."""
    g.no_store = True
    form = ImportCheckForm()
    check = None
    if form.validate_on_submit():
        check = importer.check_import(form.file.data.read(importer.MAX_BYTES + 1), _me())
    return _import_page(check, form=form)


@imports.route("/apply", methods=["POST"])
@roles(Role.REGIONAL_COORDINATOR, Role.NATIONAL_COORDINATOR)
@limiter.limit("60 per hour", methods=["POST"])
def apply() -> Any:
    """Step 2: the same file again; everything is created, or nothing when anything is wrong."""
    g.no_store = True
    form = ImportApplyForm()
    if not form.validate_on_submit():
        return _import_page(None, apply_form=form), 400
    try:
        check = importer.apply_import(form.file.data.read(importer.MAX_BYTES + 1), _me(), form.sha256.data)
    except importer.ImportRefused as refused:
        db.session.rollback()
        return _import_page(refused.check, refused=True), 422
    db.session.commit()
    message = ngettext(
        "%(num)s reservist was imported and receives an e-mail to activate the account.",
        "%(num)s reservists were imported. Each receives an e-mail to activate the account.",
        check.created,
    )
    flash(message, "success")
    return render_template("privacy/import_done.html", check=check)
