"""Home, dashboard, language switch and the health endpoint."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import text

from zorgreserve import db
from zorgreserve.accounts.forms import LanguageForm
from zorgreserve.accounts.models import User
from zorgreserve.accounts.roles import public, signed_in
from zorgreserve.core.urls import safe_next
from zorgreserve.db import utcnow
from zorgreserve.i18n import LANGUAGE_COOKIE

bp = Blueprint("core", __name__)


@bp.route("/")
@public
def home() -> Any:
    from zorgreserve.demo.services import demo_logins

    logins = demo_logins() if current_app.config.get("SHOW_DEMO_LOGINS") else []
    return render_template("core/home.html", demo_logins=logins)


@bp.route("/dashboard")
@signed_in
def dashboard() -> Any:
    return render_template("core/dashboard.html")


@bp.route("/language", methods=["POST"])
@public
def language() -> Any:
    form = LanguageForm()
    target = safe_next(form.next.data) or url_for("core.home")
    if not form.validate_on_submit():
        return redirect(target)
    if current_user.is_authenticated:
        user = db.session.get(User, current_user.id)
        if user is not None:
            user.locale = form.language.data
            db.session.commit()
    response = redirect(target)
    response.set_cookie(
        LANGUAGE_COOKIE,
        form.language.data,
        max_age=365 * 86400,
        httponly=True,
        samesite="Lax",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )
    return response


@bp.route("/health")
@public
def health() -> Any:
    """Liveness for load balancers: database required, Redis and worker reported.

    Bookings and answer pages need only the database, so a Redis outage makes
    the service ``degraded`` (HTTP 200), while a database outage is ``down`` (503).
    """
    from zorgreserve.jobs.heartbeat import last_heartbeat
    from zorgreserve.jobs.queue import is_embedded, redis_connection

    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:
        checks["database"] = "down"
    try:
        redis_connection().ping()
        checks["queue"] = "ok" if not is_embedded() else "embedded"
    except Exception:
        checks["queue"] = "down"
    beat = last_heartbeat() if checks["database"] == "ok" else None
    checks["worker"] = "ok" if beat and utcnow() - beat < timedelta(minutes=3) else "unknown"
    if checks["database"] != "ok":
        status, code = "down", 503
    elif checks["queue"] == "down" or checks["worker"] != "ok":
        status, code = "degraded", 200
    else:
        status, code = "ok", 200
    if request.args.get("format") == "text":
        return f"{status}\n", code
    return jsonify(status=status, checks=checks), code
