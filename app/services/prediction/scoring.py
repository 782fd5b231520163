"""The scoring job: score an upload in bounded chunks, write the result files and the summary.

Small files are scored inside the request that uploaded them, large ones by the background job
`score_prediction`; both take the same path (`run_scoring`). Any failure marks the row failed and
removes its partial files (`lifecycle.mark_failed`). Charts are drawn after the row is done and
can never undo it.

Scoring takes two passes over the upload, which is in memory already. The first encodes each
slice once and computes from that one encoding its probabilities, reasons, input warnings and
expected values (`decisions.Decider`), a one-chunk file's slices side by side on every core
(`slices`), writing them to the row store in order. Ranks need every probability, so the second
pass writes the result files slice by slice from the upload and the row store, with each row's
risk rank. Memory stays bounded by the chunk, reasons included; only the probabilities and the
ranks (12 bytes a row) are held for the whole file.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from flask import current_app

from app.extensions import db
from app.schema import IN_PROGRESS, Company, Prediction, WorkStatus, utcnow
from app.services import charts, jobs, registry, storage
from app.services.decisions import SUBSTITUTION, Costs, Decider, company_costs, risk_ranks
from app.services.errors import DomainError
from app.services.jobs import lifecycle
from app.services.monitoring.drift import DriftMonitor
from app.services.prediction.results import (
    ResultWriters,
    added_columns,
    added_fields,
    kept_columns,
)
from app.services.prediction.rowstore import (
    RowStore,
    RowStoreWriter,
    row_store_paths,
    write_ranks,
)
from app.services.prediction.slices import chunks, plan, scored_slices
from app.services.prediction.summary import SummaryBuilder
from app.services.preprocessing import (
    ID_COLUMN,
    PREDICTION_COLUMNS,
    match_columns,
    number_columns,
    read_table,
)
from app.services.preprocessing.encoding import EncodedChunk
from app.services.storage.uploads import upload_limits

log = logging.getLogger(__name__)

JOB_NAME = "score_prediction"
REASONS_JOB_NAME = "add_reasons"  # services.prediction.late_reasons

ProgressCallback = Callable[[int], None]
Loaded = tuple[Any, pd.DataFrame, dict[str, str]]  # pipeline, upload, column mapping


class ChunkObserver(Protocol):
    def add(self, chunk: pd.DataFrame, encoded: EncodedChunk | None = None) -> None: ...


def score_prediction(prediction_id: int) -> None:
    """The background job: score a queued prediction, keeping its status on the row."""
    prediction = lifecycle.load_work(Prediction, prediction_id)
    if prediction is None or prediction.status not in IN_PROGRESS:
        return

    def load() -> Loaded:
        pipeline = registry.load_model_pipeline(prediction.model)
        dataset = prediction.input_dataset
        original = read_table(
            storage.dataset_file(dataset.path), dataset.file_format, upload_limits()
        )
        # A large upload was only counted in the request (a CSV's count may be over): now exact.
        dataset.row_count = prediction.row_count = len(original)
        return pipeline, original, match_columns(list(original.columns), PREDICTION_COLUMNS)

    run_scoring(prediction, load)


LOST = (
    "The scoring process stopped before it finished (it may have run out of memory). Nothing of "
    "it was kept: please try again, or split the file."
)


def scores_apart(prediction_id: int) -> bool:
    """Whether the job should run in a child process (`jobs.isolate`): a large prediction,
    whose memory the web process should not keep (a workbook's from fewer rows on).
    Ends its read transaction."""
    config = current_app.config
    threshold = config.get("PREDICTION_CHILD_ROWS") or 0
    prediction = db.session.get(Prediction, prediction_id)
    if threshold and prediction is not None and prediction.result_format == "xlsx":
        threshold = min(threshold, config.get("PREDICTION_CHILD_WORKBOOK_ROWS") or threshold)
    apart = bool(threshold) and prediction is not None and prediction.row_count >= threshold
    db.session.rollback()
    return apart


def child_lost(prediction_id: int) -> None:
    """The child scoring `prediction_id` died: the row is failed and what it wrote removed."""
    db.session.rollback()
    prediction = db.session.get(Prediction, prediction_id)
    if prediction is None or prediction.status not in IN_PROGRESS:
        return
    planned = [
        storage.dataset_file(rel)
        for rel in ((prediction.summary or {}).get("writing") or {}).values()
    ]
    partial = [p for path in planned for p in storage.partial_files(path)]
    lifecycle.mark_failed(prediction, LOST, [*planned, *partial])


def _result_area(prediction: Prediction) -> str:
    return "dev/predictionResult" if prediction.developer_id else "user/predictionResult"


def run_scoring(
    prediction: Prediction,
    load: Callable[[], Loaded],
    draw_charts: bool = True,
    reasons_budget: float | None = None,
) -> None:
    """Score, write the result files and the summary; any failure marks the row failed.

    A large file scored by a model whose reasons need substitution gets its result without
    reasons first; the reasons job (`late_reasons`) adds them afterwards. So does a file whose
    substitution is expected to take more than `reasons_budget` seconds (a request's budget,
    PREDICTION_REASONS_INLINE_SECONDS). A job draws the page's charts once it is done
    (`draw_charts`); a request leaves them to the page's own image requests, so its answer does
    not wait for them."""
    files: dict[str, str] = {}
    prediction_id = prediction.id  # read now: a broken session cannot load it in the handler
    later = False
    try:
        lifecycle.start(prediction)
        pipeline, original, mapping = load()

        def progress(percent: int) -> None:
            prediction.progress = percent
            db.session.commit()

        def planned(paths: dict[str, str]) -> None:
            prediction.summary = {"writing": paths}  # what to remove if this process dies
            db.session.commit()

        later = reasons_later(pipeline, prediction.model.details, len(original))
        drift = DriftMonitor.for_model(prediction.model, mapping)
        summary = score_into_new_files(
            prediction,
            (pipeline, original, mapping),
            files,
            planned,
            progress,
            with_reasons=not later,
            observers=(drift,),
            reasons_budget=reasons_budget,
        )
        later = bool(summary["reasons"].pop("deferred", False)) or later
        drift.record(prediction)
        if later:
            summary["reasons"].update(state=WorkStatus.QUEUED, touched_at=utcnow().isoformat())
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
    if draw_charts:
        render_charts(prediction)
    if later:
        _queue_reasons(prediction)


def reasons_later(pipeline: Any, details: Mapping[str, Any] | None, rows: int) -> bool:
    """Whether a file of `rows` rows gets its reasons after its result: above
    PREDICTION_REASONS_LATER_ROWS, when the model's reasons need substitution (only a linear
    model's are exact and cheap)."""
    threshold = current_app.config.get("PREDICTION_REASONS_LATER_ROWS") or 0
    if not threshold or rows <= threshold:
        return False
    return Decider(pipeline, details, None).method == SUBSTITUTION


def _queue_reasons(prediction: Prediction) -> None:
    try:
        jobs.enqueue(REASONS_JOB_NAME, prediction.id)
    except jobs.QueueUnavailable:
        log.exception("Could not queue the reasons of prediction %s", prediction.id)
        summary = dict(prediction.summary or {})
        summary["reasons"] = {
            **(summary.get("reasons") or {}),
            "state": WorkStatus.FAILED,
            "error": "The reasons could not be queued: the background job queue is down.",
        }
        prediction.summary = summary
        db.session.commit()


def score_into_new_files(
    prediction: Prediction,
    loaded: Loaded,
    files: dict[str, str],
    planned: Callable[[dict[str, str]], None],
    progress: ProgressCallback,
    with_reasons: bool = True,
    observers: Sequence[ChunkObserver] = (),
    reasons_budget: float | None = None,
) -> dict[str, Any]:
    """Score the prediction's upload into new result files and a new row store; return the
    summary. `files` is filled with their paths first (and `planned` told) so a failure can
    remove them."""
    pipeline, original, mapping = loaded
    stem = storage.new_dataset_path(_result_area(prediction), "csv").rsplit(".", 1)[0]
    downloads = {"csv": f"{stem}.csv"}
    if prediction.result_format == "xlsx":
        downloads["xlsx"] = f"{stem}.xlsx"
    stored = row_store_paths(stem)
    files.update(downloads, **stored)
    planned(dict(files))
    company = db.session.get(Company, prediction.company_id)
    summary = score_to_files(
        pipeline,
        original,
        mapping,
        {name: storage.dataset_file(rel) for name, rel in files.items()},
        current_app.config["PREDICTION_CHUNK_ROWS"],
        progress,
        details=prediction.model.details,
        costs=company_costs(company) if company is not None else None,
        observers=observers,
        with_reasons=with_reasons,
        reasons_budget=reasons_budget,
    )
    summary["files"] = downloads
    summary["row_store"] = stored
    return summary


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
        if (prediction.summary or {}).get("campaign"):
            charts.profit_curve_png(prediction)
    except Exception:
        log.exception("Charts of prediction %s could not be drawn", prediction.id)


# Share of the progress bar taken by the first pass (scoring, reasons); the rest is writing.
FIRST_PASS_SHARE = 80


def score_to_files(
    pipeline: Any,
    original: pd.DataFrame,
    mapping: dict[str, str],
    targets: Mapping[str, Path],
    chunk_rows: int,
    progress: ProgressCallback | None = None,
    details: Mapping[str, Any] | None = None,
    costs: Costs | None = None,
    observers: Sequence[ChunkObserver] = (),
    with_reasons: bool = True,
    reasons_budget: float | None = None,
) -> dict[str, Any]:
    """Score `original` chunk by chunk and write each file of `targets` atomically ("csv", and
    "xlsx" for Excel uploads: the result; "table", "ranks", "order": the row store); return the
    summary. `details` are the model's stored details (its baseline), `costs` the company's.
    Each of `observers` sees every chunk of the upload (the drift monitor counts its inputs).
    Without `with_reasons` the reason columns are left empty (they are added later), and so
    they are when they are expected to take more than `reasons_budget` seconds (the summary's
    `reasons` then says `deferred`).
    """
    rows = len(original)
    decider = Decider(pipeline, details, costs, with_reasons, reasons_budget, rows=rows)
    # Both passes go slice by slice; the first scores a one-chunk file's slices side by side.
    part_rows, threads = plan(rows, chunk_rows)
    summary = SummaryBuilder(mapping)
    probability = np.empty(rows, dtype=np.float64)

    def report(done: int, first_pass: bool) -> None:
        if progress is not None and done < rows:
            share = FIRST_PASS_SHARE if first_pass else 100 - FIRST_PASS_SHARE
            offset = 0 if first_pass else FIRST_PASS_SHARE
            progress(min(99, offset + int(share * done / rows)))

    with contextlib.ExitStack() as files:
        if not {"table", "ranks", "order"} <= set(targets):  # no row store wanted: a scratch one
            scratch = Path(files.enter_context(tempfile.TemporaryDirectory(prefix="rows-")))
            targets = {**targets, **{n: scratch / n for n in ("table", "ranks", "order")}}
        table, ranks_path, order_path = (
            files.enter_context(storage.atomic_path(targets[name]))
            for name in ("table", "ranks", "order")
        )
        writer = RowStoreWriter(table)
        try:
            for part in scored_slices(pipeline, decider, original, mapping, part_rows, threads):
                start, chunk, scored = part.start, part.chunk, part.probability
                probability[start : start + len(scored)] = scored
                summary.add(chunk, scored, part.columns)
                writer.write(chunk[mapping[ID_COLUMN]], scored, part.columns)
                for observer in observers:
                    observer.add(chunk, part.encoded)
                report(start + len(scored), first_pass=True)
        finally:
            writer.close()
        ranks, order = risk_ranks(probability)
        write_ranks(ranks_path, ranks)
        write_ranks(order_path, order)
        store = RowStore(table, ranks_path, order_path)
        results = {name: path for name, path in targets.items() if name in ("csv", "xlsx")}
        fields = added_fields(with_costs=costs is not None)
        kept = kept_columns(original.columns)
        with ResultWriters(kept, fields, results, number_columns(original), rows) as writers:
            for index, (start, chunk) in enumerate(chunks(original, part_rows)):
                stop = start + len(chunk)
                writers.write(chunk, added_columns(store.batch(index), ranks[start:stop], fields))
                report(stop, first_pass=False)
    result = summary.result(costs, probability)
    result["reasons"] = {
        "method": decider.method,
        "baseline": decider.baseline.source if decider.baseline is not None else None,
    }
    if decider.deferred:
        result["reasons"]["deferred"] = True
    return result
