"""Account forms. Every field validated with a translated message."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import Email, EqualTo, InputRequired, Length, ValidationError

from zorgreserve.accounts.passwords import MAX_LENGTH, password_problem
from zorgreserve.phones import PhoneNumber

NAME = [InputRequired(), Length(max=100)]


class StrongPassword:
    """Applies the password policy; personal data comes from sibling fields when present."""

    def __call__(self, form: Any, field: Any) -> None:
        personal = tuple(
            str(getattr(form, name).data or "")
            for name in ("first_name", "last_name", "email")
            if hasattr(form, name)
        )
        problem = password_problem(field.data or "", personal)
        if problem:
            raise ValidationError(problem)


def _password(label: Any) -> PasswordField:
    return PasswordField(
        label,
        validators=[InputRequired(), StrongPassword()],
        render_kw={"autocomplete": "new-password", "maxlength": MAX_LENGTH},
    )


def _confirm() -> PasswordField:
    return PasswordField(
        _l("Repeat password"),
        validators=[InputRequired(), EqualTo("password", message=_l("The passwords do not match."))],
        render_kw={"autocomplete": "new-password"},
    )


def _email() -> EmailField:
    return EmailField(
        _l("E-mail address"),
        validators=[InputRequired(), Email(message=_l("Enter a valid e-mail address.")), Length(max=254)],
        render_kw={"autocomplete": "email"},
    )


class SignUpForm(FlaskForm):
    first_name = StringField(_l("First name"), validators=NAME, render_kw={"autocomplete": "given-name"})
    last_name = StringField(_l("Last name"), validators=NAME, render_kw={"autocomplete": "family-name"})
    email = _email()
    phone = StringField(
        _l("Mobile number"),
        validators=[InputRequired(), PhoneNumber(mobile=True)],
        description=_l("Call-ups are sent by text message to this number."),
        render_kw={"autocomplete": "tel", "inputmode": "tel"},
    )
    password = _password(_l("Password"))
    password_confirm = _confirm()
    consent = BooleanField(
        _l("I have read how Zorgreserve uses my data and want to join the reserve."),
        validators=[InputRequired(message=_l("You must agree to register."))],
    )


class LoginForm(FlaskForm):
    email = _email()
    password = PasswordField(
        _l("Password"),
        validators=[InputRequired(), Length(max=MAX_LENGTH)],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()


class SecondFactorForm(FlaskForm):
    code = StringField(
        _l("Code from your authenticator app, or a recovery code"),
        validators=[InputRequired(), Length(min=6, max=20)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class EnrolForm(FlaskForm):
    code = StringField(
        _l("Code shown by your authenticator app"),
        validators=[InputRequired(), Length(min=6, max=8)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class EmailOnlyForm(FlaskForm):
    email = _email()


class ResetPasswordForm(FlaskForm):
    password = _password(_l("New password"))
    password_confirm = _confirm()


class AcceptInvitationForm(FlaskForm):
    first_name = StringField(_l("First name"), validators=NAME)
    last_name = StringField(_l("Last name"), validators=NAME)
    password = _password(_l("Password"))
    password_confirm = _confirm()


def optional_int(value: Any) -> int | None:
    if value in (None, "", "None"):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class InviteForm(FlaskForm):
    """Choices are filled by the view from what the inviter may choose; anything else is refused."""

    email = _email()
    role = SelectField(_l("Role"), validators=[InputRequired()])
    institution_id = SelectField(_l("Institution"), coerce=optional_int)
    region_id = SelectField(_l("Region"), coerce=optional_int)

    def validate_institution_id(self, field: Any) -> None:
        if self.role.data == "institution_staff" and not field.data:
            raise ValidationError(_l("Choose the institution this person works for."))

    def validate_region_id(self, field: Any) -> None:
        if self.role.data == "regional_coordinator" and not field.data:
            raise ValidationError(_l("Choose the region this coordinator works in."))


class LanguageForm(FlaskForm):
    language = SelectField(_l("Language"), choices=[("nl", "Nederlands"), ("en", "English")])
    next = HiddenField()


class LogoutForm(FlaskForm):
    """Empty: signing out is a POST so a link on another site cannot do it."""
