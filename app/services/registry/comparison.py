"""Comparing the company's models on its one common holdout: the five defaults and every version
of the network, measured on the same held-out customers (none of whom trained any of them), AUC
with its 95 % bootstrap interval, and each version's change against the version before it (v1 is
the default network).

A change is computed from the figures as the page shows them (three decimals), so its arrow and
its amount always agree with the two numbers beside it. Each model's own held-out figures,
recorded at training on its own split, are shown apart and never compared with arrows: they were
measured on different customers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.schema import IN_PROGRESS, Company, Model, WorkStatus
from app.services import registry
from app.services.catalog import NETWORK_KIND
from app.services.database import model_type_by_key
from app.services.errors import DomainError
from app.services.monitoring import holdout
from app.services.registry import deployment

HOLDOUT_METRICS = ("AUC", "Accuracy", "Precision", "Recall", "F1 Score")
DIGITS = 3


@dataclass(frozen=True)
class MetricChange:
    text: str  # e.g. "▲ 0.012"
    direction: str  # "up", "down" or "same"


def shown(value: float | None) -> str:
    """A figure as the comparison shows it."""
    return "—" if value is None else f"{value:.{DIGITS}f}"


def change(value: float | None, previous: float | None) -> MetricChange | None:
    """The change from `previous` to `value` as shown: the difference of the shown numbers."""
    if value is None or previous is None:
        return None
    delta = Decimal(shown(value)) - Decimal(shown(previous))
    if delta == 0:
        return MetricChange(f"= {Decimal(0):.{DIGITS}f}", "same")
    arrow, direction = ("▲", "up") if delta > 0 else ("▼", "down")
    return MetricChange(f"{arrow} {abs(delta):.{DIGITS}f}", direction)


@dataclass
class ComparedModel:
    model: Model
    deployed: bool
    live: bool  # the network the users have now
    state: str  # "measured", "measuring", "failed", "waiting"
    error: str | None
    figures: dict[str, str]  # metric → shown value on the common holdout
    interval: str | None  # e.g. "0.801–0.846"
    auc: float | None
    changes: dict[str, MetricChange] = field(default_factory=dict)
    compared_to: str | None = None
    # Trained with the common holdout set aside (False: a version from before it existed).
    holdout_safe: bool = True


def _models(company_id: int) -> list[Model]:
    statement = (
        select(Model)
        .filter_by(company_id=company_id, status=WorkStatus.DONE)
        .options(selectinload(Model.metrics), selectinload(Model.model_type))
        .order_by(Model.is_default.desc(), Model.model_type_id, Model.version)
    )
    return list(db.session.scalars(statement))


def _compared(model: Model, dataset_id: int | None, deployed: set[int], live_id: int | None):
    figures = model.holdout or {}
    current = dataset_id is not None and holdout.is_current(model, dataset_id)
    if current:
        state = "measured"
    elif model.holdout_status in IN_PROGRESS:
        state = "measuring"
    elif model.holdout_status == WorkStatus.FAILED:
        state = "failed"
    else:
        state = "waiting"
    values = (figures.get("metrics") or {}) if current else {}
    low, high = figures.get("auc_low"), figures.get("auc_high")
    return ComparedModel(
        model=model,
        deployed=model.id in deployed,
        live=model.id == live_id,
        state=state,
        error=figures.get("error") if state == "failed" else None,
        figures={name: shown(values.get(name)) for name in HOLDOUT_METRICS},
        interval=f"{shown(low)}–{shown(high)}" if current and low is not None else None,
        auc=values.get("AUC"),
        holdout_safe=model.is_default or bool((model.details or {}).get("holdout_safe")),
    )


def compare_models(company_id: int) -> list[ComparedModel]:
    """The five defaults, then every ready version of the network (v2, v3, …), each with its
    figures on the common holdout and, for a version, the change against the version before it
    (v1 is the default network)."""
    models = _models(company_id)
    company = db.session.get(Company, company_id)
    try:
        dataset_id = holdout.holdout_dataset(company).id if company is not None else None
    except DomainError:  # no original data set yet: nothing is measured
        dataset_id = None
    deployed = registry.deployed_model_ids(company_id)
    live = deployment.live_network(company_id)
    network = model_type_by_key(NETWORK_KIND)
    rows = [_compared(m, dataset_id, deployed, live.id if live else None) for m in models]
    previous = next(
        (r for r in rows if r.model.is_default and r.model.model_type_id == network.id), None
    )
    for row in rows:
        if row.model.is_default or row.model.model_type_id != network.id or previous is None:
            continue
        if row.state == "measured" and previous.state == "measured":
            for name in HOLDOUT_METRICS:
                found = change(_value(row, name), _value(previous, name))
                if found is not None:
                    row.changes[name] = found
        row.compared_to = f"v{previous.model.version}"
        previous = row
    return rows


def _value(row: ComparedModel, name: str) -> float | None:
    return ((row.model.holdout or {}).get("metrics") or {}).get(name)


@dataclass
class ComparisonPage:
    rows: list[ComparedModel]
    holdout: holdout.HoldoutState
    live: Model | None
    rollback_to: Model | None
    own_metric_rows: list[registry.MetricRow]  # each model's own held-out figures

    @property
    def measuring(self) -> bool:
        return any(row.state == "measuring" for row in self.rows)


def comparison_page(company_id: int) -> ComparisonPage:
    """Everything the comparison page shows; asks for the holdout figures that are not current
    (measured by a job: the page never waits for them)."""
    holdout.request_measurement(company_id)
    rows = compare_models(company_id)
    models = [row.model for row in rows]
    return ComparisonPage(
        rows=rows,
        holdout=holdout.state(company_id, models),
        live=deployment.live_network(company_id),
        rollback_to=deployment.rollback_target(company_id),
        own_metric_rows=registry.metric_rows(models),
    )
