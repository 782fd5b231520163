"""Signed, expiring tokens for the links that emails carry, and the link builder services get.

A token names exactly the state it was issued for: the company or account by id, email and the
moment its row was created (a row deleted and created again, even under the same id, is another
account), and for a password reset the password it replaces (so the link works once). The web
layer turns tokens into absolute links through a `Links` object, so no service needs to know a
route.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Protocol

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.schema import Company, Developer
from app.services.accounts.rules import Account, TokenError

SALT_VERIFY_COMPANY = "verify-company"
SALT_VERIFY_ACCOUNT = "verify-account"
SALT_APPROVE_DEVELOPER = "approve-developer"
SALT_RESET_PASSWORD = "reset-password"  # noqa: S105 - a salt, not a password


class Links(Protocol):
    """Absolute links for emails, built by the web layer."""

    def verify(self, token: str) -> str: ...

    def approve(self, token: str) -> str: ...

    def reset(self, token: str) -> str: ...

    def forgot_password(self) -> str: ...

    def login(self) -> str: ...


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def make_token(salt: str, payload: dict[str, Any]) -> str:
    return _serializer(salt).dumps(payload)


def read_token(
    token: str, salts: tuple[str, ...], max_age: int | None = None
) -> tuple[str, dict[str, Any]]:
    """Return (salt, payload) of a valid token; raise TokenError for expired or bad ones."""
    max_age = max_age if max_age is not None else current_app.config["EMAIL_TOKEN_MAX_AGE"]
    expired = False
    for salt in salts:
        try:
            payload = _serializer(salt).loads(token, max_age=max_age)
        except SignatureExpired:
            expired = True
        except BadSignature:
            continue
        else:
            if isinstance(payload, dict):
                return salt, payload
    if expired:
        raise TokenError(
            "This link has expired. Ask for a new email below and use the newest link.",
            expired=True,
        )
    raise TokenError(
        "This link is not valid: it may have been cut short or changed. "
        "Copy the whole link from the email, or ask for a new email below."
    )


def created_stamp(row: Company | Account) -> str:
    """When the row was created, as the tokens carry it."""
    created: datetime = row.created_at
    return created.isoformat(timespec="microseconds")


def issued_for(row: Company | Account | None, payload: dict[str, Any]) -> bool:
    """True when `row` is still exactly what the token was issued for."""
    return (
        row is not None
        and row.email == payload.get("email")
        and created_stamp(row) == payload.get("created")
    )


def company_verification_token(company: Company) -> str:
    return make_token(
        SALT_VERIFY_COMPANY,
        {"company": company.id, "email": company.email, "created": created_stamp(company)},
    )


def account_verification_token(account: Account) -> str:
    return make_token(
        SALT_VERIFY_ACCOUNT,
        {
            "role": account.role,
            "id": account.id,
            "email": account.email,
            "created": created_stamp(account),
        },
    )


def approval_token(developer: Developer) -> str:
    return make_token(
        SALT_APPROVE_DEVELOPER,
        {
            "developer": developer.id,
            "email": developer.email,
            "company": developer.company_id,
            "created": created_stamp(developer),
        },
    )


def password_fingerprint(account: Account) -> str:
    """A short digest of the current password hash: a reset link stops working once the
    password changes (so it works once), and the token never carries the hash itself."""
    return hashlib.sha256(account.password_hash.encode()).hexdigest()[:24]


def reset_token(account: Account) -> str:
    return make_token(
        SALT_RESET_PASSWORD,
        {
            "role": account.role,
            "id": account.id,
            "email": account.email,
            "created": created_stamp(account),
            "password": password_fingerprint(account),
        },
    )
