"""Forms of the privacy module: the erasure confirmation and the CSV import.

None of them takes an id, a role or a scope from input: erasure always applies
to the signed-in reservist, and an import always runs in the importer's scope.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import EmailField, HiddenField, PasswordField
from wtforms.validators import InputRequired, Length, Regexp

from zorgreserve.accounts.passwords import MAX_LENGTH


class EraseForm(FlaskForm):
    """Erasure is final: the reservist retypes their address and proves it is them."""

    email = EmailField(
        _l("Your e-mail address"),
        validators=[InputRequired(), Length(max=254)],
        description=_l("Type the address you sign in with, to confirm."),
        render_kw={"autocomplete": "off"},
    )
    password = PasswordField(
        _l("Your current password"),
        validators=[InputRequired(), Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )


def _csv_file(field_id: str | None = None) -> FileField:
    return FileField(
        _l("CSV file"),
        id=field_id,
        validators=[
            FileRequired(message=_l("Choose a CSV file.")),
            FileAllowed(["csv", "txt"], message=_l("Upload a .csv file.")),
        ],
        render_kw={"accept": ".csv,text/csv"},
    )


class ImportCheckForm(FlaskForm):
    """Step 1, the dry run: upload a file to check it; nothing is saved."""

    file = _csv_file()


class ImportApplyForm(FlaskForm):
    """Step 2: upload the same file again; ``sha256`` is the hash shown by the dry run."""

    file = _csv_file("apply_file")  # its own id: both forms share one page
    sha256 = HiddenField(
        validators=[InputRequired(), Regexp(r"^[0-9a-f]{64}$", message=_l("Check the file first."))]
    )
