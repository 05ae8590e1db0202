"""Forms of the coordination module: the reservist search and the access-log filter.

The search form carries ids and codes only, so its values can live in the query
string (bookmarkable, shareable between coordinators). The one exception is the
name: a name in a URL ends up in browser history, proxy logs and Referer headers,
so the name is only ever *posted* and kept in the coordinator's session (see
``views.search``). No form takes a scope: the coordinator's region comes from
their account, never from input.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField
from wtforms.validators import Length, NumberRange, Optional, ValidationError

from zorgreserve.coordination.filters import (
    MAX_AVAILABILITY_DAYS,
    QualificationState,
    VerificationFilter,
)
from zorgreserve.privacy.labels import STATUS
from zorgreserve.reservists.models import ReservistStatus

ANY = ("", _l("Any"))

QUALIFICATION_STATES = [
    (QualificationState.VERIFIED.value, _l("Verified and not expired")),
    (QualificationState.ANY.value, _l("Any verification status")),
]
VERIFICATION_FILTERS = [
    ANY,
    (VerificationFilter.PENDING.value, _l("Something awaits verification")),
    (VerificationFilter.VERIFIED.value, _l("Everything verified")),
    (VerificationFilter.REJECTED.value, _l("Something was rejected")),
]


def _int_or_none(value: Any) -> int | None:
    if value in (None, ""):
        return None
    return int(value)


class SearchForm(FlaskForm):
    """The filters of the reservist search; every one optional, all of them combined with AND."""

    name = StringField(
        _l("Name starts with"),
        validators=[Optional(), Length(min=2, max=100)],
        description=_l("First name or surname; upper and lower case do not matter."),
        render_kw={"autocomplete": "off"},
    )
    region = SelectField(_l("Region (lives in or serves)"), coerce=_int_or_none, default="")
    qualification = SelectField(_l("Qualification"), default="")
    qualification_state = SelectField(
        _l("Qualification status"), choices=QUALIFICATION_STATES, default=QualificationState.VERIFIED.value
    )
    skill = SelectField(_l("Skill"), default="")
    verification = SelectField(_l("Verification"), choices=VERIFICATION_FILTERS, default="")
    status = SelectField(
        _l("Status"), choices=[ANY] + [(s.value, STATUS[s.value]) for s in ReservistStatus], default=""
    )
    available_from = DateField(_l("Available from"), validators=[Optional()])
    available_to = DateField(_l("Available until (inclusive)"), validators=[Optional()])

    def set_choices(self, regions: list[Any], qualifications: list[Any], skills: list[Any]) -> None:
        """Fill the choice lists from the reference data (done per request: the data can change)."""
        self.region.choices = [("", _l("Any"))] + [(r.id, r.name) for r in regions]
        self.qualification.choices = [ANY] + [(q.code, q.name) for q in qualifications]
        self.skill.choices = [ANY] + [(s.code, s.name) for s in skills]

    def validate(self, extra_validators: Any = None) -> bool:
        """The field checks, then the period: both dates or neither, in order, not too long."""
        valid = super().validate(extra_validators)
        start, end = self.available_from.data, self.available_to.data
        if self.available_from.errors or self.available_to.errors:
            return False
        message = None
        if (start is None) != (end is None):
            message = _l("Give both dates of the period, or neither.")
        elif start is not None and end is not None:
            if end < start:
                message = _l("The end date must not be before the start date.")
            elif (end - start).days + 1 > MAX_AVAILABILITY_DAYS:
                message = _l("Search a period of at most %(days)d days.", days=MAX_AVAILABILITY_DAYS)
        if message is not None:
            field = self.available_from if start is None else self.available_to
            field.errors = [*field.errors, message]
            return False
        return valid


class AccessLogFilterForm(FlaskForm):
    """Filters of the national access-log browser: who (an account id), whose data, when."""

    actor = IntegerField(_l("Staff account number"), validators=[Optional(), NumberRange(min=1)])
    reservist = IntegerField(_l("Reservist number"), validators=[Optional(), NumberRange(min=1)])
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("Until (inclusive)"), validators=[Optional()])

    def validate_date_to(self, field: Any) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end date must not be before the start date."))
