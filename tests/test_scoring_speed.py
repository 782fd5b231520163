"""What makes scoring cheap without changing a result: a forest predicts on every core (set on
the loaded object, never in its file) and the page's top rows come from a partial sort that
keeps the full sort's order, ties included."""

from __future__ import annotations

import os

import numpy as np
import pytest

from app.services import registry, storage
from app.services.prediction.summary import top_rows


def test_a_loaded_forest_predicts_on_every_core_and_its_file_is_unchanged(app, user):
    forest = next(m for m in registry.models_for(user) if m.model_type.key == "random_forest")
    path = storage.model_file(forest.file_path)
    before = storage.sha256_of(path)
    pipeline = registry.load_model_pipeline(forest)
    assert pipeline.named_steps["model"].n_jobs == (os.cpu_count() or 1)
    assert storage.sha256_of(path) == before == forest.file_sha256
    other = next(m for m in registry.models_for(user) if m.model_type.key == "decision_tree")
    assert not hasattr(registry.load_model_pipeline(other).named_steps["model"], "n_jobs")


@pytest.mark.parametrize("seed", range(6))
def test_the_top_rows_are_the_stable_full_sorts_first_rows(seed):
    rng = np.random.default_rng(seed)
    # Few distinct values, so that ties cross the cut (a decision tree's probabilities).
    probability = rng.integers(0, 7, size=500 + seed).astype(float) / 6
    for count in (1, 5, 20, 499, 600):
        expected = np.argsort(-probability, kind="stable")[:count]
        assert top_rows(probability, count).tolist() == expected.tolist()
    assert top_rows(np.array([]), 20).tolist() == []
