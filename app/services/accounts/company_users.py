"""The developer manages the company's users: the list, and deactivation."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.schema import Developer, User, utcnow
from app.services.accounts.rules import AccountNotFound


def company_users_page(developer: Developer, page: int, per_page: int):
    """One page of the developer's company users, newest first (a Flask-SQLAlchemy Pagination)."""
    query = (
        select(User)
        .where(User.company_id == developer.company_id)
        .order_by(User.created_at.desc(), User.id.desc())
    )
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def deactivate_user(developer: Developer, user_id: int) -> User:
    """Disable a user of the developer's company and end their open sessions."""
    user = db.session.get(User, user_id)
    if user is None or user.company_id != developer.company_id:
        raise AccountNotFound("There is no such user in your company.")
    if user.is_enabled:
        user.is_enabled = False
        user.deactivated_at = utcnow()
        user.session_version = (user.session_version or 1) + 1
        db.session.commit()
    return user
