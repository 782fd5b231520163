"""Realised performance over time, per model and version, for the developer's pages: each
prediction with outcomes is a point (its realised AUC and figures), beside the held-out figure the
model was deployed with. Also the recent predictions whose inputs drifted."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.schema import Model, ModelDeployment, Prediction, WorkStatus
from app.services import charts

# The newest predictions with outcomes that the page reads (a bound on its work).
MAX_POINTS = 500


@dataclass(frozen=True)
class RealisedPoint:
    prediction: Prediction
    at: datetime
    figures: dict  # AUC, Accuracy, Churn Precision, Churn Recall, …
    matched: int
    missing: int


@dataclass
class ModelSeries:
    """One model's realised figures over time and the held-out figure it is compared with."""

    model: Model
    held_out_auc: float | None
    held_out_interval: tuple[float, float] | None
    held_out_source: str  # where that figure comes from, for a person
    points: list[RealisedPoint] = field(default_factory=list)

    @property
    def latest(self) -> RealisedPoint | None:
        return self.points[-1] if self.points else None


def _deployed_with(model: Model) -> tuple[float | None, tuple[float, float] | None, str]:
    """The held-out AUC the model went live with: the guard's figure at its latest deployment,
    else its current common-holdout figure, else its own split's figure from training."""
    row = db.session.scalars(
        select(ModelDeployment)
        .filter_by(model_id=model.id)
        .order_by(ModelDeployment.deployed_at.desc(), ModelDeployment.id.desc())
    ).first()
    guard = (row.guard or {}) if row is not None else {}
    if guard.get("measured"):
        figure = guard["candidate"]
        return (
            figure["auc"],
            _interval(figure.get("low"), figure.get("high")),
            ("common holdout, when it was deployed"),
        )
    figures = model.holdout or {}
    if model.holdout_status == WorkStatus.DONE and figures.get("auc") is not None:
        interval = _interval(figures.get("auc_low"), figures.get("auc_high"))
        return figures["auc"], interval, "common holdout"
    return model.metric("AUC"), None, "its own held-out split, at training"


def _interval(low: float | None, high: float | None) -> tuple[float, float] | None:
    return (low, high) if low is not None and high is not None else None


def realised_performance(company_id: int) -> list[ModelSeries]:
    """Every model of the company that has predictions with outcomes, each with its points in
    time order (oldest first)."""
    predictions = db.session.scalars(
        select(Prediction)
        .where(Prediction.company_id == company_id, Prediction.outcomes_status.is_not(None))
        .options(joinedload(Prediction.model).joinedload(Model.model_type))
        .order_by(Prediction.created_at.desc(), Prediction.id.desc())
        .limit(MAX_POINTS)
    )
    series: dict[int, ModelSeries] = {}
    for prediction in reversed(list(predictions)):
        record = prediction.outcomes or {}
        if not record.get("figures"):
            continue
        model = prediction.model
        if model.id not in series:
            series[model.id] = ModelSeries(model, *_deployed_with(model))
        series[model.id].points.append(
            RealisedPoint(
                prediction=prediction,
                at=prediction.created_at,
                figures=record["figures"],
                matched=record.get("matched", 0),
                missing=record.get("missing", 0),
            )
        )
    return sorted(
        series.values(),
        key=lambda s: (not s.model.is_default, s.model.model_type_id, s.model.version or 0),
    )


def realised_chart(company_id: int, narrow: bool = False) -> Path:
    """The chart of realised AUC over time, per model, beside its held-out AUC (`narrow`: its
    phone variant)."""
    lines = [
        charts.RealisedSeries(
            label=s.model.label,
            held_out_auc=s.held_out_auc,
            points=[(p.at, p.figures["AUC"]) for p in s.points if p.figures.get("AUC") is not None],
        )
        for s in realised_performance(company_id)
    ]
    return charts.realised_auc_png(lines, narrow)


def recent_drifting(company_id: int, limit: int = 10) -> list[Prediction]:
    """The company's latest finished predictions whose inputs moved, newest first."""
    return list(
        db.session.scalars(
            select(Prediction)
            .where(
                Prediction.company_id == company_id,
                Prediction.status == WorkStatus.DONE,
                Prediction.drifting_count > 0,
            )
            .options(
                joinedload(Prediction.model).joinedload(Model.model_type),
                joinedload(Prediction.user),
                joinedload(Prediction.developer),
            )
            .order_by(Prediction.created_at.desc(), Prediction.id.desc())
            .limit(limit)
        )
    )
