"""The coordinator's candidates page of a deployment request, and the "why not?" lookup.

Only coordinators of the request's region and national coordinators: the
request is looked up through the deployments scope (another region's request is
a 404). Filters travel in the query string as ids and codes; the lookup by name
or BIG number is a POST so no personal data ever appears in a URL.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from zorgreserve import db
from zorgreserve.accounts.roles import Role, roles
from zorgreserve.audit.services import log_access
from zorgreserve.db import utcnow
from zorgreserve.deployments import services as deployments
from zorgreserve.matching import engine, explain, services
from zorgreserve.matching.forms import FilterForm, WhyForm
from zorgreserve.matching.ranking import WEIGHT_KEYS

bp = Blueprint("matching", __name__, url_prefix="/requests")


def _request_or_404(request_id: int) -> Any:
    try:
        found = deployments.request_in_scope(current_user, request_id)
    except deployments.NotInScope:
        abort(404)
    if not deployments.can_decide(current_user, found):
        abort(404)
    return found


def part_label(name: str) -> str:
    labels = {
        "recent_hours": _("Fewest hours in 28 days"),
        "since_last": _("Longest since last deployment"),
        "travel": _("Shorter travel"),
        "continuity": _("Continuity"),
        "own_region": _("Own region"),
    }
    return labels.get(name, name)


def _shift_choices(deployment_request: Any) -> list[tuple[str, str]]:
    from flask_babel import format_datetime

    from zorgreserve.core.filters import register  # noqa: F401  (filters are registered on the app)

    return [
        (str(s.id), format_datetime(s.start_at, "EEE d MMM HH:mm") + "–" + format_datetime(s.end_at, "HH:mm"))
        for s in deployment_request.active_shifts
    ]


def _filters(form: FilterForm) -> dict[str, Any]:
    reach = form.reach.data or None
    return {"reach": reach, "radius_km": float(form.radius.data) if form.radius.data else None}


@bp.route("/<int:request_id>/candidates", methods=["GET", "POST"])
@roles(Role.REGIONAL_COORDINATOR, Role.NATIONAL_COORDINATOR)
def candidates(request_id: int) -> Any:
    """Candidates per open shift with their score parts; POST: why (not) for one reservist and shift."""
    deployment_request = _request_or_404(request_id)
    choices = _shift_choices(deployment_request)
    filter_form = FilterForm(request.args)
    filter_form.shift.choices = [("", _("All open shifts")), *choices]
    why_form = WhyForm()
    why_form.shift_id.choices = [(int(value), label) for value, label in choices]
    valid_filters = filter_form.validate()
    filters = _filters(filter_form) if valid_filters else {"reach": None, "radius_km": None}
    if request.method == "POST":
        filters = {
            "reach": why_form.reach.data or None,
            "radius_km": float(why_form.radius.data) if (why_form.radius.data or "").isdigit() else None,
        }
        if filters["reach"] not in (None, "own_region", "neighbours", "national"):
            filters["reach"] = None
    now = utcnow()
    config = current_app.config
    ranked = engine.rank_request(db.session, deployment_request.id, config=config, now=now, **filters)
    shown_shift = filter_form.shift.data if valid_filters and request.method == "GET" else ""
    shifts = [s for s in deployment_request.active_shifts if s.id in ranked]
    if shown_shift:
        shifts = [s for s in shifts if str(s.id) == shown_shift]
    lists = {s.id: ranked[s.id][: services.CANDIDATES_SHOWN] for s in shifts}
    shown_ids = {c.reservist_id for found in lists.values() for c in found}
    people = services.names(shown_ids)
    services.log_shown(current_user, shown_ids, "matching.candidates", deployment_request.id)

    matches: list[tuple[int, str]] = []
    verdict = None
    status = 200
    if request.method == "POST":
        if why_form.validate():
            chosen = why_form.reservist_id.data
            matches = services.find_reservists(current_user, why_form.query.data)
            if chosen and chosen.isdigit() and int(chosen) in {rid for rid, _name in matches}:
                matches = [m for m in matches if m[0] == int(chosen)]
            if len(matches) == 1:
                rid, name = matches[0]
                results = engine.why(
                    db.session, rid, why_form.shift_id.data, config=config, now=now, **filters
                )
                verdict = {"name": name, "results": results, "eligible": engine.is_eligible(results)}
                log_access("view", rid, "matching.why", request_id=deployment_request.id)
            elif not matches:
                why_form.query.errors = [_("No reservist in your scope matches this name or BIG number.")]
                status = 422
        else:
            status = 422
    db.session.commit()
    return render_template(
        "matching/candidates.html",
        req=deployment_request,
        shifts=shifts,
        lists=lists,
        people=people,
        filter_form=filter_form,
        why_form=why_form,
        matches=matches,
        verdict=verdict,
        part_names=list(WEIGHT_KEYS),
        part_label=part_label,
        rule_name=explain.rule_name,
        filters=filters,
        shown=services.CANDIDATES_SHOWN,
    ), status
