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

OFFER_STATUS = {
    "pending": _l("Not sent yet"),
    "sent": _l("Waiting for your answer"),
    "accepted": _l("Accepted"),
    "partially_accepted": _l("Partly accepted"),
    "declined": _l("Declined"),
    "expired": _l("Expired without an answer"),
    "withdrawn": _l("Withdrawn"),
}

OFFERED_SHIFT_STATUS = {
    "offered": _l("Offered"),
    "accepted": _l("Booked"),
    "standby": _l("On the stand-by list"),
    "declined": _l("Declined"),
    "withdrawn": _l("Withdrawn"),
    "expired": _l("Expired"),
}

#: Why an accepted shift could not be booked (``callups.booking.REFUSALS``).
REFUSAL = {
    "overlap": _l("you had another shift at that time"),
    "worktime": _l("the working-time rules did not allow it"),
    "cancelled": _l("the shift was cancelled"),
    "started": _l("the shift had begun"),
    "not_offered": _l("the shift was no longer offered"),
}

#: The same words as on "My shifts" (templates/shifts/_macros.html).
BOOKING_STATUS = {
    "accepted": _l("Booked, waiting for approval"),
    "approved": _l("Confirmed"),
    "checked_in": _l("Checked in"),
    "completed": _l("Completed"),
    "no_show": _l("Not attended"),
    "rejected": _l("Not approved"),
    "cancelled": _l("Cancelled"),
}

ANSWER_CHANNEL = {
    "web": _l("Website"),
    "sms": _l("Text message"),
    "email": _l("E-mail"),
}

MESSAGE_KIND = {
    "offer": _l("Call-up"),
    "offer_withdrawn": _l("Call-up withdrawn"),
    "answer_reply": _l("Reply to your text message"),
    "confirmation": _l("Shift confirmed"),
    "standby": _l("On the stand-by list"),
    "rejected": _l("Shift not approved"),
    "booking_cancelled": _l("Shift cancelled"),
    "booking_released": _l("Booking cancelled: fewer people needed"),
    "booking_no_show": _l("Later shifts given to others after a missed shift"),
    "reminder24": _l("Reminder a day before the shift"),
    "reminder2": _l("Reminder two hours before the shift"),
}

MESSAGE_STATUS = {
    "queued": _l("Waiting to be sent"),
    "sent": _l("Sent"),
    "delivered": _l("Delivered"),
    "failed": _l("Could not be sent"),
}

#: What became of a text message the reservist sent (``callups.inbound``).
SMS_OUTCOME = {
    "unparsed": _l("Not understood"),
    "unknown_code": _l("Unknown call-up code"),
    "wrong_sender": _l("Not from the number of that call-up"),
    "accepted": _l("Accepted"),
    "standby": _l("On the stand-by list"),
    "refused": _l("Could not be booked"),
    "repeated": _l("Already answered"),
    "declined": _l("Declined"),
    "closed": _l("Call-up no longer open"),
    "expired": _l("Call-up expired"),
    "try_again": _l("Could not be handled, please try again"),
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
    "account.email_changed": _l("E-mail address changed"),
    "account.second_factor_enabled": _l("Two-step verification switched on"),
    "account.recovery_code_used": _l("Recovery code used"),
    "account.invitation_accepted": _l("Invitation accepted"),
    "privacy.exported": _l("Personal data downloaded"),
    "reservist.profile_changed": _l("Profile changed"),
    "reservist.big_added": _l("BIG registration added"),
    "reservist.big_changed": _l("BIG registration changed"),
    "reservist.big_removed": _l("BIG registration removed"),
    "reservist.qualification_added": _l("Qualification added"),
    "reservist.qualification_changed": _l("Qualification changed"),
    "reservist.qualification_removed": _l("Qualification removed"),
    "reservist.skills_changed": _l("Skills changed"),
    "reservist.training_added": _l("Training added"),
    "reservist.training_changed": _l("Training changed"),
    "reservist.training_removed": _l("Training removed"),
    "reservist.status_changed": _l("Status changed"),
    "verification.big_verified": _l("BIG registration verified by a coordinator"),
    "verification.big_rejected": _l("BIG registration rejected by a coordinator"),
    "verification.big_flagged": _l("BIG registration due for re-registration"),
    "verification.qualification_verified": _l("Qualification verified by a coordinator"),
    "verification.qualification_rejected": _l("Qualification rejected by a coordinator"),
    "verification.qualification_flagged": _l("Qualification to be checked again"),
}


def label(table: dict[str, object], code: str | None) -> str:
    """The label for ``code`` in ``table``, or the code itself when it has none."""
    if code is None:
        return ""
    return str(table.get(code, code))
