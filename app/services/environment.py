"""Per-developer environment: set up when a developer's account becomes active.

Placeholder until the model-initialization work lands: the hook exists so accounts can call it.
"""

from __future__ import annotations

from app.schema import Developer


def on_developer_activated(developer: Developer) -> None:
    """Called once the developer is both verified and approved (idempotent)."""
