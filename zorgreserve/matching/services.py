"""What the coordinator's candidates page needs beyond the engine: names, the lookup, the access log.

The engine speaks in ids; this module adds the people's names for the page (in
one query), finds a reservist by name or BIG number within the coordinator's
scope, and records every reservist shown in the access log: one row per
reservist (``view``, context ``matching.candidates`` or ``matching.why``), so a
reservist's own access log shows each time they appeared on a candidates page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import func, or_, select

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.coordination.export import log_many
from zorgreserve.reservists.models import BigRegistration, Reservist
from zorgreserve.reservists.services import scope_filter

LOOKUP_LIMIT = 10
CANDIDATES_SHOWN = 25
BIG_NUMBER = re.compile(r"^\d{11}$")


def names(reservist_ids: Iterable[int]) -> dict[int, str]:
    """Display names of reservists (erased ones have none and are left out)."""
    ids = sorted(set(reservist_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        select(Reservist.id, User.first_name, User.last_name)
        .join(User, User.id == Reservist.user_id)
        .where(Reservist.id.in_(ids))
    )
    return {rid: f"{first} {last}".strip() for rid, first, last in rows}


def find_reservists(user: User, query: str) -> list[tuple[int, str]]:
    """Reservists in ``user``'s scope by BIG number (exactly) or name (first, last or full, prefix)."""
    term = " ".join(query.split())
    base = scope_filter(user, select(Reservist.id, User.first_name, User.last_name)).join(
        User, User.id == Reservist.user_id
    )
    base = base.where(Reservist.erased_at.is_(None))
    if BIG_NUMBER.match(term.replace(" ", "")):
        number = term.replace(" ", "")
        base = base.where(
            Reservist.id.in_(select(BigRegistration.reservist_id).where(BigRegistration.big_number == number))
        )
    else:
        pattern = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        full = func.lower(User.first_name + " " + User.last_name)
        base = base.where(
            or_(
                func.lower(User.first_name).like(pattern, escape="\\"),
                func.lower(User.last_name).like(pattern, escape="\\"),
                full.like(pattern, escape="\\"),
            )
        )
    ordered = base.order_by(User.last_name, User.first_name, Reservist.id)
    rows = db.session.execute(ordered.limit(LOOKUP_LIMIT))
    return [(rid, f"{first} {last}".strip()) for rid, first, last in rows]


def log_shown(user: User, reservist_ids: Iterable[int], context: str, request_id: int) -> None:
    """One access-log row per reservist shown to ``user`` (see the module docstring)."""
    log_many(user, "view", sorted(set(reservist_ids)), context, request_id=request_id)
