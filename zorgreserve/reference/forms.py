"""Forms of the reference data pages; every message is translatable English source text."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Regexp, ValidationError

from zorgreserve.reference import services


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _int_or_none(value: Any) -> int | None:
    """Coerce a select value without WTForms' own (untranslated) coercion error."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _name_field(label: Any) -> StringField:
    return StringField(
        label,
        filters=[_strip],
        validators=[
            DataRequired(message=_l("Enter a name.")),
            Length(min=2, max=120, message=_l("A name has 2 to 120 characters.")),
        ],
    )


class QualificationForm(FlaskForm):
    """What an administrator may change about a qualification; code and BIG link stay as loaded."""

    name = _name_field(_l("Name"))
    has_expiry = BooleanField(_l("Expires (the reservist records an expiry date)"))
    active = BooleanField(_l("Active (offered for new records and requests)"))

    def __init__(self, *args: Any, qualification_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.qualification_id = qualification_id

    def validate_name(self, field: Any) -> None:
        if services.qualification_name_taken(field.data, exclude_id=self.qualification_id):
            raise ValidationError(_l("Another qualification already has this name."))


class SkillForm(FlaskForm):
    name = _name_field(_l("Name"))
    active = BooleanField(_l("Active (offered for new records and requests)"))

    def __init__(self, *args: Any, skill_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.skill_id = skill_id

    def validate_name(self, field: Any) -> None:
        if services.skill_name_taken(field.data, exclude_id=self.skill_id):
            raise ValidationError(_l("Another skill already has this name."))


class NewSkillForm(FlaskForm):
    code = StringField(
        _l("Code"),
        description=_l(
            "A stable key: lowercase letters, digits and underscores; it cannot be changed later."
        ),
        filters=[_strip],
        validators=[
            DataRequired(message=_l("Enter a code.")),
            Regexp(
                r"^[a-z][a-z0-9_]{1,39}$",
                message=_l("Use 2 to 40 lowercase letters, digits or underscores, starting with a letter."),
            ),
        ],
    )
    name = _name_field(_l("Name"))

    def validate_code(self, field: Any) -> None:
        if services.skill_code_taken(field.data):
            raise ValidationError(_l("A skill with this code already exists."))

    def validate_name(self, field: Any) -> None:
        if services.skill_name_taken(field.data):
            raise ValidationError(_l("Another skill already has this name."))


class MoveMunicipalityForm(FlaskForm):
    """Put one of a region's municipalities in another region (from today on)."""

    municipality = SelectField(_l("Municipality"), validate_choice=False)
    region_id = SelectField(_l("New region"), coerce=_int_or_none, validate_choice=False)
    note = TextAreaField(
        _l("Reason and source"),
        filters=[_strip],
        validators=[
            DataRequired(message=_l("Say why the municipality moves, and on which source.")),
            Length(max=500, message=_l("Keep the reason under 500 characters.")),
        ],
    )

    def validate_municipality(self, field: Any) -> None:
        if not field.data or field.data not in {value for value, _label in field.choices}:
            raise ValidationError(_l("Choose a municipality of this region."))

    def validate_region_id(self, field: Any) -> None:
        if field.data is None or field.data not in {value for value, _label in field.choices}:
            raise ValidationError(_l("Choose another region that is in force."))


class PostcodeLookupForm(FlaskForm):
    """A read-only question, sent with GET: no CSRF token needed, nothing changes."""

    class Meta:
        csrf = False

    pc4 = StringField(
        _l("Postcode"),
        description=_l("Four digits; the two letters may follow, for example 3511 or 3511 AB."),
        filters=[_strip],
        validators=[
            DataRequired(message=_l("Enter a postcode.")),
            Regexp(
                r"^[1-9][0-9]{3}( ?[A-Za-z]{2})?$",
                message=_l("Enter a Dutch postcode: four digits from 1000 to 9999, for example 3511."),
            ),
        ],
    )

    @property
    def pc4_digits(self) -> str:
        """The PC4 area of what was entered (the letters, if any, narrow nothing here)."""
        return (self.pc4.data or "")[:4]
