"""Every chart of the app as a PNG file: one function per chart, rendered once and cached.

Six charts: a model's top-5 feature importances (model pages and prediction pages), ROC curves
of several models on one set of axes (model page and compare page), a model's reliability diagram
(model page), the distribution of a prediction's churn probabilities and its profit curve
(prediction page), and realised AUC over time (the developer's monitoring page).
They use `matplotlib.figure.Figure` with the Agg canvas (never matplotlib's stateful plotting
interface, whose global figures are not safe in a threaded server) and one style.

A chart's file name is a hash of everything that decides the picture (the ids and file SHA-256 of
the models, the prediction id and its summary figures, labels), so a retrained model, a replaced
file or a re-created database gets a new picture and never a stale one of another object.

Charts know only the schema's objects they draw and the storage that caches them: the caller
decides who may see what before asking for a chart.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from app.schema import Model, Prediction
from app.services import storage
from app.services.catalog import THRESHOLD
from app.services.errors import NotFound

CHART_DIR = "charts"
DPI = 100
SMALL = (6.0, 3.6)  # inches: 600 x 360 px, the two charts side by side in a `.charts` grid
WIDE = (7.0, 5.2)  # 700 x 520 px: the ROC chart (compare.html sets these sizes on its <img>)
BRAND = "#2f5bea"
BAD = "#c53030"
GOOD = "#1f8a4c"
INK = "#1d2433"
CHANCE = "#9aa6c2"
LINE_COLORS = (
    "#2f5bea",
    "#c53030",
    "#1f8a4c",
    "#b7791f",
    "#6b46c1",
    "#2c7a7b",
    "#d53f8c",
    "#4a5568",
    "#dd6b20",
    "#319795",
)
# Fixed margins (fractions of the figure) instead of tight_layout, constrained layout or
# bbox_inches="tight": measuring every text box to fit them costs more than drawing the chart, and
# the prediction service renders its charts while scoring.
MARGINS = {"left": 0.12, "right": 0.96, "bottom": 0.14, "top": 0.9}
# The importance chart's labels are column names such as "PaymentMethod" or "InternetService".
WIDE_LABEL_MARGINS = {**MARGINS, "left": 0.29}
# Counts up to "1,000,000" on the distribution's y axis.
COUNT_MARGINS = {**MARGINS, "left": 0.17}
ROC_MARGINS = {"left": 0.1, "right": 0.96, "bottom": 0.1, "top": 0.93}
# A phone's variant of a chart (`narrow=True`): drawn for about 340 CSS pixels, so its text stays
# as large as the page's small text, at twice the resolution for phone screens.
NARROW = (3.6, 3.4)
NARROW_MARGINS = {"left": 0.22, "right": 0.92, "bottom": 0.19, "top": 0.9}
NARROW_DPI = 2 * DPI


class ChartUnavailable(NotFound):
    """The chart has nothing to show yet (a prediction that has no result)."""


def _cached_png(
    kind: str,
    key: object,
    draw: Callable[[Axes], None],
    size: tuple[float, float] = SMALL,
    margins: dict[str, float] = MARGINS,
    dpi: int = DPI,
) -> Path:
    """The cached PNG for (`kind`, `key`), drawn by `draw` on fresh axes the first time.

    `key` must hold everything that decides the picture; it is hashed into the file name.
    """
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
    path = storage.cache_file(f"{CHART_DIR}/{kind}-{digest[:32]}.png")
    if path.exists():
        return path
    figure = Figure(figsize=size, dpi=dpi)
    FigureCanvasAgg(figure)
    figure.subplots_adjust(**margins)
    axes = figure.add_subplot()
    draw(axes)
    axes.spines[["top", "right"]].set_visible(False)
    with storage.atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=dpi)
    return path


def _model_key(model: Model) -> list[object]:
    return [model.id, model.file_sha256, model.label]


# The charts ------------------------------------------------------------------------------------


def feature_importance_png(model: Model) -> Path:
    """A horizontal bar chart of the model's five most important input columns."""
    features = model.top_features()

    def draw(axes: Axes) -> None:
        if not features:
            axes.text(0.5, 0.5, "No importances recorded", ha="center", va="center")
            axes.set_axis_off()
            return
        names = [name for name, _ in reversed(features)]
        values = [value for _, value in reversed(features)]
        axes.barh(names, values, color=BRAND)
        axes.set_xlabel("Drop in AUC when the column is shuffled")
        axes.set_title(f"Top {len(features)} features · {model.label}")

    key = [_model_key(model), features]
    return _cached_png("importance", key, draw, margins=WIDE_LABEL_MARGINS)


def roc_comparison_png(models: Sequence[Model], highlight: Model | None = None) -> Path:
    """ROC curves of `models` on their own held-out splits; `highlight` drawn bold if given.

    Default models are dashed, retrained versions solid.
    """
    shown = [m for m in models if (m.details or {}).get("roc_curve")]
    highlight_id = highlight.id if highlight is not None else None

    def draw(axes: Axes) -> None:
        axes.plot([0, 1], [0, 1], linestyle=":", color=CHANCE, label="Chance")
        for index, model in enumerate(shown):
            curve = (model.details or {})["roc_curve"]
            auc = model.metric("AUC")
            bold = model.id == highlight_id
            faded = highlight_id is not None and not bold
            axes.plot(
                curve["fpr"],
                curve["tpr"],
                label=model.label if auc is None else f"{model.label} (AUC {auc:.3f})",
                color=LINE_COLORS[index % len(LINE_COLORS)],
                linestyle="--" if model.is_default else "-",
                linewidth=2.6 if bold else 1.6,
                alpha=0.7 if faded else 1.0,
                zorder=3 if bold else 2,
            )
        axes.set_xlabel("False positive rate")
        axes.set_ylabel("True positive rate")
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1.01)
        axes.set_title("ROC curves on each model's held-out split")
        axes.grid(alpha=0.3)
        axes.legend(loc="lower right", fontsize="small")

    key = [highlight_id, [[*_model_key(m), m.is_default, m.metric("AUC")] for m in shown]]
    return _cached_png("roc", key, draw, size=WIDE, margins=ROC_MARGINS)


def churn_distribution_png(prediction: Prediction) -> Path:
    """A histogram of the prediction's churn probabilities, the bars above the threshold red.

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
        colors = [BAD if left >= threshold else BRAND for left in lefts]
        axes.bar(lefts, counts, width=widths, align="edge", color=colors, edgecolor="white")
        axes.axvline(threshold, color=INK, linestyle="--", linewidth=1)
        axes.set_xlim(0, 1)
        axes.set_xlabel("Churn probability")
        axes.set_ylabel("Customers")
        axes.yaxis.set_major_formatter("{x:,.0f}")  # 1,000,000 rather than 1e6
        axes.set_title("Distribution of churn probability")

    key = [prediction.id, prediction.result_path, edges, counts, threshold]
    return _cached_png("distribution", key, draw, margins=COUNT_MARGINS)


@dataclass(frozen=True)
class RealisedSeries:
    """One model's line on the realised-performance chart."""

    label: str
    held_out_auc: float | None  # the held-out figure it was deployed with: a dashed line
    points: Sequence[tuple[datetime, float]]  # (when the prediction was made, realised AUC)


def realised_auc_png(series: Sequence[RealisedSeries]) -> Path:
    """Realised AUC of each model's predictions over time (points joined in time order), each
    beside the held-out AUC it was deployed with (a dashed line of the same colour)."""

    def draw(axes: Axes) -> None:
        if not any(line.points for line in series):
            axes.text(0.5, 0.5, "No realised AUC yet", ha="center", va="center")
            axes.set_axis_off()
            return
        for index, line in enumerate(series):
            color = LINE_COLORS[index % len(LINE_COLORS)]
            if line.points:
                axes.plot(
                    [at for at, _ in line.points],  # type: ignore[arg-type] # dates are fine
                    [auc for _, auc in line.points],
                    marker="o",
                    color=color,
                    label=f"{line.label} (realised)",
                )
            if line.held_out_auc is not None:
                axes.axhline(line.held_out_auc, color=color, linestyle="--", linewidth=1)
        values = [auc for line in series for _, auc in line.points]
        values += [line.held_out_auc for line in series if line.held_out_auc is not None]
        axes.set_ylim(max(0.0, min([0.5, *values]) - 0.05), 1.0)
        axes.set_ylabel("AUC")
        axes.set_xlabel("Prediction date (dashed: held-out AUC when deployed)")
        axes.set_title("Realised AUC over time")
        axes.grid(alpha=0.3)
        axes.legend(loc="lower left", fontsize="small")
        figure = axes.get_figure()
        if figure is not None:
            figure.autofmt_xdate()

    key = [[s.label, s.held_out_auc, [[t.isoformat(), auc] for t, auc in s.points]] for s in series]
    return _cached_png("realised", key, draw, size=WIDE, margins=ROC_MARGINS)


def _png(
    kind: str,
    key: object,
    draw: Callable[[Axes], None],
    narrow: bool,
    margins: dict[str, float] = MARGINS,
) -> Path:
    """A chart at its usual size, or its phone variant when `narrow`."""
    if narrow:
        return _cached_png(kind, key, draw, NARROW, NARROW_MARGINS, NARROW_DPI)
    return _cached_png(kind, key, draw, margins=margins)


def profit_curve_png(prediction: Prediction, narrow: bool = False) -> Path:
    """The expected gain of contacting the k highest-risk customers, against k, with the best
    number to contact marked. Drawn from the summary stored with the prediction."""
    campaign = (prediction.summary or {}).get("campaign")
    if prediction.status != "done" or not campaign:
        raise ChartUnavailable("This prediction was scored without costs: it has no profit curve.")
    contacted, gain = campaign["contacted"], campaign["gain"]
    best, best_gain = campaign["best"], campaign["best_gain"]

    def draw(axes: Axes) -> None:
        axes.axhline(0, color=CHANCE, linewidth=1)
        axes.plot(contacted, gain, color=BRAND, linewidth=2, label="Expected gain")
        axes.axvline(best, color=GOOD, linestyle="--", linewidth=1.2)
        axes.plot([best], [best_gain], "o", color=GOOD, label=f"Best: contact {best:,}")
        axes.set_xlim(0, max(contacted[-1], 1))
        axes.set_xlabel("Customers contacted, highest risk first")
        if not narrow:  # on a phone the legend names the line
            axes.set_ylabel("Expected gain")
        axes.xaxis.set_major_formatter("{x:,.0f}")
        axes.yaxis.set_major_formatter("{x:,.0f}")
        axes.xaxis.set_major_locator(MaxNLocator(4 if narrow else 8, integer=True))
        title = "Profit curve" if narrow else "Profit curve · "
        if not narrow:
            title += f"best {best:,} contacted, gain {best_gain:,.0f}"
        axes.set_title(title)
        axes.grid(alpha=0.3)
        axes.legend(loc="lower left" if best_gain > 0 else "upper right", fontsize="small")

    key = [prediction.id, prediction.result_path, contacted, gain, best, narrow]
    return _png("profit", key, draw, narrow, COUNT_MARGINS)


def reliability_png(model: Model, narrow: bool = False) -> Path:
    """The model's reliability diagram on its held-out customers: mean predicted probability
    against the share that churned, per tenth of probability; before and after calibration when
    it was calibrated."""
    calibration = (model.details or {}).get("calibration")
    if not calibration or not calibration.get("held_out"):
        raise ChartUnavailable("No calibration figures were recorded for this model.")
    curves = [("held_out", "This model", BRAND, "-")]
    if calibration.get("before"):
        curves = [
            ("before", "Before calibration", BAD, "--"),
            ("held_out", "Calibrated (used)", BRAND, "-"),
        ]

    def draw(axes: Axes) -> None:
        axes.plot([0, 1], [0, 1], linestyle=":", color=CHANCE, label="Perfectly calibrated")
        for key, label, color, style in curves:
            table = calibration[key]
            bins = [b for b in table["bins"] if b["count"]]
            axes.plot(
                [b["mean_probability"] for b in bins],
                [b["churn_rate"] for b in bins],
                linestyle=style,
                marker="o",
                color=color,
                label=f"{label} (Brier {table['brier']:.3f})",
            )
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1)
        axes.xaxis.set_major_formatter(PercentFormatter(1.0))
        axes.yaxis.set_major_formatter(PercentFormatter(1.0))
        axes.set_xlabel("Predicted churn probability")
        axes.set_ylabel("Share that churned")
        axes.set_title(
            "Reliability" if narrow else f"Reliability on held-out customers · {model.label}"
        )
        axes.grid(alpha=0.3)
        axes.legend(loc="lower right", fontsize="x-small" if narrow else "small")

    key = [_model_key(model), calibration, narrow]
    return _png("reliability", key, draw, narrow)


def prediction_chart_png(prediction: Prediction, chart: str, narrow: bool = False) -> Path:
    """One of a prediction page's charts, for a prediction the caller has already checked the
    viewer may see: 'distribution', 'importance' (of the model that scored it) or 'profit'
    (`narrow`: its phone variant)."""
    if chart == "distribution":
        return churn_distribution_png(prediction)
    if chart == "importance":
        return feature_importance_png(prediction.model)
    if chart == "profit":
        return profit_curve_png(prediction, narrow)
    raise ChartUnavailable(f"Unknown chart {chart!r}.")
