"""Signed, expiring tokens for the links that emails carry, and the link builder services get.

A token names exactly what it was issued for (the company, or the account, with its email); the
web layer turns tokens into absolute links through a `Links` object, so no service needs to know
a route.
"""

from __future__ import annotations

from typing import Any, Protocol

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.schema import Company, Developer
from app.services.accounts.rules import Account, TokenError

SALT_VERIFY_COMPANY = "verify-company"
SALT_VERIFY_ACCOUNT = "verify-account"
SALT_APPROVE_DEVELOPER = "approve-developer"


class Links(Protocol):
    """Absolute links for emails, built by the web layer."""

    def verify(self, token: str) -> str: ...

    def approve(self, token: str) -> str: ...

    def login(self) -> str: ...


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def make_token(salt: str, payload: dict[str, Any]) -> str:
    return _serializer(salt).dumps(payload)


def read_token(token: str, salts: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    """Return (salt, payload) of a valid token; raise TokenError for expired or bad ones."""
    max_age = current_app.config["EMAIL_TOKEN_MAX_AGE"]
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


def company_verification_token(company: Company) -> str:
    return make_token(SALT_VERIFY_COMPANY, {"company": company.id, "email": company.email})


def account_verification_token(account: Account) -> str:
    return make_token(
        SALT_VERIFY_ACCOUNT, {"role": account.role, "id": account.id, "email": account.email}
    )


def approval_token(developer: Developer) -> str:
    return make_token(
        SALT_APPROVE_DEVELOPER,
        {"developer": developer.id, "email": developer.email, "company": developer.company_id},
    )
