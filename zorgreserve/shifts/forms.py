"""Forms of the shifts pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length


class CancelForm(FlaskForm):
    reason = TextAreaField(
        _l("Why can you not come?"),
        validators=[
            DataRequired(_l("Tell us briefly why you cannot come.")),
            Length(min=3, max=1000, message=_l("Between 3 and 1000 characters, please.")),
        ],
    )


class ConfirmForm(FlaskForm):
    """A button only (CSRF protected)."""
