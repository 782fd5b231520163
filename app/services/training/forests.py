"""Forests whose probabilities are the same bits on every run, on every core.

scikit-learn's forest adds each tree's probabilities to one total under a lock, in the order
its threads finish them. Floating-point addition depends on its order, so with several threads
the last bits of a probability change from one run to the next (4,000–11,000 of 100,000 did
between five runs), and so may the risk ranks of near ties. Here the trees are summed in a fixed
number of groups, each in tree order, and the groups in group order: the same bits whatever
the threads and their timing, on as many cores as there are groups.

A loaded forest becomes one of these (`repeatable`): the same fitted object, its class swapped
for a subclass that only predicts differently, so its file and checksum stay as trained.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from joblib import effective_n_jobs
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.utils.validation import check_is_fitted

GROUPS = 4  # fixed, so the sum's order is the same on a machine of any size


class _RepeatableSum:
    """`predict_proba` as the mean of the trees' probabilities, summed in a fixed order."""

    estimators_: list[Any]
    n_classes_: Any
    n_outputs_: int
    n_jobs: int | None

    def predict_proba(self, X: Any) -> Any:
        check_is_fitted(self)
        if self.n_outputs_ != 1:
            return super().predict_proba(X)  # type: ignore[misc]
        X = self._validate_X_predict(X)  # type: ignore[attr-defined]
        trees = self.estimators_
        groups = [group for group in np.array_split(np.arange(len(trees)), GROUPS) if len(group)]

        def group_sum(indices: np.ndarray) -> np.ndarray:
            total = np.zeros((X.shape[0], int(self.n_classes_)), dtype=np.float64)
            for index in indices:
                total += trees[index].predict_proba(X, check_input=False)
            return total

        threads = max(1, min(len(groups), effective_n_jobs(self.n_jobs)))
        if threads == 1:
            sums = [group_sum(group) for group in groups]
        else:
            with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="forest") as pool:
                sums = list(pool.map(group_sum, groups))
        total = sums[0]
        for part in sums[1:]:
            total += part
        total /= len(trees)
        return total


class RepeatableRandomForest(_RepeatableSum, RandomForestClassifier):
    pass


class RepeatableExtraTrees(_RepeatableSum, ExtraTreesClassifier):
    pass


_REPEATABLE: dict[type, type] = {
    RandomForestClassifier: RepeatableRandomForest,
    ExtraTreesClassifier: RepeatableExtraTrees,
}


def repeatable(estimator: Any) -> bool:
    """Make a loaded forest predict the same bits on every run (in place); False when
    `estimator` is not a forest of scikit-learn's own classes."""
    swapped = _REPEATABLE.get(type(estimator))
    if swapped is None:
        return isinstance(estimator, _RepeatableSum)
    estimator.__class__ = swapped
    return True
