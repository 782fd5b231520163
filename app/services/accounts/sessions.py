"""Login sessions: one row per browser that logged in.

Flask-Login keeps `role:id:session_version:key` in the session and remember-me cookies. A
session is current while the account's session_version is the same and the row of its key is
there: logging out deletes this browser's row only (a copy of its cookies stops working, other
browsers go on); signing out everywhere, a password change or reset, and deactivation bump the
version and delete every row.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import cast

from flask import current_app
from sqlalchemy import delete, func, select

from app.extensions import db
from app.schema import Developer, LoginSession, User, utcnow
from app.services.accounts.rules import ACCOUNT_CLASSES, Account


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _owned_by(account: Account):
    if isinstance(account, Developer):
        return LoginSession.developer_id == account.id
    return LoginSession.user_id == account.id


def open_session(account: Account) -> Account:
    """Record a new login for `account` (commits); its get_id() then names this session.

    Sessions older than the longest a cookie can live are forgotten on the way.
    """
    key = secrets.token_urlsafe(32)
    owner = (
        {"developer_id": account.id} if isinstance(account, Developer) else {"user_id": account.id}
    )
    db.session.add(LoginSession(key_hash=_key_hash(key), **owner))
    oldest = utcnow() - current_app.config["REMEMBER_COOKIE_DURATION"] - timedelta(days=1)
    db.session.execute(
        delete(LoginSession).where(_owned_by(account), LoginSession.created_at < oldest)
    )
    db.session.commit()
    account.session_key = key
    return account


def load_account_from_session(session_id: str) -> Developer | User | None:
    """Flask-Login's loader: 'role:id:session_version:key' → the account, if that session is
    still open."""
    try:
        role, account_id, version, key = session_id.split(":")
        account_class = ACCOUNT_CLASSES[role]
        account = cast("Account | None", db.session.get(account_class, int(account_id)))
    except (ValueError, KeyError):
        return None
    if account is None or account.session_version != int(version) or not account.is_active:
        return None
    found = db.session.execute(
        select(LoginSession.id).where(_owned_by(account), LoginSession.key_hash == _key_hash(key))
    ).scalar_one_or_none()
    if found is None:
        return None
    account.session_key = key
    return account


def end_session(account: Account) -> None:
    """This browser's session ends (commits); the account's other sessions go on."""
    if account.session_key:
        db.session.execute(
            delete(LoginSession).where(
                _owned_by(account), LoginSession.key_hash == _key_hash(account.session_key)
            )
        )
        db.session.commit()
    account.session_key = None


def end_all_sessions(account: Account, commit: bool = True) -> None:
    """Every session and remember-me cookie of the account stops working."""
    account.session_version = (account.session_version or 1) + 1
    db.session.execute(delete(LoginSession).where(_owned_by(account)))
    account.session_key = None
    if commit:
        db.session.commit()


def open_session_count(account: Account) -> int:
    """How many browsers are logged in to the account (sessions not yet ended or forgotten)."""
    return db.session.scalar(select(func.count(LoginSession.id)).where(_owned_by(account))) or 0
