"""The summary a prediction page shows: counts, the probability histogram and the highest-risk
customers, built chunk by chunk without keeping every probability."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from app.services.catalog import THRESHOLD
from app.services.preprocessing import ID_COLUMN

HISTOGRAM_BINS = 10
TOP_ROWS = 20
# Columns shown beside each highest-risk customer on the result page.
PREVIEW_COLUMNS = ("Contract", "tenure", "MonthlyCharges", "InternetService")


class SummaryBuilder:
    """Figures of the scored rows so far; `mapping` names the upload's columns."""

    def __init__(self, mapping: dict[str, str]) -> None:
        self.mapping = mapping
        self.rows = 0
        self.churn = 0
        self.histogram = np.zeros(HISTOGRAM_BINS, dtype=np.int64)
        self.probability_sum = 0.0
        self.top: pd.DataFrame | None = None

    def add(self, chunk: pd.DataFrame, probability: np.ndarray) -> None:
        self.rows += len(probability)
        self.churn += int((probability >= THRESHOLD).sum())
        self.probability_sum += float(probability.sum())
        counts, _ = np.histogram(probability, bins=HISTOGRAM_BINS, range=(0.0, 1.0))
        self.histogram += counts
        best = np.argsort(-probability, kind="stable")[:TOP_ROWS]
        picked = chunk.iloc[best]  # the few best rows, before any column leaves Arrow
        candidates = pd.DataFrame(
            {
                "row": picked.index.to_numpy() + 1,
                "customerID": picked[self.mapping[ID_COLUMN]].to_numpy(),
                "probability": probability[best],
                **{c: picked[self.mapping[c]].to_numpy() for c in PREVIEW_COLUMNS},
            }
        )
        merged = candidates if self.top is None else pd.concat([self.top, candidates])
        self.top = merged.sort_values(
            ["probability", "row"], ascending=[False, True], kind="stable"
        ).head(TOP_ROWS)

    def result(self) -> dict[str, Any]:
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
            "preview_columns": list(PREVIEW_COLUMNS),
            "top": [
                {
                    "row": int(r["row"]),
                    "customerID": str(r["customerID"]),
                    "probability": round(float(r["probability"]), 4),
                    "values": [str(r[c]) for c in PREVIEW_COLUMNS],
                }
                for r in top.to_dict("records")
            ],
        }
