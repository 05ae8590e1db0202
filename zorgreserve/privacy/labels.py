"""Translated labels for the codes shown on the own-data pages and in the import report.

Codes stay codes in the database and in the JSON export (machine readable,
stable); people read these labels. An unknown code is shown as it is rather
than hidden, so a new action never disappears from the reservist's view.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

STATUS = {
    "active": _l("Active"),
    "paused": _l("Paused"),
    "withdrawn": _l("Withdrawn"),
}

VERIFICATION = {
    "unverified": _l("Not yet verified"),
    "verified": _l("Verified"),
    "rejected": _l("Rejected"),
}

CHANNELS = {
    "sms": _l("Text message"),
    "email": _l("E-mail"),
    "both": _l("Text message and e-mail"),
}

PERIOD_KIND = {
    "available": _l("Available"),
    "unavailable": _l("Not available"),
}

ACCESS_ACTION = {
    "view": _l("viewed"),
    "change": _l("changed"),
    "export": _l("exported"),
    "verify": _l("verified"),
    "download": _l("downloaded a document"),
}

REMINDER_ITEM = {
    "qualification": _l("Qualification"),
    "training": _l("Training"),
    "big": _l("BIG registration"),
}

AUDIT_ACTION = {
    "account.signed_up": _l("Account created"),
    "account.email_verified": _l("E-mail address confirmed"),
    "account.signed_in": _l("Signed in"),
    "account.sign_in_failed": _l("Failed sign-in attempt"),
    "account.reset_requested": _l("Password reset requested"),
    "account.password_changed": _l("Password changed"),
    "privacy.exported": _l("Personal data downloaded"),
}


def label(table: dict[str, object], code: str | None) -> str:
    """The label for ``code`` in ``table``, or the code itself when it has none."""
    if code is None:
        return ""
    return str(table.get(code, code))
