"""Reasons: how much each of the 16 inputs raises a customer's churn probability compared with
the model's training baseline, in probability points (`reason_texts` writes each row's top three
for a person: `Contract = Month-to-month (+18 pts)`).

Two methods, chosen per model:

- **exact** for a linear model of the log-odds (logistic regression, and a network whose hidden
  layers are linear, `activation="identity"`, collapsed into one coefficient vector): input f
  contributes phi_f = sum over its encoded columns j of coef_j * (x_j - b_j), where b is the
  baseline as a row of the encoded matrix (category shares, encoded medians); the contributions
  add up to the log-odds' distance from the baseline's. In points: p - sigmoid(logit(p) - phi_f),
  the change if that input alone were at its baseline.
- **substitution** for any other estimator: each input in turn is set to its baseline and the
  chunk scored again, batched (one call per category or number, over every row of the chunk
  whose value differs): a number takes the training median; a category takes each training
  category, weighted by its share. The contribution is p minus that expected probability.
  Tree models skip inputs none of their splits read (their contribution is exactly zero).
  Faster paths reach the same contributions: a binary tree ensemble scores a variant through
  only the trees that read the changed input (`tree_substitution`), a binary network moves the
  row's first-layer pre-activation by the changed input's share (`network_substitution`).

Both work on the chunk's one encoding (`EncodedChunk`), so memory stays bounded by the chunk.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import numpy as np
from scipy.special import expit

from app.services.decisions.baselines import Baseline
from app.services.preprocessing.columns import CATEGORICAL_FEATURES, FEATURES
from app.services.preprocessing.encoding import EncodedChunk, Layout

EXACT = "exact"
SUBSTITUTION = "substitution"
METHOD_TEXT = {
    EXACT: "exact contributions of the linear model (coefficient × distance from the baseline)",
    SUBSTITUTION: "each input replaced by its training baseline and the customer scored again",
}
REASON_COUNT = 3
# Below this many probability points an input is not said to raise the risk.
MIN_POINTS = 0.05
PARALLEL_ROWS = 20_000
STACK_ROWS = 50_000


class Explainer(Protocol):
    method: str

    def contributions(self, encoded: EncodedChunk, probability: np.ndarray) -> np.ndarray:
        """Rows x 16 inputs (FEATURES order): how many points each input adds."""
        ...


def _identity_network_weights(estimator: Any, width: int) -> tuple[np.ndarray, float] | None:
    """A binary network with identity hidden layers is linear in the log-odds: its layers
    collapse into one coefficient vector and intercept."""
    if (
        getattr(estimator, "activation", None) != "identity"
        or getattr(estimator, "out_activation_", None) != "logistic"
        or not hasattr(estimator, "coefs_")
    ):
        return None
    coef = np.eye(width)
    intercept = np.zeros(width)
    for weights, bias in zip(estimator.coefs_, estimator.intercepts_, strict=True):
        coef, intercept = coef @ weights, intercept @ weights + bias
    if coef.shape != (width, 1):
        return None
    return np.ascontiguousarray(coef[:, 0]), float(intercept[0])


def _binary_linear_weights(estimator: Any, width: int) -> tuple[np.ndarray, float] | None:
    network = _identity_network_weights(estimator, width)
    if network is not None:
        return network
    coef = getattr(estimator, "coef_", None)
    intercept = getattr(estimator, "intercept_", None)
    if coef is None or intercept is None or not hasattr(estimator, "predict_proba"):
        return None
    coef = np.asarray(coef, dtype=np.float64)
    if coef.shape != (1, width) or np.size(intercept) != 1:
        return None
    return coef[0], float(np.ravel(intercept)[0])


class LinearExplainer:
    """Exact contributions of a model whose probability is sigmoid(x . coef + intercept)."""

    method = EXACT

    def __init__(self, coef: np.ndarray, intercept: float, reference: np.ndarray, layout: Layout):
        self.coef = coef
        self.intercept = intercept
        self.reference = reference

    def matches(self, encoded: EncodedChunk, probability: np.ndarray) -> bool:
        """Whether the estimator really is this linear model on this chunk."""
        logits = encoded.matrix @ self.coef + self.intercept
        return bool(np.allclose(expit(logits), probability, rtol=0, atol=1e-9))

    def contributions(self, encoded: EncodedChunk, probability: np.ndarray) -> np.ndarray:
        layout = encoded.layout
        logits = encoded.matrix @ self.coef + self.intercept
        # Input by input (one contiguous row each), each row's log-odds without that input's
        # share; the points are the probability's drop when the share is taken away.
        without = np.empty((len(FEATURES), encoded.rows), dtype=np.float64)
        for i in range(len(FEATURES)):
            columns = layout.columns_of(i)
            reference = float(self.reference[columns] @ self.coef[columns])
            if i < len(CATEGORICAL_FEATURES):  # one-hot: the row's category's coefficient
                codes = encoded.codes[i]
                share = self.coef[layout.offsets[i] + np.maximum(codes, 0)]
                share[codes < 0] = 0.0
            else:
                column = columns.start
                share = encoded.matrix[:, column] * self.coef[column]
            np.subtract(logits, share - reference, out=without[i])
        expit(without, out=without)
        np.subtract(expit(logits), without, out=without)
        without *= 100.0
        return without.T


def _tree_columns(estimator: Any) -> set[int] | None:
    """The matrix columns some split of a tree model reads, or None for other models."""
    inner = getattr(estimator, "calibrated_classifiers_", None)
    if inner:  # a calibrated model: the trees of the estimator it calibrates
        found: set[int] = set()
        for calibrated in inner:
            columns = _tree_columns(calibrated.estimator)
            if columns is None:
                return None
            found |= columns
        return found
    if hasattr(estimator, "tree_"):
        trees = [estimator]
    elif hasattr(estimator, "estimators_"):
        trees = list(np.ravel(np.asarray(estimator.estimators_, dtype=object)))
        if not trees or not all(hasattr(tree, "tree_") for tree in trees):
            return None
    else:
        return None
    return {int(f) for tree in trees for f in tree.tree_.feature if f >= 0}


def _on_every_core(estimator: Any) -> Any:
    """A forest that predicts tree by tree on one core, set to use every core for the many
    re-scorings (a shallow copy: the fitted trees are shared, the cached model is untouched)."""
    one_core = getattr(estimator, "n_jobs", None) in (None, 1)
    if one_core and isinstance(getattr(estimator, "estimators_", None), list):
        faster = copy.copy(estimator)
        faster.n_jobs = os.cpu_count() or 1
        return faster
    return estimator


class SubstitutionExplainer:
    """Contributions of any estimator, by setting one input at a time to its baseline."""

    method = SUBSTITUTION

    def __init__(self, estimator: Any, layout: Layout, baseline: Baseline):
        self.estimator = estimator
        self.parallel = _on_every_core(estimator)
        self.layout = layout
        self.weights = [
            baseline.weights(name, layout.categories[i], layout.category_fill[i])
            for i, name in enumerate(CATEGORICAL_FEATURES)
        ]
        self.reference = baseline.reference_row(layout)
        used = _tree_columns(estimator)
        self.read = [
            used is None or bool(used & set(range(*layout.columns_of(i).indices(layout.width))))
            for i in range(len(FEATURES))
        ]

    def _score(self, matrix: np.ndarray) -> np.ndarray:
        # Threads cost more than they save on a few thousand rows.
        estimator = self.parallel if len(matrix) >= PARALLEL_ROWS else self.estimator
        return estimator.predict_proba(matrix)[:, 1]

    def contributions(self, encoded: EncodedChunk, probability: np.ndarray) -> np.ndarray:
        # Each input's expected probability with its baseline in place (categories: weighted
        # over the training categories); variants are scored in stacks (see _Stack).
        expected = np.tile(probability[:, None], (1, len(FEATURES)))
        stack = _Stack(self._score)
        for i in range(len(FEATURES)):
            for rows, weight, variant in self.variants(i, encoded, probability, expected):
                stack.add(variant, rows, i, weight)
        stack.flush_into(expected)
        return 100.0 * (probability[:, None] - expected)

    def variants(
        self,
        i: int,
        encoded: EncodedChunk,
        probability: np.ndarray,
        expected: np.ndarray,
        matrix: np.ndarray | None = None,
        whole: bool = True,
    ) -> Iterator[tuple[np.ndarray, float, np.ndarray]]:
        """Input i's variants of the chunk, as (rows, weight, variant) whose weighted
        probabilities are still to be added to column i of `expected` (the rows a variant does
        not change are added to it here). A variant is those rows of `matrix` (by default the
        chunk's) with input i at its baseline value, or, not `whole`, only input i's columns."""
        if not self.read[i]:
            return
        source = encoded.matrix if matrix is None else matrix
        columns = self.layout.columns_of(i)
        if i < len(CATEGORICAL_FEATURES):
            expected[:, i] = 0.0
            for code, weight in enumerate(self.weights[i]):
                if weight <= 0:
                    continue
                change = encoded.codes[i] != code
                expected[~change, i] += weight * probability[~change]
                if change.any():
                    rows = np.flatnonzero(change)
                    if whole:
                        variant = source[rows]
                        variant[:, columns] = 0.0
                        variant[:, columns.start + code] = 1.0
                    else:
                        variant = np.zeros((len(rows), columns.stop - columns.start))
                        variant[:, code] = 1.0
                    yield rows, weight, variant
            return
        value = self.reference[columns.start]
        change = encoded.matrix[:, columns.start] != value
        if change.any():
            rows = np.flatnonzero(change)
            if whole:
                variant = source[rows]
                variant[:, columns] = value
            else:
                variant = np.full((len(rows), 1), value)
            expected[change, i] = 0.0
            yield rows, 1.0, variant


class _Stack:
    """Variants of a chunk scored together: one estimator call per STACK_ROWS rows, so a small
    file pays the estimator's fixed cost per call (a forest's, tree by tree) a few times, not
    once per input and category; memory stays bounded by STACK_ROWS rows."""

    def __init__(self, score: Any) -> None:
        self.score = score
        self.parts: list[tuple[np.ndarray, np.ndarray, int, float]] = []
        self.rows = 0
        self.done: list[tuple[np.ndarray, int, float, np.ndarray]] = []

    def add(self, variant: np.ndarray, rows: np.ndarray, feature: int, weight: float) -> None:
        self.parts.append((variant, rows, feature, weight))
        self.rows += len(variant)
        if self.rows >= STACK_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self.parts:
            return
        scored = self.score(np.vstack([part[0] for part in self.parts]))
        start = 0
        for variant, rows, feature, weight in self.parts:
            self.done.append((rows, feature, weight, scored[start : start + len(variant)]))
            start += len(variant)
        self.parts, self.rows = [], 0

    def flush_into(self, expected: np.ndarray) -> None:
        """Add every scored variant, weighted, to its input's expected probability."""
        self._flush()
        for rows, feature, weight, scored in self.done:
            expected[rows, feature] += weight * scored
        self.done = []


def explainer_for(
    estimator: Any,
    layout: Layout,
    baseline: Baseline,
    substitution: Callable[[Any, Layout, Baseline], Explainer] = SubstitutionExplainer,
) -> Explainer:
    """The exact explainer for a binary linear model of the log-odds, else `substitution`'s (the
    Decider passes the one that picks the fastest path to the same contributions)."""
    linear = _binary_linear_weights(estimator, layout.width)
    if linear is not None:
        return LinearExplainer(*linear, baseline.reference_row(layout), layout)
    return substitution(estimator, layout, baseline)
