"""Whom to contact, in what order, and what it is expected to gain.

- `risk_ranks`: 1 for the highest probability, no gaps, ties in row order;
- `profit_curve`: the expected gain of contacting the best k customers, against k (best first);
  with constant costs the expected value falls along the risk ranks, so the curve peaks exactly
  at the number of customers whose expected value is positive (those with `Contact = Yes`);
- `capacity_plan`: the answer to "we can call N: whom, and for how much".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

CURVE_POINTS = 240


def risk_ranks(probability: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rank of each row, row of each rank - 1): 1 is the highest probability; equal
    probabilities keep the order of the rows."""
    order = np.argsort(-np.asarray(probability, dtype=np.float64), kind="stable")
    ranks = np.empty(len(order), dtype=np.int32)
    ranks[order] = np.arange(1, len(order) + 1, dtype=np.int32)
    return ranks, order.astype(np.int32)


def profit_curve(expected_by_rank: np.ndarray) -> dict[str, Any]:
    """The cumulative expected gain along the ranks, sampled for a chart, and its peak."""
    values = np.asarray(expected_by_rank, dtype=np.float64)
    rows = len(values)
    gains = np.concatenate([[0.0], np.cumsum(values)])
    best = int((values > 0).sum())
    picks = np.unique(
        np.concatenate([np.linspace(0, rows, CURVE_POINTS + 1).round().astype(int), [best]])
    )
    return {
        "contacted": picks.tolist(),
        "gain": [round(float(gains[k]), 2) for k in picks],
        "best": best,
        "best_gain": round(float(gains[best]), 2),
        "gain_if_all": round(float(gains[rows]), 2),
        "rows": rows,
    }


@dataclass(frozen=True)
class CapacityPlan:
    capacity: int  # how many the team can contact
    calls: int  # how many of them to contact: never one whose expected value is not positive
    worth_calling: int  # how many customers have a positive expected value
    expected_gain: float  # of contacting the `calls` best

    @property
    def limited_by_capacity(self) -> bool:
        return self.calls < self.worth_calling


def capacity_plan(capacity: int, worth_calling: int, expected_gain: float) -> CapacityPlan:
    return CapacityPlan(capacity, min(capacity, worth_calling), worth_calling, expected_gain)
