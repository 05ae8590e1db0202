"""Forms for deployment requests. The limits that depend on configuration (hours per
shift, shifts per request, people per shift) are checked in the services, which
name the shift that breaks them."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from zorgreserve.deployments.models import Urgency
from zorgreserve.deployments.patterns import PRESET_TIMES, Preset, Repeat, ShiftPattern
from zorgreserve.deployments.services import RequestDetails
from zorgreserve.phones import PhoneNumber

URGENCY_LABELS = {
    Urgency.CRITICAL.value: _l("Critical: patient care at risk now"),
    Urgency.HIGH.value: _l("High: needed within days"),
    Urgency.NORMAL.value: _l("Normal"),
}
URGENCY_SHORT = {
    Urgency.CRITICAL.value: _l("Critical"),
    Urgency.HIGH.value: _l("High"),
    Urgency.NORMAL.value: _l("Normal"),
}
PRESET_LABELS = {
    Preset.DAY.value: _l("Day shift 07:00–15:30"),
    Preset.EVENING.value: _l("Evening shift 15:00–23:30"),
    Preset.NIGHT.value: _l("Night shift 23:00–07:30 (ends the next day)"),
    Preset.CUSTOM.value: _l("Other times"),
}
REPEAT_LABELS = {
    Repeat.ONCE.value: _l("One shift"),
    Repeat.DAILY.value: _l("Every day"),
    Repeat.WEEKDAYS.value: _l("Every weekday (Monday to Friday)"),
}


class ShiftPatternFields(FlaskForm):
    """The shifts: one, or a pattern over a number of days, with preset or own times."""

    repeat = SelectField(
        _l("Shifts"),
        choices=list(REPEAT_LABELS.items()),
        default=Repeat.ONCE.value,
        validators=[InputRequired()],
    )
    first_day = DateField(_l("(First) day"), validators=[InputRequired()])
    days = IntegerField(
        _l("For how many days"),
        validators=[Optional(), NumberRange(min=1, max=3660)],
        description=_l("Counting the first day; for a pattern only."),
    )
    preset = SelectField(
        _l("Shift times"),
        choices=list(PRESET_LABELS.items()),
        default=Preset.DAY.value,
        validators=[InputRequired()],
    )
    start_time = TimeField(_l("Start time"), validators=[Optional()])
    end_time = TimeField(
        _l("End time"),
        validators=[Optional()],
        description=_l("An end time before the start time means the shift ends the next day."),
    )
    places = IntegerField(
        _l("People needed per shift"), validators=[InputRequired(), NumberRange(min=1, max=1000)], default=1
    )
    preview = SubmitField(_l("Show the shifts"))

    def validate(self, extra_validators: Any = None) -> bool:
        """Field checks, then what depends on other fields (``Optional`` ends a field's own chain)."""
        valid = super().validate(extra_validators)
        needed = [
            (self.days, self.repeat.data != Repeat.ONCE.value, _l("Say for how many days the pattern runs.")),
            (self.start_time, self.preset.data == Preset.CUSTOM.value, _l("Enter the start time.")),
            (self.end_time, self.preset.data == Preset.CUSTOM.value, _l("Enter the end time.")),
        ]
        for field, required, message in needed:
            if required and field.data is None and not field.errors:
                field.errors.append(message)
                valid = False
        return valid

    def pattern(self) -> ShiftPattern:
        preset = Preset(self.preset.data)
        if preset is Preset.CUSTOM:
            start, end = self.start_time.data, self.end_time.data
        else:
            start, end = PRESET_TIMES[preset]
        repeat = Repeat(self.repeat.data)
        return ShiftPattern(
            first_day=self.first_day.data,
            start_time=start,
            end_time=end,
            repeat=repeat,
            days=1 if repeat is Repeat.ONCE else int(self.days.data),
            places=int(self.places.data),
        )


class RequestDetailsForm(FlaskForm):
    department = StringField(
        _l("Department"),
        validators=[InputRequired(), Length(min=2, max=120)],
        description=_l("For example IC, SEH, cohort ward."),
    )
    qualification_id = SelectField(_l("Required qualification"), coerce=int, validators=[InputRequired()])
    skill_ids = SelectMultipleField(_l("Required skills"), coerce=int, validators=[Optional()])
    location_id = SelectField(_l("Location"), coerce=int, validators=[InputRequired()])
    urgency = SelectField(
        _l("Urgency"),
        choices=list(URGENCY_LABELS.items()),
        default=Urgency.NORMAL.value,
        validators=[InputRequired()],
    )
    report_to = TextAreaField(
        _l("Where to report"),
        validators=[InputRequired(), Length(max=1000)],
        description=_l("Entrance, desk or ward, and whom to ask for on arrival."),
    )
    bring = TextAreaField(
        _l("What to bring"),
        validators=[Optional(), Length(max=1000)],
        description=_l("For example: proof of identity, BIG card, own shoes."),
    )
    contact_name = StringField(_l("Contact person"), validators=[InputRequired(), Length(min=2, max=200)])
    contact_phone = StringField(
        _l("Contact phone"), validators=[InputRequired(), Length(max=30), PhoneNumber()]
    )
    notes = TextAreaField(_l("Further information"), validators=[Optional(), Length(max=2000)])

    def details(self) -> RequestDetails:
        return RequestDetails(
            department=self.department.data,
            qualification_id=self.qualification_id.data,
            location_id=self.location_id.data,
            urgency=self.urgency.data,
            report_to=self.report_to.data,
            bring=self.bring.data,
            contact_name=self.contact_name.data,
            contact_phone=self.contact_phone.data,
            notes=self.notes.data,
            skill_ids=list(self.skill_ids.data or []),
        )


class NewRequestForm(RequestDetailsForm, ShiftPatternFields):
    #: Makes the same form sent twice (double click, retry) create one request.
    idempotency_key = HiddenField(validators=[InputRequired(), Length(min=16, max=64)])
    save_draft = SubmitField(_l("Save as draft"))
    submit_request = SubmitField(_l("Submit for approval"))


class EditRequestForm(RequestDetailsForm):
    version = HiddenField()
    save = SubmitField(_l("Save changes"))


class AddShiftsForm(ShiftPatternFields):
    add = SubmitField(_l("Add these shifts"))


class HeadcountForm(FlaskForm):
    places = IntegerField(
        _l("People needed per shift"),
        validators=[InputRequired(), NumberRange(min=1, max=1000)],
        description=_l(
            "Applies to every shift that has not started. After approval it can only go up; "
            "one shift's places can be lowered in the list of shifts."
        ),
    )


class ShiftPlacesForm(FlaskForm):
    """One shift's places (the small form per row of the shift list, and its confirmation page)."""

    places = IntegerField(
        _l("People needed"),
        validators=[
            InputRequired(_l("Enter the number of people needed.")),
            NumberRange(
                min=1, max=1000, message=_l("Ask for at least 1 person; cancel the shift to need nobody.")
            ),
        ],
    )
    #: How many bookings the institution agreed to cancel (set by the confirmation page).
    release = IntegerField(validators=[Optional(), NumberRange(min=1, max=1000)])
    reason = TextAreaField(
        _l("Reason (optional, told to the people whose booking is cancelled)"),
        validators=[Optional(), Length(max=2000)],
    )


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[InputRequired(), Length(min=5, max=2000)])


class OptionalReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=2000)])


class ApproveForm(FlaskForm):
    note = TextAreaField(_l("Note (optional)"), validators=[Optional(), Length(max=2000)])
