"""Decision forms of the verification pages.

The item and the coordinator come from the URL and the session, never from the
form; ``version`` carries back what the coordinator saw, so a decision on an
item the reservist changed meanwhile is refused. The verify and reject forms
share one page and so use prefixes (``verify-…``, ``reject-…``).
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, SelectField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from zorgreserve.verification.services import GROUNDS, ItemKind

REASON_MAX = 1000


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class VerifyBigForm(FlaskForm):
    version = HiddenField(validators=[InputRequired()])
    reregistration_due = DateField(
        _l("Re-registration due"),
        validators=[Optional()],
        description=_l("As the BIG register shows it. When the register gives a date, that date is used."),
    )
    confirmed = BooleanField(
        _l("I compared the BIG number, the profession and the name with the BIG register."),
        validators=[DataRequired(message=_l("Confirm that you checked the register."))],
    )


class VerifyQualificationForm(FlaskForm):
    version = HiddenField(validators=[InputRequired()])
    evidence_checked = BooleanField(_l("I opened the document and it shows what is asked for."))


class RejectForm(FlaskForm):
    version = HiddenField(validators=[InputRequired()])
    grounds = SelectField(
        _l("Ground"),
        validators=[InputRequired(message=_l("Choose the ground for the rejection."))],
    )
    reason = TextAreaField(
        _l("Reason, for the reservist"),
        filters=[_strip],
        validators=[
            DataRequired(
                message=_l("Give the reason: the reservist reads it and needs to know what to correct.")
            ),
            Length(max=REASON_MAX),
        ],
        description=_l("The reservist receives this text by e-mail. Say what to correct."),
        render_kw={"rows": 3, "maxlength": REASON_MAX},
    )

    def __init__(self, kind: ItemKind, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.grounds.choices = [("", _l("Choose…")), *GROUNDS[kind]]
