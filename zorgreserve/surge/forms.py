"""Forms for declaring surge phases and editing phase policy."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange

from zorgreserve.reference.models import ApprovalMode, Reach
from zorgreserve.surge.services import OFFER_EXPIRY_MAX, OFFER_EXPIRY_MIN, REASON_MAX, REASON_MIN

#: The national scope in the "for" choice (regions use their ids).
NATIONAL = "national"

APPROVAL_LABELS = {
    ApprovalMode.MANUAL.value: _l("By a coordinator"),
    ApprovalMode.AUTOMATIC.value: _l("Automatically"),
}
REACH_LABELS = {
    Reach.OWN_REGION.value: _l("Own region"),
    Reach.NEIGHBOURS.value: _l("Own and neighbouring regions"),
    Reach.NATIONAL.value: _l("The whole country"),
}


class DeclareForm(FlaskForm):
    scope = SelectField(_l("For"), validators=[InputRequired()])
    phase_code = SelectField(_l("Phase"), validators=[InputRequired()])
    reason = TextAreaField(
        _l("Reason"),
        validators=[InputRequired(), Length(min=REASON_MIN, max=REASON_MAX)],
        description=_l("What happened, and who decided (for example the ROAZ board or the Minister)."),
    )


class PolicyForm(FlaskForm):
    request_approval = SelectField(
        _l("Requests are approved"), choices=list(APPROVAL_LABELS.items()), validators=[InputRequired()]
    )
    deployment_approval = SelectField(
        _l("Deployments are approved"), choices=list(APPROVAL_LABELS.items()), validators=[InputRequired()]
    )
    reach = SelectField(
        _l("Call-ups may reach"), choices=list(REACH_LABELS.items()), validators=[InputRequired()]
    )
    offer_expiry_minutes = IntegerField(
        _l("Offers expire after (minutes)"),
        validators=[InputRequired(), NumberRange(min=OFFER_EXPIRY_MIN, max=OFFER_EXPIRY_MAX)],
        description=_l("Between 5 minutes and 7 days (10080 minutes)."),
    )
    description = TextAreaField(_l("Description"), validators=[InputRequired(), Length(max=REASON_MAX)])
