"""Input drift: how far a prediction's inputs moved from the data the model was trained on.

At training time, `training_profile` records each of the 16 input features' distribution on the
training rows: the share of each category (the most common ones; the rest count as "other
values") or of each training decile of a number, and the share missing. It is stored with the
model (its metadata and `Model.details`), so nothing re-reads the training file later.

While a prediction is scored, a `DriftMonitor` counts the same bins chunk by chunk, and at the end
gives each feature's population stability index (PSI = Σ (a − e) · ln(a / e) over the bins, with
a and e the prediction's and the training's shares). A feature at PSI ≥ 0.25 has moved: it is
named in a warning on the prediction page and the developer's home lists the prediction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from app.services.preprocessing.columns import (
    CATEGORICAL_FEATURES,
    FEATURES,
    NUMERIC_FEATURES,
    coerce_feature,
)
from app.services.preprocessing.encoding import EncodedChunk, category_codes

if TYPE_CHECKING:
    from app.schema import Model, Prediction

PROFILE_VERSION = 1
PSI_ALERT = 0.25  # the usual rule of thumb: below 0.1 stable, 0.1–0.25 some shift, above moved
MIN_ROWS = 100  # fewer rows than this cannot tell a moved distribution from chance
MAX_CATEGORIES = 50
DECILES = tuple(round(q / 10, 1) for q in range(1, 10))
SMOOTHING = 1e-4  # an empty bin counts as this share, so ln(a / e) stays finite
MISSING = "(missing)"
OTHER = "(other values)"
NO_STATISTICS = "No drift statistics for this model: it was trained before they were recorded."


# Bins ------------------------------------------------------------------------------------------


def _category_bins(values: pd.Series) -> list[str]:
    counts = values.dropna().astype(str).value_counts(sort=True)
    return [str(c) for c in sorted(counts.index[:MAX_CATEGORIES])]


def _number_bins(values: pd.Series) -> list[float]:
    present = values.to_numpy(dtype=float)
    present = present[np.isfinite(present)]
    if len(present) == 0:
        return []
    return [float(edge) for edge in np.unique(np.quantile(present, DECILES))]


def _number_codes(numbers: np.ndarray, edges: list[float]) -> np.ndarray:
    """Bin of each number: 0…len(edges) by the training deciles, len(edges)+1 when missing."""
    codes = np.searchsorted(np.asarray(edges, dtype=float), numbers, side="right")
    codes[~np.isfinite(numbers)] = len(edges) + 1
    return codes


def _category_codes(column: pd.Series, name: str, categories: list[str]) -> np.ndarray:
    """Bin of each raw upload value: its category, then "missing", then "other values"."""
    known = np.asarray([*categories, MISSING], dtype=object)
    codes = category_codes(column, name, known, MISSING)
    codes[codes < 0] = len(known)
    return codes


def numeric_values(column: pd.Series, name: str) -> np.ndarray:
    """The column's numbers (NaN where missing), as `coerce_feature` reads them: parsed by Arrow
    when every cell is a plain number or blank (the usual file), else by `coerce_feature`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(column, from_pandas=True)
    if (
        pa.types.is_string(text.type) or pa.types.is_large_string(text.type)
    ) and not text.null_count:
        stripped = pc.utf8_trim_whitespace(text)
        blank = pc.equal(stripped, "")
        try:
            parsed = pc.cast(
                pc.if_else(blank, pa.scalar(None, stripped.type), stripped), pa.float64()
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            parsed = None
        if parsed is not None:
            return parsed.to_numpy(zero_copy_only=False).astype(float)
    return coerce_feature(column, name).to_numpy(dtype=float)


def _shares(codes: np.ndarray, bins: int) -> np.ndarray:
    counts = np.bincount(codes, minlength=bins).astype(float)
    return counts / max(counts.sum(), 1.0)


def bin_labels(spec: dict[str, Any]) -> list[str]:
    """What each bin of a feature's profile holds, for a person."""
    if spec["kind"] == "category":
        return [*spec["categories"], MISSING, OTHER]
    edges = [f"{edge:,.4g}" for edge in spec["edges"]]
    if not edges:
        return ["any value", MISSING]
    middle = [f"{low} to {high}" for low, high in zip(edges[:-1], edges[1:], strict=True)]
    return [f"up to {edges[0]}", *middle, f"above {edges[-1]}", MISSING]


# At training time ------------------------------------------------------------------------------


def training_profile(features: pd.DataFrame) -> dict[str, Any]:
    """The bins and training shares of every input feature of `features` (the typed training
    rows, as `coerce_features` gives them)."""
    profile: dict[str, Any] = {"version": PROFILE_VERSION, "rows": int(len(features))}
    specs: dict[str, Any] = {}
    for name in CATEGORICAL_FEATURES:
        categories = _category_bins(features[name])
        index = pd.Index([*categories, MISSING])
        codes = index.get_indexer(pd.Index(features[name].astype(object).fillna(MISSING)))
        codes[codes < 0] = len(index)
        shares = _shares(codes, len(index) + 1)
        specs[name] = {"kind": "category", "categories": categories, "shares": _rounded(shares)}
    for name in NUMERIC_FEATURES:
        edges = _number_bins(features[name])
        codes = _number_codes(features[name].to_numpy(dtype=float), edges)
        shares = _shares(codes, len(edges) + 2)
        specs[name] = {"kind": "number", "edges": edges, "shares": _rounded(shares)}
    profile["features"] = specs
    return profile


def _rounded(shares: np.ndarray) -> list[float]:
    return [round(float(share), 6) for share in shares]


def psi(actual: np.ndarray, expected: np.ndarray) -> float:
    """The population stability index of shares `actual` against `expected`."""
    a = np.maximum(np.asarray(actual, dtype=float), SMOOTHING)
    e = np.maximum(np.asarray(expected, dtype=float), SMOOTHING)
    return float(np.sum((a - e) * np.log(a / e)))


# While scoring ---------------------------------------------------------------------------------


class DriftMonitor:
    """Counts a prediction's inputs in the bins of the model's training profile, chunk by chunk
    (fed by the scoring loop), and gives each feature's PSI at the end."""

    def __init__(self, profile: dict[str, Any] | None, mapping: dict[str, str]) -> None:
        usable = profile is not None and profile.get("version") == PROFILE_VERSION
        self.profile = profile if usable else None
        self.mapping = mapping
        self.rows = 0
        self.counts: dict[str, np.ndarray] = {}
        if self.profile is not None:
            for name in FEATURES:
                self.counts[name] = np.zeros(len(self.profile["features"][name]["shares"]))

    @classmethod
    def for_model(cls, model: Model, mapping: dict[str, str]) -> DriftMonitor:
        return cls((model.details or {}).get("training_profile"), mapping)

    def add(self, chunk: pd.DataFrame, encoded: EncodedChunk | None = None) -> None:
        """Count `chunk`'s inputs; `encoded`, the chunk's encoding when the scoring has one,
        spares reading the same cells again (its numbers and categories are what this reads)."""
        self.rows += len(chunk)
        if self.profile is None:
            return
        for name, counts in self.counts.items():
            spec = self.profile["features"][name]
            if spec["kind"] == "category":
                codes = self._encoded_bins(encoded, name, spec["categories"])
                if codes is None:
                    codes = _category_codes(chunk[self.mapping[name]], name, spec["categories"])
            elif encoded is not None:
                numbers = encoded.numbers[:, NUMERIC_FEATURES.index(name)]
                codes = _number_codes(numbers, spec["edges"])
            else:
                codes = _number_codes(
                    numeric_values(chunk[self.mapping[name]], name), spec["edges"]
                )
            counts += np.bincount(codes, minlength=len(counts))

    def _encoded_bins(
        self, encoded: EncodedChunk | None, name: str, categories: list[str]
    ) -> np.ndarray | None:
        """The bins of a categorical input from its encoding: each encoder category's bin,
        "missing" where the cell was missing (the encoder filled it in), "other values" for
        the rest. None when the encoder does not know every binned category."""
        if encoded is None:
            return None
        i = CATEGORICAL_FEATURES.index(name)
        known = [str(category) for category in encoded.layout.categories[i]]
        if not set(categories) <= set(known):
            return None
        place = {category: at for at, category in enumerate(categories)}
        missing, other = len(categories), len(categories) + 1
        # The bin of each encoder code, the last entry for code -1 (a value never seen).
        lookup = np.array([place.get(category, other) for category in known] + [other])
        bins = lookup[encoded.codes[i]]
        bins[encoded.missing[i]] = missing
        return bins

    def result(self) -> dict[str, Any]:
        """The drift record of the prediction (what `Prediction.drift` holds)."""
        if self.profile is None:
            return {"available": False, "reason": NO_STATISTICS}
        if self.rows < MIN_ROWS:
            return {
                "available": False,
                "reason": f"Too few customers ({self.rows:,}) to compare with the training data; "
                f"drift is measured from {MIN_ROWS} customers up.",
            }
        features: list[dict[str, Any]] = []
        for name, counts in self.counts.items():
            spec = self.profile["features"][name]
            actual = counts / counts.sum()
            expected = np.asarray(spec["shares"], dtype=float)
            moved = int(np.argmax(np.abs(actual - expected)))
            features.append(
                {
                    "name": name,
                    "psi": round(psi(actual, expected), 4),
                    "bin": bin_labels(spec)[moved],
                    "share": round(float(actual[moved]), 4),
                    "training_share": round(float(expected[moved]), 4),
                }
            )
        features.sort(key=lambda feature: (-feature["psi"], feature["name"]))
        return {
            "available": True,
            "rows": self.rows,
            "threshold": PSI_ALERT,
            "features": features,
            "drifting": [f["name"] for f in features if f["psi"] >= PSI_ALERT],
        }

    def record(self, prediction: Prediction) -> None:
        """Store the result on the prediction's row (the caller commits)."""
        result = self.result()
        prediction.drift = result
        prediction.drifting_count = len(result["drifting"]) if result["available"] else None
