"""Access rules as decorators: every protected view says who may open it."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from flask import abort
from flask_login import current_user, login_required

F = TypeVar("F", bound=Callable)


def role_required(role: str) -> Callable[[F], F]:
    """Only a logged-in account of `role` may open the view; others get 403."""

    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if getattr(current_user, "role", None) != role:
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_role = role  # read by the test that walks the URL map
        return wrapped  # type: ignore[return-value]

    return decorator


def public(view: F) -> F:
    """Mark a view as deliberately open to everyone (checked by the URL-map test)."""
    view.is_public = True  # type: ignore[attr-defined]
    return view
