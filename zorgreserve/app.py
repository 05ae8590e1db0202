"""The application factory: a short list of ``register_*`` steps."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from flask import Flask

from zorgreserve import db
from zorgreserve.config import load_config

ROOT = Path(__file__).resolve().parent.parent
_hooks_installed = False


def freeze_startup_objects() -> None:
    """Take everything alive after start-up out of the garbage collector's sight.

    A process holds a great many long-lived objects from start-up (some 700 modules:
    SQLAlchemy's mappers and compiled statements, templates, the SMS provider's SDK
    models). Every full collection walked all of them: with 200 accepts at once
    that was more than half of an accept's CPU (8.6 ms against 3.5 ms with this, in
    ``zorgreserve bench callups``), and in a forked process the walk also copies the
    parent's memory pages. Objects made afterwards are collected as usual. Call it
    once the app is built, before serving or forking.
    """
    gc.collect()
    gc.freeze()


def create_app(overrides: dict[str, Any] | None = None, instance_path: str | None = None) -> Flask:
    """Build the web application. Starts no threads and runs no migrations."""
    app = Flask(
        "zorgreserve",
        instance_path=instance_path or str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(Path(__file__).parent / "static"),
    )
    app.config.update(load_config(app.instance_path))
    if overrides:
        app.config.update(overrides)
    register_logging(app)
    register_database(app)
    register_extensions(app)
    register_blueprints(app)
    register_request_hooks(app)
    register_error_handlers(app)
    register_template_helpers(app)
    return app


def register_logging(app: Flask) -> None:
    from zorgreserve.core.logging import configure_logging

    configure_logging(app.config["LOG_LEVEL"])


def register_database(app: Flask) -> None:
    global _hooks_installed
    from zorgreserve.jobs.services import install_session_hooks

    if not app.config.get("DATABASE_EXTERNAL_SESSION"):
        db.init_engine(app.config["DATABASE_URL"])
    if not _hooks_installed:
        install_session_hooks(db.session)
        _hooks_installed = True

    @app.teardown_appcontext
    def _remove_session(_exc: BaseException | None) -> None:
        db.session.remove()


def register_extensions(app: Flask) -> None:
    from zorgreserve.accounts.sessions import load_user
    from zorgreserve.extensions import babel, csrf, limiter, login_manager, mail
    from zorgreserve.i18n import select_locale, select_timezone

    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    csrf.init_app(app)
    mail.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.user_loader(load_user)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = None  # the login page explains itself; no flash on every redirect
    login_manager.session_protection = "strong"


def register_blueprints(app: Flask) -> None:
    from zorgreserve.accounts.views import bp as accounts_bp
    from zorgreserve.availability.views import bp as availability_bp
    from zorgreserve.callups.approval_views import bp as approvals_bp
    from zorgreserve.callups.views import bp as callups_bp
    from zorgreserve.coordination.views import bp as coordination_bp
    from zorgreserve.coordination.views import own_log as own_access_log_bp
    from zorgreserve.core.views import bp as core_bp
    from zorgreserve.deployments.views import bp as deployments_bp
    from zorgreserve.institutions.views import bp as institutions_bp
    from zorgreserve.matching.views import bp as matching_bp
    from zorgreserve.privacy.views import bp as privacy_bp
    from zorgreserve.privacy.views import imports as imports_bp
    from zorgreserve.reference.views import bp as reference_bp
    from zorgreserve.reservists.views import bp as reservists_bp
    from zorgreserve.shifts.views import bp as shifts_bp
    from zorgreserve.surge.views import bp as surge_bp
    from zorgreserve.verification.views import bp as verification_bp

    for blueprint in (
        core_bp,
        accounts_bp,
        institutions_bp,
        reference_bp,
        reservists_bp,
        availability_bp,
        verification_bp,
        coordination_bp,
        own_access_log_bp,
        privacy_bp,
        imports_bp,
        deployments_bp,
        matching_bp,
        surge_bp,
        callups_bp,
        approvals_bp,
        shifts_bp,
    ):
        app.register_blueprint(blueprint)


def register_request_hooks(app: Flask) -> None:
    from zorgreserve.accounts.sessions import enforce_session_rules
    from zorgreserve.core.input import refuse_nul_characters
    from zorgreserve.core.security import apply_security_headers

    app.before_request(refuse_nul_characters)
    app.before_request(enforce_session_rules)
    app.after_request(apply_security_headers)


def register_error_handlers(app: Flask) -> None:
    from zorgreserve.core.errors import register

    register(app)


def register_template_helpers(app: Flask) -> None:
    from zorgreserve.core.filters import register

    register(app)
