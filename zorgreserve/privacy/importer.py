"""Bulk import of reservists from CSV, for onboarding existing lists (coordinators only).

Columns (header row required, any order, names as below, case-insensitive):

    first_name, last_name, email, mobile, pc4, qualification_code, obtained_on

The file is UTF-8 (with or without a byte-order mark), separated by ``;`` or
``,`` (detected from the header), at most 2 MB and 5,000 rows. Row numbers are
the rows a spreadsheet shows: the header is row 1. Dates are YYYY-MM-DD or
DD-MM-YYYY; ``pc4`` may be given as a full postcode (only the four digits are kept).

:func:`check_import` is the dry run: it reads and checks everything, writes
nothing, and reports file-level errors and per-row errors. :func:`apply_import`
runs the same checks on the re-uploaded file, refuses unless it is the very
file that was checked (its SHA-256) and every row is valid, and then creates
everything in the caller's transaction: all rows or none. The file lives only
in memory for the length of a request.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import secrets
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.accounts.roles import Role
from zorgreserve.accounts.services import new_nonce, normalise_email, queue_email
from zorgreserve.audit.services import log_access, record
from zorgreserve.phones import InvalidPhoneNumber, is_mobile, normalise_phone
from zorgreserve.privacy.reminders import local_today
from zorgreserve.reference.models import MunicipalityRegion, Postcode, Qualification, Region
from zorgreserve.reservists.models import Reservist, ReservistQualification, Verification
from zorgreserve.reservists.services import set_home_postcode

COLUMNS = ("first_name", "last_name", "email", "mobile", "pc4", "qualification_code", "obtained_on")
MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
_IN_CHUNK = 500
_POSTCODE = re.compile(r"^(\d{4})\s?([A-Za-z]{2})?$")
_ISO_DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")
_DUTCH_DATE = re.compile(r"^(\d{1,2})-(\d{1,2})-(\d{4})$")


@dataclass
class RowError:
    column: str | None
    message: Any


@dataclass
class ImportRow:
    """One data row: the raw values as read, what they parse to, and what is wrong with them."""

    number: int
    values: dict[str, str]
    errors: list[RowError] = field(default_factory=list)
    email: str | None = None
    phone: str | None = None
    pc4: str | None = None
    region_id: int | None = None
    qualification_id: int | None = None
    obtained_on: date | None = None

    def error(self, column: str | None, message: Any) -> None:
        self.errors.append(RowError(column, message))


@dataclass
class ImportCheck:
    """The result of reading a file: its hash, file-level errors, and every row."""

    sha256: str
    size: int
    file_errors: list[Any] = field(default_factory=list)
    rows: list[ImportRow] = field(default_factory=list)
    created: int = 0

    @property
    def error_rows(self) -> list[ImportRow]:
        return [row for row in self.rows if row.errors]

    @property
    def ok(self) -> bool:
        return not self.file_errors and bool(self.rows) and not self.error_rows


class ImportRefused(ValueError):
    """Nothing was imported; ``check`` says why (file-level or row errors, or another file)."""

    def __init__(self, check: ImportCheck) -> None:
        super().__init__("import refused")
        self.check = check


# Reading the file ---------------------------------------------------------------------


def _decode(data: bytes) -> str | None:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def _delimiter(text: str) -> str:
    header = text.split("\n", 1)[0]
    return ";" if header.count(";") > header.count(",") else ","


def _read(data: bytes, check: ImportCheck) -> list[ImportRow]:
    """Decode and split the file; file-level problems go to ``check.file_errors``."""
    if check.size == 0:
        check.file_errors.append(_l("The file is empty."))
        return []
    if check.size > MAX_BYTES:
        check.file_errors.append(_l("The file is larger than 2 MB. Split it into smaller files."))
        return []
    text = _decode(data)
    if text is None:
        check.file_errors.append(
            _l(
                "The file is not in UTF-8. In your spreadsheet program, save it as "
                '"CSV UTF-8" and upload it again.'
            )
        )
        return []
    if "\x00" in text:
        check.file_errors.append(_l("This is not a CSV text file."))
        return []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        records = list(reader)
    except csv.Error:
        check.file_errors.append(_l("The file could not be read as CSV. Check the quotes in the file."))
        return []
    if not records or not any(cell.strip() for cell in records[0]):
        check.file_errors.append(_l("The file has no header row."))
        return []
    header = [cell.strip().lower() for cell in records[0]]
    missing = [name for name in COLUMNS if name not in header]
    unknown = [name for name in header if name not in COLUMNS]
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if missing or unknown or duplicated:
        check.file_errors.append(
            _l(
                "The columns are not right. Expected: %(expected)s. Missing: %(missing)s. "
                "Not recognised: %(unknown)s. Repeated: %(repeated)s.",
                expected=", ".join(COLUMNS),
                missing=", ".join(missing) or "-",
                unknown=", ".join(unknown) or "-",
                repeated=", ".join(duplicated) or "-",
            )
        )
        return []
    rows: list[ImportRow] = []
    for index, record_ in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record_):
            continue  # spreadsheets export empty lines at the end
        row = ImportRow(number=index, values={})
        if len(record_) != len(header):
            row.error(
                None,
                _l(
                    "This row has %(got)s fields instead of %(expected)s.",
                    got=len(record_),
                    expected=len(header),
                ),
            )
        for position, name in enumerate(header):
            row.values[name] = record_[position].strip() if position < len(record_) else ""
        rows.append(row)
    if not rows:
        check.file_errors.append(_l("The file has no rows below the header."))
    elif len(rows) > MAX_ROWS:
        check.file_errors.append(
            _l("The file has %(count)s rows; at most %(max)s are allowed.", count=len(rows), max=MAX_ROWS)
        )
        return []
    return rows


# Checking the rows --------------------------------------------------------------------


def _parse_date(raw: str) -> date | None:
    try:
        if _ISO_DATE.match(raw):
            year, month, day = (int(part) for part in raw.split("-"))
            return date(year, month, day)
        match = _DUTCH_DATE.match(raw)
        if match:
            return date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
    except ValueError:
        return None
    return None


def _postcodes() -> dict[str, int]:
    """Every known PC4 with the region it lies in today (about 4,000 rows, read once per file)."""
    rows = db.session.execute(
        select(Postcode.pc4, MunicipalityRegion.region_id)
        .join(MunicipalityRegion, MunicipalityRegion.municipality_code == Postcode.municipality_code)
        .where(MunicipalityRegion.valid_to.is_(None))
    )
    return {pc4: region_id for pc4, region_id in rows}


def _existing_emails(emails: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(emails), _IN_CHUNK):
        chunk = emails[start : start + _IN_CHUNK]
        found.update(db.session.scalars(select(User.email).where(User.email.in_(chunk))))
    return found


def _check_fields(row: ImportRow, today: date) -> None:
    values = row.values
    for name in COLUMNS:
        if not values.get(name):
            row.error(name, _l("This field is empty."))
    for name in ("first_name", "last_name"):
        if len(values.get(name, "")) > 100:
            row.error(name, _l("Use at most 100 characters."))
    raw_email = values.get("email", "")
    if raw_email:
        try:
            validate_email(raw_email, check_deliverability=False)
        except EmailNotValidError:
            row.error("email", _l("This is not a valid e-mail address."))
        else:
            row.email = normalise_email(raw_email)
            if len(row.email) > 254:
                row.error("email", _l("This e-mail address is too long."))
    raw_phone = values.get("mobile", "")
    if raw_phone:
        try:
            row.phone = normalise_phone(raw_phone)
        except InvalidPhoneNumber:
            row.error("mobile", _l("This is not a valid phone number."))
        else:
            if not is_mobile(row.phone):
                row.error("mobile", _l("This is not a mobile number; call-ups are sent by text message."))
    raw_pc4 = values.get("pc4", "")
    if raw_pc4:
        match = _POSTCODE.match(raw_pc4)
        if match is None:
            row.error("pc4", _l("A postcode has four digits, for example 3511."))
        else:
            row.pc4 = match.group(1)
    raw_date = values.get("obtained_on", "")
    if raw_date:
        row.obtained_on = _parse_date(raw_date)
        if row.obtained_on is None:
            row.error("obtained_on", _l("Write the date as YYYY-MM-DD or DD-MM-YYYY."))
        elif row.obtained_on > today:
            row.error("obtained_on", _l("This date is in the future."))


def _check_rows(rows: list[ImportRow], importer: User) -> None:
    """Every per-row rule, with bulk lookups (postcodes, qualifications, existing accounts)."""
    today = local_today()
    for row in rows:
        _check_fields(row, today)
    postcodes = _postcodes()
    qualifications = {
        code.lower(): qid for code, qid in db.session.execute(select(Qualification.code, Qualification.id))
    }
    own_region = None
    if importer.role_enum is Role.REGIONAL_COORDINATOR:
        own_region = db.session.get(Region, importer.region_id)
    first_seen: dict[str, int] = {}
    for row in rows:
        if row.pc4 is not None:
            row.region_id = postcodes.get(row.pc4)
            if row.region_id is None:
                row.error("pc4", _l("Postcode %(pc4)s is not known.", pc4=row.pc4))
            elif own_region is not None and row.region_id != own_region.id:
                row.error(
                    "pc4",
                    _l(
                        "Postcode %(pc4)s lies outside your region %(region)s.",
                        pc4=row.pc4,
                        region=own_region.name,
                    ),
                )
        code = row.values.get("qualification_code", "")
        if code:
            row.qualification_id = qualifications.get(code.lower())
            if row.qualification_id is None:
                row.error("qualification_code", _l("Qualification code %(code)s is not known.", code=code))
        if row.email is not None:
            if row.email in first_seen:
                row.error(
                    "email", _l("This e-mail address is also on row %(row)s.", row=first_seen[row.email])
                )
            else:
                first_seen[row.email] = row.number
    taken = _existing_emails(sorted(first_seen))
    for row in rows:
        if row.email in taken:
            row.error("email", _l("This e-mail address already has an account."))


def check_import(data: bytes, importer: User) -> ImportCheck:
    """The dry run: read and check the whole file; writes nothing."""
    check = ImportCheck(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    rows = _read(data, check)
    if rows and not check.file_errors:
        _check_rows(rows, importer)
    check.rows = rows
    return check


# Applying -----------------------------------------------------------------------------


def _unusable_password() -> str:
    """Not a valid Argon2 hash, so no password matches until the person activates the account."""
    return "!imported:" + secrets.token_hex(16)


def apply_import(data: bytes, importer: User, checked_sha256: str) -> ImportCheck:
    """Create every row of a checked file, or nothing (raises :class:`ImportRefused`).

    Creates per row: a reservist account (unverified address, unusable
    password), the reservist record with its home postcode, one unverified
    qualification, an access-log row (a coordinator created this person's
    record) and an activation e-mail through the outbox. One audit event with
    counts only describes the import.
    """
    importer = db.session.get(User, importer.id) or importer  # attached, for the log's organisation
    check = check_import(data, importer)
    if check.sha256 != checked_sha256:
        check.file_errors.append(
            _l("This is not the file that was checked. Check the file again before importing it.")
        )
    if not check.ok:
        raise ImportRefused(check)
    users = [
        User(
            email=row.email,
            password_hash=_unusable_password(),
            role=Role.RESERVIST.value,
            first_name=row.values["first_name"],
            last_name=row.values["last_name"],
            phone=row.phone,
            locale="nl",
            session_nonce=new_nonce(),
            email_verified_at=None,
        )
        for row in check.rows
    ]
    db.session.add_all(users)
    db.session.flush()
    reservists = []
    for row, user in zip(check.rows, users, strict=True):
        reservist = Reservist(user_id=user.id)
        set_home_postcode(reservist, row.pc4)
        reservists.append(reservist)
    db.session.add_all(reservists)
    db.session.flush()
    for row, reservist in zip(check.rows, reservists, strict=True):
        db.session.add(
            ReservistQualification(
                reservist_id=reservist.id,
                qualification_id=row.qualification_id,
                obtained_on=row.obtained_on,
                verification=Verification.UNVERIFIED.value,
            )
        )
        log_access("change", reservist.id, "privacy.import", actor=importer)
    db.session.flush()
    for user in users:
        queue_email("activate_account", user_id=user.id)
    record(
        "reservists.imported",
        actor=importer,
        subject_type="import",
        rows=len(check.rows),
        created=len(users),
    )
    check.created = len(users)
    return check
