"""The summary a prediction page shows: counts, the probability histogram, the highest-risk
customers with their reasons, the input warnings, and (with costs) the campaign: the profit
curve and how many customers are worth contacting. Built chunk by chunk; only the probabilities
(8 bytes a row) are kept for the whole file, to rank it and draw the profit curve."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from app.services.catalog import THRESHOLD
from app.services.decisions import Costs, DecisionColumns, profit_curve
from app.services.preprocessing import ID_COLUMN

HISTOGRAM_BINS = 10
TOP_ROWS = 20
WARNING_EXAMPLES = 10


class SummaryBuilder:
    """Figures of the scored rows so far; `mapping` names the upload's columns."""

    def __init__(self, mapping: dict[str, str]) -> None:
        self.mapping = mapping
        self.rows = 0
        self.churn = 0
        self.histogram = np.zeros(HISTOGRAM_BINS, dtype=np.int64)
        self.probability_sum = 0.0
        self.top: pd.DataFrame | None = None
        self.warned_rows = 0
        self.warned_inputs: dict[str, int] = {}
        self.warning_examples: list[dict[str, Any]] = []

    def add(self, chunk: pd.DataFrame, probability: np.ndarray, columns: DecisionColumns) -> None:
        first_row = self.rows + 1
        self.rows += len(probability)
        self.churn += int((probability >= THRESHOLD).sum())
        self.probability_sum += float(probability.sum())
        counts, _ = np.histogram(probability, bins=HISTOGRAM_BINS, range=(0.0, 1.0))
        self.histogram += counts
        self._add_top(chunk, probability, columns, first_row)
        self._add_warnings(chunk, columns, first_row)

    def _add_top(
        self, chunk: pd.DataFrame, probability: np.ndarray, columns: DecisionColumns, first: int
    ) -> None:
        best = top_rows(probability, TOP_ROWS)
        slots = [reasons.take(best).to_pylist() for reasons in columns.reasons]
        ids = chunk[self.mapping[ID_COLUMN]]
        value = columns.expected_value
        candidates = pd.DataFrame(
            {
                "row": best + first,
                "customerID": ids.iloc[best].astype(str).to_numpy(),
                "probability": probability[best],
                "reasons": [[r[at] for r in slots if r[at]] for at in range(len(best))],
                "warnings": [columns.warnings[i] for i in best.tolist()],
                "expected_value": value[best] if value is not None else np.nan,
            }
        )
        merged = candidates if self.top is None else pd.concat([self.top, candidates])
        self.top = merged.sort_values(
            ["probability", "row"], ascending=[False, True], kind="stable"
        ).head(TOP_ROWS)

    def _add_warnings(self, chunk: pd.DataFrame, columns: DecisionColumns, first: int) -> None:
        self.warned_rows += int(columns.warned.sum())
        for name, count in columns.warned_inputs.items():
            if count:
                self.warned_inputs[name] = self.warned_inputs.get(name, 0) + count
        room = WARNING_EXAMPLES - len(self.warning_examples)
        if room <= 0 or not columns.warned.any():
            return
        ids = chunk[self.mapping[ID_COLUMN]]
        for position in np.flatnonzero(columns.warned)[:room].tolist():
            self.warning_examples.append(
                {
                    "row": first + position,
                    "customerID": str(ids.iloc[position]),
                    "text": columns.warnings[position],
                }
            )

    def result(self, costs: Costs | None, probability: np.ndarray) -> dict[str, Any]:
        """The summary; `probability` is every row's, for the campaign (with `costs`)."""
        top = self.top if self.top is not None else pd.DataFrame()
        return {
            "rows": self.rows,
            "churn": self.churn,
            "stay": self.rows - self.churn,
            "churn_share": self.churn / self.rows if self.rows else 0.0,
            "mean_probability": self.probability_sum / self.rows if self.rows else 0.0,
            "histogram": {
                "edges": [round(i / HISTOGRAM_BINS, 2) for i in range(HISTOGRAM_BINS + 1)],
                "counts": [int(c) for c in self.histogram],
            },
            "threshold": THRESHOLD,
            "top": [
                {
                    "rank": rank,
                    "row": int(r["row"]),
                    "customerID": str(r["customerID"]),
                    "probability": round(float(r["probability"]), 4),
                    "reasons": list(r["reasons"]),
                    "warnings": r["warnings"],
                    "expected_value": None
                    if costs is None
                    else round(float(r["expected_value"]), 2),
                    "contact": None if costs is None else bool(r["expected_value"] > 0),
                }
                for rank, r in enumerate(top.to_dict("records"), start=1)
            ],
            "warnings": {
                "rows": self.warned_rows,
                "by_input": dict(sorted(self.warned_inputs.items(), key=lambda kv: -kv[1])),
                "examples": self.warning_examples,
            },
            "costs": None if costs is None else costs.as_dict(),
            "campaign": None if costs is None else campaign(costs, probability),
        }


def top_rows(probability: np.ndarray, count: int) -> np.ndarray:
    """The positions of the `count` highest probabilities, highest first and, among equal
    ones, the earliest row first: `np.argsort(-p, kind="stable")[:count]` without sorting the
    whole chunk (a partial sort finds the candidates; only they, and any tied with the last
    one, are sorted)."""
    if len(probability) <= count:
        candidates = np.arange(len(probability))
    else:
        nearest = np.argpartition(-probability, count - 1)[:count]
        candidates = np.flatnonzero(probability >= probability[nearest].min())
    order = np.lexsort((candidates, -probability[candidates]))
    return candidates[order][:count]


def campaign(costs: Costs, probability: np.ndarray) -> dict[str, Any]:
    """The profit curve along the risk ranks and the break-even probability."""
    by_rank = np.sort(np.asarray(probability, dtype=np.float64))[::-1]
    curve = profit_curve(costs.expected_value(by_rank))
    curve["break_even"] = costs.break_even
    return curve
