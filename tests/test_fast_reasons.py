"""The faster substitution paths (tree by tree for tree ensembles, from the first layer for a
network) give the contributions of scoring every variant with the whole estimator, and a
network with linear hidden layers gets the exact contributions of its collapsed weights."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.linear_model import LogisticRegression

from app.services import decisions, training
from app.services.decisions import reason_texts, reasons, tree_substitution
from app.services.decisions.baselines import RECORDED, Baseline
from app.services.decisions.network_substitution import NetworkSubstitutionExplainer
from app.services.decisions.tree_substitution import TreeSubstitutionExplainer
from app.services.preprocessing import FEATURES
from app.services.preprocessing.encoding import encode, estimator_of
from app.services.registry import default_models
from app.services.training.statistics import baseline_statistics

ROWS = 3000


@pytest.fixture(scope="module")
def data(original_dataset):
    features, target = default_models.default_training_data(original_dataset, 1500)
    frame = pd.read_csv(original_dataset, dtype=str, keep_default_na=False)
    customers = frame.drop(columns=["Churn"]).sample(ROWS, replace=True, random_state=5)
    return features, target, customers.reset_index(drop=True)


def fitted(kind: str, features, target):
    if kind == "extra_trees":
        pipeline = training.build_pipeline("random_forest")
        pipeline.steps[-1] = ("model", ExtraTreesClassifier(50, max_depth=6, random_state=1))
    elif kind == "retrained_network":
        pipeline = training.build_retrain_pipeline()
    else:
        pipeline = training.build_pipeline(kind)
    with warnings.catch_warnings(action="ignore"):  # the network's iteration cap
        pipeline.fit(features[FEATURES], target)
    return pipeline


def chunk_of(pipeline, features, customers):
    recorded = baseline_statistics(features[FEATURES])
    decider = decisions.Decider(pipeline, {"baseline": recorded}, None)
    assert decider.baseline is not None and decider.baseline.source == RECORDED
    mapping = {name: name for name in customers.columns}
    encoded = encode(pipeline, customers, mapping, decider.layout)
    probability = estimator_of(pipeline).predict_proba(encoded.matrix)[:, 1]
    return decider, encoded, probability


@pytest.mark.parametrize(
    "kind, faster",
    [
        ("gradient_boosting", TreeSubstitutionExplainer),
        ("random_forest", TreeSubstitutionExplainer),
        ("extra_trees", TreeSubstitutionExplainer),
        ("neural_network", NetworkSubstitutionExplainer),
    ],
)
def test_the_faster_path_gives_the_contributions_of_scoring_every_variant_in_full(
    data, kind, faster, monkeypatch
):
    features, target, customers = data
    pipeline = fitted(kind, features, target)
    decider, encoded, probability = chunk_of(pipeline, features, customers)
    assert type(decider.explainer) is faster
    assert decider.method == decisions.SUBSTITUTION
    assert isinstance(decider.baseline, Baseline)
    full = reasons.SubstitutionExplainer(estimator_of(pipeline), decider.layout, decider.baseline)
    expected = full.contributions(encoded, probability)
    assert np.abs(expected).max() > 1  # real contributions, not all zero
    found = decider.explainer.contributions(encoded, probability)
    np.testing.assert_allclose(found, expected, rtol=0, atol=1e-9)
    if faster is TreeSubstitutionExplainer:  # the same on several threads
        monkeypatch.setattr(tree_substitution, "PARALLEL_ROWS", 0)
        threaded = decider.explainer.contributions(encoded, probability)
        np.testing.assert_allclose(threaded, expected, rtol=0, atol=1e-9)


class _BentLogistic(LogisticRegression):
    """A linear model by its weights whose probabilities are not sigmoid(x . coef)."""

    def predict_proba(self, X):
        churn = super().predict_proba(X)[:, 1] ** 2
        return np.column_stack([1 - churn, churn])


def test_a_linear_looking_model_whose_probabilities_are_not_its_sigmoid_is_substituted(data):
    features, target, customers = data
    pipeline = fitted("logistic_regression", features, target)
    bent = _BentLogistic()
    bent.__dict__.update(estimator_of(pipeline).__dict__)
    pipeline.steps[-1] = (pipeline.steps[-1][0], bent)
    decider, encoded, probability = chunk_of(pipeline, features, customers)
    assert isinstance(decider.explainer, reasons.LinearExplainer)  # by its weights
    columns = decider.decide(customers, {n: n for n in customers.columns}, encoded, probability)
    assert decider.method == decisions.SUBSTITUTION
    assert sum(bool(r) for r in columns.reasons[0].to_pylist()) > ROWS // 2


def test_a_network_with_linear_hidden_layers_gets_exact_contributions(data):
    features, target, customers = data
    pipeline = fitted("retrained_network", features, target)
    decider, encoded, probability = chunk_of(pipeline, features, customers)
    assert isinstance(decider.explainer, reasons.LinearExplainer)
    assert decider.explainer.matches(encoded, probability)
    columns = decider.decide(customers, {n: n for n in customers.columns}, encoded, probability)
    assert decider.method == decisions.EXACT
    assert sum(bool(r) for r in columns.reasons[0].to_pylist()) > ROWS // 2
    # The collapsed weights are the network's log-odds.
    explainer = decider.explainer
    logits = encoded.matrix @ explainer.coef + explainer.intercept
    np.testing.assert_allclose(1 / (1 + np.exp(-logits)), probability, rtol=0, atol=1e-9)


def _reference_reasons(encoded, contributions, excluded) -> list[list[str]]:
    """Row by row, as a person would pick them: the inputs that raise the risk by at least
    MIN_POINTS and have no input warning, largest first, an earlier input first on a tie."""
    layout = encoded.layout
    categorical = len(reasons.CATEGORICAL_FEATURES)
    picked = []
    for row in range(encoded.rows):
        candidates = [
            (-contributions[row, i], i)
            for i in range(len(FEATURES))
            if not excluded[row, i] and contributions[row, i] >= reasons.MIN_POINTS
        ]
        texts = []
        for _, i in sorted(candidates)[: reasons.REASON_COUNT]:
            if i < categorical:
                value = layout.categories[i][max(encoded.codes[i][row], 0)]
            else:
                value = reason_texts.number_text(encoded.numbers[row, i - categorical])
            texts.append(
                f"{FEATURES[i]} = {value} ({reason_texts.points_text(contributions[row, i])})"
            )
        picked.append(texts + [""] * (reasons.REASON_COUNT - len(texts)))
    return picked


def test_the_top_reasons_are_the_largest_raises_with_ties_to_the_earlier_input(data):
    """`top_reasons` picks by repeated argmax and writes each distinct reason once: the same
    reasons as sorting each row, with exact ties (set here on purpose), excluded inputs, raises
    below the threshold and rows with fewer than three reasons among them."""
    features, target, customers = data
    pipeline = fitted("logistic_regression", features, target)
    decider, encoded, probability = chunk_of(pipeline, features, customers.head(400))
    contributions = decider.explainer.contributions(encoded, probability).copy()
    rng = np.random.default_rng(3)
    contributions[::3, 5] = contributions[::3, 2]  # exact ties between two inputs
    contributions[::7, :] = 0.01  # nothing raises the risk enough
    contributions[1::7, 4:] = -1.0  # at most four inputs raise it
    excluded = rng.random(contributions.shape) < 0.1
    slots = reason_texts.top_reasons(encoded, contributions, excluded)
    got = [list(row) for row in zip(*(slot.to_pylist() for slot in slots), strict=True)]
    assert got == _reference_reasons(encoded, contributions, excluded)
    assert any(row[0] and not row[2] for row in got)  # some rows have fewer than three
    assert all(not any(row) for row in got[::7])
