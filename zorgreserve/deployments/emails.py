"""E-mails about deployment requests, sent by the worker from outbox rows that carry ids only.

What a message says is decided when it is sent, from the request's state then:
a "waiting for your decision" message for a request that was decided
meanwhile (automatically, or by another coordinator) is not sent.
"""

from __future__ import annotations

from sqlalchemy import select

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.accounts.roles import Role
from zorgreserve.deployments.models import DeploymentRequest, RequestStatus
from zorgreserve.notifications.mail import external_url, send_mail


def _deciders(request: DeploymentRequest) -> list[User]:
    """The region's coordinators; the national coordinators when the region has none."""
    base = select(User).where(User.is_active_account.is_(True)).order_by(User.id)
    regional = list(
        db.session.scalars(
            base.where(User.role == Role.REGIONAL_COORDINATOR.value, User.region_id == request.region_id)
        )
    )
    return regional or list(db.session.scalars(base.where(User.role == Role.NATIONAL_COORDINATOR.value)))


def send_request_email(kind: str, request_id: int) -> None:
    request = db.session.get(DeploymentRequest, request_id)
    if request is None:
        return
    link = external_url("deployments.detail", request_id=request.id)
    if kind == "submitted":
        if request.status != RequestStatus.SUBMITTED.value:
            return  # decided meanwhile: nobody needs to act
        for coordinator in _deciders(request):
            send_mail(
                to=coordinator.email,
                template="deployments/email/submitted",
                locale=coordinator.locale,
                request=request,
                link=link,
            )
        return
    if kind not in ("approved", "rejected"):
        raise ValueError(f"unknown request e-mail {kind!r}")
    creator = request.created_by
    if creator is None or not creator.is_active_account:
        return
    send_mail(
        to=creator.email,
        template=f"deployments/email/{kind}",
        locale=creator.locale,
        request=request,
        link=link,
    )
