"""The developer manages the company's users: the list, deactivation and reactivation."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.schema import Developer, User, utcnow
from app.services.accounts.rules import AccountNotFound
from app.services.accounts.sessions import end_all_sessions


def company_users_page(developer: Developer, page: int, per_page: int):
    """One page of the developer's company users, newest first (a Flask-SQLAlchemy Pagination)."""
    query = (
        select(User)
        .where(User.company_id == developer.company_id)
        .order_by(User.created_at.desc(), User.id.desc())
    )
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def _company_user(developer: Developer, user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or user.company_id != developer.company_id:
        raise AccountNotFound("There is no such user in your company.")
    return user


def deactivate_user(developer: Developer, user_id: int) -> User:
    """Disable a user of the developer's company and end their open sessions."""
    user = _company_user(developer, user_id)
    if user.is_enabled:
        user.is_enabled = False
        user.deactivated_at = utcnow()
        end_all_sessions(user, commit=False)
        db.session.commit()
    return user


def reactivate_user(developer: Developer, user_id: int) -> User:
    """Let a deactivated user of the developer's company log in again (idempotent)."""
    user = _company_user(developer, user_id)
    if not user.is_enabled:
        user.is_enabled = True
        user.deactivated_at = None
        db.session.commit()
    return user
