"""The first pass of scoring on every core: a file of one chunk cut into slices, each encoded,
scored and decided (`decisions.Decider`) in a small thread pool, and handed back in order.

Encoding, `predict_proba` and the reasons are NumPy and Arrow work that lets go of the GIL, so
two slices computed side by side take little more than one (a 100k-row file: 0.24–0.33 s on
one core, 0.16–0.20 s on two). While they do, BLAS keeps to one thread (`one_blas_thread`).
Everything that keeps count (the summary, the row store, the drift monitor) still sees the
slices one after another, in the file's order, in the caller's thread. A file of several
chunks is scored one chunk at a time, as before: side by side, more of it would be held at
once, and each thread's allocator keeps what it freed for itself (1M rows: the scoring
process's peak 925 → 1,001 MB, for 0.15 s of 9.8 s).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from app.services.decisions import Decider, DecisionColumns
from app.services.preprocessing.encoding import (
    EncodedChunk,
    churn_probabilities,
    encode,
    estimator_of,
)

MIN_SLICE_ROWS = 5_000  # a smaller file is scored in one piece, in the caller's thread


def scoring_threads() -> int:
    """Threads of the first pass: one per core, at most four."""
    return max(1, min(4, os.cpu_count() or 1))


@functools.cache
def _blas() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()  # finds the loaded BLAS libraries once (about 20 ms)


class _OneBlasThread:
    """BLAS (OpenBLAS under NumPy and scikit-learn) on one thread while any file's slices share
    the cores: a BLAS call in each slice's thread would otherwise start its own helpers, and
    more busy threads than cores slow every slice (LR at 100k rows: the first pass 375-390 →
    290-310 ms). The limit is the process's (BLAS has no other kind), so it is set when the
    first scoring takes it and given back when the last one leaves: two jobs side by side never
    leave BLAS on one thread for the rest of the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._limiter: Any = None

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._holders == 0:
                self._limiter = _blas().limit(limits=1, user_api="blas")
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0:
                    self._limiter.restore_original_limits()
                    self._limiter = None


one_blas_thread = _OneBlasThread()


def plan(rows: int, chunk_rows: int, threads: int | None = None) -> tuple[int, int]:
    """(rows per slice, threads) for a `rows`-row file whose chunks hold `chunk_rows`: a file of
    one chunk shared out among the threads, slices never under MIN_SLICE_ROWS (nor over the
    chunk); a larger file chunk by chunk, in one thread."""
    chunk_rows = max(chunk_rows, 1)
    threads = threads or scoring_threads()
    if rows > chunk_rows:
        return chunk_rows, 1
    share = math.ceil(max(rows, 1) / threads)
    return max(share, min(MIN_SLICE_ROWS, chunk_rows)), threads


def chunks(original: pd.DataFrame, rows: int) -> Iterator[tuple[int, pd.DataFrame]]:
    """(first row, rows) of `original`, `rows` at a time."""
    for start in range(0, len(original), rows):
        yield start, original.iloc[start : start + rows]


@dataclass
class ScoredSlice:
    start: int  # the slice's first row in the file
    chunk: pd.DataFrame  # the slice's rows of the upload
    encoded: EncodedChunk | None  # None for a pipeline the fast encoder does not know
    probability: np.ndarray
    columns: DecisionColumns


def score_slice(
    pipeline: Any, decider: Decider, mapping: dict[str, str], start: int, chunk: pd.DataFrame
) -> ScoredSlice:
    """One slice encoded once, scored and decided from that one encoding."""
    encoded = encode(pipeline, chunk, mapping, decider.layout)
    if encoded is None:
        probability = churn_probabilities(pipeline, chunk, mapping)
    else:
        probability = estimator_of(pipeline).predict_proba(encoded.matrix)[:, 1]
    return ScoredSlice(
        start, chunk, encoded, probability, decider.decide(chunk, mapping, encoded, probability)
    )


def scored_slices(
    pipeline: Any,
    decider: Decider,
    original: pd.DataFrame,
    mapping: dict[str, str],
    rows_per_slice: int,
    threads: int = 1,
) -> Iterator[ScoredSlice]:
    """Every slice of `original` scored, in order: all of them side by side on `threads`
    threads when there is more than one (`plan` cuts a file into at most that many). A slice's
    failure is raised in its turn; the slices still running are awaited (not abandoned) before
    it leaves."""
    parts = chunks(original, rows_per_slice)
    if threads == 1 or len(original) <= rows_per_slice:
        for start, chunk in parts:
            yield score_slice(pipeline, decider, mapping, start, chunk)
        return
    with (
        one_blas_thread(),
        ThreadPoolExecutor(max_workers=threads, thread_name_prefix="churnbuster-score") as pool,
    ):
        pending = [
            pool.submit(score_slice, pipeline, decider, mapping, start, chunk)
            for start, chunk in parts
        ]
        try:
            for future in pending:
                yield future.result()
        finally:
            for future in pending:
                future.cancel()
