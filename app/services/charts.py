"""Charts of models as PNG files: one function per chart, rendered once and cached.

Charts use `matplotlib.figure.Figure` with the Agg canvas (never pyplot, which keeps global state
and is not safe in a multi-threaded server). A chart's cache key holds the id and file SHA-256 of
every model it shows, so a retrained or replaced file gets a new chart and a stale one is never
served.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from app.schema import Model
from app.services import registry, storage

CHART_DIR = "charts"
BAR_COLOR = "#2f5bea"
LINE_COLORS = ("#2f5bea", "#c53030", "#1f8a4c", "#b7791f", "#6b46c1", "#2c7a7b", "#718096")


def _key(model: Model) -> str:
    return f"{model.id}-{(model.file_sha256 or 'nofile')[:16]}"


def _cached(name: str, draw: Callable[[Figure], None], size: tuple[float, float]) -> Path:
    """The cached PNG `name`, drawn by `draw` on a fresh figure the first time it is asked for."""
    path = storage.cache_file(f"{CHART_DIR}/{name}.png")
    if path.exists():
        return path
    figure = Figure(figsize=size, dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    draw(figure)
    with storage.atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    return path


def feature_importance_png(model: Model) -> Path:
    """A horizontal bar chart of the model's five most important input features."""
    features = registry.top_features(model)

    def draw(figure: Figure) -> None:
        axes = figure.add_subplot()
        if not features:
            axes.text(0.5, 0.5, "No importances recorded", ha="center", va="center")
            axes.set_axis_off()
            return
        names = [name for name, _ in reversed(features)]
        values = [value for _, value in reversed(features)]
        axes.barh(names, values, color=BAR_COLOR)
        axes.set_xlabel("Drop in AUC when the column is shuffled")
        axes.set_title(f"Top {len(features)} features · {model.label}")
        axes.spines[["top", "right"]].set_visible(False)

    return _cached(f"importance-{_key(model)}", draw, size=(5.0, 3.0))


def roc_comparison_png(model: Model, others: list[Model]) -> Path:
    """ROC curves of `model` (bold) and the other models, on their own held-out splits."""
    shown = [model, *[m for m in others if (m.details or {}).get("roc_curve")]]
    digest = hashlib.sha256("|".join(_key(m) for m in shown).encode()).hexdigest()[:16]

    def draw(figure: Figure) -> None:
        axes = figure.add_subplot()
        axes.plot([0, 1], [0, 1], linestyle=":", color="#999999", label="Chance")
        for index, item in enumerate(shown):
            curve = (item.details or {}).get("roc_curve")
            if not curve:
                continue
            auc = item.metric("AUC")
            label = f"{item.label} (AUC {auc:.3f})" if auc is not None else item.label
            axes.plot(
                curve["fpr"],
                curve["tpr"],
                label=label,
                color=LINE_COLORS[index % len(LINE_COLORS)],
                linewidth=2.6 if item.id == model.id else 1.2,
                alpha=1.0 if item.id == model.id else 0.75,
            )
        axes.set_xlabel("False positive rate")
        axes.set_ylabel("True positive rate")
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1.01)
        axes.set_title("ROC curves on the held-out split")
        axes.legend(loc="lower right", fontsize="small")
        axes.spines[["top", "right"]].set_visible(False)

    return _cached(f"roc-{_key(model)}-{digest}", draw, size=(6.4, 4.6))


def importance_chart_for(account, model_id: int) -> Path:
    """The importance chart of a model `account` may use (else registry.ModelNotAvailable)."""
    return feature_importance_png(registry.model_for(account, model_id))


def roc_chart_for(account, model_id: int) -> Path:
    """The ROC comparison of a model with the company's other models `account` may use."""
    overview = registry.model_overview(account, model_id)
    return roc_comparison_png(overview.model, overview.compared_with)
