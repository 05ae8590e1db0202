"""Forms of the shifts pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, DateTimeLocalField, IntegerField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional


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


class CheckInForm(FlaskForm):
    start = DateTimeLocalField(_l("Actual start"), format="%Y-%m-%dT%H:%M", validators=[Optional()])


class CheckOutForm(FlaskForm):
    end = DateTimeLocalField(_l("Actual end"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    break_minutes = IntegerField(
        _l("Break (minutes)"),
        validators=[Optional(), NumberRange(min=0, max=1440, message=_l("Between 0 and 1440 minutes."))],
    )


class PeriodForm(FlaskForm):
    """The timesheet's period (GET, no CSRF)."""

    class Meta:
        csrf = False

    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("To"), validators=[Optional()])


class DayForm(FlaskForm):
    """The day of the institution's roster (GET, no CSRF)."""

    class Meta:
        csrf = False

    day = DateField(_l("Day"), validators=[Optional()])


class CorrectionForm(FlaskForm):
    """New recorded times of a checked-out booking, with the reason (kept in the history)."""

    start = DateTimeLocalField(
        _l("Actual start"),
        format="%Y-%m-%dT%H:%M",
        validators=[InputRequired(_l("Fill in the start and the end."))],
    )
    end = DateTimeLocalField(
        _l("Actual end"),
        format="%Y-%m-%dT%H:%M",
        validators=[InputRequired(_l("Fill in the start and the end."))],
    )
    break_minutes = IntegerField(
        _l("Break (minutes)"),
        default=0,
        validators=[Optional(), NumberRange(min=0, max=1440, message=_l("Between 0 and 1440 minutes."))],
    )
    reason = TextAreaField(
        _l("Reason for the correction"),
        validators=[
            DataRequired(_l("Give the reason for the correction.")),
            Length(min=3, max=1000, message=_l("Between 3 and 1000 characters, please.")),
        ],
    )
