"""Forms of the availability pages.

Times are typed as local wall-clock time (Europe/Amsterdam); the forms turn
them into minutes of the day or UTC instants with :func:`timeline.local_to_utc`,
so a time that does not exist or exists twice on the nights the clocks change
is resolved the same way everywhere. The rules that need the database
(overlaps, limits) are the services' job; the forms check what one form can.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TimeField,
)
from wtforms.validators import AnyOf, InputRequired, Length, Optional, StopValidation
from wtforms.widgets import CheckboxInput, ListWidget

from zorgreserve.availability.models import PeriodKind, PeriodReason
from zorgreserve.availability.timeline import MINUTES_PER_DAY, local_to_utc

TIME_FORMATS = ["%H:%M", "%H:%M:%S"]

KIND_LABELS = {
    PeriodKind.UNAVAILABLE.value: _l("Not available"),
    PeriodKind.AVAILABLE.value: _l("Available"),
}
REASON_LABELS = {
    PeriodReason.HOLIDAY.value: _l("Holiday"),
    PeriodReason.WORK.value: _l("My own work roster"),
    PeriodReason.OTHER.value: _l("Other"),
}
PRESET_LABELS = {
    "weekdays": _l("Weekdays 07:00–17:00"),
    "evenings": _l("Every evening 17:00–23:00"),
    "nights": _l("Every night 23:00–07:00"),
    "weekends": _l("Weekends, whole days"),
}


def minute_of(value: time | None) -> int:
    return 0 if value is None else value.hour * 60 + value.minute


class _Times:
    """Start, end and "whole day" shared by the add and edit forms of a weekly window."""

    start = TimeField(_l("From"), format=TIME_FORMATS, validators=[Optional()])
    end = TimeField(
        _l("Until"),
        format=TIME_FORMATS,
        validators=[Optional()],
        description=_l("An end at or before the start means the next day, e.g. 22:00–07:00."),
    )
    whole_day = BooleanField(_l("Whole day (00:00–24:00)"))

    def validate(self, extra_validators: Any = None) -> bool:
        """Both times unless whole day, and not the same (an empty window is no window)."""
        valid = super().validate(extra_validators)  # type: ignore[misc]
        if self.whole_day.data or self.start.errors or self.end.errors:
            return valid
        if self.start.data is None or self.end.data is None:
            self.end.errors = [*self.end.errors, _l("Give a start and an end time, or tick whole day.")]
            return False
        if self.start.data == self.end.data:
            self.end.errors = [*self.end.errors, _l("Start and end cannot be the same time.")]
            return False
        return valid

    def minutes(self) -> tuple[int, int]:
        """(start, end) in minutes of the day; an end of 00:00 is midnight at the end of the day."""
        if self.whole_day.data:
            return 0, MINUTES_PER_DAY
        end = minute_of(self.end.data)
        return minute_of(self.start.data), end or MINUTES_PER_DAY


def _at_least_one_day(form: FlaskForm, field: SelectMultipleField) -> None:
    """Like InputRequired, without marking every single day checkbox as required in the HTML."""
    if not field.data:
        raise StopValidation(_l("Choose at least one day."))


class WindowForm(_Times, FlaskForm):
    """Add one window on one or more days (Monday–Friday 07:00–17:00 in one go)."""

    days = SelectMultipleField(
        _l("Days"),
        coerce=int,
        option_widget=CheckboxInput(),
        widget=ListWidget(prefix_label=False),
        validators=[_at_least_one_day],
    )


class WindowEditForm(_Times, FlaskForm):
    weekday = SelectField(_l("Day"), coerce=int, validators=[InputRequired()])


class PresetForm(FlaskForm):
    preset = HiddenField(
        validators=[
            InputRequired(),
            AnyOf(list(PRESET_LABELS), message=_l("Choose one of the quick starts.")),
        ]
    )


class PeriodForm(FlaskForm):
    kind = RadioField(
        _l("I am"),
        choices=list(KIND_LABELS.items()),
        default=PeriodKind.UNAVAILABLE.value,
        validators=[InputRequired(message=_l("Choose available or not available."))],
    )
    reason = SelectField(
        _l("Reason"),
        choices=list(REASON_LABELS.items()),
        default=PeriodReason.HOLIDAY.value,
        description=_l("Only for a period when you are not available."),
    )
    start_date = DateField(_l("From (date)"), validators=[InputRequired()])
    start_time = TimeField(
        _l("From (time)"),
        format=TIME_FORMATS,
        validators=[Optional()],
        description=_l("Empty: from the start of the day."),
    )
    end_date = DateField(_l("Until (date)"), validators=[InputRequired()])
    end_time = TimeField(
        _l("Until (time)"),
        format=TIME_FORMATS,
        validators=[Optional()],
        description=_l("Empty: until the end of the day."),
    )
    note = StringField(
        _l("Note (optional)"),
        validators=[Optional(), Length(max=200)],
        description=_l("A reminder for yourself. Please no medical details."),
    )

    def starts_at(self) -> datetime:
        return local_to_utc(self.start_date.data, minute_of(self.start_time.data))

    def ends_at(self) -> datetime:
        day: date = self.end_date.data
        if self.end_time.data is None:
            return local_to_utc(day, MINUTES_PER_DAY)
        return local_to_utc(day, minute_of(self.end_time.data))


class StandbyForm(FlaskForm):
    until_date = DateField(_l("Until (date)"), validators=[InputRequired()])
    until_time = TimeField(_l("Until (time)"), format=TIME_FORMATS, validators=[InputRequired()])

    def until(self) -> datetime:
        return local_to_utc(self.until_date.data, minute_of(self.until_time.data))
