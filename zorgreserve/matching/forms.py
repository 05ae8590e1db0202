"""Forms of the candidates page: the filter (GET, ids and codes only) and the "why not?" lookup (POST)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from zorgreserve.callups.models import Reach

REACH_LABELS = {
    "": _l("As the surge phase allows"),
    Reach.OWN_REGION.value: _l("Own region"),
    Reach.NEIGHBOURS.value: _l("Own and neighbouring regions"),
    Reach.NATIONAL.value: _l("National"),
}


class FilterForm(FlaskForm):
    """What the candidate lists show; sent as a GET query of ids and codes (no personal data)."""

    class Meta:
        csrf = False

    shift = SelectField(_l("Shift"), coerce=str, validators=[Optional()])
    reach = SelectField(_l("Reach"), choices=list(REACH_LABELS.items()), default="", validators=[Optional()])
    radius = IntegerField(
        _l("Radius (km)"),
        validators=[
            Optional(),
            NumberRange(min=1, max=400, message=_l("Enter a distance from 1 to 400 km.")),
        ],
    )


class WhyForm(FlaskForm):
    """Look a reservist up by name or BIG number and explain every rule for one shift."""

    query = StringField(
        _l("Name or BIG number"),
        validators=[
            DataRequired(message=_l("Enter a name or a BIG number.")),
            Length(min=2, max=120, message=_l("Enter between 2 and 120 characters.")),
        ],
    )
    shift_id = SelectField(_l("Shift"), coerce=int, validators=[DataRequired(message=_l("Choose a shift."))])
    reservist_id = HiddenField()
    reach = HiddenField()
    radius = HiddenField()
