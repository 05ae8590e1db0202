"""Pages of the coordination module.

``bp`` (``/coordination``), for regional and national coordinators: the
reservist search, a reservist's page, the CSV export of a search, a reservist's
access log, and (national coordinators only) the whole access log.

``own_log`` (``/me/access-log``), for reservists: who accessed my data.

The search filters are ids and codes in the query string. A name is personal
data and must not end up in a URL (browser history, server and proxy logs,
Referer headers): the search form is posted, the name is kept in the
coordinator's session under a random reference, and the browser is redirected
to a URL that carries only that reference (``n=...``).
"""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from babel.dates import get_day_names
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import format_date, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.accounts.roles import COORDINATORS, Role, roles
from zorgreserve.coordination import export as csv_export
from zorgreserve.coordination import filters, services
from zorgreserve.coordination import search as finder
from zorgreserve.coordination.forms import AccessLogFilterForm, SearchForm
from zorgreserve.db import utcnow
from zorgreserve.privacy import labels
from zorgreserve.reference.models import Qualification, Skill
from zorgreserve.reference.services import active_regions
from zorgreserve.reservists.services import NotInScope

bp = Blueprint("coordination", __name__, url_prefix="/coordination")
own_log = Blueprint("access_log", __name__, url_prefix="/me/access-log")

NAME_SEARCHES = "coordination_name_searches"
NAMES_KEPT = 5
EVIDENCE_ENDPOINT = "reservists.evidence_for_coordinator"
CONTEXT_LABELS = {
    services.LogContext.DETAIL.value: _l("Reservist page (coordinator)"),
    services.LogContext.EXPORT.value: _l("Export of a search (coordinator)"),
    services.LogContext.ACCESS_LOG.value: _l("Access log of this record (coordinator)"),
}


def _me() -> User:
    return current_user._get_current_object()  # type: ignore[no-any-return]


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, type=int)
    return value if value is not None and value > 0 else None


# The name search, kept out of URLs ----------------------------------------------------------


def _remember_name(term: str) -> str:
    """Keep ``term`` in the session under a fresh random reference; the last few are kept."""
    token = secrets.token_urlsafe(6)
    kept = [pair for pair in session.get(NAME_SEARCHES, []) if pair[1] != term]
    session[NAME_SEARCHES] = [*kept, [token, term]][-NAMES_KEPT:]
    return token


def _recall_name(token: str | None) -> str | None:
    if not token:
        return None
    return next((term for key, term in session.get(NAME_SEARCHES, []) if key == token), None)


# Search ----------------------------------------------------------------------------------------


def _search_form(formdata: Any = None) -> SearchForm:
    form = SearchForm(formdata, meta={"csrf": False}) if formdata is not None else SearchForm()
    qualifications = db.session.scalars(select(Qualification).order_by(Qualification.name)).all()
    skills = db.session.scalars(select(Skill).order_by(Skill.name)).all()
    form.set_choices(active_regions(), list(qualifications), list(skills))
    return form


def _criteria(form: SearchForm, name: str | None) -> filters.Criteria:
    d = form.data
    return filters.Criteria(
        region_id=d["region"],
        qualification=d["qualification"] or None,
        qualification_state=filters.QualificationState(
            d["qualification_state"] or filters.QualificationState.VERIFIED
        ),
        skill=d["skill"] or None,
        verification=filters.VerificationFilter(d["verification"]) if d["verification"] else None,
        status=d["status"] or None,
        available_from=d["available_from"],
        available_to=d["available_to"],
        name=name,
    )


def _from_query_string() -> tuple[SearchForm, filters.Criteria | None, dict[str, str]]:
    """The search in the current URL: the form, the criteria (None when invalid), the URL args."""
    formdata = request.args.copy()
    formdata.pop("name", None)  # a name typed into the URL by hand is not used (nor kept)
    form = _search_form(formdata)
    token = request.args.get("n")
    name = _recall_name(token)
    if token and name is None:
        flash(_("The name you searched for is no longer remembered; enter it again."), "info")
    form.name.data = name
    if not form.validate():
        return form, None, {}
    criteria = _criteria(form, name)
    args = criteria.query_args()
    if name:
        args["n"] = token or ""
    return form, criteria, args


@bp.route("/", methods=["GET", "POST"])
@roles(*COORDINATORS)
def search() -> Any:
    g.no_store = True
    if request.method == "POST":
        form = _search_form()
        if form.validate_on_submit():
            name = (form.name.data or "").strip() or None
            args = _criteria(form, name).query_args()
            if name:
                args["n"] = _remember_name(name)
            return redirect(url_for(".search", **args))
        return render_template("coordination/search.html", form=form, result=None, args={})
    form, criteria, args = _from_query_string()
    result = None
    if criteria is not None:
        count_all = request.args.get("count") == "all" and criteria.availability_window is not None
        if count_all:
            args["count"] = "all"
        result = finder.search(
            _me(), criteria, page=_int_arg("page") or 1, page_size=finder.PAGE_SIZE, count_all=count_all
        )
    return render_template(
        "coordination/search.html", form=form, result=result, args=args, labels=labels, today=date.today()
    )


@bp.route("/export.csv", methods=["POST"])
@roles(*COORDINATORS)
def export() -> Any:
    """The current search as CSV. POST with a CSRF token, so no other site can make a
    coordinator's browser export (and fill the access log) behind their back."""
    g.no_store = True
    token = request.args.get("n")
    if token and _recall_name(token) is None:
        # Without the name the export would hold more people than the search showed.
        flash(_("The name you searched for is no longer remembered; search again before exporting."), "error")
        return redirect(url_for(".search"))
    _form, criteria, _args = _from_query_string()
    if criteria is None:
        flash(_("Correct the search before exporting it."), "error")
        return redirect(url_for(".search"))
    _export_id, rows = csv_export.export_rows(_me(), criteria)
    db.session.commit()
    body = "\ufeff" + csv_export.csv_text(rows)
    response = Response(body, mimetype="text/csv; charset=utf-8")
    filename = f"zorgreserve-reservists-{date.today().isoformat()}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


# The reservist page ----------------------------------------------------------------------------


def evidence_url(reservist_id: int, evidence_id: int) -> str | None:
    """A link to a reservist's document for coordinators, when the reservists module serves one."""
    if EVIDENCE_ENDPOINT not in current_app.view_functions:
        return None
    values = {"reservist_id": reservist_id, "evidence_id": evidence_id}
    for rule in current_app.url_map.iter_rules(EVIDENCE_ENDPOINT):
        if rule.arguments <= set(values):
            return url_for(EVIDENCE_ENDPOINT, **{name: values[name] for name in rule.arguments})
    return None


@bp.route("/reservists/<int:reservist_id>")
@roles(*COORDINATORS)
def detail(reservist_id: int) -> Any:
    g.no_store = True
    try:
        detail = services.view_reservist(_me(), reservist_id)
    except NotInScope:
        abort(404)
    db.session.commit()  # the access-log row
    return render_template(
        "coordination/detail.html",
        d=detail,
        r=detail.reservist,
        labels=labels,
        evidence_url=evidence_url,
        today=date.today(),
        now=utcnow(),
        format_date=format_date,
        weekdays=get_day_names("wide", locale=get_locale()),
    )


# Access log --------------------------------------------------------------------------------


def context_label(code: str) -> str:
    """A readable name for where an access happened; unknown contexts are shown as they are."""
    return str(CONTEXT_LABELS.get(code, code))


@bp.route("/reservists/<int:reservist_id>/access-log")
@roles(*COORDINATORS)
def reservist_access_log(reservist_id: int) -> Any:
    g.no_store = True
    try:
        reservist, page = services.reservist_access_log(_me(), reservist_id, before=_int_arg("before"))
    except NotInScope:
        abort(404)
    db.session.commit()  # reading the log is logged
    return render_template(
        "coordination/reservist_access_log.html",
        reservist=reservist,
        page=page,
        labels=labels,
        context_label=context_label,
    )


@bp.route("/access-log")
@roles(Role.NATIONAL_COORDINATOR)
def access_log() -> Any:
    g.no_store = True
    form = AccessLogFilterForm(request.args, meta={"csrf": False})
    page = None
    args: dict[str, str] = {}
    if form.validate():
        log_filter = services.LogFilter(
            actor_id=form.actor.data,
            reservist_id=form.reservist.data,
            date_from=form.date_from.data,
            date_to=form.date_to.data,
        )
        args = {k: str(v) for k, v in request.args.items() if k != "before" and k in form.data and v}
        page = services.browse_access_log(_me(), log_filter, before=_int_arg("before"))
        db.session.commit()  # reading the log is itself recorded
    return render_template(
        "coordination/access_log.html",
        form=form,
        page=page,
        args=args,
        labels=labels,
        context_label=context_label,
    )


@own_log.route("/")
@roles(Role.RESERVIST)
def mine() -> Any:
    g.no_store = True
    page = services.own_access_log(_me(), before=_int_arg("before"))
    return render_template(
        "coordination/own_access_log.html", page=page, labels=labels, context_label=context_label
    )
