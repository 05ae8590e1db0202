"""Timesheets for compensation: one set of rows, written as CSV or as XLSX.

:func:`build` turns the roster of one request, or of all of an institution's
requests over a period, into typed rows (numbers, dates, local times) with a
total per person. :func:`csv_text` and :func:`xlsx_bytes` only format those
rows, column by column from the same column list, so the two files cannot
disagree. Only confirmed hours count as confirmed; hours recorded but not yet
confirmed are totalled apart.

Every text cell goes through :func:`zorgreserve.coordination.export.safe_cell`
in both formats (a name like ``=HYPERLINK(...)`` stays text). Times are
Europe/Amsterdam: CSV writes ``YYYY-MM-DD HH:MM``, XLSX real date and
date-time cells (spreadsheets know no time zones).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import func, select

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.callups.models import Booking, BookingStatus
from zorgreserve.coordination.export import safe_cell
from zorgreserve.coordination.filters import LOCAL
from zorgreserve.deployments.models import DeploymentRequest, Shift, ShiftState
from zorgreserve.reservists.models import Reservist
from zorgreserve.shifts.models import TimesheetCorrection, TimesheetEntry
from zorgreserve.shifts.roster import ON_ROSTER, day_bounds, worked_hours

B = BookingStatus

TEXT, INT, HOURS, DATE, DATETIME = "text", "int", "hours", "date", "datetime"

#: The longest period one institution export covers.
MAX_PERIOD_DAYS = 366


@dataclass(frozen=True)
class Column:
    header: str
    kind: str
    width: int = 14


@dataclass(frozen=True)
class Timesheet:
    line_columns: tuple[Column, ...]
    lines: list[tuple[Any, ...]]
    total_columns: tuple[Column, ...]
    totals: list[tuple[Any, ...]]
    reservist_ids: list[int]


def _line_columns() -> tuple[Column, ...]:
    return (
        Column(_("Request"), INT, 9),
        Column(_("Department"), TEXT, 18),
        Column(_("Reservist number"), INT, 11),
        Column(_("First name"), TEXT, 16),
        Column(_("Surname"), TEXT, 20),
        Column(_("Date"), DATE, 12),
        Column(_("Planned start"), DATETIME, 17),
        Column(_("Planned end"), DATETIME, 17),
        Column(_("Planned hours"), HOURS, 9),
        Column(_("Actual start"), DATETIME, 17),
        Column(_("Actual end"), DATETIME, 17),
        Column(_("Break (minutes)"), INT, 9),
        Column(_("Actual hours"), HOURS, 9),
        Column(_("Status"), TEXT, 12),
        Column(_("Hours confirmed"), TEXT, 10),
        Column(_("Confirmed by"), TEXT, 20),
        Column(_("Confirmed at"), DATETIME, 17),
        Column(_("Corrections"), INT, 9),
    )


def _total_columns() -> tuple[Column, ...]:
    return (
        Column(_("Reservist number"), INT, 11),
        Column(_("First name"), TEXT, 16),
        Column(_("Surname"), TEXT, 20),
        Column(_("Shifts"), INT, 8),
        Column(_("Planned hours"), HOURS, 9),
        Column(_("Confirmed hours"), HOURS, 10),
        Column(_("Unconfirmed hours"), HOURS, 10),
        Column(_("No-shows"), INT, 8),
        Column(_("All confirmed"), TEXT, 10),
    )


def _status_label(booking: Booking, shift: Shift) -> str:
    if shift.state == ShiftState.CANCELLED.value:
        return _("Cancelled")
    return {
        B.APPROVED.value: _("Approved"),
        B.CHECKED_IN.value: _("Checked in"),
        B.COMPLETED.value: _("Completed"),
        B.NO_SHOW.value: _("No-show"),
    }.get(booking.status, booking.status)


def _hours(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds() / 3600, 2)


def _local(value: datetime | None) -> datetime | None:
    return value.astimezone(LOCAL) if value else None


def _names(user: User | None) -> tuple[str, str]:
    """First name and surname; an erased reservist's deployments keep their line, without a name."""
    if user is None:
        return "", _("Erased reservist")
    return user.first_name, user.last_name


@dataclass
class _Total:
    reservist_id: int
    user: User | None
    shifts: int = 0
    planned: float = 0.0
    confirmed: float = 0.0
    unconfirmed: float = 0.0
    no_shows: int = 0
    settled: bool = True  # every shift checked out and confirmed (or a no-show)


def build(
    *,
    request: DeploymentRequest | None = None,
    request_query: Any = None,
    start: date | None = None,
    end: date | None = None,
) -> Timesheet:
    """The timesheet of one request, or of the requests ``request_query`` selects (already scoped).

    ``start``/``end`` are local dates (inclusive) of the shifts' start. A
    person's total counts the planned hours of every shift that was not
    cancelled (a no-show included), the actual hours of confirmed entries as
    confirmed and of checked-out, unconfirmed ones as unconfirmed; "all
    confirmed" is yes only when every such shift is checked out and confirmed
    or a no-show.
    """
    query = (
        select(Booking, Shift, DeploymentRequest, Reservist, User, TimesheetEntry)
        .join(Shift, Shift.id == Booking.shift_id)
        .join(DeploymentRequest, DeploymentRequest.id == Shift.request_id)
        .join(Reservist, Reservist.id == Booking.reservist_id)
        # Outer: the past deployments of an erased reservist stay on the timesheet, nameless.
        .outerjoin(User, User.id == Reservist.user_id)
        .outerjoin(TimesheetEntry, TimesheetEntry.booking_id == Booking.id)
        .where(Booking.status.in_(ON_ROSTER))
        .order_by(Shift.start_at, DeploymentRequest.id, User.last_name, User.first_name, Booking.id)
    )
    if request is not None:
        query = query.where(DeploymentRequest.id == request.id)
    if request_query is not None:
        query = query.where(DeploymentRequest.id.in_(request_query.with_only_columns(DeploymentRequest.id)))
    if start:
        query = query.where(Shift.start_at >= day_bounds(start)[0])
    if end:
        query = query.where(Shift.start_at < day_bounds(end)[1])
    rows = db.session.execute(query).all()

    entry_ids = [entry.id for *_rest, entry in rows if entry is not None]
    corrections = dict(
        db.session.execute(
            select(TimesheetCorrection.entry_id, func.count())
            .where(TimesheetCorrection.entry_id.in_(entry_ids))
            .group_by(TimesheetCorrection.entry_id)
        ).all()
    )
    confirmer_ids = {entry.confirmed_by_id for *_rest, entry in rows if entry and entry.confirmed_by_id}
    confirmers = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(confirmer_ids)))}

    yes, no = _("Yes"), _("No")
    lines: list[tuple[Any, ...]] = []
    totals: dict[int, _Total] = {}
    for booking, shift, req, reservist, user, entry in rows:
        planned = _hours(shift.start_at, shift.end_at)
        actual = worked_hours(booking, entry)
        recorded = booking.status == B.COMPLETED.value and actual is not None
        confirmed = recorded and entry is not None and entry.confirmed_at is not None
        confirmer = confirmers.get(entry.confirmed_by_id) if entry and entry.confirmed_by_id else None
        lines.append(
            (
                req.id,
                req.department,
                reservist.id,
                *_names(user),
                shift.start_at.astimezone(LOCAL).date(),
                _local(shift.start_at),
                _local(shift.end_at),
                planned,
                _local(entry.actual_start_at if entry else None),
                _local(entry.actual_end_at if entry else None),
                entry.break_minutes if entry and entry.actual_end_at else None,
                actual,
                _status_label(booking, shift),
                (yes if confirmed else no) if recorded else "",
                confirmer.full_name if confirmed and confirmer else "",
                _local(entry.confirmed_at) if confirmed and entry else None,
                corrections.get(entry.id, 0) if entry else 0,
            )
        )
        total = totals.setdefault(reservist.id, _Total(reservist.id, user))
        if shift.state == ShiftState.CANCELLED.value:
            continue
        total.shifts += 1
        total.planned = round(total.planned + planned, 2)
        if booking.status == B.NO_SHOW.value:
            total.no_shows += 1
        elif confirmed:
            total.confirmed = round(total.confirmed + (actual or 0.0), 2)
        else:
            total.settled = False
            if recorded:
                total.unconfirmed = round(total.unconfirmed + (actual or 0.0), 2)

    ordered = sorted(
        totals.values(), key=lambda t: (_names(t.user)[1].lower(), _names(t.user)[0].lower(), t.reservist_id)
    )
    return Timesheet(
        line_columns=_line_columns(),
        lines=lines,
        total_columns=_total_columns(),
        totals=[
            (
                t.reservist_id,
                *_names(t.user),
                t.shifts,
                t.planned,
                t.confirmed,
                t.unconfirmed,
                t.no_shows,
                yes if t.settled and t.shifts else no,
            )
            for t in ordered
        ],
        reservist_ids=[t.reservist_id for t in ordered],
    )


def period_error(start: date | None, end: date | None, *, required: bool) -> str | None:
    """Why a period cannot be exported (translated), or None."""
    if required and (start is None or end is None):
        return _("Choose a period: a start and an end date.")
    if start and end and end < start:
        return _("Choose a valid period: the end on or after the start.")
    if start and end and (end - start) >= timedelta(days=MAX_PERIOD_DAYS):
        return _("Choose a period of at most %(days)s days.", days=MAX_PERIOD_DAYS)
    return None


# Formats ----------------------------------------------------------------------------------------


def _csv_cell(value: Any, kind: str) -> str:
    """Every cell, numbers and dates too, through ``safe_cell``: nothing can start a formula."""
    if value is None:
        return ""
    if kind == HOURS:
        return safe_cell(f"{value:.2f}")
    if kind == DATETIME:
        return safe_cell(value.strftime("%Y-%m-%d %H:%M"))
    if kind == DATE:
        return safe_cell(value.isoformat())
    return safe_cell(value)


def _csv_rows(columns: Sequence[Column], rows: list[tuple[Any, ...]]) -> list[list[str]]:
    return [[_csv_cell(value, c.kind) for value, c in zip(row, columns, strict=True)] for row in rows]


def csv_text(sheet: Timesheet) -> str:
    """The lines, an empty row, then the totals per person (the view prepends a BOM)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(c.header) for c in sheet.line_columns])
    writer.writerows(_csv_rows(sheet.line_columns, sheet.lines))
    writer.writerow([])
    writer.writerow([safe_cell(c.header) for c in sheet.total_columns])
    writer.writerows(_csv_rows(sheet.total_columns, sheet.totals))
    return out.getvalue()


_FORMATS = {HOURS: "0.00", DATE: "yyyy-mm-dd", DATETIME: "yyyy-mm-dd hh:mm", INT: "0"}


def _xlsx_value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == DATETIME:
        return value.astimezone(LOCAL).replace(tzinfo=None)
    if kind in (HOURS, INT, DATE):
        return value
    # Control characters make an XLSX file invalid (openpyxl refuses them): drop them.
    return ILLEGAL_CHARACTERS_RE.sub("", safe_cell(value))


def _sheet(book: Workbook, title: str, columns: Sequence[Column], rows: list[tuple[Any, ...]]) -> None:
    sheet = book.create_sheet(title[:31])
    sheet.freeze_panes = "A2"
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    bold = Font(bold=True)
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=safe_cell(column.header))
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in rows:
        cells = []
        for value, column in zip(row, columns, strict=True):
            cell = WriteOnlyCell(sheet, value=_xlsx_value(value, column.kind))
            if column.kind in _FORMATS:
                cell.number_format = _FORMATS[column.kind]
            cells.append(cell)
        sheet.append(cells)


def xlsx_bytes(sheet: Timesheet) -> bytes:
    """A workbook with two sheets, the lines and the totals per person, each with a frozen header."""
    book = Workbook(write_only=True)
    _sheet(book, _("Timesheet"), sheet.line_columns, sheet.lines)
    _sheet(book, _("Totals"), sheet.total_columns, sheet.totals)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
