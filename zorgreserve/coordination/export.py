"""The CSV export of a coordinator's search, and the access-log rows it leaves.

Who may export is the view's business (coordinators); what is exported is the
search in the coordinator's scope, every page of it. Each exported reservist
gets an access-log row of their own (action ``export``), all sharing one
``export_id``: that way each reservist's own log shows the export, and the
privacy officer can gather one export back together. One row per reservist,
not one row listing ids, because ``access_log`` is queried per subject.

Spreadsheet programs execute cells that start with ``=``, ``+``, ``-`` or ``@``
(and some treat a leading tab or carriage return the same way): such cells get
a leading apostrophe, so a name like ``=HYPERLINK(...)`` stays text.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import ARRAY, Integer, bindparam, func, literal, select

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.audit.models import AccessLogEntry
from zorgreserve.coordination.filters import LOCAL, Criteria, available_ids, filtered, verified_now
from zorgreserve.coordination.search import SORT_KEY
from zorgreserve.coordination.services import LogContext
from zorgreserve.db import utcnow
from zorgreserve.phones import display_phone
from zorgreserve.privacy.labels import STATUS
from zorgreserve.reference.models import Qualification, Region, Skill
from zorgreserve.reservists.models import Reservist, ReservistQualification, ReservistSkill

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class ExportRow:
    id: int
    first_name: str
    last_name: str
    email: str
    phone: str | None
    pc4: str | None
    region: str | None
    status: str
    paused_until: date | None
    qualifications: list[str]
    skills: list[str]
    updated_at: datetime


EXPORT_COLUMNS = (
    Reservist.id,
    User.first_name,
    User.last_name,
    User.email,
    User.phone,
    Reservist.pc4,
    Region.name.label("region"),
    Reservist.status,
    Reservist.paused_until,
    Reservist.updated_at,
)


def export_rows(actor: User, criteria: Criteria) -> tuple[str, list[ExportRow]]:
    """Every reservist matching ``criteria`` in ``actor``'s scope, with the access-log rows written.

    Returns the export id shared by those rows, and the rows in search order.
    Three queries, each with the search's own filter as a subquery (no long
    lists of ids); an availability range is then applied exactly, in Python.
    """
    today = date.today()
    query = filtered(actor, criteria, EXPORT_COLUMNS, today).outerjoin(
        Region, Region.id == Reservist.home_region_id
    )
    rows = [
        ExportRow(**row._asdict(), qualifications=[], skills=[])
        for row in db.session.execute(query.order_by(*SORT_KEY))
    ]
    if criteria.availability_window is not None:
        keep = available_ids(criteria, [row.id for row in rows])
        rows = [row for row in rows if row.id in keep]
    by_id = {row.id: row for row in rows}
    matching = filtered(actor, criteria, (Reservist.id,), today)
    for rid, name in db.session.execute(
        select(ReservistQualification.reservist_id, Qualification.name)
        .join(Qualification, Qualification.id == ReservistQualification.qualification_id)
        .where(ReservistQualification.reservist_id.in_(matching), verified_now(today))
        .order_by(Qualification.name)
    ):
        if rid in by_id:
            by_id[rid].qualifications.append(name)
    for rid, name in db.session.execute(
        select(ReservistSkill.reservist_id, Skill.name)
        .join(Skill, Skill.id == ReservistSkill.skill_id)
        .where(ReservistSkill.reservist_id.in_(matching))
        .order_by(Skill.name)
    ):
        if rid in by_id:
            by_id[rid].skills.append(name)
    export_id = uuid.uuid4().hex
    exported = [row.id for row in rows]
    log_many(actor, "export", exported, LogContext.EXPORT, export_id=export_id, **criteria.summary())
    return export_id, rows


def _organisation(actor: User) -> str | None:
    """The organisation on whose behalf ``actor`` acts (as :func:`log_access` records it)."""
    if getattr(actor, "institution", None) is not None:
        return actor.institution.name
    if getattr(actor, "region", None) is not None:
        return actor.region.name
    return None


def log_many(actor: User, action: str, reservist_ids: list[int], context: str, **details: Any) -> None:
    """One access-log row per reservist, written in one statement (exports can be large).

    The same fields as :func:`zorgreserve.audit.services.log_access` writes for
    one row. On PostgreSQL the ids travel as one array and the database makes
    the rows (``INSERT ... SELECT unnest(...)``); elsewhere an executemany.
    """
    if not reservist_ids:
        return
    table = AccessLogEntry.__table__
    common = {
        "occurred_at": utcnow(),
        "action": action,
        "actor_id": actor.id,
        "actor_role": actor.role,
        "organisation": _organisation(actor),
        "context": str(context),
        "details": details,
    }
    if db.session.get_bind().dialect.name == "postgresql":
        ids = (
            func.unnest(bindparam("ids", reservist_ids, type_=ARRAY(Integer)))
            .table_valued("rid")
            .render_derived()
        )
        source = select(
            *(literal(value, table.c[name].type).label(name) for name, value in common.items()),
            ids.c.rid.label("subject_reservist_id"),
        )
        db.session.execute(table.insert().from_select([*common, "subject_reservist_id"], source))
        return
    db.session.execute(table.insert(), [dict(common, subject_reservist_id=rid) for rid in reservist_ids])


# The CSV ------------------------------------------------------------------------------------


def safe_cell(value: Any) -> str:
    """The cell as text, with a leading apostrophe when a spreadsheet would run it as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def csv_text(rows: list[ExportRow]) -> str:
    """The export as CSV text (comma separated, every cell formula-safe, UTF-8 with a BOM
    prepended by the view so spreadsheet programs read the accents right)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        [
            _("Reservist number"),
            _("First name"),
            _("Surname"),
            _("E-mail"),
            _("Mobile"),
            _("Postcode (PC4)"),
            _("Home region"),
            _("Status"),
            _("Paused until"),
            _("Verified qualifications"),
            _("Skills"),
            _("Last updated"),
        ]
    )
    statuses = {code: str(label) for code, label in STATUS.items()}
    for row in rows:
        writer.writerow(
            safe_cell(value)
            for value in (
                row.id,
                row.first_name,
                row.last_name,
                row.email,
                display_phone(row.phone) if row.phone else "",
                row.pc4,
                row.region,
                statuses.get(row.status, row.status),
                row.paused_until.isoformat() if row.paused_until else "",
                "; ".join(row.qualifications),
                "; ".join(row.skills),
                _local(row.updated_at),
            )
        )
    return out.getvalue()


def _local(value: datetime) -> str:
    return value.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M")
