"""User accounts, second factors and invitations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from zorgreserve.accounts.roles import Role
from zorgreserve.db import Base, utcnow

ROLE_VALUES = ", ".join(f"'{role.value}'" for role in Role)


class User(Base):
    """Someone who signs in. The role decides what they may see; the scope columns bind it.

    ``session_nonce`` is part of the Flask-Login id, so rotating it (logout,
    password change) invalidates every other session of the user at once.
    """

    __tablename__ = "user_account"
    __table_args__ = (
        CheckConstraint(f"role IN ({ROLE_VALUES})", name="role_known"),
        CheckConstraint(
            "role <> 'institution_staff' OR institution_id IS NOT NULL", name="staff_institution"
        ),
        CheckConstraint("role <> 'regional_coordinator' OR region_id IS NOT NULL", name="coordinator_region"),
        CheckConstraint("email = lower(email)", name="email_lowercase"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32), default=Role.RESERVIST.value)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(20))
    locale: Mapped[str] = mapped_column(String(5), default="nl")
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"), index=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"), index=True)
    is_active_account: Mapped[bool] = mapped_column(Boolean, default=True)
    email_verified_at: Mapped[datetime | None]
    session_nonce: Mapped[str] = mapped_column(String(32))
    totp_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    totp_enabled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    institution = relationship("Institution", lazy="joined")
    region = relationship("Region", lazy="joined")
    recovery_codes: Mapped[list[RecoveryCode]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    # Flask-Login protocol ---------------------------------------------------
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.is_active_account

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_nonce}"

    # Convenience -------------------------------------------------------------
    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def has_second_factor(self) -> bool:
        return self.totp_enabled_at is not None

    def __repr__(self) -> str:  # no personal data in reprs: they end up in logs
        return f"<User {self.id} {self.role}>"


# The coordinators' reservist search (zorgreserve.coordination): results in name order,
# walked through this index, and a case-insensitive prefix search on either name.
Index("ix_user_account_name_order", func.lower(User.last_name), func.lower(User.first_name), User.id)
Index(
    "ix_user_account_last_name_prefix",
    func.lower(User.last_name).label("last_name_lower"),
    postgresql_ops={"last_name_lower": "text_pattern_ops"},
)
Index(
    "ix_user_account_first_name_prefix",
    func.lower(User.first_name).label("first_name_lower"),
    postgresql_ops={"first_name_lower": "text_pattern_ops"},
)


class RecoveryCode(Base):
    """A single-use fallback for a lost authenticator, stored hashed only."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="recovery_codes")


class Invitation(Base):
    """A signed, expiring, single-use invitation for staff and coordinators."""

    __tablename__ = "invitation"
    __table_args__ = (
        CheckConstraint(f"role IN ({ROLE_VALUES})", name="role_known"),
        CheckConstraint(
            "role <> 'institution_staff' OR institution_id IS NOT NULL", name="staff_institution"
        ),
        CheckConstraint("role <> 'regional_coordinator' OR region_id IS NOT NULL", name="coordinator_region"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    role: Mapped[str] = mapped_column(String(32))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    institution = relationship("Institution")
    region = relationship("Region")
    invited_by = relationship("User", foreign_keys=[invited_by_id])
