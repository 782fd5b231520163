"""Substitution for a binary neural network, from its first layer's pre-activation.

The first layer is linear: a variant that changes input i only moves the row's first-layer
pre-activation by (variant - row) on input i's columns times their first-layer weights. So the
chunk's pre-activation is computed once, and each variant takes it plus that small change through
the remaining layers, without building or validating a full matrix. The contributions are those of
`SubstitutionExplainer` (the same variants, weights and sums), up to rounding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import expit

from app.services.decisions.baselines import Baseline
from app.services.decisions.reasons import SubstitutionExplainer
from app.services.preprocessing.columns import FEATURES
from app.services.preprocessing.encoding import EncodedChunk, Layout

# scikit-learn's hidden-layer activations (its MLP's `activation`), as its forward pass has them.
HIDDEN: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "identity": lambda values: values,
    "relu": lambda values: np.maximum(values, 0),
    "tanh": np.tanh,
    "logistic": expit,
}


class NetworkSubstitutionExplainer(SubstitutionExplainer):
    """`SubstitutionExplainer`'s contributions for a binary MLPClassifier (see the module
    docstring)."""

    def __init__(self, estimator: Any, layout: Layout, baseline: Baseline):
        super().__init__(estimator, layout, baseline)
        self.hidden = HIDDEN[estimator.activation]
        self.coefs = estimator.coefs_
        self.intercepts = estimator.intercepts_

    def _rest(self, first: np.ndarray) -> np.ndarray:
        """P(churn) from first-layer pre-activations, through the remaining layers."""
        values = first
        for weights, bias in zip(self.coefs[1:], self.intercepts[1:], strict=True):
            values = self.hidden(values) @ weights + bias
        return expit(values[:, 0])

    def contributions(self, encoded: EncodedChunk, probability: np.ndarray) -> np.ndarray:
        matrix = encoded.matrix
        first = matrix @ self.coefs[0] + self.intercepts[0]
        if not np.allclose(self._rest(first), probability, rtol=0, atol=1e-12):
            return super().contributions(encoded, probability)
        expected = np.tile(probability[:, None], (1, len(FEATURES)))
        for i in range(len(FEATURES)):
            columns = self.layout.columns_of(i)
            weights = self.coefs[0][columns]
            # Input i's share of the first layer (einsum: BLAS costs more than it saves on a few
            # columns), and a variant's, the same on every row.
            own = np.einsum("ij,jk->ik", matrix[:, columns], weights)
            for rows, weight, variant in self.variants(
                i, encoded, probability, expected, whole=False
            ):
                moved = variant[0] @ weights - own[rows]
                expected[rows, i] += weight * self._rest(first[rows] + moved)
        return 100.0 * (probability[:, None] - expected)


def network_explainer_for(
    estimator: Any, layout: Layout, baseline: Baseline
) -> NetworkSubstitutionExplainer | None:
    """The first-layer substitution explainer of a binary network, else None."""
    if (
        type(estimator).__name__ != "MLPClassifier"
        or getattr(estimator, "activation", None) not in HIDDEN
        or len(estimator.classes_) != 2
        or estimator.out_activation_ != "logistic"
        or estimator.coefs_[-1].shape[1] != 1
    ):
        return None
    return NetworkSubstitutionExplainer(estimator, layout, baseline)
