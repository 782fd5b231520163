"""Authentication: who holds a session, login with lockout after repeated failures, logout,
and password changes. A wrong email and a wrong password get the same answer in the same time.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import NoReturn, cast

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.schema import Developer, User, utcnow
from app.services.accounts.rules import (
    ACCOUNT_CLASSES,
    LOGIN_INCORRECT,
    PASSWORD_MIN_LENGTH,
    Account,
    LoginRefused,
    PasswordChangeError,
    find_account_by_email,
)


def load_account_from_session(session_id: str) -> Developer | User | None:
    """Flask-Login's loader: 'role:id:session_version' → the account, if that session is current."""
    try:
        role, account_id, version = session_id.split(":")
        account_class = ACCOUNT_CLASSES[role]
        account = cast("Account | None", db.session.get(account_class, int(account_id)))
    except (ValueError, KeyError):
        return None
    if account is None or account.session_version != int(version) or not account.is_active:
        return None
    return account


_dummy_hash: str | None = None


def _dummy_password_hash() -> str:
    """A real hash to check against when the email is unknown, so both paths take as long."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = generate_password_hash(secrets.token_urlsafe(16))
    return _dummy_hash


def _lock_message(locked_until: datetime, now: datetime) -> str:
    minutes = max(1, int((locked_until - now).total_seconds() + 59) // 60)
    return (
        "Too many failed attempts: this account is locked. "
        f"Please wait {minutes} minute{'s' if minutes != 1 else ''} and try again."
    )


def authenticate(email: str, password: str) -> Account:
    """The account for a correct email and password that may log in; LoginRefused otherwise."""
    now = utcnow()
    account = find_account_by_email(email)
    if account is None:
        check_password_hash(_dummy_password_hash(), password or "")
        raise LoginRefused(LOGIN_INCORRECT)
    if account.locked_until and account.locked_until > now:
        raise LoginRefused(_lock_message(account.locked_until, now))
    if not check_password_hash(account.password_hash, password or ""):
        _refuse_wrong_password(account, now)
    account.failed_logins = 0
    account.locked_until = None
    missing = missing_steps(account)
    if not account.is_enabled:
        db.session.commit()
        raise LoginRefused(
            "This account has been deactivated. Ask your company's developer if this is a mistake."
        )
    if missing:
        db.session.commit()
        raise LoginRefused("Your account is not active yet.", missing_steps=missing)
    account.last_login_at = now
    db.session.commit()
    return account


def _refuse_wrong_password(account: Account, now: datetime) -> NoReturn:
    """Count the failure, lock the account at the limit, and refuse the login."""
    account.failed_logins = (account.failed_logins or 0) + 1
    if account.failed_logins >= current_app.config["LOGIN_MAX_FAILURES"]:
        account.failed_logins = 0
        account.locked_until = now + timedelta(seconds=current_app.config["LOGIN_LOCK_SECONDS"])
        db.session.commit()
        raise LoginRefused(_lock_message(account.locked_until, now))
    db.session.commit()
    raise LoginRefused(LOGIN_INCORRECT)


def missing_steps(account: Account) -> list[str]:
    """What an account still waits for before it may log in, in words."""
    steps = []
    if account.email_verified_at is None:
        steps.append(
            f"Confirm your email address: open the link we sent to {account.email}. "
            "No email? Ask for a new one."
        )
    if isinstance(account, Developer) and account.approved_at is None:
        steps.append(
            "Your company must approve you: open the approval link sent to the company's email "
            f"({account.company.email})."
        )
    return steps


def end_all_sessions(account: Account) -> None:
    """Every session and remember-me cookie issued so far stops working."""
    account.session_version = (account.session_version or 1) + 1
    db.session.commit()


def change_password(account: Account, current: str, new: str) -> None:
    """Change the password after checking the current one; other sessions end."""
    if not check_password_hash(account.password_hash, current or ""):
        raise PasswordChangeError("Your current password is not correct.", field="current")
    if len(new or "") < PASSWORD_MIN_LENGTH:
        raise PasswordChangeError(
            f"Choose a password of at least {PASSWORD_MIN_LENGTH} characters.", field="new"
        )
    if current == new:
        raise PasswordChangeError("The new password must differ from the current one.", "new")
    account.password_hash = generate_password_hash(new)
    end_all_sessions(account)
