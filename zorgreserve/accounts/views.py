"""Account pages: sign-up, sign-in with second factor, reset, invitations, own account."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from zorgreserve import db
from zorgreserve.accounts import second_factor, services
from zorgreserve.accounts.forms import (
    AcceptInvitationForm,
    EmailOnlyForm,
    EnrolForm,
    InviteForm,
    LoginForm,
    LogoutForm,
    ResetPasswordForm,
    SecondFactorForm,
    SignUpForm,
)
from zorgreserve.accounts.models import User
from zorgreserve.accounts.roles import INVITABLE_BY, Role, public, roles, signed_in
from zorgreserve.accounts.sessions import LAST_SEEN
from zorgreserve.core.urls import safe_next
from zorgreserve.extensions import limiter
from zorgreserve.i18n import current_language

bp = Blueprint("accounts", __name__)

PENDING = "pending_second_factor"
PENDING_MAX_AGE = 300


def _login_account_key() -> str:
    return "login-account:" + services.normalise_email(request.form.get("email", ""))


def _start_session(user: User) -> None:
    """A fresh session on every sign-in, so a planted session id is worthless (no fixation)."""
    language = session.get("language")
    session.clear()
    services.complete_sign_in(user)
    login_user(user)
    session.permanent = True
    session[LAST_SEEN] = time.time()
    if language:
        session["language"] = language


@bp.route("/signup", methods=["GET", "POST"])
@public
@limiter.limit("20 per hour", methods=["POST"])
def signup() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("core.dashboard"))
    form = SignUpForm()
    if form.validate_on_submit():
        services.register_reservist(
            email=form.email.data,
            password=form.password.data,
            first_name=form.first_name.data,
            last_name=form.last_name.data,
            phone=form.phone.data,
            locale=current_language(),
        )
        db.session.commit()
        return render_template("accounts/check_email.html")
    return render_template("accounts/signup.html", form=form)


@bp.route("/signup/verify/<token>")
@public
def verify_email(token: str) -> Any:
    g.referrer_policy = "no-referrer"
    result = services.verify_email(token)
    db.session.commit()
    return render_template("accounts/verified.html", result=result.value, form=EmailOnlyForm())


@bp.route("/signup/resend", methods=["POST"])
@public
@limiter.limit("5 per hour", methods=["POST"])
def resend_verification() -> Any:
    form = EmailOnlyForm()
    if form.validate_on_submit():
        services.resend_verification(form.email.data)
        db.session.commit()
    return render_template("accounts/check_email.html")


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], methods=["POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], key_func=_login_account_key, methods=["POST"]
)
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("core.dashboard"))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        result = services.authenticate(form.email.data, form.password.data)
        outcome = result.outcome
        if outcome is services.SignInOutcome.FAILED:
            db.session.commit()  # keep the audit record of the failure
            flash(_("The e-mail address or password is not correct."), "error")
            return render_template("accounts/login.html", form=form), 200
        user = result.user
        assert user is not None
        if outcome is services.SignInOutcome.UNVERIFIED:
            db.session.commit()
            return render_template("accounts/unverified.html", form=EmailOnlyForm(email=user.email))
        nxt = safe_next(form.next.data)
        if outcome in (services.SignInOutcome.NEEDS_SECOND_FACTOR, services.SignInOutcome.NEEDS_ENROLMENT):
            db.session.commit()
            session.clear()
            session[PENDING] = {"uid": user.id, "nonce": user.session_nonce, "at": time.time(), "next": nxt}
            target = "second_factor" if outcome is services.SignInOutcome.NEEDS_SECOND_FACTOR else "enrol"
            return redirect(url_for(f"accounts.{target}"))
        _start_session(user)
        db.session.commit()
        return redirect(nxt or url_for("core.dashboard"))
    return render_template("accounts/login.html", form=form)


def _pending_user() -> User | None:
    pending = session.get(PENDING)
    if not pending or time.time() - pending.get("at", 0) > PENDING_MAX_AGE:
        session.pop(PENDING, None)
        return None
    user = db.session.get(User, pending["uid"])
    if user is None or user.session_nonce != pending.get("nonce"):
        return None
    return user


@bp.route("/login/second-factor", methods=["GET", "POST"], endpoint="second_factor")
@public
@limiter.limit("10 per 5 minutes", methods=["POST"])
def second_factor_page() -> Any:
    user = _pending_user()
    if user is None or not user.has_second_factor:
        flash(_("Please sign in again."), "info")
        return redirect(url_for("accounts.login"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        if second_factor.verify(user, form.code.data):
            nxt = session.get(PENDING, {}).get("next")
            _start_session(user)
            db.session.commit()
            return redirect(nxt or url_for("core.dashboard"))
        db.session.commit()
        form.code.errors.append(_("This code is not correct or was already used."))
    return render_template("accounts/second_factor.html", form=form)


@bp.route("/login/second-factor/setup", methods=["GET", "POST"])
@public
@limiter.limit("10 per 5 minutes", methods=["POST"])
def enrol() -> Any:
    user = _pending_user()
    if user is None or user.has_second_factor:
        return redirect(url_for("accounts.login"))
    form = EnrolForm()
    if form.validate_on_submit():
        codes = second_factor.confirm_enrolment(user, form.code.data)
        if codes:
            _start_session(user)
            db.session.commit()
            return render_template("accounts/recovery_codes.html", codes=codes)
        db.session.commit()
        form.code.errors.append(_("This code is not correct. Check the time on your phone and try again."))
    secret = second_factor.pending_secret(user) if request.method == "POST" else None
    if secret is None:
        secret = second_factor.begin_enrolment(user)
        db.session.commit()
    g.no_store = True
    return render_template(
        "accounts/enrol.html", form=form, secret=secret, qr=second_factor.provisioning_qr(user, secret)
    )


@bp.route("/logout", methods=["POST"])
@public
def logout() -> Any:
    form = LogoutForm()
    if form.validate_on_submit() and current_user.is_authenticated:
        user = db.session.get(User, current_user.id)
        if user is not None:
            services.end_all_sessions(user)
            db.session.commit()
        logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("core.home"))


@bp.route("/password/forgot", methods=["GET", "POST"])
@public
@limiter.limit("10 per hour", methods=["POST"])
def forgot_password() -> Any:
    form = EmailOnlyForm()
    if form.validate_on_submit():
        services.start_password_reset(form.email.data)
        db.session.commit()
        return render_template("accounts/reset_sent.html")
    return render_template("accounts/forgot_password.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@public
@limiter.limit("20 per hour", methods=["POST"])
def reset_password(token: str) -> Any:
    return _choose_password(token, "reset")


@bp.route("/account/activate/<token>", methods=["GET", "POST"])
@public
@limiter.limit("20 per hour", methods=["POST"])
def activate(token: str) -> Any:
    return _choose_password(token, "activate")


def _choose_password(token: str, purpose: str) -> Any:
    g.referrer_policy = "no-referrer"
    g.no_store = True
    user = services.user_for_reset_token(token, purpose)
    if user is None:
        db.session.commit()
        return render_template("accounts/link_invalid.html"), 404
    form = ResetPasswordForm()
    if form.validate_on_submit():
        services.set_password(user, form.password.data)
        db.session.commit()
        logout_user()
        session.clear()
        flash(_("Your password has been changed. Sign in with your new password."), "success")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/reset_password.html", form=form)


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@public
def accept_invitation(token: str) -> Any:
    g.referrer_policy = "no-referrer"
    g.no_store = True
    invitation = services.open_invitation(token)
    if invitation is None:
        db.session.commit()
        return render_template("accounts/link_invalid.html"), 404
    form = AcceptInvitationForm()
    if form.validate_on_submit():
        try:
            services.accept_invitation(
                invitation,
                first_name=form.first_name.data,
                last_name=form.last_name.data,
                password=form.password.data,
                locale=current_language(),
            )
        except services.InvitationError:
            db.session.rollback()
            flash(_("This address already has an account. Sign in, or ask for a new invitation."), "error")
            return redirect(url_for("accounts.login"))
        db.session.commit()
        flash(_("Your account is ready. Sign in to continue."), "success")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/accept_invitation.html", form=form, invitation=invitation)


def _invite_choices(form: InviteForm) -> None:
    from zorgreserve.institutions.services import institutions_in_scope
    from zorgreserve.reference.services import active_regions

    allowed = INVITABLE_BY.get(current_user.role_enum, frozenset())
    form.role.choices = [(role.value, role.label) for role in Role if role in allowed]
    form.institution_id.choices = [("", "—")] + [
        (inst.id, inst.name) for inst in institutions_in_scope(current_user)
    ]
    regions = active_regions()
    if current_user.role_enum is Role.REGIONAL_COORDINATOR:
        regions = [r for r in regions if r.id == current_user.region_id]
    form.region_id.choices = [("", "—")] + [(r.id, r.name) for r in regions]


@bp.route("/invitations/new", methods=["GET", "POST"])
@roles(Role.REGIONAL_COORDINATOR, Role.NATIONAL_COORDINATOR, Role.ADMINISTRATOR)
def invite() -> Any:
    form = InviteForm()
    _invite_choices(form)
    if form.validate_on_submit():
        try:
            services.create_invitation(
                current_user,
                email=form.email.data,
                role=Role(form.role.data),
                institution_id=form.institution_id.data,
                region_id=form.region_id.data,
            )
        except (PermissionError, services.InvitationError):
            db.session.rollback()
            flash(_("You cannot invite someone into this role or organisation."), "error")
            return render_template("accounts/invite.html", form=form), 400
        db.session.commit()
        flash(_("The invitation has been sent."), "success")
        return redirect(url_for("accounts.invite"))
    return render_template("accounts/invite.html", form=form)


@bp.route("/account")
@signed_in
def account() -> Any:
    user = db.session.get(User, current_user.id)
    return render_template("accounts/account.html", user=user)


@bp.route("/users")
@roles(Role.ADMINISTRATOR)
def users() -> Any:
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    rows = db.session.scalars(
        select(User)
        .where(User.role != Role.RESERVIST.value)
        .order_by(User.role, User.id)
        .limit(51)
        .offset((page - 1) * 50)
    ).all()
    return render_template("accounts/users.html", users=rows[:50], page=page, has_more=len(rows) > 50)
