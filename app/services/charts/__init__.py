"""Every chart of the app as a PNG file: one function per chart, rendered once and cached.

Six charts: a model's top-5 feature importances (model and prediction pages), ROC curves of
several models (model and compare pages), a model's reliability diagram, a prediction's churn
probabilities and profit curve, and realised AUC over time (monitoring). Each has a phone variant
(`narrow=True`) whose text stays as large as the page's small text; colours and sizes come from
`charts.style` (one colour per model on every chart). They use `matplotlib.figure.Figure` with
the Agg canvas, never the stateful plotting interface (its global figures are not thread-safe).

A chart's file name is a hash of everything that decides the picture (ids and file SHA-256 of the
models, the prediction and its summary figures), so a changed object never gets a stale picture.
Charts know only what they draw: the caller decides who may see what before asking.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator, PercentFormatter

from app.schema import Model, Prediction
from app.services import storage
from app.services.catalog import THRESHOLD
from app.services.charts import style as look
from app.services.charts.style import model_style
from app.services.errors import NotFound

CHART_DIR = "charts"


class ChartUnavailable(NotFound):
    """The chart has nothing to show yet (a prediction that has no result)."""


def _cached_png(
    kind: str,
    key: object,
    draw: Callable[[Axes], None],
    size: tuple[float, float] = look.SMALL,
    margins: dict[str, float] = look.MARGINS,
    dpi: int = look.DPI,
) -> Path:
    """The cached PNG for (`kind`, `key`), drawn by `draw` on fresh axes the first time.

    `key` must hold everything that decides the picture; it is hashed into the file name.
    """
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
    path = storage.cache_file(f"{CHART_DIR}/{kind}-{digest[:32]}.png")
    if path.exists():
        return path
    figure = _render(draw, size, margins, dpi)
    with storage.atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=dpi)
    return path


def _render(
    draw: Callable[[Axes], None], size: tuple[float, float], margins: dict[str, float], dpi: int
) -> Figure:
    """A figure with one set of axes drawn by `draw`, in the charts' style."""
    figure = Figure(figsize=size, dpi=dpi)
    FigureCanvasAgg(figure)
    figure.subplots_adjust(**margins)
    axes = figure.add_subplot()
    draw(axes)
    axes.spines[["top", "right"]].set_visible(False)
    return figure


def _png(
    kind: str,
    key: object,
    draw: Callable[[Axes], None],
    narrow: bool,
    margins: dict[str, float] = look.MARGINS,
    size: tuple[float, float] = look.SMALL,
    narrow_size: tuple[float, float] = look.NARROW,
    narrow_margins: dict[str, float] = look.NARROW_MARGINS,
) -> Path:
    """A chart at its usual size, or its phone variant when `narrow` (both are cached)."""
    if narrow:
        return _cached_png(
            kind, [key, "narrow"], draw, narrow_size, narrow_margins, look.NARROW_DPI
        )
    return _cached_png(kind, key, draw, size, margins)


def _legend(axes: Axes, narrow: bool, loc: str, handles: list[Any] | None = None) -> None:
    """The legend: inside the axes at desktop size; under them, one entry a line, on a phone."""
    options: dict[str, Any] = {"loc": loc, "fontsize": look.LEGEND_SIZE}
    if narrow:
        options = {"loc": "upper center", "bbox_to_anchor": (0.5, -0.21), "frameon": False}
        options["fontsize"] = look.FONT_SIZE
    if handles is not None:
        options["handles"] = handles
    axes.legend(**options)


def _model_key(model: Model) -> list[object]:
    return [model.id, model.file_sha256, model.label]


# The charts ------------------------------------------------------------------------------------


def feature_importance_png(model: Model, narrow: bool = False) -> Path:
    """A horizontal bar chart of the model's five most important input columns."""
    features = model.top_features()
    color, _ = model_style(model.label)

    def draw(axes: Axes) -> None:
        if not features:
            axes.text(0.5, 0.5, "No importances recorded", ha="center", va="center")
            axes.set_axis_off()
            return
        names = [name for name, _ in reversed(features)]
        values = [value for _, value in reversed(features)]
        axes.barh(names, values, color=color)
        axes.set_xlabel(
            "AUC lost when shuffled" if narrow else "Drop in AUC when the column is shuffled"
        )
        axes.xaxis.set_major_locator(MaxNLocator(3 if narrow else 6))
        axes.set_title(model.label if narrow else f"Top {len(features)} features · {model.label}")

    key = [_model_key(model), features]
    return _png(
        "importance",
        key,
        draw,
        narrow,
        look.WIDE_LABEL_MARGINS,
        narrow_margins=look.NARROW_LABEL_MARGINS,
    )


def roc_comparison_png(
    models: Sequence[Model], highlight: Model | None = None, narrow: bool = False
) -> Path:
    """ROC curves of `models` on their own held-out splits; `highlight` drawn bold if given.

    Each model has its colour of `charts.style`; defaults are dashed, retrained versions solid.
    """
    shown = [m for m in models if (m.details or {}).get("roc_curve")]
    highlight_id = highlight.id if highlight is not None else None

    def draw(axes: Axes) -> None:
        axes.plot([0, 1], [0, 1], linestyle=":", color=look.CHANCE, label="Chance (AUC 0.5)")
        for model in shown:
            curve = (model.details or {})["roc_curve"]
            auc = model.metric("AUC")
            bold = model.id == highlight_id
            color, style = model_style(model.label)
            axes.plot(
                curve["fpr"],
                curve["tpr"],
                label=model.label if auc is None else f"{model.label} (AUC {auc:.3f})",
                color=color,
                linestyle=style,
                linewidth=2.8 if bold else 1.7,
                alpha=0.75 if highlight_id is not None and not bold else 1.0,
                zorder=3 if bold else 2,
            )
        axes.set_xlabel("False positive rate")
        axes.set_ylabel("True positive rate")
        axes.xaxis.set_major_formatter(PercentFormatter(1.0))
        axes.yaxis.set_major_formatter(PercentFormatter(1.0))
        axes.xaxis.set_major_locator(MaxNLocator(4 if narrow else 6))
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1.01)
        axes.set_title("ROC curves" if narrow else "ROC curves on each model's held-out split")
        axes.grid(alpha=0.3)
        _legend(axes, narrow, loc="lower right")

    key = [highlight_id, [[*_model_key(m), m.is_default, m.metric("AUC")] for m in shown]]
    return _tall_png("roc", key, draw, narrow, len(shown) + 1)


def _tall_png(
    kind: str,
    key: object,
    draw: Callable[[Axes], None],
    narrow: bool,
    entries: int,
    size: tuple[float, float] = look.WIDE,
    margins: dict[str, float] = look.ROC_MARGINS,
) -> Path:
    """A chart whose phone variant has room under the axes for a legend of `entries` lines."""
    bottom, top = 0.8 + 0.24 * entries, 0.35  # inches: axis label and legend; title
    height = look.NARROW_AXES_HEIGHT + bottom + top
    narrow_margins = {
        **look.NARROW_TALL_MARGINS,
        "bottom": bottom / height,
        "top": 1 - top / height,
    }
    narrow_size = (look.NARROW[0], height)
    return _png(kind, key, draw, narrow, margins, size, narrow_size, narrow_margins)


def churn_distribution_png(prediction: Prediction, narrow: bool = False) -> Path:
    """A histogram of the prediction's churn probabilities: bars at or above the threshold in
    the churn colour, the threshold a dashed line, each named in the legend.

    Drawn from the summary stored with the prediction, never from the result file.
    """
    summary = prediction.summary or {}
    if prediction.status != "done" or "histogram" not in summary:
        raise ChartUnavailable("This prediction has no result yet.")
    edges = summary["histogram"]["edges"]
    counts = summary["histogram"]["counts"]
    threshold = summary.get("threshold", THRESHOLD)

    def draw(axes: Axes) -> None:
        lefts = edges[:-1]
        widths = [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)]
        colors = [look.CHURN if left >= threshold else look.STAY for left in lefts]
        axes.bar(lefts, counts, width=widths, align="edge", color=colors, edgecolor="white")
        axes.axvline(threshold, color=look.INK, linestyle="--", linewidth=1.2)
        axes.set_xlim(0, 1)
        axes.xaxis.set_major_formatter(PercentFormatter(1.0))
        axes.xaxis.set_major_locator(MaxNLocator(5 if narrow else 11))
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))  # customers come whole
        axes.yaxis.set_major_formatter("{x:,.0f}")  # 1,000,000 rather than 1e6
        axes.set_xlabel("Churn probability")
        axes.set_ylabel("Customers")
        axes.set_title("Churn probability" if narrow else "Distribution of churn probability")
        at = f"{threshold:.0%}"
        handles = [
            Patch(color=look.STAY, label=f"Predicted to stay (below {at})"),
            Patch(color=look.CHURN, label=f"Predicted to churn ({at} or more)"),
            Line2D([], [], color=look.INK, linestyle="--", label=f"Threshold {at}"),
        ]
        _legend(axes, narrow, "best", handles)

    key = [prediction.id, prediction.result_path, edges, counts, threshold]
    return _tall_png("distribution", key, draw, narrow, 3, look.SMALL, look.COUNT_MARGINS)


@dataclass(frozen=True)
class RealisedSeries:
    """One model's line on the realised-performance chart."""

    label: str
    held_out_auc: float | None  # the held-out figure it was deployed with: a dashed line
    points: Sequence[tuple[datetime, float]]  # (when the prediction was made, realised AUC)


def realised_auc_png(series: Sequence[RealisedSeries], narrow: bool = False) -> Path:
    """Realised AUC of each model's predictions over time (points joined in time order), each
    beside the held-out AUC it was deployed with (a dashed line of the same colour)."""

    def draw(axes: Axes) -> None:
        if not any(line.points for line in series):
            axes.text(0.5, 0.5, "No realised AUC yet", ha="center", va="center")
            axes.set_axis_off()
            return
        for line in series:
            color, _ = model_style(line.label)
            if line.points:
                axes.plot(
                    [at for at, _ in line.points],  # type: ignore[arg-type] # dates are fine
                    [auc for _, auc in line.points],
                    marker="o",
                    color=color,
                    label=f"{line.label}: realised",
                )
            if line.held_out_auc is not None:
                axes.axhline(
                    line.held_out_auc,
                    color=color,
                    linestyle="--",
                    linewidth=1,
                    label=f"{line.label}: held-out {line.held_out_auc:.3f}",
                )
        values = [auc for line in series for _, auc in line.points]
        values += [line.held_out_auc for line in series if line.held_out_auc is not None]
        axes.set_ylim(max(0.0, min([0.5, *values]) - 0.05), 1.0)
        axes.set_ylabel("AUC")
        axes.set_xlabel("Prediction date")
        axes.set_title("Realised AUC" if narrow else "Realised AUC over time")
        axes.grid(alpha=0.3)
        _legend(axes, narrow, loc="lower left")
        figure = axes.get_figure()
        if figure is not None:
            figure.autofmt_xdate()

    key = [[s.label, s.held_out_auc, [[t.isoformat(), auc] for t, auc in s.points]] for s in series]
    entries = sum(bool(s.points) + (s.held_out_auc is not None) for s in series)
    return _tall_png("realised", key, draw, narrow, entries)


def profit_curve_png(prediction: Prediction, narrow: bool = False) -> Path:
    """The expected gain of contacting the k highest-risk customers, against k, with the best
    number to contact marked. Drawn from the summary stored with the prediction."""
    campaign = (prediction.summary or {}).get("campaign")
    if prediction.status != "done" or not campaign:
        raise ChartUnavailable("This prediction was scored without costs: it has no profit curve.")
    contacted, gain = campaign["contacted"], campaign["gain"]
    best, best_gain = campaign["best"], campaign["best_gain"]

    def draw(axes: Axes) -> None:
        axes.axhline(0, color=look.CHANCE, linewidth=1)
        axes.plot(contacted, gain, color=look.STAY, linewidth=2, label="Expected gain")
        axes.axvline(best, color=look.BEST, linestyle="--", linewidth=1.2)
        axes.plot([best], [best_gain], "o", color=look.BEST, label=f"Best: contact {best:,}")
        axes.set_xlim(0, max(contacted[-1], 1))
        axes.set_xlabel("Customers contacted, highest risk first")
        if not narrow:  # on a phone the legend names the line
            axes.set_ylabel("Expected gain")
        axes.xaxis.set_major_formatter("{x:,.0f}")
        axes.yaxis.set_major_formatter("{x:,.0f}")
        axes.xaxis.set_major_locator(MaxNLocator(4 if narrow else 8, integer=True))
        title = "Profit curve" if narrow else "Profit curve · "
        if not narrow:
            title += f"best {best:,} contacted, gain {best_gain:,.2f}"
        axes.set_title(title)
        axes.grid(alpha=0.3)
        axes.legend(
            loc="lower left" if best_gain > 0 else "upper right",
            fontsize=look.FONT_SIZE if narrow else look.LEGEND_SIZE,
        )

    key = [prediction.id, prediction.result_path, contacted, gain, best]
    return _png("profit", key, draw, narrow, look.COUNT_MARGINS)


def reliability_png(model: Model, narrow: bool = False) -> Path:
    """The model's reliability diagram on its held-out customers: mean predicted probability
    against the share that churned, per tenth of probability; before and after calibration when
    it was calibrated."""
    calibration = (model.details or {}).get("calibration")
    if not calibration or not calibration.get("held_out"):
        raise ChartUnavailable("No calibration figures were recorded for this model.")
    color, _ = model_style(model.label)
    curves = [("held_out", "This model", color, "-")]
    if calibration.get("before"):
        curves = [
            ("before", "Before calibration", look.CHANCE, "--"),
            ("held_out", "Calibrated (used)", color, "-"),
        ]

    def draw(axes: Axes) -> None:
        axes.plot([0, 1], [0, 1], linestyle=":", color=look.CHANCE, label="Perfectly calibrated")
        for key, label, line_color, style in curves:
            table = calibration[key]
            bins = [b for b in table["bins"] if b["count"]]
            axes.plot(
                [b["mean_probability"] for b in bins],
                [b["churn_rate"] for b in bins],
                linestyle=style,
                marker="o",
                color=line_color,
                label=f"{label} (Brier {table['brier']:.3f})",
            )
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1)
        axes.xaxis.set_major_formatter(PercentFormatter(1.0))
        axes.yaxis.set_major_formatter(PercentFormatter(1.0))
        axes.xaxis.set_major_locator(MaxNLocator(4 if narrow else 6))
        axes.set_xlabel("Predicted churn probability")
        axes.set_ylabel("Share that churned")
        axes.set_title(
            "Reliability" if narrow else f"Reliability on held-out customers · {model.label}"
        )
        axes.grid(alpha=0.3)
        _legend(axes, narrow, loc="lower right")

    key = [_model_key(model), calibration]
    return _tall_png("reliability", key, draw, narrow, len(curves) + 1, look.SMALL, look.MARGINS)


def prediction_chart_png(prediction: Prediction, chart: str, narrow: bool = False) -> Path:
    """One of a prediction page's charts, for a prediction the caller has already checked the
    viewer may see: 'distribution', 'importance' (of the model that scored it) or 'profit';
    `narrow`: its phone variant."""
    if chart == "distribution":
        return churn_distribution_png(prediction, narrow)
    if chart == "importance":
        return feature_importance_png(prediction.model, narrow)
    if chart == "profit":
        return profit_curve_png(prediction, narrow)
    raise ChartUnavailable(f"Unknown chart {chart!r}.")
