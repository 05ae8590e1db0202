"""The coordinators' today/tomorrow page (routes on the shifts blueprint, imported by ``shifts/views.py``)."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask_login import current_user

from zorgreserve.accounts.roles import Role, roles
from zorgreserve.db import utcnow
from zorgreserve.shifts import roster
from zorgreserve.shifts import today as service
from zorgreserve.shifts.views import bp


@bp.route("/shifts/today")
@roles(Role.REGIONAL_COORDINATOR, Role.NATIONAL_COORDINATOR)
def today() -> Any:
    """A regional coordinator sees their own region (a ``region`` argument is ignored); a national
    coordinator all regions, or the one chosen."""
    from zorgreserve.reference.services import active_regions

    national = current_user.role_enum is Role.NATIONAL_COORDINATOR
    regions = active_regions() if national else []
    region_id = request.args.get("region", type=int) if national else None
    if region_id is not None and all(r.id != region_id for r in regions):
        region_id = None
    now = utcnow()
    return render_template(
        "shifts/today.html",
        days=service.today_and_tomorrow(current_user, region_id, now),
        regions=regions,
        region_id=region_id,
        now=now,
        late_hours=int(service.late_cancel_window().total_seconds() // 3600),
        can_see_roster=current_user.role_enum in roster.READERS,
    )
