"""The deployment history of a company, as events a person reads: who deployed, rolled back or
withdrew which version, when, why, and what the deploy guard compared.

Each `ModelDeployment` row of a retrained version gives its deployment event, and, when it was
withdrawn on its own (not replaced by the next deployment, which says so itself), a withdrawal
event. Newest first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.schema import Developer, Model, ModelDeployment
from app.services.registry import deployment


@dataclass(frozen=True)
class DeploymentEvent:
    at: datetime
    kind: str  # "deploy", "rollback", "withdraw"
    title: str  # e.g. "Rolled back to Neural Network v2"
    model: Model
    who: str
    reason: str | None
    comparison: str | None  # what the guard compared, for a person
    overridden: bool  # deployed although the guard would have refused it
    live: bool  # the deployment that is live now


def _name(developer: Developer | None) -> str:
    return developer.name if developer is not None else "—"


def _comparison(guard: dict[str, Any] | None) -> str | None:
    if not guard:
        return None
    candidate = deployment.HoldoutFigure(**guard["candidate"])
    live = deployment.HoldoutFigure(**guard["live"])
    if not guard.get("measured"):
        return f"Not compared: the holdout figures were not measured yet (live: {live.label})."
    rows = guard.get("rows")
    on = f" on {rows:,} holdout customers" if rows else ""
    return f"{candidate.describe()} against the live {live.describe()}{on}."


def _deploy_event(row: ModelDeployment) -> DeploymentEvent:
    guard = row.guard or {}
    replaced = guard.get("replaced")
    if row.action == "rollback":
        title = f"Rolled back to {row.model.label}"
    else:
        title = f"Deployed {row.model.label}"
    if replaced:
        title += f", replacing {replaced}"
    return DeploymentEvent(
        at=row.deployed_at,
        kind=row.action,
        title=title,
        model=row.model,
        who=_name(row.deployed_by),
        reason=row.reason,
        comparison=_comparison(row.guard),
        overridden=bool(guard.get("overridden")),
        live=row.is_active,
    )


def _withdraw_event(row: ModelDeployment) -> DeploymentEvent | None:
    if row.withdrawn_at is None or row.withdraw_action == "replaced":
        return None  # the deployment that replaced it says so
    rolled_back = row.withdraw_action == "rollback"
    default = deployment.default_network(row.company_id)
    back_to = default.label if default is not None else "the default network"
    return DeploymentEvent(
        at=row.withdrawn_at,
        kind="rollback" if rolled_back else "withdraw",
        title=f"Rolled back to {back_to}, withdrawing {row.model.label}"
        if rolled_back
        else f"Withdrew {row.model.label}",
        model=row.model,
        who=_name(row.withdrawn_by),
        reason=row.withdraw_reason,
        comparison=None,
        overridden=False,
        live=False,
    )


def events(company_id: int) -> list[DeploymentEvent]:
    """Every deployment event of the company's retrained versions, newest first."""
    found: list[DeploymentEvent] = []
    for row in deployment.history(company_id):
        found.append(_deploy_event(row))
        withdrawal = _withdraw_event(row)
        if withdrawal is not None:
            found.append(withdrawal)
    return sorted(found, key=lambda event: event.at, reverse=True)


@dataclass
class EventPage:
    """One page of events, shaped like Flask-SQLAlchemy's Pagination for the macro."""

    items: list[DeploymentEvent]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def events_page(company_id: int, page: int, per_page: int) -> EventPage:
    """One page of the company's deployment events, newest first."""
    everything = events(company_id)
    start = (max(page, 1) - 1) * per_page
    return EventPage(everything[start : start + per_page], max(page, 1), per_page, len(everything))
