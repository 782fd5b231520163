"""The text alternative of each chart: what a person who cannot see the picture needs, stated
as figures (counts, shares, AUCs), not as a description of the drawing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.schema import Model, Prediction
from app.services.catalog import THRESHOLD


def distribution_alt(prediction: Prediction) -> str:
    summary = prediction.summary or {}
    rows, churn = summary.get("rows", 0), summary.get("churn", 0)
    at = f"{summary.get('threshold', THRESHOLD):.0%}"
    share = f" ({churn / rows:.1%})" if rows else ""
    return (
        f"Histogram of the churn probabilities of {rows:,} customers: {churn:,}{share} at or "
        f"above the {at} threshold (predicted to churn), {rows - churn:,} below it."
    )


def importance_alt(model: Model) -> str:
    features = model.top_features()
    if not features:
        return f"No feature importances were recorded for {model.label}."
    listed = ", ".join(f"{name} {value:.3f}" for name, value in features)
    return (
        f"Top {len(features)} features of {model.label}, by the drop in AUC when the column is "
        f"shuffled: {listed}."
    )


def roc_alt(models: Sequence[Model]) -> str:
    shown = [m for m in models if (m.details or {}).get("roc_curve")]
    if not shown:
        return "No ROC curves were recorded."
    listed = "; ".join(
        m.label if m.metric("AUC") is None else f"{m.label} AUC {m.metric('AUC'):.3f}"
        for m in shown
    )
    return f"ROC curves of {len(shown)} models on their own held-out customers: {listed}."


def realised_alt(series: Sequence[Any]) -> str:
    """For `monitoring.performance.ModelSeries`: each model's latest realised AUC."""
    parts = []
    for line in series:
        aucs = [p for p in line.points if p.figures.get("AUC") is not None]
        held = "" if line.held_out_auc is None else f" (held-out {line.held_out_auc:.3f})"
        if aucs:
            last = aucs[-1]
            parts.append(
                f"{line.model.label}: {len(aucs)} measured, latest realised AUC "
                f"{last.figures['AUC']:.3f} on {last.at:%Y-%m-%d}{held}"
            )
    if not parts:
        return "No realised AUC yet."
    return "Realised AUC over time: " + "; ".join(parts) + "."
