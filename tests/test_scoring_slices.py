"""The first pass scores slices side by side (`prediction.slices`) and changes nothing: the same
result bytes as one piece in one thread, a failing slice fails the scoring and leaves no thread
behind, whether the reasons fit a request's budget is judged once, for the whole file, and BLAS
keeps to one thread while the slices share the cores."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

from app.services import decisions, registry
from app.services.decisions import chunk
from app.services.prediction import scoring, slices
from app.services.preprocessing import PREDICTION_COLUMNS, match_columns, read_table
from app.services.preprocessing.encoding import encode, estimator_of
from tests.test_fast_paths import _score  # the result files' bytes, scored with costs


def test_a_one_chunk_file_is_shared_among_the_threads_a_larger_one_goes_chunk_by_chunk():
    assert slices.plan(100_000, 100_000, threads=2) == (50_000, 2)
    assert slices.plan(7_043, 100_000, threads=2) == (slices.MIN_SLICE_ROWS, 2)
    assert slices.plan(3_000, 100_000, threads=2) == (slices.MIN_SLICE_ROWS, 2)  # one piece
    assert slices.plan(0, 100_000, threads=4) == (slices.MIN_SLICE_ROWS, 4)
    assert slices.plan(1_000, 701, threads=2) == (701, 1)  # several chunks
    assert slices.plan(1_000_000, 100_000, threads=2) == (100_000, 1)
    assert slices.plan(700, 701, threads=2) == (701, 2)  # never more than the chunk


@pytest.mark.parametrize(
    "kind", ["logistic_regression", "random_forest", "neural_network", "decision_tree"]
)
def test_slices_scored_side_by_side_write_the_bytes_one_piece_writes(
    app, user, original_dataset, tmp_path, monkeypatch, kind
):
    model = next(m for m in registry.models_for(user) if m.model_type.key == kind)
    seen: set[str] = set()
    score_slice = slices.score_slice

    def watched(*args):
        seen.add(threading.current_thread().name)
        return score_slice(*args)

    monkeypatch.setattr(slices, "score_slice", watched)
    monkeypatch.setattr(slices, "scoring_threads", lambda: 2)
    monkeypatch.setattr(slices, "MIN_SLICE_ROWS", 300)
    side_by_side = _score(original_dataset, model, tmp_path / "sliced", chunk_rows=10_000)
    assert seen and all(name.startswith("churnbuster-score") for name in seen), seen

    seen.clear()
    monkeypatch.setattr(slices, "scoring_threads", lambda: 1)
    whole = _score(original_dataset, model, tmp_path / "whole", chunk_rows=100_000)
    assert seen == {threading.current_thread().name}
    assert side_by_side.keys() == whole.keys()
    for name in whole:
        assert side_by_side[name] == whole[name], name


def test_a_failing_slice_fails_the_scoring_and_leaves_no_thread_behind(
    app, user, original_dataset, monkeypatch
):
    model = next(m for m in registry.models_for(user) if m.model_type.key == "decision_tree")
    original = read_table(original_dataset, "csv")
    mapping = match_columns(list(original.columns), PREDICTION_COLUMNS)
    decide = decisions.Decider.decide

    def failing(self, part, *args):
        if part.index[0] >= 3_000:
            raise MemoryError("the second slice")
        return decide(self, part, *args)

    monkeypatch.setattr(decisions.Decider, "decide", failing)
    monkeypatch.setattr(slices, "scoring_threads", lambda: 2)
    monkeypatch.setattr(slices, "MIN_SLICE_ROWS", 500)
    blas = _blas_threads()
    with pytest.raises(MemoryError, match="the second slice"):
        scoring.score_to_files(
            registry.load_model_pipeline(model), original, mapping, {}, 10_000, details={}
        )
    assert not [t for t in threading.enumerate() if t.name.startswith("churnbuster-score")]
    assert _blas_threads() == blas  # BLAS's threads given back too


def test_the_reasons_budget_is_judged_once_for_the_whole_file(
    app, user, original_dataset, monkeypatch
):
    """Slices of 1,000 rows of a 7,043-row file: one probe, judged for the whole file, and
    every slice without reasons once it is over the budget."""
    tree = next(m for m in registry.models_for(user) if m.model_type.key == "decision_tree")
    pipeline = registry.load_model_pipeline(tree)
    original = read_table(original_dataset, "csv")
    mapping = match_columns(list(original.columns), PREDICTION_COLUMNS)
    monkeypatch.setattr(chunk, "PROBE_ROWS", 100)
    probes: list[int] = []

    def timed(estimate: float):
        decider = decisions.Decider(
            pipeline, tree.details, None, reasons_budget=estimate, rows=len(original)
        )
        explainer = decider.explainer
        assert explainer is not None
        contributions = explainer.contributions

        def counted(encoded, probability):
            probes.append(encoded.rows)
            return contributions(encoded, probability)

        monkeypatch.setattr(explainer, "contributions", counted)
        return decider

    def reasons_of(decider) -> list[bool]:
        given = []
        for start in range(0, len(original), 1_000):
            part = original.iloc[start : start + 1_000]
            encoded = encode(pipeline, part, mapping, decider.layout)
            probability = estimator_of(pipeline).predict_proba(encoded.matrix)[:, 1]
            columns = decider.decide(part, mapping, encoded, probability)
            given.append(bool(np.any(np.asarray(columns.reasons[0]) != "")))
        return given

    over = timed(0.0)
    assert reasons_of(over) == [False] * 8 and over.deferred
    assert probes == [100]  # one probe; the other slices are not timed again

    probes.clear()
    fits = timed(3600.0)
    assert reasons_of(fits) == [True] * 8 and not fits.deferred
    assert probes[0] == 100 and probes.count(100) == 1 and len(probes) == 9
    assert pd.Series(probes[1:]).sum() == len(original)


def _blas_threads() -> set[int]:
    from threadpoolctl import threadpool_info

    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_blas_keeps_to_one_thread_while_the_slices_share_the_cores(
    app, user, original_dataset, monkeypatch
):
    from threadpoolctl import ThreadpoolController

    model = next(m for m in registry.models_for(user) if m.model_type.key == "logistic_regression")
    original = read_table(original_dataset, "csv")
    mapping = match_columns(list(original.columns), PREDICTION_COLUMNS)
    during: list[set[int]] = []
    score_slice = slices.score_slice

    def watched(*args):
        during.append(_blas_threads())
        return score_slice(*args)

    monkeypatch.setattr(slices, "score_slice", watched)
    monkeypatch.setattr(slices, "scoring_threads", lambda: 2)
    monkeypatch.setattr(slices, "MIN_SLICE_ROWS", 1_000)
    pipeline = registry.load_model_pipeline(model)
    with ThreadpoolController().limit(limits=2, user_api="blas"):  # BLAS as on two cores
        scoring.score_to_files(pipeline, original, mapping, {}, 10_000, details=model.details)
        assert len(during) == 2 and all(threads == {1} for threads in during), during
        assert _blas_threads() == {2}  # given back once the slices are done
        during.clear()
        scoring.score_to_files(pipeline, original, mapping, {}, 5_000, details=model.details)
        assert during and all(threads == {2} for threads in during)  # one thread: BLAS's own


def test_two_scorings_side_by_side_give_blas_back_only_when_the_last_one_leaves():
    from threadpoolctl import ThreadpoolController

    with ThreadpoolController().limit(limits=2, user_api="blas"):
        first, second = slices.one_blas_thread(), slices.one_blas_thread()
        first.__enter__()
        second.__enter__()
        assert _blas_threads() == {1}
        first.__exit__(None, None, None)
        assert _blas_threads() == {1}  # the second is still slicing
        second.__exit__(None, None, None)
        assert _blas_threads() == {2}
