"""Companies and the people who work in them: developers and users, their browser sessions and
the developer's API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, DateTime, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.schema.base import ModelBase, TimestampMixin


class Company(TimestampMixin, ModelBase):
    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254), index=True)
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Decision costs, set by the developer (services.decisions.costs, which validates them):
    # all four or none.
    customer_value: Mapped[float | None] = mapped_column(Float)
    offer_cost: Mapped[float | None] = mapped_column(Float)
    contact_cost: Mapped[float | None] = mapped_column(Float)
    acceptance_rate: Mapped[float | None] = mapped_column(Float)
    costs_updated_at: Mapped[datetime | None] = mapped_column(DateTime)

    developer: Mapped[Developer | None] = relationship(back_populates="company")
    users: Mapped[list[User]] = relationship(back_populates="company")


class AccountMixin(TimestampMixin, UserMixin):
    """Columns and login behaviour shared by developers and users."""

    role: str = ""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime)
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped on logout and password change: every session issued before then stops working.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)

    # The key of the login session this object was loaded for (not a column: sessions live in
    # `login_sessions`); Flask-Login stores get_id() in the session and remember cookies.
    if TYPE_CHECKING:
        session_key: str | None
    session_key = None  # set by the session loader (a plain attribute, not a column)

    def get_id(self) -> str:
        base = f"{self.role}:{self.id}:{self.session_version}"
        return f"{base}:{self.session_key}" if self.session_key else base

    @property
    def is_developer(self) -> bool:
        return self.role == "developer"


class Developer(AccountMixin, ModelBase):
    __tablename__ = "developers"
    role = "developer"

    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), unique=True)
    approved_at: Mapped[datetime | None] = mapped_column(DateTime)
    environment_ready_at: Mapped[datetime | None] = mapped_column(DateTime)

    company: Mapped[Company] = relationship(back_populates="developer")

    @property
    def is_active(self) -> bool:  # Flask-Login: may this account hold a session?
        return bool(self.is_enabled and self.email_verified_at and self.approved_at)


class User(AccountMixin, ModelBase):
    __tablename__ = "users"
    role = "user"

    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime)

    company: Mapped[Company] = relationship(back_populates="users")

    @property
    def is_active(self) -> bool:
        return bool(self.is_enabled and self.email_verified_at)


class LoginSession(TimestampMixin, ModelBase):
    """One browser's login: logging out deletes its row, so a copy of its cookies stops working
    while the account's other sessions go on. Only a hash of the key in the cookie is kept."""

    __tablename__ = "login_sessions"
    __table_args__ = (
        CheckConstraint("(developer_id IS NULL) <> (user_id IS NULL)", name="one_account"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    developer_id: Mapped[int | None] = mapped_column(
        ForeignKey("developers.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )


class ApiToken(TimestampMixin, ModelBase):
    """A named API token of a company's developer, for the company's own pipelines.

    Only the token's SHA-256 is stored (the token itself is shown once, when it is created);
    `prefix` (its first characters) tells tokens apart on the page. A revoked token stays, so
    the page can show when it was last used.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    developer_id: Mapped[int] = mapped_column(ForeignKey("developers.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)

    developer: Mapped[Developer] = relationship()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
