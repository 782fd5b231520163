"""API tokens: a company's developer creates named tokens for the company's own pipelines.

A token is `cb_` followed by 32 URL-safe random characters, shown once when it is created; only
its SHA-256 is stored (a token is random and long, so a plain digest is enough: there is no
password to guess). A token acts for the developer who made it, under the same tenancy rules as
the pages, while that developer's account is active and until it is revoked.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import func, select

from app.extensions import db
from app.schema import ApiToken, Developer, utcnow
from app.services.errors import DomainError, NotFound

PREFIX = "cb_"
SECRET_BYTES = 24  # 32 URL-safe characters
NAME_MAX = 100
MAX_ACTIVE_TOKENS = 25
# `last_used_at` is rewritten at most this often, so a busy pipeline does not write every call.
LAST_USE_PRECISION = timedelta(minutes=1)


class TokenRefused(DomainError):
    """The token cannot be created; the message says why."""


class TokenNotFound(NotFound):
    """No such token, or it belongs to someone else."""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_for(developer: Developer) -> list[ApiToken]:
    """The developer's tokens, active first, newest first."""
    return list(
        db.session.scalars(
            select(ApiToken)
            .filter_by(developer_id=developer.id, company_id=developer.company_id)
            .order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())
        )
    )


def create_token(developer: Developer, name: str | None) -> tuple[ApiToken, str]:
    """A new token named `name`; returns its row and the token itself (shown once)."""
    name = (name or "").strip()
    if not name:
        raise TokenRefused("Please give the token a name, e.g. the pipeline that uses it.", "name")
    if len(name) > NAME_MAX:
        raise TokenRefused(f"The name is too long (at most {NAME_MAX} characters).", "name")
    active = (
        db.session.scalar(
            select(func.count(ApiToken.id)).filter_by(developer_id=developer.id, revoked_at=None)
        )
        or 0
    )
    if active >= MAX_ACTIVE_TOKENS:
        raise TokenRefused(
            f"You have {MAX_ACTIVE_TOKENS} active tokens; revoke one you no longer use first."
        )
    token = PREFIX + secrets.token_urlsafe(SECRET_BYTES)
    row = ApiToken(
        company_id=developer.company_id,
        developer_id=developer.id,
        name=name,
        token_hash=digest(token),
        prefix=token[: len(PREFIX) + 4],
    )
    db.session.add(row)
    db.session.commit()
    return row, token


def revoke_token(developer: Developer, token_id: int) -> ApiToken:
    """Revoke one of the developer's tokens (idempotent); another's is a TokenNotFound."""
    row = db.session.get(ApiToken, token_id)
    if row is None or row.developer_id != developer.id or row.company_id != developer.company_id:
        raise TokenNotFound("There is no such token.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        db.session.commit()
    return row


def developer_for_token(token: str | None) -> Developer | None:
    """The active developer a valid, unrevoked token acts for (its last use noted), or None."""
    if not token or not token.startswith(PREFIX) or len(token) > 200:
        return None
    row = db.session.scalars(select(ApiToken).filter_by(token_hash=digest(token))).first()
    if row is None or row.revoked_at is not None:
        return None
    developer = row.developer
    if developer is None or not developer.is_active or developer.company_id != row.company_id:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USE_PRECISION:
        row.last_used_at = now
        db.session.commit()
    return developer
