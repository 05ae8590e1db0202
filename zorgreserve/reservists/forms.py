"""Forms of the reservist's own pages. Every message is translatable.

None of them takes an id of a reservist, a role or a verification status from
input: the record is always the signed-in reservist's own, and what coordinators
decide (verification) is never a form field here. Choices (regions,
professions, qualifications, skills) are filled in by the view from the
catalogues, so WTForms refuses anything not offered.
"""

from __future__ import annotations

import re
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    ValidationError,
)
from wtforms.validators import Email, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from zorgreserve.accounts.passwords import MAX_LENGTH
from zorgreserve.phones import PhoneNumber
from zorgreserve.reservists.evidence import ACCEPT
from zorgreserve.reservists.models import Channel, ReservistStatus
from zorgreserve.reservists.services import LANGUAGES

NAME = [InputRequired(), Length(max=100)]
_POSTCODE = re.compile(r"^(\d{4})\s?([A-Za-z]{2})?$")


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes (templates render it as a fieldset with a legend)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _pc4(value: Any) -> Any:
    """Accept "3511", "3511 AB" or "3511AB"; only the four digits are kept (no more address)."""
    if not isinstance(value, str):
        return value
    match = _POSTCODE.match(value.strip())
    return match.group(1) if match else value.strip()


class AtLeastOne:
    """Like ``InputRequired`` for a checkbox list, without marking every box as required."""

    def __init__(self, message: Any) -> None:
        self.message = message

    def __call__(self, _form: Any, field: Any) -> None:
        if not field.data:
            raise ValidationError(self.message)


class Pc4:
    def __call__(self, _form: Any, field: Any) -> None:
        if not re.fullmatch(r"\d{4}", field.data or ""):
            raise ValidationError(_l("A postcode has four digits, for example 3511."))


def _date(label: Any, *, required: bool = True, description: Any = None) -> DateField:
    validators: list[Any] = [InputRequired()] if required else [Optional()]
    return DateField(
        label,
        validators=validators,
        description=description,
        format="%Y-%m-%d",
    )


CHANNEL_CHOICES = [
    (Channel.SMS.value, _l("Text message")),
    (Channel.EMAIL.value, _l("E-mail")),
    (Channel.BOTH.value, _l("Text message and e-mail")),
]


class ProfileForm(FlaskForm):
    first_name = StringField(_l("First name"), validators=NAME, render_kw={"autocomplete": "given-name"})
    last_name = StringField(_l("Last name"), validators=NAME, render_kw={"autocomplete": "family-name"})
    email = EmailField(
        _l("E-mail address"),
        validators=[InputRequired(), Email(message=_l("Enter a valid e-mail address.")), Length(max=254)],
        render_kw={"autocomplete": "email"},
    )
    current_password = PasswordField(
        _l("Current password"),
        validators=[Optional(), Length(max=MAX_LENGTH)],
        description=_l("Only needed when you change your e-mail address."),
        render_kw={"autocomplete": "current-password"},
    )
    phone = StringField(
        _l("Mobile number"),
        validators=[Optional(), PhoneNumber(mobile=True)],
        description=_l("Call-ups by text message go to this number."),
        render_kw={"autocomplete": "tel", "inputmode": "tel"},
    )
    pc4 = StringField(
        _l("Home postcode (4 digits)"),
        validators=[InputRequired(), Pc4()],
        filters=[_pc4],
        description=_l("Only the four digits are kept; matching uses them to find shifts near you."),
        render_kw={"autocomplete": "postal-code", "inputmode": "numeric", "maxlength": 7},
    )
    max_travel_km = IntegerField(
        _l("Maximum travel distance (km)"),
        validators=[InputRequired(), NumberRange(min=1, max=300)],
        render_kw={"inputmode": "numeric", "min": 1, "max": 300},
    )
    regions = MultiCheckboxField(
        _l("Regions you are willing to work in"),
        coerce=int,
        validators=[Optional()],
        description=_l("Your home region is always included."),
    )
    max_hours_per_week = IntegerField(
        _l("Maximum hours per week"),
        validators=[Optional(), NumberRange(min=1, max=60)],
        description=_l("Leave empty for no limit of your own (the law allows at most 60)."),
        render_kw={"inputmode": "numeric", "min": 1, "max": 60},
    )
    channels = RadioField(_l("Call me up by"), choices=CHANNEL_CHOICES, validators=[InputRequired()])
    languages = MultiCheckboxField(
        _l("Languages you speak"),
        choices=[(code, label) for code, label in LANGUAGES],
        validators=[AtLeastOne(_l("Choose at least one language."))],
    )

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        # Across two fields, so not a field validator (``Optional`` would stop it on an empty number).
        if not self.phone.data and self.channels.data in (Channel.SMS.value, Channel.BOTH.value):
            self.phone.errors = [*self.phone.errors, _l("Call-ups by text message need a mobile number.")]
            valid = False
        return valid


class BigRegistrationForm(FlaskForm):
    profession = SelectField(_l("Profession"), coerce=int, validators=[InputRequired()])
    big_number = StringField(
        _l("BIG number"),
        validators=[InputRequired(), Length(max=20)],
        description=_l("11 digits, as on your BIG register extract."),
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )


class QualificationAddForm(FlaskForm):
    qualification = SelectField(_l("Qualification"), coerce=int, validators=[InputRequired()])
    obtained_on = _date(_l("Date obtained"))
    expires_on = _date(
        _l("Expiry date"),
        required=False,
        description=_l("Only for qualifications that expire."),
    )
    evidence = FileField(
        _l("Evidence (optional)"),
        description=_l("A diploma or certificate: PDF, JPEG or PNG."),
        render_kw={"accept": ACCEPT},
    )


class QualificationEditForm(FlaskForm):
    obtained_on = _date(_l("Date obtained"))
    expires_on = _date(
        _l("Expiry date"),
        required=False,
        description=_l("Only for qualifications that expire."),
    )
    evidence = FileField(
        _l("New evidence (optional)"),
        description=_l("Replaces the current document. PDF, JPEG or PNG."),
        render_kw={"accept": ACCEPT},
    )
    remove_evidence = BooleanField(_l("Remove the current document"))


class SkillsForm(FlaskForm):
    skills = MultiCheckboxField(_l("Skills"), coerce=int, validators=[Optional()])


class TrainingForm(FlaskForm):
    course = StringField(_l("Course"), validators=[InputRequired(), Length(max=200)])
    completed_on = _date(_l("Date"))
    expires_on = _date(_l("Valid until (optional)"), required=False)


STATUS_CHOICES = [
    (ReservistStatus.ACTIVE.value, _l("Active: I can be called up")),
    (ReservistStatus.PAUSED.value, _l("Paused until a date")),
    (ReservistStatus.WITHDRAWN.value, _l("Leave the reserve")),
]


class StatusForm(FlaskForm):
    status = RadioField(_l("Status"), choices=STATUS_CHOICES, validators=[InputRequired()])
    paused_until = _date(
        _l("Paused until"),
        required=False,
        description=_l("The last day of your pause, at most a year ahead."),
    )
    confirm_withdraw = BooleanField(
        _l("I want to leave the reserve. I will get no call-ups until I rejoin; my data is kept.")
    )


class ConfirmForm(FlaskForm):
    """A button that changes something: only the CSRF token."""
