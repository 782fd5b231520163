"""The baseline customer a model's reasons are measured against.

A model trained since reasons exist records its training part's baseline with its metadata
(`training.statistics.baseline_statistics`): the share of every category of each categorical
input and the median of each number. A model file trained before then has only what its fitted
preprocessor learned from the same training part: the median of each number (exactly the
recorded one) and the most common value of each category, which then stands for the category
mix. Default models are retrained when their metadata lacks the baseline (registry), so only
retrained versions from before can meet this fallback; their page says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.services.preprocessing.columns import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from app.services.preprocessing.encoding import Layout

RECORDED = "training"  # the shares and medians of the model's training part, stored with it
IMPUTER = "imputer"  # the most common value and the median its preprocessor learned

SOURCE_TEXT = {
    RECORDED: "the mix of values of the customers it was trained on (each category's share, "
    "each number's median)",
    IMPUTER: "the most common value of each category and the median of each number among the "
    "customers it was trained on (this model was trained before the full mix was recorded)",
}


@dataclass(frozen=True)
class Baseline:
    categories: Mapping[str, Mapping[str, float]]  # feature -> category -> share
    numbers: Mapping[str, float]  # feature -> median
    source: str

    @property
    def description(self) -> str:
        return SOURCE_TEXT[self.source]

    def weights(self, feature: str, categories: np.ndarray, fill: Any) -> np.ndarray:
        """The baseline shares of `feature` over a one-hot encoder's `categories` (summing to
        1); the fill value alone when the recorded mix shares none of them."""
        shares = self.categories.get(feature, {})
        weights = np.array([float(shares.get(str(c), 0.0)) for c in categories])
        if weights.sum() <= 0:
            weights = np.array([1.0 if str(c) == str(fill) else 0.0 for c in categories])
        total = weights.sum()
        return weights / total if total > 0 else weights

    def reference_row(self, layout: Layout) -> np.ndarray:
        """The baseline as one row of the estimator's matrix: category shares in the one-hot
        columns, the medians encoded like any number."""
        row = np.zeros(layout.width, dtype=np.float64)
        for i, name in enumerate(CATEGORICAL_FEATURES):
            columns = layout.columns_of(i)
            row[columns] = self.weights(name, layout.categories[i], layout.category_fill[i])
        medians = [self.numbers.get(name, np.nan) for name in NUMERIC_FEATURES]
        row[layout.numeric_at :] = layout.scaled(np.array(medians, dtype=np.float64))
        return row


def baseline_of(details: Mapping[str, Any] | None, layout: Layout | None) -> Baseline | None:
    """The model's recorded baseline, or the one its fitted preprocessor implies (None for a
    pipeline of unknown shape that recorded none)."""
    recorded = (details or {}).get("baseline")
    if recorded and recorded.get("categorical") and recorded.get("numeric"):
        return Baseline(recorded["categorical"], recorded["numeric"], RECORDED)
    if layout is None:
        return None
    return Baseline(
        categories={
            name: {str(layout.category_fill[i]): 1.0} for i, name in enumerate(CATEGORICAL_FEATURES)
        },
        numbers={name: float(layout.number_fill[j]) for j, name in enumerate(NUMERIC_FEATURES)},
        source=IMPUTER,
    )
