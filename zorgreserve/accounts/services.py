"""Account rules: sign-up, e-mail verification, sign-in, password reset, invitations.

Services change the session and flush; the caller commits. None of them tells
an anonymous caller whether an address has an account: sign-up, reset and
sign-in answer the same way for known and unknown addresses.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from flask import current_app
from sqlalchemy import select

from zorgreserve import db
from zorgreserve.accounts import tokens
from zorgreserve.accounts.models import Invitation, User
from zorgreserve.accounts.passwords import DUMMY_HASH, hash_password, needs_rehash, verify_password
from zorgreserve.accounts.roles import INVITABLE_BY, Role
from zorgreserve.audit.services import record
from zorgreserve.db import utcnow
from zorgreserve.jobs.services import add_job
from zorgreserve.reservists.models import Reservist


def normalise_email(email: str) -> str:
    return email.strip().lower()


def new_nonce() -> str:
    return secrets.token_hex(16)


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def queue_email(kind: str, *, user_id: int | None = None, invitation_id: int | None = None) -> None:
    """Send an account e-mail through the outbox, so it goes out only if this transaction commits."""
    args = {"kind": kind}
    if user_id is not None:
        args["user_id"] = user_id
    if invitation_id is not None:
        args["invitation_id"] = invitation_id
    add_job(db.session, "accounts.send_email", args, description=f"account e-mail: {kind}")


# Sign-up and verification ----------------------------------------------------------


def register_reservist(
    *, email: str, password: str, first_name: str, last_name: str, phone: str | None, locale: str
) -> User | None:
    """Create an unverified reservist account and send the verification e-mail.

    If the address already has an account nothing is created; its owner gets an
    e-mail saying someone tried to sign up, and the caller shows the same page
    as for a new account. Returns the new user, or None.
    """
    email = normalise_email(email)
    existing = find_user_by_email(email)
    if existing is not None:
        queue_email("already_registered", user_id=existing.id)
        return None
    user = User(
        email=email,
        password_hash=hash_password(password),
        role=Role.RESERVIST.value,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        phone=phone,
        locale=locale,
        session_nonce=new_nonce(),
    )
    db.session.add(user)
    db.session.flush()
    db.session.add(Reservist(user_id=user.id))
    record("account.signed_up", actor=user, subject_type="user", subject_id=user.id, subject_user_id=user.id)
    queue_email("verify_email", user_id=user.id)
    return user


def verification_token(user: User) -> str:
    return tokens.make_token("verify", {"u": user.id, "e": tokens.digest(user.email)})


class VerifyResult(StrEnum):
    VERIFIED = "verified"
    ALREADY = "already"
    EXPIRED = "expired"
    INVALID = "invalid"


def verify_email(token: str) -> VerifyResult:
    """Mark the address of the token's user as verified (once; a second use says so)."""
    try:
        payload = tokens.read_token("verify", token, current_app.config["EMAIL_VERIFY_MAX_AGE"])
    except tokens.TokenExpired:
        return VerifyResult.EXPIRED
    except tokens.TokenInvalid:
        record("security.token_invalid", purpose="verify")
        return VerifyResult.INVALID
    user = db.session.get(User, payload.get("u")) if isinstance(payload.get("u"), int) else None
    if user is None or tokens.digest(user.email) != payload.get("e"):
        record("security.token_invalid", purpose="verify")
        return VerifyResult.INVALID
    if user.email_verified_at is not None:
        return VerifyResult.ALREADY
    user.email_verified_at = utcnow()
    record(
        "account.email_verified", actor=user, subject_type="user", subject_id=user.id, subject_user_id=user.id
    )
    return VerifyResult.VERIFIED


def resend_verification(email: str) -> None:
    user = find_user_by_email(email)
    if user is not None and user.email_verified_at is None:
        queue_email("verify_email", user_id=user.id)


# Sign-in ------------------------------------------------------------------------------


class SignInOutcome(StrEnum):
    OK = "ok"
    FAILED = "failed"
    UNVERIFIED = "unverified"
    NEEDS_SECOND_FACTOR = "needs_second_factor"
    NEEDS_ENROLMENT = "needs_enrolment"


@dataclass
class SignIn:
    outcome: SignInOutcome
    user: User | None = None


def authenticate(email: str, password: str) -> SignIn:
    """Check a password. Unknown addresses cost the same hash as known ones."""
    user = find_user_by_email(email)
    if user is None:
        verify_password(DUMMY_HASH, password)
        record("account.sign_in_failed", reason="unknown")
        return SignIn(SignInOutcome.FAILED)
    if not verify_password(user.password_hash, password) or not user.is_active_account:
        record("account.sign_in_failed", subject_type="user", subject_id=user.id, subject_user_id=user.id)
        return SignIn(SignInOutcome.FAILED)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    if user.email_verified_at is None:
        return SignIn(SignInOutcome.UNVERIFIED, user)
    if user.role_enum.needs_second_factor:
        outcome = (
            SignInOutcome.NEEDS_SECOND_FACTOR if user.has_second_factor else SignInOutcome.NEEDS_ENROLMENT
        )
        return SignIn(outcome, user)
    return SignIn(SignInOutcome.OK, user)


def complete_sign_in(user: User) -> None:
    user.last_login_at = utcnow()
    record("account.signed_in", actor=user, subject_type="user", subject_id=user.id, subject_user_id=user.id)


def end_all_sessions(user: User) -> None:
    """Rotate the session nonce: every cookie carrying the old one stops working."""
    user.session_nonce = new_nonce()


# Password reset --------------------------------------------------------------------


def start_password_reset(email: str) -> None:
    """E-mail a reset link if the address has an account; say nothing either way."""
    user = find_user_by_email(email)
    if user is not None and user.is_active_account:
        queue_email("reset_password", user_id=user.id)
        record("account.reset_requested", subject_type="user", subject_id=user.id, subject_user_id=user.id)


def reset_token(user: User, purpose: str = "reset") -> str:
    """A password link: ``reset`` (valid an hour) or ``activate`` (imported accounts, valid a week)."""
    return tokens.make_token(purpose, {"u": user.id, "h": tokens.digest(user.password_hash)})


def user_for_reset_token(token: str, purpose: str = "reset") -> User | None:
    """The user a password link belongs to, or None if it is invalid, expired or already used."""
    max_age = current_app.config["PASSWORD_RESET_MAX_AGE" if purpose == "reset" else "INVITATION_MAX_AGE"]
    try:
        payload = tokens.read_token(purpose, token, max_age)
    except tokens.TokenExpired:
        return None
    except tokens.TokenInvalid:
        record("security.token_invalid", purpose=purpose)
        return None
    user = db.session.get(User, payload.get("u")) if isinstance(payload.get("u"), int) else None
    # The digest of the current hash makes the link single use: resetting changes the hash.
    if user is None or tokens.digest(user.password_hash) != payload.get("h"):
        return None
    return user


def set_password(user: User, password: str) -> None:
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()  # the link arrived by e-mail: the address works
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    end_all_sessions(user)
    record("account.password_changed", subject_type="user", subject_id=user.id, subject_user_id=user.id)


# Invitations -----------------------------------------------------------------------


class InvitationError(ValueError):
    pass


def can_invite(inviter: User, role: Role, institution_region_id: int | None, region_id: int | None) -> bool:
    """Whether ``inviter`` may invite someone into ``role`` with the given scope.

    Regional coordinators invite only into their own region (their institutions'
    staff, or fellow coordinators of that region).
    """
    allowed = INVITABLE_BY.get(inviter.role_enum, frozenset())
    if role not in allowed:
        return False
    if inviter.role_enum is Role.REGIONAL_COORDINATOR:
        scope = institution_region_id if role is Role.INSTITUTION_STAFF else region_id
        return scope == inviter.region_id
    return True


def create_invitation(
    inviter: User, *, email: str, role: Role, institution_id: int | None, region_id: int | None
) -> Invitation:
    from zorgreserve.institutions.models import Institution

    email = normalise_email(email)
    institution = db.session.get(Institution, institution_id) if institution_id else None
    if role is Role.INSTITUTION_STAFF and institution is None:
        raise InvitationError("institution required")
    if role is Role.REGIONAL_COORDINATOR and region_id is None:
        raise InvitationError("region required")
    institution_region = institution.region_id if institution else None
    if not can_invite(inviter, role, institution_region, region_id):
        raise PermissionError("not allowed to invite into this role or scope")
    invitation = Invitation(
        email=email,
        role=role.value,
        institution_id=institution.id if role is Role.INSTITUTION_STAFF and institution else None,
        region_id=region_id if role is Role.REGIONAL_COORDINATOR else None,
        invited_by_id=inviter.id,
        expires_at=utcnow() + timedelta(seconds=current_app.config["INVITATION_MAX_AGE"]),
    )
    db.session.add(invitation)
    db.session.flush()
    record(
        "account.invited", actor=inviter, subject_type="invitation", subject_id=invitation.id, role=role.value
    )
    queue_email("invitation", invitation_id=invitation.id)
    return invitation


def invitation_token(invitation: Invitation) -> str:
    return tokens.make_token("invite", {"i": invitation.id})


def open_invitation(token: str) -> Invitation | None:
    """The invitation behind a link if it can still be accepted, else None."""
    try:
        payload = tokens.read_token("invite", token, current_app.config["INVITATION_MAX_AGE"])
    except tokens.TokenExpired:
        return None
    except tokens.TokenInvalid:
        record("security.token_invalid", purpose="invite")
        return None
    invitation = db.session.get(Invitation, payload.get("i")) if isinstance(payload.get("i"), int) else None
    if (
        invitation is None
        or invitation.accepted_at
        or invitation.revoked_at
        or invitation.expires_at < utcnow()
    ):
        return None
    return invitation


def accept_invitation(
    invitation: Invitation, *, first_name: str, last_name: str, password: str, locale: str
) -> User:
    """Create the invited account (or give an existing one its new role) and close the invitation."""
    if find_user_by_email(invitation.email) is not None:
        raise InvitationError("address already has an account")
    user = User(
        email=invitation.email,
        password_hash=hash_password(password),
        role=invitation.role,
        institution_id=invitation.institution_id,
        region_id=invitation.region_id,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        locale=locale,
        session_nonce=new_nonce(),
        # The invitation link proved the address.
        email_verified_at=utcnow(),
    )
    db.session.add(user)
    db.session.flush()
    invitation.accepted_at = utcnow()
    invitation.user_id = user.id
    record("account.invitation_accepted", actor=user, subject_type="invitation", subject_id=invitation.id)
    return user
