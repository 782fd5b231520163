"""Authentication: login with lockout after repeated failures, and password changes.

A wrong email, a wrong password and a locked account get their answer after the same work (one
password hash check). Failures are counted by the database in one atomic UPDATE, so parallel
guesses all count; at the limit the account locks, for login and password change alike.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, update
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.schema import Developer, utcnow
from app.services.accounts.rules import (
    LOGIN_INCORRECT,
    Account,
    LoginRefused,
    PasswordChangeError,
    find_account_by_email,
    password_problem,
)
from app.services.accounts.sessions import end_all_sessions

_dummy_hash: str | None = None


def _dummy_password_hash() -> str:
    """A real hash to check against when the email is unknown, so both paths take as long."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = generate_password_hash(secrets.token_urlsafe(16))
    return _dummy_hash


def lock_message(locked_until: datetime, now: datetime) -> str:
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
    correct = check_password_hash(account.password_hash, password or "")
    if account.locked_until and account.locked_until > now:
        raise LoginRefused(lock_message(account.locked_until, now))
    if not correct:
        locked_until = count_failure(account, now)
        raise LoginRefused(lock_message(locked_until, now) if locked_until else LOGIN_INCORRECT)
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


def count_failure(account: Account, now: datetime) -> datetime | None:
    """Count one failed password (atomically, in the database) and lock the account when the
    count reaches the limit; returns the end of the lock, or None (commits).

    The count goes on while locked and is reset only by a successful login or a password reset:
    after a lock ends, each further failure locks the account again."""
    table = type(account)
    failures = db.session.execute(
        update(table)
        .where(table.id == account.id)
        .values(failed_logins=func.coalesce(table.failed_logins, 0) + 1)
        .returning(table.failed_logins)
    ).scalar_one()
    locked_until = None
    if failures >= current_app.config["LOGIN_MAX_FAILURES"]:
        locked_until = now + timedelta(seconds=current_app.config["LOGIN_LOCK_SECONDS"])
        db.session.execute(
            update(table).where(table.id == account.id).values(locked_until=locked_until)
        )
    db.session.commit()
    return locked_until


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


def change_password(account: Account, current: str, new: str) -> None:
    """Change the password after checking the current one; every session ends (commits).

    A wrong current password counts as a failed login, so guessing it here locks the account
    as guessing at the login form does."""
    now = utcnow()
    correct = check_password_hash(account.password_hash, current or "")
    if account.locked_until and account.locked_until > now:
        raise PasswordChangeError(lock_message(account.locked_until, now), field="current")
    if not correct:
        locked_until = count_failure(account, now)
        message = lock_message(locked_until, now) if locked_until else None
        raise PasswordChangeError(
            message or "Your current password is not correct.", field="current"
        )
    problem = password_problem(new, account.email)
    if problem:
        raise PasswordChangeError(problem, field="new")
    if current == new:
        raise PasswordChangeError("The new password must differ from the current one.", "new")
    set_password(account, new)
    db.session.commit()


def set_password(account: Account, new: str) -> None:
    """A new password: failures are forgotten and every session ends (no commit)."""
    account.password_hash = generate_password_hash(new)
    account.failed_logins = 0
    account.locked_until = None
    end_all_sessions(account, commit=False)
