"""Forms of the call-up pages: the reservist's answer and the coordinators' controls."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, SubmitField, TextAreaField
from wtforms.validators import Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes (one per shift) instead of a multiple select, easier on a phone."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form: object) -> None:
        # Unknown ids are not an input error to explain: booking refuses what was not offered.
        return None


class AnswerForm(FlaskForm):
    shifts = MultiCheckboxField(_l("Shifts you accept"), coerce=int)
    reason = TextAreaField(_l("Reason (optional)"), validators=[Optional(), Length(max=500)])
    accept = SubmitField(_l("Accept the chosen shifts"))
    decline = SubmitField(_l("Decline this call-up"))


class ControlForm(FlaskForm):
    """Pause, resume, stop or "next wave now": the button is the input; the form carries CSRF."""
