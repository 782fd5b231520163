"""The one base of the domain errors: a refusal meant for a person.

Every service raises a subclass whose message is a complete sentence and whose `status` is what
a view answers with (400 for a refused form, 404 for what the viewer may not see, 409 for a
conflict with the current state). The web layer maps them to responses in one place.
"""

from __future__ import annotations


class DomainError(Exception):
    """`str(error)` is shown to the person as it is; `field` names the form field at fault."""

    status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    """It does not exist, or it belongs to someone else: both look the same."""

    status = 404


class Conflict(DomainError):
    """The request is valid but clashes with the current state (already deployed, …)."""

    status = 409


class Unavailable(DomainError):
    """A dependency the request needs (the queue, the disk) cannot serve it now."""

    status = 503
