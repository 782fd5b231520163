"""Training and evaluation: fit a pipeline on the 80% part of the one split, measure it on the
held-out 20% (the original metadata format plus churn-class figures, confusion matrix, ROC
points) and its permutation importances, and return everything as metadata."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.inspection import permutation_importance
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)
from sklearn.pipeline import Pipeline

from app.services.catalog import THRESHOLD
from app.services.monitoring.drift import training_profile
from app.services.training.pipelines import SEED, build_calibrated, split
from app.services.training.statistics import (
    CALIBRATION_METHOD,
    baseline_statistics,
    clearly_off,
    reliability,
)

log = logging.getLogger(__name__)

SKLEARN_VERSION = sklearn.__version__
IMPORTANCE_REPEATS = 5
ROC_POINTS = 101
# Metadata keys a current model file has (the seed's keys and these, added later).
RECORDED_KEYS = frozenset({"model_type", "metrics", "baseline", "calibration"})

ProgressCallback = Callable[[str, int], None]


def _no_progress(_step: str, _percent: int) -> None:
    return None


def evaluate(pipeline: Pipeline, x_test: pd.DataFrame, y_test: pd.Series) -> dict[str, Any]:
    """Metrics in the original format plus churn-class figures, confusion matrix and ROC."""
    probability = pipeline.predict_proba(x_test)[:, 1]
    predicted = (probability >= THRESHOLD).astype(int)
    metrics = {
        "Accuracy": float(accuracy_score(y_test, predicted)),
        "AUC": float(roc_auc_score(y_test, probability)),
        "Precision": float(precision_score(y_test, predicted, average="weighted", zero_division=0)),
        "Recall": float(recall_score(y_test, predicted, average="weighted", zero_division=0)),
        "F1 Score": float(f1_score(y_test, predicted, average="weighted", zero_division=0)),
    }
    fpr, tpr, _ = roc_curve(y_test, probability)
    grid = np.linspace(0, 1, ROC_POINTS)
    return {
        "metrics": metrics,
        "churn_precision": float(precision_score(y_test, predicted, zero_division=0)),
        "churn_recall": float(recall_score(y_test, predicted, zero_division=0)),
        "confusion_matrix": confusion_matrix(y_test, predicted, labels=[0, 1]).tolist(),
        "roc_curve": {"fpr": grid.tolist(), "tpr": np.interp(grid, fpr, tpr).round(4).tolist()},
    }


def feature_importances(
    pipeline: Pipeline, x_test: pd.DataFrame, y_test: pd.Series
) -> dict[str, float]:
    """Permutation importance (AUC drop) of the 16 input columns, largest first."""
    result = permutation_importance(
        pipeline,
        x_test,
        y_test,
        scoring="roc_auc",
        n_repeats=IMPORTANCE_REPEATS,
        random_state=SEED,
        n_jobs=1,
    )
    pairs = sorted(
        zip(x_test.columns, result.importances_mean, strict=True), key=lambda p: p[1], reverse=True
    )
    return {name: round(float(value), 6) for name, value in pairs}


def _calibration(
    pipeline: Pipeline,
    x_train: pd.DataFrame,
    y_train: pd.Series,
    x_test: pd.DataFrame,
    y_test: pd.Series,
    calibrate_when_off: bool,
) -> dict[str, Any]:
    """The held-out reliability of the fitted `pipeline`, and the pipeline to keep: the same one,
    or (when asked and its curve is clearly off) its calibrated copy fitted on the 80% part."""
    held_out = reliability(y_test, pipeline.predict_proba(x_test)[:, 1])
    if not (calibrate_when_off and clearly_off(held_out)):
        return {"pipeline": pipeline, "held_out": held_out, "before": None, "method": None}
    method = CALIBRATION_METHOD
    log.info("Calibrating (%s): held-out ECE %.3f", method, held_out["ece"])
    calibrated = build_calibrated(pipeline, method).fit(x_train, y_train)
    after = reliability(y_test, calibrated.predict_proba(x_test)[:, 1])
    return {"pipeline": calibrated, "held_out": after, "before": held_out, "method": method}


@dataclass
class TrainingResult:
    pipeline: Pipeline
    metadata: dict[str, Any]
    split_indices: dict[str, list] = field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, float]:
        return self.metadata["metrics"]


def train(
    pipeline: Pipeline,
    model_type_name: str,
    features: pd.DataFrame,
    target: pd.Series,
    progress: ProgressCallback = _no_progress,
    held_out: np.ndarray | None = None,
    calibrate_when_off: bool = False,
) -> TrainingResult:
    """Fit `pipeline` on the 80% part and evaluate it on the held-out 20% (the rows `held_out`
    marks, when given: see `split`).

    With `calibrate_when_off`, a pipeline whose held-out reliability curve is clearly off the
    diagonal is replaced by its calibrated copy, fitted on the 80% part only; the metadata then
    records both curves."""
    progress("Splitting the data 80/20", 10)
    x_train, x_test, y_train, y_test = split(features, target, held_out)
    progress(f"Training on {len(x_train):,} rows", 20)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        pipeline.fit(x_train, y_train)
    # The retrained network's iteration cap is fixed by the product, so not converging within it
    # is an expected outcome: it is recorded in the metadata instead of warned about.
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    if not converged:
        log.info("%s stopped at its iteration limit before converging", model_type_name)
    calibration = _calibration(pipeline, x_train, y_train, x_test, y_test, calibrate_when_off)
    pipeline = calibration.pop("pipeline")
    progress("Evaluating on the held-out 20%", 70)
    evaluation = evaluate(pipeline, x_test, y_test)
    progress("Measuring feature importance", 80)
    importances = feature_importances(pipeline, x_test, y_test)
    metadata = {
        "model_type": model_type_name,
        "metrics": evaluation["metrics"],
        "churn_precision": evaluation["churn_precision"],
        "churn_recall": evaluation["churn_recall"],
        "confusion_matrix": evaluation["confusion_matrix"],
        "roc_curve": evaluation["roc_curve"],
        "feature_importances": importances,
        "baseline": baseline_statistics(x_train),
        "calibration": calibration,
        "sklearn_version": SKLEARN_VERSION,
        "training_rows": int(len(x_train)),
        "converged": converged,
        "test_rows": int(len(x_test)),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        # The training inputs' distribution, for drift checks of later predictions.
        "training_profile": training_profile(x_train),
    }
    return TrainingResult(
        pipeline=pipeline,
        metadata=metadata,
        split_indices={"train": list(x_train.index), "test": list(x_test.index)},
    )
