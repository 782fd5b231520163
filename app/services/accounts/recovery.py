"""A forgotten password: a mail with a single-use, expiring link, then a new password.

The answer is the same whether or not the address belongs to an account. The link is bound to
the account's current password (it stops working once used) and expires after
PASSWORD_RESET_MAX_AGE seconds; the reset ends every session of the account.
"""

from __future__ import annotations

import logging
from typing import cast

from flask import current_app

from app.extensions import db
from app.services import mail as mailer
from app.services.accounts import tokens
from app.services.accounts.authentication import set_password
from app.services.accounts.rules import (
    ACCOUNT_CLASSES,
    Account,
    PasswordChangeError,
    TokenError,
    find_account_by_email,
    password_problem,
)
from app.services.accounts.tokens import Links

log = logging.getLogger(__name__)


def request_password_reset(email: str, links: Links) -> None:
    """Mail a reset link to the account at `email`, if there is one; silent either way."""
    account = find_account_by_email(email)
    if account is None:
        log.info("Password reset asked for an address without an account")
        return
    minutes = current_app.config["PASSWORD_RESET_MAX_AGE"] // 60
    try:
        mailer.send_password_reset(
            account.email, account.name, links.reset(tokens.reset_token(account)), minutes
        )
    except mailer.MailError:
        log.exception("The password reset email could not be sent")


def account_for_reset(token: str) -> Account:
    """The account a reset link is for, while the link is valid (TokenError otherwise)."""
    _salt, payload = tokens.read_token(
        token,
        (tokens.SALT_RESET_PASSWORD,),
        max_age=current_app.config["PASSWORD_RESET_MAX_AGE"],
    )
    account_class = ACCOUNT_CLASSES.get(payload.get("role", ""))
    found = db.session.get(account_class, payload.get("id")) if account_class else None
    account = cast("Account | None", found)
    if account is None or not tokens.issued_for(account, payload):
        raise TokenError("This link points at an account that no longer exists.")
    if tokens.password_fingerprint(account) != payload.get("password"):
        raise TokenError(
            "This link has already been used, or the password was changed since it was sent. "
            "Ask for a new link below."
        )
    return account


def reset_password(token: str, password: str) -> Account:
    """Set a new password through a reset link; every session of the account ends (commits)."""
    account = account_for_reset(token)
    problem = password_problem(password, account.email)
    if problem:
        raise PasswordChangeError(problem, field="password")
    set_password(account, password)
    db.session.commit()
    log.info("Password of %s %s reset through an emailed link", account.role, account.id)
    return account
