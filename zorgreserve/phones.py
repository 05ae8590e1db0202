"""Phone numbers, parsed and stored with ``phonenumbers`` only (default region NL, E.164)."""

from __future__ import annotations

import phonenumbers
from flask_babel import lazy_gettext as _l
from wtforms import Field, ValidationError


class InvalidPhoneNumber(ValueError):
    pass


def normalise_phone(raw: str, region: str = "NL") -> str:
    """Parse ``raw`` as typed by a person and return E.164, or raise InvalidPhoneNumber."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(str(exc)) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber("not a valid number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_mobile(e164: str) -> bool:
    number = phonenumbers.parse(e164, None)
    return phonenumbers.number_type(number) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )


def display_phone(e164: str | None) -> str:
    """Dutch numbers in national format (06 12345678), others internationally."""
    if not e164:
        return ""
    number = phonenumbers.parse(e164, None)
    if phonenumbers.region_code_for_number(number) == "NL":
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


class PhoneNumber:
    """WTForms validator that also replaces the field's data with the E.164 form."""

    def __init__(self, mobile: bool = False) -> None:
        self.mobile = mobile

    def __call__(self, _form: object, field: Field) -> None:
        if not field.data:
            return
        try:
            field.data = normalise_phone(field.data)
        except InvalidPhoneNumber as exc:
            raise ValidationError(_l("Enter a valid phone number, for example 06 12345678.")) from exc
        if self.mobile and not is_mobile(field.data):
            raise ValidationError(_l("Enter a mobile number: call-ups are sent by text message."))
