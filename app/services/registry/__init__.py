"""The model registry: model rows, their metrics, and who may use what.

This package: the registry itself (here), `default_models` (the shared default model files),
`deployment` (deploy, withdraw, roll back; the deploy guard), `deployment_history` (the events)
and `comparison` (the models side by side on the common holdout).

Default models (their files: `default_models`) are registered for each company as version 1
with the default flag, deployed to its users. Retrained versions of
the network are the company's own (v2, v3, …) and reach users only when deployed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.schema import (
    MAX_ID,
    Company,
    Developer,
    Model,
    ModelDeployment,
    ModelMetric,
    User,
    WorkStatus,
)
from app.services import storage, training
from app.services.catalog import CONFUSION_METRICS, DISPLAY_METRICS, MODEL_KINDS
from app.services.database import model_type_by_key
from app.services.errors import NotFound
from app.services.registry import default_models

log = logging.getLogger(__name__)


class ModelNotAvailable(NotFound):
    """The model does not exist or the viewer may not use it."""


# Registration --------------------------------------------------------------------------------


def save_metrics(model: Model, metadata: dict[str, Any]) -> None:
    """Replace the model's metric rows with those of `metadata`."""
    values = dict(metadata["metrics"])
    values["Churn Precision"] = metadata.get("churn_precision")
    values["Churn Recall"] = metadata.get("churn_recall")
    matrix = metadata.get("confusion_matrix")
    if matrix:
        (tn, fp), (fn, tp) = matrix
        values.update(zip(CONFUSION_METRICS, (tn, fp, fn, tp), strict=True))
    existing = {metric.name: metric for metric in model.metrics}
    for name, value in values.items():
        if value is None:
            continue
        metric = existing.get(name)
        if metric is None:
            model.metrics.append(ModelMetric(name=name, value=float(value)))
        else:
            metric.value = float(value)


def details_from_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "feature_importances",
        "roc_curve",
        "confusion_matrix",
        "trained_at",
        "test_rows",
        "baseline",
        "calibration",
        "training_profile",
    )
    return {key: metadata.get(key) for key in keys}


def register_model_in_db(
    company: Company,
    kind: str,
    model_path: str,
    metadata: dict[str, Any],
    file_sha256: str,
    **fields: Any,
) -> Model:
    """Create or refresh the row of a model file for `company`, with its metrics (no commit).

    `file_sha256` is the checksum the app recorded when it wrote the file: the one in `metadata`
    sits beside the file and proves nothing."""
    model_type = model_type_by_key(kind)
    version = fields.pop("version", 1)
    model = db.session.execute(
        select(Model).filter_by(company_id=company.id, model_type_id=model_type.id, version=version)
    ).scalar_one_or_none()
    if model is None:
        model = Model(company_id=company.id, model_type=model_type, version=version)
        db.session.add(model)
    model.name = fields.pop("name", model_type.name)
    model.file_path = model_path
    model.file_sha256 = file_sha256
    model.sklearn_version = metadata.get("sklearn_version")
    model.training_rows = metadata.get("training_rows")
    model.details = details_from_metadata(metadata)
    model.status = WorkStatus.DONE
    for key, value in fields.items():
        setattr(model, key, value)
    save_metrics(model, metadata)
    return model


def register_default_models(company: Company) -> list[Model]:
    """Register (or refresh) the five default models for `company` and deploy them (no commit)."""
    models = []
    for kind in (model_kind.key for model_kind in MODEL_KINDS):
        model = register_model_in_db(
            company,
            kind,
            storage.default_model_path(kind),
            default_models.default_model_metadata(kind),
            default_models.default_model_checksum(kind),
            is_default=True,
        )
        db.session.flush()
        _ensure_active_deployment(model, company)
        models.append(model)
    return models


def _ensure_active_deployment(model: Model, company: Company) -> None:
    active = db.session.execute(
        select(ModelDeployment).filter_by(model_id=model.id, is_active=True)
    ).scalar_one_or_none()
    if active is None:
        db.session.add(ModelDeployment(model_id=model.id, company_id=company.id, is_active=True))


def check_existing_models(company: Company) -> bool:
    """True when the company has all five default models registered."""
    count = db.session.scalar(
        select(db.func.count(Model.id)).filter_by(company_id=company.id, is_default=True)
    )
    return count == len(MODEL_KINDS)


# Who may use what ----------------------------------------------------------------------------


def _with_metrics(statement):
    return statement.options(selectinload(Model.metrics), selectinload(Model.model_type)).order_by(
        Model.is_default.desc(), Model.model_type_id, Model.version
    )


def deployed_model_ids(company_id: int) -> set[int]:
    return set(
        db.session.scalars(
            select(ModelDeployment.model_id).filter_by(company_id=company_id, is_active=True)
        )
    )


def _usable_by(account: Developer | User):
    """The statement of the models `account` may predict with."""
    statement = select(Model).filter_by(company_id=account.company_id, status=WorkStatus.DONE)
    if account.role != "developer":
        statement = statement.where(Model.id.in_(deployed_model_ids(account.company_id)))
    return statement


def models_for(account: Developer | User) -> list[Model]:
    """The models `account` may predict with: defaults and active deployments; a developer also
    sees the company's undeployed ready versions."""
    return list(db.session.scalars(_with_metrics(_usable_by(account))))


def model_for(account: Developer | User, model_id: int) -> Model:
    """One model `account` may use, or ModelNotAvailable (never another company's)."""
    model = None
    if 1 <= model_id <= MAX_ID:  # a larger id is no row's (and no database's integer)
        statement = _usable_by(account).where(Model.id == model_id)
        model = db.session.scalars(_with_metrics(statement)).one_or_none()
    if model is None:
        raise ModelNotAvailable("That model is not available to you.")
    return model


def load_model_pipeline(model: Model):
    """The fitted pipeline of `model`, checked against its registered SHA-256."""
    if not model.file_path:
        raise training.ModelIntegrityError("This model has no file.")
    return training.load_pipeline(storage.model_file(model.file_path), model.file_sha256)


def best_values(models: list[Model]) -> dict[str, float]:
    """The best value of each displayed metric among `models` (all are higher-is-better)."""
    best: dict[str, float] = {}
    for model in models:
        for name in DISPLAY_METRICS:
            value = model.metric(name)
            if value is not None and value > best.get(name, float("-inf")):
                best[name] = value
    return best


# What the model pages show -------------------------------------------------------------------


@dataclass
class MetricCell:
    name: str
    value: float | None
    is_best: bool


@dataclass
class MetricRow:
    model: Model
    cells: list[MetricCell]


def metric_rows(models: list[Model]) -> list[MetricRow]:
    """One row per model with its displayed metrics, each flagged when it is the best value."""
    best = best_values(models)
    rows = []
    for model in models:
        cells = []
        for name in DISPLAY_METRICS:
            value = model.metric(name)
            cells.append(MetricCell(name, value, value is not None and value == best.get(name)))
        rows.append(MetricRow(model, cells))
    return rows


def model_table(account: Developer | User) -> list[MetricRow]:
    """The metric table of every model `account` may use, best values flagged."""
    return metric_rows(models_for(account))


def get_model_metrics(company: Company) -> dict[str, dict[str, float]]:
    """The displayed metrics of every ready model of `company`, by model label."""
    statement = select(Model).filter_by(company_id=company.id, status=WorkStatus.DONE)
    return {
        model.label: {
            name: value for name in DISPLAY_METRICS if (value := model.metric(name)) is not None
        }
        for model in db.session.scalars(_with_metrics(statement))
    }


@dataclass
class ModelOverview:
    model: Model
    rows: list[MetricRow]  # this model's row, flagged where it is the best of the viewer's models
    confusion_matrix: list[list[int]] | None  # [[TN, FP], [FN, TP]]
    top_features: list[tuple[str, float]]
    compared_with: list[Model]  # the company's other ready models (the developer's ROC chart)


def model_overview(account: Developer | User, model_id: int) -> ModelOverview:
    """Everything a model page shows, for a model `account` may use (else ModelNotAvailable)."""
    models = models_for(account)
    model = next((m for m in models if m.id == model_id), None)
    if model is None:
        raise ModelNotAvailable("That model is not available to you.")
    others = [m for m in models if m.id != model.id] if account.role == "developer" else []
    return ModelOverview(
        model=model,
        rows=[row for row in metric_rows(models) if row.model.id == model.id],
        confusion_matrix=(model.details or {}).get("confusion_matrix"),
        top_features=model.top_features(),
        compared_with=others,
    )
