"""Substitution for tree ensembles, through the trees that can change.

A variant of a row differs from it only in one input's encoded columns, so only the trees with a
split on those columns can score it differently. For a binary gradient boosting model

    raw(x') = raw(x) + learning_rate * sum over those trees t of (tree_t(x') - tree_t(x))

and its probability is the link of raw(x'); for a forest (random or extra trees)

    p(x') = p(x) + (1 / trees) * sum over those trees t of (proba_t(x') - proba_t(x)).

Each tree's output on the chunk's own rows is computed once per chunk. The contributions are
those of `SubstitutionExplainer` (the same variants, weights and sums), up to rounding.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from scipy.special import expit

from app.services.decisions.baselines import Baseline
from app.services.decisions.reasons import PARALLEL_ROWS, SubstitutionExplainer
from app.services.preprocessing.columns import FEATURES
from app.services.preprocessing.encoding import EncodedChunk, Layout


class _Ensemble:
    """A fitted binary tree ensemble: its trees, how one tree's output enters the probability."""

    def __init__(self, estimator: Any, boosted: bool) -> None:
        self.estimator = estimator
        self.boosted = boosted
        trees = np.ravel(np.asarray(estimator.estimators_, dtype=object)).tolist()
        self.trees = trees
        self.scale = float(estimator.learning_rate) if boosted else 1.0 / len(trees)

    def tree_output(self, tree: Any, matrix: np.ndarray) -> np.ndarray:
        """One tree's output on float32 rows: its value (boosting) or P(class 1) (forest)."""
        if self.boosted:
            return tree.tree_.predict(matrix)[:, 0]
        return tree.predict_proba(matrix, check_input=False)[:, 1]

    def start(self, matrix: np.ndarray, probability: np.ndarray) -> np.ndarray | None:
        """The chunk's score before the link (raw log-odds, or the probability itself), or None
        when the estimator's probabilities are not what this recomputes from it."""
        if not self.boosted:
            return probability
        raw = np.asarray(self.estimator.decision_function(matrix), dtype=np.float64)
        if raw.shape != probability.shape:
            return None
        return raw if np.allclose(expit(raw), probability, rtol=0, atol=1e-12) else None

    def finish(self, score: np.ndarray) -> np.ndarray:
        return expit(score) if self.boosted else score


def _ensemble_of(estimator: Any) -> _Ensemble | None:
    # By name (a loaded forest's class is a subclass, `training.forests`): scikit-learn stays
    # in the training and prediction services.
    names = {kind.__name__ for kind in type(estimator).__mro__}
    if len(getattr(estimator, "classes_", ())) != 2:
        return None
    if "GradientBoostingClassifier" in names:
        if getattr(estimator, "loss", None) != "log_loss" or estimator.estimators_.shape[1] != 1:
            return None
        return _Ensemble(estimator, boosted=True)
    if names & {"RandomForestClassifier", "ExtraTreesClassifier"}:
        if getattr(estimator, "n_outputs_", 1) != 1:
            return None
        return _Ensemble(estimator, boosted=False)
    return None


class TreeSubstitutionExplainer(SubstitutionExplainer):
    """`SubstitutionExplainer`'s contributions, each variant scored through only the trees that
    read its changed input (see the module docstring)."""

    def __init__(self, ensemble: _Ensemble, layout: Layout, baseline: Baseline):
        super().__init__(ensemble.estimator, layout, baseline)
        self.ensemble = ensemble
        self.trees_of: list[list[int]] = []
        for i in range(len(FEATURES)):
            columns = set(range(*layout.columns_of(i).indices(layout.width)))
            self.trees_of.append(
                [
                    t
                    for t, tree in enumerate(ensemble.trees)
                    if columns & {int(f) for f in tree.tree_.feature if f >= 0}
                ]
            )
        self.inputs_of = [
            [i for i in range(len(FEATURES)) if t in self.trees_of[i]]
            for t in range(len(ensemble.trees))
        ]

    def contributions(self, encoded: EncodedChunk, probability: np.ndarray) -> np.ndarray:
        matrix = np.ascontiguousarray(encoded.matrix, dtype=np.float32)
        start = self.ensemble.start(encoded.matrix, probability)
        if start is None:  # not the model this recomputes: score every variant in full
            return super().contributions(encoded, probability)
        expected = np.tile(probability[:, None], (1, len(FEATURES)))
        inputs = [i for i in range(len(FEATURES)) if self.read[i] and self.trees_of[i]]
        # Both cores where the chunk is big enough to pay for threads (the trees' traversal
        # releases the GIL): tree groups for the chunk's own rows, then one input per task.
        workers = (os.cpu_count() or 1) if encoded.rows >= PARALLEL_ROWS else 1
        groups = [range(w, len(self.ensemble.trees), workers) for w in range(workers)]
        with ThreadPoolExecutor(workers) as pool:
            before: np.ndarray = np.sum(
                list(pool.map(lambda group: self._before(group, matrix), groups)), axis=0
            )

            def explain(i: int) -> None:
                self._explain_input(i, encoded, probability, matrix, start, before, expected)

            list(pool.map(explain, inputs))
        return 100.0 * (probability[:, None] - expected)

    def _before(self, trees: range, matrix: np.ndarray) -> np.ndarray:
        """Rows x inputs: the summed outputs, on the chunk's own rows, of the trees among `trees`
        that read each input (every tree computed once)."""
        before = np.zeros((len(matrix), len(FEATURES)), dtype=np.float64)
        for t in trees:
            inputs = self.inputs_of[t]
            if inputs:
                output = self.ensemble.tree_output(self.ensemble.trees[t], matrix)
                before[:, inputs] += output[:, None]
        return before

    def _explain_input(
        self,
        i: int,
        encoded: EncodedChunk,
        probability: np.ndarray,
        matrix: np.ndarray,
        start: np.ndarray,
        before: np.ndarray,
        expected: np.ndarray,
    ) -> None:
        """Column i of `expected` (only it is written, so inputs can run side by side)."""
        trees = [self.ensemble.trees[t] for t in self.trees_of[i]]
        for rows, weight, variant in self.variants(i, encoded, probability, expected, matrix):
            after = np.zeros(len(rows), dtype=np.float64)
            for tree in trees:
                after += self.ensemble.tree_output(tree, variant)
            score = start[rows] + self.ensemble.scale * (after - before[rows, i])
            expected[rows, i] += weight * self.ensemble.finish(score)


def tree_explainer_for(
    estimator: Any, layout: Layout, baseline: Baseline
) -> TreeSubstitutionExplainer | None:
    """The tree-by-tree substitution explainer of a binary tree ensemble, else None."""
    ensemble = _ensemble_of(estimator)
    return None if ensemble is None else TreeSubstitutionExplainer(ensemble, layout, baseline)
