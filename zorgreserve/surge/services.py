"""Surge phase rules: declaring phases, the current and effective phase, and phase policy.

**Effective phase.** Every region has its own phase and the country has one. The
phase that applies in a region is the *higher* of the two (by the phase order of the
LNAZ opschalingsplan), and that phase's policy applies as a whole. A national
declaration (e.g. 2D, declared by the Minister) therefore lifts every region at
least to that phase, while a region under more pressure than the country keeps
its own, higher phase. Policies are not mixed field by field: the phases are
designed as coherent steps, so combining "approval" from one and "reach" from
another would produce a policy nobody decided on.

Without any declaration a region (and the country) is in the lowest phase (0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from zorgreserve import db
from zorgreserve.accounts.models import User
from zorgreserve.accounts.roles import Role
from zorgreserve.audit.services import record
from zorgreserve.reference.models import ApprovalMode, Reach, Region, SurgePhase
from zorgreserve.surge.models import PhaseDeclaration

#: Bounds of the offer expiry, as the database's check constraint on surge_phase.
OFFER_EXPIRY_MIN = 5
OFFER_EXPIRY_MAX = 7 * 24 * 60
REASON_MIN = 5
REASON_MAX = 2000


class SurgeError(ValueError):
    """A declaration or policy change that cannot be made; ``message`` is shown to the user."""

    def __init__(self, message: Any, field: str | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.field = field


@dataclass(frozen=True)
class EffectivePhase:
    """The phase that applies in a region, and where it comes from."""

    phase: SurgePhase
    regional: SurgePhase
    national: SurgePhase

    @property
    def source(self) -> str:
        """``"national"`` when the national phase is higher than the region's own, else ``"region"``."""
        return "national" if self.national.ordinal > self.regional.ordinal else "region"

    @property
    def automatic_request_approval(self) -> bool:
        return self.phase.request_approval == ApprovalMode.AUTOMATIC.value

    @property
    def automatic_deployment_approval(self) -> bool:
        return self.phase.deployment_approval == ApprovalMode.AUTOMATIC.value

    @property
    def reach(self) -> str:
        return self.phase.reach

    @property
    def offer_expiry_minutes(self) -> int:
        return self.phase.offer_expiry_minutes


def phases() -> list[SurgePhase]:
    return list(db.session.scalars(select(SurgePhase).order_by(SurgePhase.ordinal)))


def lowest_phase() -> SurgePhase:
    phase = db.session.scalar(select(SurgePhase).order_by(SurgePhase.ordinal).limit(1))
    if phase is None:
        raise RuntimeError("no surge phases: load the reference data first")
    return phase


def current_declaration(region_id: int | None) -> PhaseDeclaration | None:
    """The latest declaration for a region (``None``: the national one), if any."""
    scope = (
        PhaseDeclaration.region_id.is_(None) if region_id is None else PhaseDeclaration.region_id == region_id
    )
    return db.session.scalar(
        select(PhaseDeclaration)
        .where(scope)
        .order_by(PhaseDeclaration.declared_at.desc(), PhaseDeclaration.id.desc())
        .limit(1)
    )


def current_phase(region_id: int | None) -> SurgePhase:
    """The phase declared for a region itself (``None``: nationally); the lowest when never declared."""
    declaration = current_declaration(region_id)
    return declaration.phase if declaration is not None else lowest_phase()


def national_phase() -> SurgePhase:
    return current_phase(None)


def effective_phase(region_id: int) -> EffectivePhase:
    """The higher of the region's and the national phase; see the module docstring.

    Both latest declarations in one statement (and the lowest phase in a second only
    when one scope never declared): booking asks this on every accept.
    """

    def latest(scope: Any) -> Any:
        return (
            select(PhaseDeclaration.id)
            .where(scope)
            .order_by(PhaseDeclaration.declared_at.desc(), PhaseDeclaration.id.desc())
            .limit(1)
            .scalar_subquery()
        )

    found = db.session.scalars(
        select(PhaseDeclaration).where(
            PhaseDeclaration.id.in_(
                [
                    latest(PhaseDeclaration.region_id == region_id),
                    latest(PhaseDeclaration.region_id.is_(None)),
                ]
            )
        )
    ).all()
    regional = next((d.phase for d in found if d.region_id == region_id), None)
    national = next((d.phase for d in found if d.region_id is None), None)
    if regional is None or national is None:
        lowest = lowest_phase()
        regional, national = regional or lowest, national or lowest
    phase = national if national.ordinal > regional.ordinal else regional
    return EffectivePhase(phase=phase, regional=regional, national=national)


def can_declare(user: User, region_id: int | None) -> bool:
    """Regional coordinators declare for their own region; national coordinators anywhere and nationally."""
    role = user.role_enum
    if role is Role.NATIONAL_COORDINATOR:
        return True
    return role is Role.REGIONAL_COORDINATOR and region_id is not None and region_id == user.region_id


def declare(user: User, *, region_id: int | None, phase_code: str, reason: str) -> PhaseDeclaration:
    """Declare ``phase_code`` for a region (``region_id=None``: nationally), with a reason.

    Refuses a phase the scope may not have (2D and 3 are national only), a
    declaration of the phase already in force, and declarations outside the
    user's scope. Requests waiting for approval in the regions concerned are
    approved at once if the new effective policy approves automatically.
    """
    if not can_declare(user, region_id):
        raise PermissionError("not allowed to declare a phase for this scope")
    if region_id is not None:
        region = db.session.get(Region, region_id)
        if region is None or region.valid_to is not None:
            raise SurgeError(_l("Choose a region."), field="scope")
    phase = db.session.get(SurgePhase, phase_code)
    if phase is None:
        raise SurgeError(_l("Choose a phase."), field="phase_code")
    if phase.national_only and region_id is not None:
        raise SurgeError(_l("This phase can only be declared nationally."), field="phase_code")
    reason = (reason or "").strip()
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        raise SurgeError(_l("Give the reason for this decision (at least a few words)."), field="reason")
    previous = current_phase(region_id)
    if previous.code == phase.code:
        raise SurgeError(_l("This phase is already in force."), field="phase_code")
    declaration = PhaseDeclaration(
        region_id=region_id,
        phase_code=phase.code,
        previous_phase_code=previous.code,
        reason=reason,
        declared_by_id=user.id,
    )
    db.session.add(declaration)
    db.session.flush()
    record(
        "surge.phase_declared",
        actor=user,
        subject_type="region" if region_id is not None else "nation",
        subject_id=region_id,
        phase=phase.code,
        previous_phase=previous.code,
    )
    _apply_automatic_approval()
    return declaration


def history(
    region_id: int | None = None, *, national: bool = False, limit: int = 200
) -> list[PhaseDeclaration]:
    """Declarations, newest first: of one region, of the nation only, or of every scope."""
    query = select(PhaseDeclaration).order_by(PhaseDeclaration.declared_at.desc(), PhaseDeclaration.id.desc())
    if national:
        query = query.where(PhaseDeclaration.region_id.is_(None))
    elif region_id is not None:
        query = query.where(PhaseDeclaration.region_id == region_id)
    return list(db.session.scalars(query.limit(limit)))


@dataclass(frozen=True)
class RegionPhase:
    region: Region
    declaration: PhaseDeclaration | None
    effective: EffectivePhase


def region_overview() -> list[RegionPhase]:
    """Every active region with its own declaration and the phase in effect there."""
    from zorgreserve.reference.services import active_regions

    return [
        RegionPhase(
            region=region, declaration=current_declaration(region.id), effective=effective_phase(region.id)
        )
        for region in active_regions()
    ]


# Policy ------------------------------------------------------------------------------

POLICY_FIELDS = ("request_approval", "deployment_approval", "reach", "offer_expiry_minutes", "description")


def update_policy(
    user: User,
    phase: SurgePhase,
    *,
    request_approval: str,
    deployment_approval: str,
    reach: str,
    offer_expiry_minutes: int,
    description: str,
) -> list[str]:
    """Change a phase's policy (national coordinators only); returns the names of changed fields.

    Every change is audited with the values before and after. If requests wait
    for approval in a region where the new policy approves automatically, they
    are approved at once.
    """
    if user.role_enum is not Role.NATIONAL_COORDINATOR:
        raise PermissionError("only national coordinators change phase policy")
    modes = {m.value for m in ApprovalMode}
    if request_approval not in modes:
        raise SurgeError(_l("Choose how requests are approved."), field="request_approval")
    if deployment_approval not in modes:
        raise SurgeError(_l("Choose how deployments are approved."), field="deployment_approval")
    if reach not in {r.value for r in Reach}:
        raise SurgeError(_l("Choose how far call-ups may reach."), field="reach")
    if not OFFER_EXPIRY_MIN <= offer_expiry_minutes <= OFFER_EXPIRY_MAX:
        raise SurgeError(
            _l(
                "The offer expiry must lie between %(low)s minutes and %(high)s minutes.",
                low=OFFER_EXPIRY_MIN,
                high=OFFER_EXPIRY_MAX,
            ),
            field="offer_expiry_minutes",
        )
    description = (description or "").strip()
    if not 1 <= len(description) <= REASON_MAX:
        raise SurgeError(_l("Describe the phase."), field="description")
    new = {
        "request_approval": request_approval,
        "deployment_approval": deployment_approval,
        "reach": reach,
        "offer_expiry_minutes": offer_expiry_minutes,
        "description": description,
    }
    changed = [name for name in POLICY_FIELDS if getattr(phase, name) != new[name]]
    if not changed:
        return []
    before = {name: getattr(phase, name) for name in changed if name != "description"}
    for name in changed:
        setattr(phase, name, new[name])
    db.session.flush()
    record(
        "surge.policy_changed",
        actor=user,
        subject_type="surge_phase",
        subject_id=phase.code,
        fields=changed,
        before=before,
        after={name: new[name] for name in before},
    )
    _apply_automatic_approval()
    return changed


def policy_changes(limit: int = 50) -> list[Any]:
    """The latest policy changes from the audit trail, newest first."""
    from zorgreserve.audit.models import AuditEvent

    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "surge.policy_changed")
            .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
    )


def _apply_automatic_approval() -> None:
    """Let requests that wait for approval go through where the policy now approves automatically."""
    from zorgreserve.deployments.services import approve_waiting_automatically

    approve_waiting_automatically()
