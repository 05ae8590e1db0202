"""Pages of the verification module: the coordinators' queue and one page per item.

Every route is for regional and national coordinators. Ids in URLs are looked
up through the coordinator's scope; an id outside it answers 404. Decisions are
POSTs with CSRF; a refused decision changes nothing and says why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.accounts.roles import Role, roles
from zorgreserve.reference.models import Profession
from zorgreserve.reservists.models import BigRegistration, ReservistQualification, Verification
from zorgreserve.reservists.services import NotInScope
from zorgreserve.verification import services
from zorgreserve.verification.big_register import BigLookup, LookupStatus, current_register
from zorgreserve.verification.forms import RejectForm, VerifyBigForm, VerifyQualificationForm
from zorgreserve.verification.services import AlreadyDecided, DecisionRefused, ItemKind

bp = Blueprint("verification", __name__, url_prefix="/verification")

COORDINATORS = (Role.REGIONAL_COORDINATOR, Role.NATIONAL_COORDINATOR)


def _me() -> User:
    user = db.session.get(User, current_user.id)
    assert user is not None  # the session loader only lets existing accounts through
    return user


def _in_scope(find: Callable[[User, int], Any], user: User, item_id: int) -> Any:
    try:
        return find(user, item_id)
    except NotInScope:
        abort(404)


@bp.route("/")
@roles(*COORDINATORS)
def queue() -> Any:
    g.no_store = True
    kind = request.args.get("kind", "all")
    page = request.args.get("page", 1, type=int) or 1
    result = services.queue_page(_me(), kind=kind, page=page)
    db.session.commit()  # the access-log rows for the reservists shown
    return render_template("verification/queue.html", result=result, format_date=format_date)


# BIG registrations --------------------------------------------------------------------


def _big_page(
    registration: BigRegistration,
    *,
    verify_form: VerifyBigForm | None = None,
    reject_form: RejectForm | None = None,
    lookup: BigLookup | None = None,
    status: int = 200,
) -> Any:
    g.no_store = True
    today = services.local_today()
    register = current_register()
    waiting = registration.verification == Verification.UNVERIFIED.value
    if waiting and lookup is None:
        lookup = services.look_up(registration, register)
    version = services.fingerprint(registration)
    if verify_form is None:
        verify_form = VerifyBigForm(
            prefix="verify",
            formdata=None,
            version=version,
            reregistration_due=services.suggested_reregistration_due(registration, lookup, today),
        )
    if reject_form is None:
        reject_form = RejectForm(ItemKind.BIG, prefix="reject", formdata=None, version=version)
    return (
        render_template(
            "verification/big_item.html",
            registration=registration,
            reservist=registration.reservist,
            person=registration.reservist.user,
            lookup=lookup,
            register=register,
            statuses=LookupStatus,
            professions={
                code: name for code, name in db.session.execute(select(Profession.code, Profession.name))
            },
            name_matches=lookup.surname_matches(registration.reservist.user.last_name) if lookup else None,
            current=lookup.registration_for(registration.profession.code, today) if lookup else None,
            waiting=waiting,
            decided_by=db.session.get(User, registration.verified_by_id)
            if registration.verified_by_id
            else None,
            verify_form=verify_form,
            reject_form=reject_form,
            format_date=format_date,
        ),
        status,
    )


@bp.route("/big/<int:registration_id>")
@roles(*COORDINATORS)
def big_item(registration_id: int) -> Any:
    user = _me()
    registration = _in_scope(services.big_in_scope, user, registration_id)
    services.record_view(user, registration, "verification.big_item")
    response = _big_page(registration)
    db.session.commit()  # the access-log row and the register's answer
    return response


def _refused(refused: DecisionRefused, form: Any) -> None:
    db.session.rollback()
    field = getattr(form, refused.field, None) if refused.field else None
    if field is not None:
        field.errors = [*field.errors, refused.message]
    else:
        flash(refused.message, "error")


def _decide(
    item: Any,
    form: Any,
    decide: Callable[[], object],
    *,
    page: Callable[..., Any],
    form_key: str,
    back: str,
    success: str,
    with_lookup: bool = False,
) -> Any:
    """Run one coordinator decision and commit once.

    A decision someone else already took sends the coordinator back to the item; a refused
    one (missing confirmation, register unavailable) re-renders the item with the message.
    """
    try:
        services.ensure_open(item)
        if not form.validate_on_submit():
            return page(item, **{form_key: form}, status=422)
        decide()
    except AlreadyDecided as decided:
        db.session.rollback()
        flash(decided.message, "error")
        return redirect(back, 303)
    except DecisionRefused as refused:
        _refused(refused, form)
        extra = {"lookup": refused.lookup} if with_lookup else {}
        return page(item, **{form_key: form}, status=422, **extra)
    db.session.commit()
    flash(success, "success")
    return redirect(url_for(".queue"), 303)


@bp.route("/big/<int:registration_id>/verify", methods=["POST"])
@roles(*COORDINATORS)
def verify_big(registration_id: int) -> Any:
    user = _me()
    registration = _in_scope(services.big_in_scope, user, registration_id)
    form = VerifyBigForm(prefix="verify")
    return _decide(
        registration,
        form,
        lambda: services.verify_big(
            user,
            registration,
            version=form.version.data,
            confirmed=form.confirmed.data,
            reregistration_due=form.reregistration_due.data,
            register=current_register(),
        ),
        page=_big_page,
        form_key="verify_form",
        back=url_for(".big_item", registration_id=registration.id),
        success=_("The BIG registration is verified. The reservist receives an e-mail."),
        with_lookup=True,
    )


@bp.route("/big/<int:registration_id>/reject", methods=["POST"])
@roles(*COORDINATORS)
def reject_big(registration_id: int) -> Any:
    user = _me()
    registration = _in_scope(services.big_in_scope, user, registration_id)
    form = RejectForm(ItemKind.BIG, prefix="reject")
    return _decide(
        registration,
        form,
        lambda: services.reject_big(
            user, registration, version=form.version.data, grounds=form.grounds.data, reason=form.reason.data
        ),
        page=_big_page,
        form_key="reject_form",
        back=url_for(".big_item", registration_id=registration.id),
        success=_("The BIG registration is rejected. The reservist receives an e-mail with your reason."),
    )


# Qualifications -----------------------------------------------------------------------


def _qualification_page(
    held: ReservistQualification,
    *,
    verify_form: VerifyQualificationForm | None = None,
    reject_form: RejectForm | None = None,
    status: int = 200,
) -> Any:
    g.no_store = True
    version = services.fingerprint(held)
    needs = services.requirements(held, services.local_today())
    if verify_form is None:
        verify_form = VerifyQualificationForm(prefix="verify", formdata=None, version=version)
    if reject_form is None:
        reject_form = RejectForm(ItemKind.QUALIFICATION, prefix="reject", formdata=None, version=version)
    return (
        render_template(
            "verification/qualification_item.html",
            held=held,
            qualification=held.qualification,
            reservist=held.reservist,
            person=held.reservist.user,
            requirements=needs,
            ready=all(r.met for r in needs),
            waiting=held.verification == Verification.UNVERIFIED.value,
            decided_by=db.session.get(User, held.verified_by_id) if held.verified_by_id else None,
            verify_form=verify_form,
            reject_form=reject_form,
            format_date=format_date,
        ),
        status,
    )


@bp.route("/qualifications/<int:item_id>")
@roles(*COORDINATORS)
def qualification_item(item_id: int) -> Any:
    user = _me()
    held = _in_scope(services.qualification_in_scope, user, item_id)
    services.record_view(user, held, "verification.qualification_item")
    response = _qualification_page(held)
    db.session.commit()
    return response


@bp.route("/qualifications/<int:item_id>/verify", methods=["POST"])
@roles(*COORDINATORS)
def verify_qualification(item_id: int) -> Any:
    user = _me()
    held = _in_scope(services.qualification_in_scope, user, item_id)
    form = VerifyQualificationForm(prefix="verify")
    return _decide(
        held,
        form,
        lambda: services.verify_qualification(
            user, held, version=form.version.data, evidence_checked=form.evidence_checked.data
        ),
        page=_qualification_page,
        form_key="verify_form",
        back=url_for(".qualification_item", item_id=held.id),
        success=_("The qualification is verified. The reservist receives an e-mail."),
    )


@bp.route("/qualifications/<int:item_id>/reject", methods=["POST"])
@roles(*COORDINATORS)
def reject_qualification(item_id: int) -> Any:
    user = _me()
    held = _in_scope(services.qualification_in_scope, user, item_id)
    form = RejectForm(ItemKind.QUALIFICATION, prefix="reject")
    return _decide(
        held,
        form,
        lambda: services.reject_qualification(
            user, held, version=form.version.data, grounds=form.grounds.data, reason=form.reason.data
        ),
        page=_qualification_page,
        form_key="reject_form",
        back=url_for(".qualification_item", item_id=held.id),
        success=_("The qualification is rejected. The reservist receives an e-mail with your reason."),
    )
