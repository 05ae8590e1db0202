"""The role model and the per-route access declarations.

Every view declares who may use it with :func:`public`, :func:`signed_in` or
:func:`roles`. A ``before_request`` hook refuses any endpoint without a
declaration, so a forgotten decorator fails closed, and the route × role test
compares the declarations with a checked-in table.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar

from flask import abort
from flask_babel import lazy_gettext as _l
from flask_login import current_user

F = TypeVar("F", bound=Callable[..., Any])


class Role(StrEnum):
    RESERVIST = "reservist"
    INSTITUTION_STAFF = "institution_staff"
    REGIONAL_COORDINATOR = "regional_coordinator"
    NATIONAL_COORDINATOR = "national_coordinator"
    ADMINISTRATOR = "administrator"

    @property
    def label(self) -> str:
        return str(ROLE_LABELS[self])

    @property
    def is_staff(self) -> bool:
        """Everyone who acts on other people's data: idle sessions end after 30 minutes."""
        return self is not Role.RESERVIST

    @property
    def needs_second_factor(self) -> bool:
        return self in (Role.REGIONAL_COORDINATOR, Role.NATIONAL_COORDINATOR, Role.ADMINISTRATOR)


ROLE_LABELS = {
    Role.RESERVIST: _l("Reservist"),
    Role.INSTITUTION_STAFF: _l("Institution staff"),
    Role.REGIONAL_COORDINATOR: _l("Regional coordinator"),
    Role.NATIONAL_COORDINATOR: _l("National coordinator"),
    Role.ADMINISTRATOR: _l("Administrator"),
}

COORDINATORS = frozenset({Role.REGIONAL_COORDINATOR, Role.NATIONAL_COORDINATOR})
#: Roles that may invite other users, and which roles each may invite.
INVITABLE_BY: dict[Role, frozenset[Role]] = {
    Role.REGIONAL_COORDINATOR: frozenset({Role.INSTITUTION_STAFF, Role.REGIONAL_COORDINATOR}),
    Role.NATIONAL_COORDINATOR: frozenset(
        {Role.INSTITUTION_STAFF, Role.REGIONAL_COORDINATOR, Role.NATIONAL_COORDINATOR}
    ),
    Role.ADMINISTRATOR: frozenset(
        {Role.INSTITUTION_STAFF, Role.REGIONAL_COORDINATOR, Role.NATIONAL_COORDINATOR, Role.ADMINISTRATOR}
    ),
}

PUBLIC = "public"
SIGNED_IN = "signed_in"


def public(view: F) -> F:
    """Anyone may use this route, signed in or not."""
    view.access = PUBLIC  # type: ignore[attr-defined]
    return view


def signed_in(view: F) -> F:
    """Any signed-in user may use this route."""
    view.access = SIGNED_IN  # type: ignore[attr-defined]
    return view


def roles(*allowed: Role) -> Callable[[F], F]:
    """Only users with one of ``allowed`` roles; others get 403, anonymous users the login page."""

    def decorator(view: F) -> F:
        view.access = frozenset(allowed)  # type: ignore[attr-defined]
        return view

    return decorator


def enforce(view: Callable[..., Any] | None) -> Any:
    """Check the current user against a view's declaration; the one place access is decided.

    Returns ``None`` when the request may go on, or a response/abort otherwise.
    A view without a declaration is refused: forgetting one must fail closed.
    """
    from zorgreserve.extensions import login_manager

    declared = access_of(view) if view is not None else None
    if declared is None:
        abort(403)
    if declared == PUBLIC:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if declared == SIGNED_IN:
        return None
    if current_user.role not in declared:
        abort(403)
    return None


def access_of(view: Callable[..., Any]) -> Any:
    """The access declaration of a view function, or ``None`` when it has none."""
    return getattr(view, "access", None)
