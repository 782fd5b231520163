"""Access rules as decorators: every view declares who may open it.

Each decorator sets `view.access` ("public", "signed_in", a role, or "api_token") and the test
that walks the URL map fails on a view that declares nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, g, request
from flask_login import current_user, login_required
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

F = TypeVar("F", bound=Callable[..., Any])
PUBLIC = "public"
SIGNED_IN = "signed_in"
API_TOKEN = "api_token"  # noqa: S105 - the name of an access rule, not a secret


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


def bearer_token() -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if there is one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def api_token(view: F) -> F:
    """Only a request with a valid API token may open the view (401 otherwise); the view acts
    for the token's developer (`api_account()`), under the same tenancy rules as the pages."""
    from app.services.api import tokens as api_tokens

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        developer = api_tokens.developer_for_token(bearer_token())
        if developer is None:
            raise Unauthorized(
                "A valid API token is needed: send `Authorization: Bearer <token>` (a developer "
                "creates tokens on the API tokens page).",
                www_authenticate=WWWAuthenticate("bearer", {"realm": "churnbuster"}),
            )
        g.api_account = developer
        return view(*args, **kwargs)

    _declare(wrapped, API_TOKEN)
    return wrapped  # type: ignore[return-value]


def api_account() -> Any:
    """The developer the current API request acts for (set by `api_token`)."""
    return g.api_account
