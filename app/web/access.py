"""Access rules as decorators: every view declares who may open it.

Each decorator sets `view.access` ("public", "signed_in", or a role) and the test that walks the
URL map fails on a view that declares nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user, login_required

F = TypeVar("F", bound=Callable[..., Any])
PUBLIC = "public"
SIGNED_IN = "signed_in"


def _declare(view: Any, access: str) -> None:
    view.access = access


def role_required(role: str) -> Callable[[F], F]:
    """Only a logged-in account of `role` may open the view; others get 403."""

    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if getattr(current_user, "role", None) != role:
                abort(403)
            return view(*args, **kwargs)

        _declare(wrapped, role)
        return wrapped  # type: ignore[return-value]

    return decorator


def signed_in(view: F) -> F:
    """Any logged-in account, of either role, may open the view (e.g. changing a password)."""
    wrapped: F = login_required(view)
    _declare(wrapped, SIGNED_IN)
    return wrapped


def public(view: F) -> F:
    """Mark a view as deliberately open to everyone."""
    _declare(view, PUBLIC)
    return view
