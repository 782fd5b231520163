"""Figures of churn probabilities against what happened, wherever they are measured: on the
company's common holdout and on a prediction's realised outcomes.

The figures are the metadata's own (accuracy, AUC, weighted precision, recall and F1 at the
threshold) plus the churn class's precision and recall, and a 95 % bootstrap interval for the
AUC. The interval resamples the customers with a fixed seed, so two models measured on the same
customers are resampled alike (a paired comparison) and a figure never changes between runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from app.services.catalog import THRESHOLD
from app.services.training.pipelines import SEED

BOOTSTRAP_RESAMPLES = 1000
INTERVAL_LEVEL = 0.95


def figures(actual: np.ndarray, probability: np.ndarray) -> dict[str, Any]:
    """The figures of `probability` (P(churn)) against `actual` (1 = churned) at the threshold.

    AUC is None when the customers are all of one class: it is not defined then.
    """
    actual = np.asarray(actual, dtype=int)
    probability = np.asarray(probability, dtype=float)
    predicted = (probability >= THRESHOLD).astype(int)
    both_classes = 0 < int(actual.sum()) < len(actual)
    return {
        "AUC": float(roc_auc_score(actual, probability)) if both_classes else None,
        "Accuracy": float(accuracy_score(actual, predicted)),
        "Precision": float(precision_score(actual, predicted, average="weighted", zero_division=0)),
        "Recall": float(recall_score(actual, predicted, average="weighted", zero_division=0)),
        "F1 Score": float(f1_score(actual, predicted, average="weighted", zero_division=0)),
        "Churn Precision": float(precision_score(actual, predicted, zero_division=0)),
        "Churn Recall": float(recall_score(actual, predicted, zero_division=0)),
        "customers": int(len(actual)),
        "churned": int(actual.sum()),
        "predicted_churn": int(predicted.sum()),
    }


def auc_interval(
    actual: np.ndarray,
    probability: np.ndarray,
    resamples: int = BOOTSTRAP_RESAMPLES,
    level: float = INTERVAL_LEVEL,
    seed: int = SEED,
) -> tuple[float, float] | None:
    """The percentile bootstrap interval of the AUC, or None when the AUC is not defined.

    Every resample's AUC is the Mann-Whitney statistic with the resample's customer counts as
    weights (ties count one half), computed for all resamples at once on the sorted scores.
    """
    actual = np.asarray(actual, dtype=int)
    probability = np.asarray(probability, dtype=float)
    count = len(actual)
    if not 0 < int(actual.sum()) < count:
        return None
    order = np.argsort(probability, kind="stable")
    scores, positive = probability[order], actual[order].astype(float)
    starts = np.flatnonzero(np.r_[True, scores[1:] != scores[:-1]])  # groups of tied scores
    draws = np.random.default_rng(seed).multinomial(count, np.full(count, 1 / count), resamples)
    weights = draws[:, order]  # each customer's count, in the order of the sorted scores
    positives = np.add.reduceat(weights * positive, starts, axis=1)
    negatives = np.add.reduceat(weights * (1 - positive), starts, axis=1)
    below = np.cumsum(negatives, axis=1) - negatives
    pairs = positives.sum(axis=1) * negatives.sum(axis=1)
    usable = pairs > 0
    wins = (positives * (below + 0.5 * negatives)).sum(axis=1)
    aucs = wins[usable] / pairs[usable]
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(aucs, [tail, 100 - tail])
    return float(low), float(high)
