"""From one scored chunk to its decision columns: reasons, input warnings, expected value and
whether to contact. Built once per scoring (the model's layout, baseline and explainer are found
once), then called for every chunk with the chunk's one encoding and its probabilities."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from app.services.decisions.baselines import Baseline, baseline_of
from app.services.decisions.costs import Costs
from app.services.decisions.input_checks import check_inputs
from app.services.decisions.network_substitution import network_explainer_for
from app.services.decisions.reason_texts import no_reasons, top_reasons
from app.services.decisions.reasons import (
    SUBSTITUTION,
    Explainer,
    LinearExplainer,
    SubstitutionExplainer,
    explainer_for,
)
from app.services.decisions.tree_substitution import tree_explainer_for
from app.services.preprocessing.columns import CATEGORICAL_FEATURES, FEATURES
from app.services.preprocessing.encoding import EncodedChunk, Layout, estimator_of, layout_of

PROBE_ROWS = 1_000  # rows timed to judge whether reasons fit a request's budget


def substitution_for(estimator: Any, layout: Layout, baseline: Baseline) -> SubstitutionExplainer:
    """The substitution explainer by its fastest path for `estimator` (tree by tree for a tree
    ensemble, from the first layer for a network): the same contributions."""
    return (
        tree_explainer_for(estimator, layout, baseline)
        or network_explainer_for(estimator, layout, baseline)
        or SubstitutionExplainer(estimator, layout, baseline)
    )


@dataclass
class DecisionColumns:
    """The new columns of one chunk, row for row."""

    reasons: list[Any]  # REASON_COUNT Arrow text arrays, one text per row ("" for none)
    warnings: list[str]  # per row, "" when every input was usable
    warned: np.ndarray  # per row: has an input warning
    warned_inputs: dict[str, int]  # how many rows have a warning on each input
    expected_value: np.ndarray | None  # only when the company's costs are set
    contact: np.ndarray | None  # expected value > 0


class Decider:
    """The decision columns of every chunk scored with `pipeline` (of the model whose stored
    `details` hold its baseline), under `costs` (None while the company has none).

    Chunks of one file may be decided in several threads at once (`prediction.slices`): what a
    chunk settles for the whole file (the explainer, whether the reasons fit the budget) is
    settled under a lock, the budget judged once, for the file's `rows`."""

    def __init__(
        self,
        pipeline: Any,
        details: Mapping[str, Any] | None,
        costs: Costs | None,
        with_reasons: bool = True,
        reasons_budget: float | None = None,
        rows: int | None = None,
    ):
        self.with_reasons = with_reasons  # False: every other column, reasons left empty
        # Seconds the reasons may take (None: any): over it, they are left to a second job.
        self.reasons_budget = reasons_budget
        self.deferred = False  # the reasons were expected to take longer than the budget
        self.rows = rows  # the whole file's (None: each chunk is judged as if it were the file)
        self._probed = False
        self._settling = threading.Lock()
        self.layout = layout_of(pipeline)
        self.baseline: Baseline | None = baseline_of(details, self.layout)
        self.costs = costs
        self.explainer: Explainer | None = None
        if self.layout is not None and self.baseline is not None:
            self.explainer = explainer_for(
                estimator_of(pipeline), self.layout, self.baseline, substitution_for
            )
        self._estimator = estimator_of(pipeline) if self.layout is not None else None

    @property
    def method(self) -> str | None:
        return None if self.explainer is None else self.explainer.method

    def _linear_mismatch(self, encoded: EncodedChunk, probability: np.ndarray) -> bool:
        """Whether the explainer is linear but the chunk's probabilities are not sigmoid(x .
        coef) (checked outside the lock: it is NumPy work each slice does for itself)."""
        explainer = self.explainer
        return isinstance(explainer, LinearExplainer) and not explainer.matches(
            encoded, probability
        )

    def _checked_explainer(self, mismatch: bool) -> Explainer:
        explainer = self.explainer
        assert explainer is not None and self.layout is not None and self.baseline is not None
        if mismatch and isinstance(explainer, LinearExplainer):
            # Linear-looking, but its probabilities are not sigmoid(x . coef): substitute.
            explainer = substitution_for(self._estimator, self.layout, self.baseline)
            self.explainer = explainer
        return explainer

    def _over_budget(
        self, explainer: Explainer, encoded: EncodedChunk, probability: np.ndarray
    ) -> bool:
        """Whether substitution over the file would take longer than `reasons_budget`, judged
        once (on the first chunk to come) for a file of at least five times PROBE_ROWS rows,
        by timing it on the chunk's first PROBE_ROWS rows. The probe is thrown away, so the
        reasons written are those of the whole chunk at once."""
        rows = self.rows or encoded.rows
        if self.reasons_budget is None or explainer.method != SUBSTITUTION or self._probed:
            return False
        if rows < 5 * PROBE_ROWS:
            return False
        self._probed = True
        probe = min(PROBE_ROWS, encoded.rows)
        started = time.perf_counter()
        explainer.contributions(encoded.head(probe), probability[:probe])
        return (time.perf_counter() - started) * rows / probe > self.reasons_budget

    def decide(
        self,
        original: pd.DataFrame,
        mapping: dict[str, str],
        encoded: EncodedChunk | None,
        probability: np.ndarray,
    ) -> DecisionColumns:
        rows = len(probability)
        expected = contact = None
        if self.costs is not None:
            expected = self.costs.expected_value(probability)
            contact = expected > 0
        if encoded is None or self.explainer is None:
            return DecisionColumns(
                reasons=no_reasons(rows),
                warnings=[""] * rows,
                warned=np.zeros(rows, dtype=bool),
                warned_inputs={},
                expected_value=expected,
                contact=contact,
            )
        checks = check_inputs(original, mapping, encoded)
        excluded = checks.flagged.copy()
        for i in range(len(CATEGORICAL_FEATURES)):
            excluded[:, i] |= encoded.codes[i] < 0
        mismatch = self.with_reasons and self._linear_mismatch(encoded, probability)
        with self._settling:
            explainer = self._checked_explainer(mismatch) if self.with_reasons else None
            if explainer is not None and self._over_budget(explainer, encoded, probability):
                self.with_reasons, self.deferred = False, True
            if not self.with_reasons:
                explainer = None
        if explainer is not None:
            contributions = explainer.contributions(encoded, probability)
            reasons = top_reasons(encoded, contributions, excluded)
        else:
            reasons = no_reasons(rows)
        return DecisionColumns(
            reasons=reasons,
            warnings=checks.messages,
            warned=checks.rows_flagged,
            warned_inputs={
                name: int(count)
                for name, count in zip(FEATURES, checks.flagged.sum(axis=0), strict=True)
                if count
            },
            expected_value=expected,
            contact=contact,
        )
