"""The scoring job: score an upload in bounded chunks, write the result files and the summary.

Small files are scored inside the request that uploaded them, large ones by the background job
`score_prediction`; both take the same path (`run_scoring`). Any failure marks the row failed and
removes its partial files (`lifecycle.mark_failed`). Charts are drawn after the row is done and
can never undo it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
from flask import current_app

from app.extensions import db
from app.schema import IN_PROGRESS, Prediction
from app.services import charts, lifecycle, registry, storage
from app.services.errors import DomainError
from app.services.monitoring.drift import DriftMonitor
from app.services.prediction.results import ResultWriters, kept_columns
from app.services.prediction.summary import SummaryBuilder
from app.services.preprocessing import (
    PREDICTION_COLUMNS,
    match_columns,
    number_columns,
    read_table,
)
from app.services.preprocessing.encoding import churn_probabilities
from app.services.uploads import upload_limits

log = logging.getLogger(__name__)

JOB_NAME = "score_prediction"

ProgressCallback = Callable[[int], None]
Loaded = tuple[Any, pd.DataFrame, dict[str, str]]  # pipeline, upload, column mapping


class ChunkObserver(Protocol):
    def add(self, chunk: pd.DataFrame) -> None: ...


def score_prediction(prediction_id: int) -> None:
    """The background job: score a queued prediction, keeping its status on the row."""
    prediction = db.session.get(Prediction, prediction_id)
    if prediction is None or prediction.status not in IN_PROGRESS:
        return

    def load() -> Loaded:
        pipeline = registry.load_model_pipeline(prediction.model)
        dataset = prediction.input_dataset
        original = read_table(
            storage.dataset_file(dataset.path), dataset.file_format, upload_limits()
        )
        dataset.row_count = len(original)  # a large workbook was only counted in the request
        return pipeline, original, match_columns(list(original.columns), PREDICTION_COLUMNS)

    run_scoring(prediction, load)


def _result_area(prediction: Prediction) -> str:
    return "dev/predictionResult" if prediction.developer_id else "user/predictionResult"


def run_scoring(prediction: Prediction, load: Callable[[], Loaded]) -> None:
    """Score, write the result files and the summary; any failure marks the row failed."""
    files: dict[str, str] = {}
    prediction_id = prediction.id  # read now: a broken session cannot load it in the handler
    try:
        lifecycle.start(prediction)
        pipeline, original, mapping = load()

        def progress(percent: int) -> None:
            prediction.progress = percent
            db.session.commit()

        stem = storage.new_dataset_path(_result_area(prediction), "csv").rsplit(".", 1)[0]
        files = {"csv": f"{stem}.csv"}
        if prediction.result_format == "xlsx":
            files["xlsx"] = f"{stem}.xlsx"
        drift = DriftMonitor.for_model(prediction.model, mapping)
        summary = score_to_files(
            pipeline,
            original,
            mapping,
            {fmt: storage.dataset_file(rel) for fmt, rel in files.items()},
            current_app.config["PREDICTION_CHUNK_ROWS"],
            progress,
            observers=(drift,),
        )
        drift.record(prediction)
        summary["files"] = files
        prediction.summary = summary
        prediction.result_path = files[prediction.result_format]
        prediction.row_count = summary["rows"]
        prediction.churn_count = summary["churn"]
        lifecycle.finish(prediction)
        db.session.commit()
    except DomainError as error:  # a model file altered since, a file that no longer reads
        lifecycle.mark_failed(prediction, str(error), _paths(files))
        return
    except Exception as error:  # the outer edge of scoring: logged, and the row says it failed
        log.exception("Prediction %s failed", prediction_id)
        lifecycle.mark_failed(prediction, lifecycle.failure_message(error), _paths(files))
        return
    render_charts(prediction)


def _paths(files: dict[str, str]) -> list[Path]:
    return [storage.dataset_file(relative) for relative in files.values()]


def render_charts(prediction: Prediction) -> None:
    """Draw the page's charts once, so the first visit does not wait for them.

    The prediction is done by now: a chart that cannot be drawn is logged and drawn again on
    the first visit, and never touches the row or its results.
    """
    try:
        charts.churn_distribution_png(prediction)
        charts.feature_importance_png(prediction.model)
    except Exception:
        log.exception("Charts of prediction %s could not be drawn", prediction.id)


def score_to_files(
    pipeline: Any,
    original: pd.DataFrame,
    mapping: dict[str, str],
    targets: Mapping[str, Path],
    chunk_rows: int,
    progress: ProgressCallback | None = None,
    observers: Sequence[ChunkObserver] = (),
) -> dict[str, Any]:
    """Score `original` chunk by chunk and write each result file atomically; return the summary.

    Memory stays bounded by the chunk: only the model inputs of one chunk exist at a time,
    and the result is streamed to disk as it is scored. Each of `observers` sees every chunk
    of the upload (the drift monitor counts its inputs).
    """
    chunk_rows = max(chunk_rows, 1)
    summary = SummaryBuilder(mapping)
    columns = kept_columns(original.columns)
    with ResultWriters(columns, targets, number_columns(original)) as writers:
        for start in range(0, len(original), chunk_rows):
            chunk = original.iloc[start : start + chunk_rows]
            probability = churn_probabilities(pipeline, chunk, mapping)
            summary.add(chunk, probability)
            writers.write(chunk, probability)
            for observer in observers:
                observer.add(chunk)
            if progress is not None and start + chunk_rows < len(original):
                progress(min(99, int(100 * (start + chunk_rows) / len(original))))
    return summary.result()
