"""What makes scoring cheap without changing a result: a forest predicts on every core (set on
the loaded object, never in its file), the same bits on every run, and the page's top rows come
from a partial sort that keeps the full sort's order, ties included."""

from __future__ import annotations

import copy
import os

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

from app.services import registry, storage
from app.services.decisions import tree_substitution
from app.services.prediction.summary import top_rows
from app.services.preprocessing import PREDICTION_COLUMNS, match_columns, read_table
from app.services.preprocessing.encoding import encode, estimator_of
from app.services.training.forests import RepeatableRandomForest


def test_a_loaded_forest_predicts_on_every_core_and_its_file_is_unchanged(app, user):
    forest = next(m for m in registry.models_for(user) if m.model_type.key == "random_forest")
    path = storage.model_file(forest.file_path)
    before = storage.sha256_of(path)
    pipeline = registry.load_model_pipeline(forest)
    assert pipeline.named_steps["model"].n_jobs == (os.cpu_count() or 1)
    assert storage.sha256_of(path) == before == forest.file_sha256
    other = next(m for m in registry.models_for(user) if m.model_type.key == "decision_tree")
    assert not hasattr(registry.load_model_pipeline(other).named_steps["model"], "n_jobs")


def test_a_loaded_forest_gives_the_same_bits_on_every_run_whatever_its_threads(
    app, user, original_dataset
):
    """scikit-learn's own forest sums its trees in the order its threads finish them, so its
    last bits change from run to run; the loaded one sums them in a fixed order."""
    forest = next(m for m in registry.models_for(user) if m.model_type.key == "random_forest")
    pipeline = registry.load_model_pipeline(forest)
    estimator = estimator_of(pipeline)
    assert type(estimator) is RepeatableRandomForest
    assert isinstance(estimator, RandomForestClassifier)
    assert tree_substitution._ensemble_of(estimator) is not None  # still explained tree by tree
    original = read_table(original_dataset, "csv")
    matrix = encode(pipeline, original, match_columns(list(original.columns), PREDICTION_COLUMNS))
    assert matrix is not None
    first = estimator.predict_proba(matrix.matrix)
    for n_jobs in (1, 2, 4, 4, 4):
        other = copy.copy(estimator)
        other.n_jobs = n_jobs
        assert np.array_equal(other.predict_proba(matrix.matrix), first)
    own = RandomForestClassifier.predict_proba(estimator, matrix.matrix)
    np.testing.assert_allclose(first, own, rtol=0, atol=1e-12)  # the same mean of the trees


@pytest.mark.parametrize("seed", range(6))
def test_the_top_rows_are_the_stable_full_sorts_first_rows(seed):
    rng = np.random.default_rng(seed)
    # Few distinct values, so that ties cross the cut (a decision tree's probabilities).
    probability = rng.integers(0, 7, size=500 + seed).astype(float) / 6
    for count in (1, 5, 20, 499, 600):
        expected = np.argsort(-probability, kind="stable")[:count]
        assert top_rows(probability, count).tolist() == expected.tolist()
    assert top_rows(np.array([]), 20).tolist() == []
