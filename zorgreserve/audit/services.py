"""Recording audit events (append-only; ids and codes only, no personal data)."""

from __future__ import annotations

from typing import Any

from flask import has_request_context
from flask_login import current_user

from zorgreserve import db
from zorgreserve.audit.models import AuditEvent


def record(
    action: str,
    *,
    actor: Any = None,
    subject_type: str | None = None,
    subject_id: Any = None,
    subject_user_id: int | None = None,
    **details: Any,
) -> AuditEvent:
    """Add an audit event to the current transaction (it commits with the change it describes)."""
    if actor is None and has_request_context() and current_user and current_user.is_authenticated:
        actor = current_user
    organisation = None
    if actor is not None:
        if getattr(actor, "institution", None) is not None:
            organisation = actor.institution.name
        elif getattr(actor, "region", None) is not None:
            organisation = actor.region.name
    event = AuditEvent(
        action=action,
        actor_id=getattr(actor, "id", None),
        actor_role=getattr(actor, "role", None),
        organisation=organisation,
        subject_type=subject_type,
        subject_id=None if subject_id is None else str(subject_id),
        subject_user_id=subject_user_id,
        details=details,
    )
    db.session.add(event)
    return event


def log_access(action: str, reservist_id: int, context: str, *, actor: Any = None, **details: Any) -> None:
    """Record that someone other than the reservist viewed, changed or exported their data.

    Views and services call this for every access to a reservist's personal data
    by staff; the reservist's own access is not logged (it is not "someone else").
    """
    from zorgreserve.audit.models import AccessLogEntry

    if actor is None and has_request_context() and current_user and current_user.is_authenticated:
        actor = current_user
    if actor is not None and getattr(actor, "role", None) == "reservist":
        return
    organisation = None
    if actor is not None:
        if getattr(actor, "institution", None) is not None:
            organisation = actor.institution.name
        elif getattr(actor, "region", None) is not None:
            organisation = actor.region.name
    db.session.add(
        AccessLogEntry(
            action=action,
            subject_reservist_id=reservist_id,
            actor_id=getattr(actor, "id", None),
            actor_role=getattr(actor, "role", None),
            organisation=organisation,
            context=context,
            details=details,
        )
    )
