"""Reference data pages (administrators edit, coordinators read)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from zorgreserve.accounts.roles import Role, roles
from zorgreserve.reference.services import active_regions

bp = Blueprint("reference", __name__, url_prefix="/reference")


@bp.route("/")
@roles(Role.ADMINISTRATOR)
def index() -> Any:
    return render_template("reference/index.html", regions=active_regions())
