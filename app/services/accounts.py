"""Accounts: companies, developers and users; registration, verification, approval, login.

(Session loading lives here so that Flask-Login asks one place who is logged in.)
"""

from __future__ import annotations

from app.extensions import db
from app.schema import Developer, User

ACCOUNT_CLASSES: dict[str, type[Developer] | type[User]] = {"developer": Developer, "user": User}


def load_account_from_session(session_id: str) -> Developer | User | None:
    """Flask-Login's loader: 'role:id:session_version' → the account, if that session is current."""
    try:
        role, account_id, version = session_id.split(":")
        account_class = ACCOUNT_CLASSES[role]
        account = db.session.get(account_class, int(account_id))
    except (ValueError, KeyError):
        return None
    if account is None or account.session_version != int(version) or not account.is_active:
        return None
    return account
