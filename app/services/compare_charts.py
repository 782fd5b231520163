"""The comparison chart: ROC curves of the company's models on one set of axes.

Drawn with matplotlib's object API on the Agg canvas (never pyplot, which is not safe in a web
process), rendered once per set of model files and cached under CACHE_DIR.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from app.schema import Model
from app.services import storage


def _cache_key(models: list[Model]) -> str:
    parts = ",".join(f"{m.id}:{m.file_sha256}" for m in models)
    return hashlib.sha256(parts.encode()).hexdigest()[:32]


def roc_chart(models: list[Model]) -> Path:
    """A PNG of every model's ROC curve (from its stored details), cached; returns its path."""
    target = storage.cache_file(f"charts/roc_compare_{_cache_key(models)}.png")
    if target.exists():
        return target
    figure = Figure(figsize=(7, 5.2), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1], linestyle=":", color="#9aa6c2", label="Chance")
    for model in models:
        curve = (model.details or {}).get("roc_curve")
        if not curve:
            continue
        auc = model.metric("AUC")
        label = model.label if auc is None else f"{model.label} (AUC {auc:.3f})"
        style = "-" if not model.is_default else "--"
        axes.plot(curve["fpr"], curve["tpr"], linestyle=style, linewidth=1.6, label=label)
    axes.set_xlabel("False positive rate")
    axes.set_ylabel("True positive rate")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.01)
    axes.set_title("ROC curves on each model's held-out 20%")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    with storage.atomic_path(target) as tmp:
        figure.savefig(tmp, format="png")
    return target
