"""The prediction page's charts: matplotlib Figures (Agg), rendered once and cached as PNG.

Each chart is drawn from figures computed once and stored (the prediction's summary, the model's
feature importances), so a chart is never recomputed from the data.
"""

from __future__ import annotations

from pathlib import Path

from app.schema import Model, Prediction
from app.services import storage

CHARTS = ("distribution", "importance")
TOP_FEATURES = 5
_BRAND = "#2f5bea"
_BAD = "#c53030"


class ChartUnavailable(Exception):
    """The chart has nothing to show (no result yet, or no recorded importances)."""


DPI = 100
# Fixed margins (fractions of the figure) instead of tight_layout or bbox_inches="tight":
# measuring every text box to fit them costs more than drawing the chart.
MARGINS = {"left": 0.17, "right": 0.95, "bottom": 0.14, "top": 0.9}
# The importance chart's labels are column names such as "PaymentMethod".
WIDE_LABEL_MARGINS = {**MARGINS, "left": 0.29}


def _figure(margins: dict[str, float] = MARGINS, width: float = 6.0, height: float = 3.6):
    from matplotlib.figure import Figure  # Figure + Agg: never pyplot in a web process

    figure = Figure(figsize=(width, height), dpi=DPI)
    figure.subplots_adjust(**margins)
    return figure, figure.add_subplot()


def _save(figure, path: Path) -> Path:
    with storage.atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=DPI)
    return path


def chart_png(prediction: Prediction, chart: str) -> Path:
    if chart == "distribution":
        return churn_distribution_png(prediction)
    if chart == "importance":
        return top_features_png(prediction.model)
    raise ChartUnavailable(f"Unknown chart {chart!r}.")


def churn_distribution_png(prediction: Prediction) -> Path:
    """Histogram of churn probabilities, the bars above the threshold in red."""
    summary = prediction.summary or {}
    if prediction.status != "done" or "histogram" not in summary:
        raise ChartUnavailable("This prediction has no result yet.")
    path = storage.cache_file(f"predictions/{prediction.id}/distribution.png")
    if path.exists():
        return path
    edges = summary["histogram"]["edges"]
    counts = summary["histogram"]["counts"]
    threshold = summary.get("threshold", 0.5)
    figure, axes = _figure()
    lefts = edges[:-1]
    widths = [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)]
    colors = [_BAD if left >= threshold else _BRAND for left in lefts]
    axes.bar(lefts, counts, width=widths, align="edge", color=colors, edgecolor="white")
    axes.axvline(threshold, color="#1d2433", linestyle="--", linewidth=1)
    axes.set_xlim(0, 1)
    axes.set_xlabel("Churn probability")
    axes.set_ylabel("Customers")
    axes.yaxis.set_major_formatter("{x:,.0f}")  # 1,000,000 rather than 1e6
    axes.set_title("Distribution of churn probability")
    axes.spines[["top", "right"]].set_visible(False)
    return _save(figure, path)


def top_features_png(model: Model) -> Path:
    """The model's five most important input columns (permutation importance, AUC drop)."""
    importances = (model.details or {}).get("feature_importances") or {}
    if not importances:
        raise ChartUnavailable("This model has no recorded feature importances.")
    tag = (model.file_sha256 or "none")[:12]
    path = storage.cache_file(f"models/{model.id}-{tag}/top_features.png")
    if path.exists():
        return path
    top = sorted(importances.items(), key=lambda item: item[1], reverse=True)[:TOP_FEATURES]
    names = [name for name, _ in reversed(top)]
    values = [value for _, value in reversed(top)]
    figure, axes = _figure(WIDE_LABEL_MARGINS)
    axes.barh(names, values, color=_BRAND)
    axes.set_xlabel("Drop in AUC when the column is shuffled")
    axes.set_title(f"Top {len(top)} features · {model.label}")
    axes.spines[["top", "right"]].set_visible(False)
    return _save(figure, path)
