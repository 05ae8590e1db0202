"""Institution forms."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional, Regexp, ValidationError

from zorgreserve.institutions.models import InstitutionKind

KIND_LABELS = {
    InstitutionKind.HOSPITAL: _l("Hospital"),
    InstitutionKind.NURSING_HOME: _l("Nursing home / VVT"),
    InstitutionKind.GGD: _l("GGD (public health service)"),
    InstitutionKind.MENTAL_HEALTH: _l("Mental health care"),
    InstitutionKind.OTHER: _l("Other"),
}


class InstitutionForm(FlaskForm):
    name = StringField(_l("Name"), validators=[InputRequired(), Length(min=2, max=200)])
    kind = SelectField(_l("Type"), choices=[(k.value, label) for k, label in KIND_LABELS.items()])
    region_id = SelectField(_l("Region"), coerce=int)
    postcode = StringField(
        _l("Postcode (4 digits)"),
        validators=[Optional(), Regexp(r"^\d{4}$", message=_l("Enter the four digits of the postcode."))],
    )

    def validate_postcode(self, field: Any) -> None:
        from zorgreserve.reference.services import postcode_exists

        if field.data and not postcode_exists(field.data):
            raise ValidationError(_l("This postcode is not known."))


class LocationForm(FlaskForm):
    name = StringField(
        _l("Name of the location"),
        validators=[InputRequired(), Length(min=2, max=200)],
        description=_l("For example: main building, location Zuid."),
    )
    street_address = StringField(
        _l("Street and number"), validators=[InputRequired(), Length(min=3, max=200)]
    )
    postcode = StringField(
        _l("Postcode"),
        validators=[InputRequired(), Length(max=8)],
        description=_l("For example 3584 CX. The region and the distance to reservists follow from it."),
    )
    city = StringField(_l("Place"), validators=[InputRequired(), Length(min=2, max=120)])
    active = BooleanField(_l("In use (can be chosen for new requests)"), default=True)
