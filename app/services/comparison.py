"""Comparing the company's models: the five defaults and every version of the network, each
version with the change of each metric against the version before it (v1 is the default
network)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.schema import Model, WorkStatus
from app.services import registry
from app.services.catalog import DISPLAY_METRICS, NETWORK_KIND
from app.services.database import model_type_by_key


@dataclass(frozen=True)
class MetricChange:
    text: str  # e.g. "▲ 0.012"
    direction: str  # "up", "down" or "same"


@dataclass
class ComparedModel:
    model: Model
    deployed: bool
    changes: dict[str, MetricChange]  # against the previous version of the network
    compared_to: str | None


def _change(value: float | None, previous: float | None) -> MetricChange | None:
    if value is None or previous is None:
        return None
    delta = value - previous
    if abs(delta) < 0.0005:
        return MetricChange("= 0.000", "same")
    arrow, direction = ("▲", "up") if delta > 0 else ("▼", "down")
    return MetricChange(f"{arrow} {abs(delta):.3f}", direction)


def compare_models(company_id: int) -> list[ComparedModel]:
    """The five defaults, then every ready version of the network (v2, v3, …), each version with
    the change of each metric against the version before it (v1 is the default network)."""
    statement = (
        select(Model)
        .filter_by(company_id=company_id, status=WorkStatus.DONE)
        .options(selectinload(Model.metrics), selectinload(Model.model_type))
        .order_by(Model.is_default.desc(), Model.model_type_id, Model.version)
    )
    models = list(db.session.scalars(statement))
    deployed = registry.deployed_model_ids(company_id)
    network = model_type_by_key(NETWORK_KIND)
    previous = next((m for m in models if m.is_default and m.model_type_id == network.id), None)
    compared = []
    for model in models:
        changes: dict[str, MetricChange] = {}
        compared_to = None
        if not model.is_default and model.model_type_id == network.id and previous is not None:
            for name in DISPLAY_METRICS:
                change = _change(model.metric(name), previous.metric(name))
                if change is not None:
                    changes[name] = change
            compared_to = f"v{previous.version}"
            previous = model
        compared.append(ComparedModel(model, model.id in deployed, changes, compared_to))
    return compared
