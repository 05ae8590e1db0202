"""Account e-mails, sent by the worker from outbox rows that carry ids only.

Links are made at send time from the current state (password hash, address),
so a job that runs late or twice still sends a link that is valid exactly
when it should be.
"""

from __future__ import annotations

from zorgreserve import db
from zorgreserve.accounts import services
from zorgreserve.accounts.models import Invitation, User
from zorgreserve.notifications.mail import external_url, send_mail


def send_account_email(kind: str, user_id: int | None = None, invitation_id: int | None = None) -> None:
    if kind == "invitation":
        invitation = db.session.get(Invitation, invitation_id)
        if invitation is None or invitation.accepted_at or invitation.revoked_at:
            return
        link = external_url("accounts.accept_invitation", token=services.invitation_token(invitation))
        send_mail(
            to=invitation.email,
            template="accounts/email/invitation",
            locale="nl",
            invitation=invitation,
            link=link,
        )
        return
    user = db.session.get(User, user_id)
    if user is None:
        return  # erased meanwhile: nothing to send
    context: dict[str, object] = {"user": user}
    if kind == "verify_email":
        if user.email_verified_at is not None:
            return
        context["link"] = external_url("accounts.verify_email", token=services.verification_token(user))
    elif kind == "reset_password":
        context["link"] = external_url("accounts.reset_password", token=services.reset_token(user))
    elif kind == "activate_account":
        # An imported reservist activates the account by choosing a first password.
        token = services.reset_token(user, purpose="activate")
        context["link"] = external_url("accounts.activate", token=token)
    elif kind == "already_registered":
        context["link"] = external_url("accounts.forgot_password")
    else:
        raise ValueError(f"unknown account e-mail {kind!r}")
    send_mail(to=user.email, template=f"accounts/email/{kind}", locale=user.locale, **context)
