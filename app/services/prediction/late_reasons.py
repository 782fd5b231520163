"""Reasons added after the result: the job `add_reasons`.

A model whose reasons need substitution (every model but a linear one) scores each row again
once per input, which costs many times the scoring itself. So a file of more than
PREDICTION_REASONS_LATER_ROWS rows gets its result first, complete but for the Reason columns
(probabilities, risk ranks, input warnings, expected values): it is on screen and downloadable
at once, and its summary's `reasons` says `state: queued`. This job then scores the upload again
with reasons into new result files and a new row store, and swaps them in with one commit; the
files it replaced are left to the sweep, which removes them once no request can still be
reading them.

Its state lives in `summary["reasons"]` (state, progress, touched_at, error, writing); a job
not heard from for MEASURING_TIMEOUT is shown as stopped (`Prediction.reasons_stalled`). A
failure keeps the result as it was, without reasons, and says why.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app

from app.extensions import db
from app.schema import IN_PROGRESS, Prediction, WorkStatus, utcnow
from app.services import registry, storage
from app.services.errors import DomainError
from app.services.jobs import lifecycle
from app.services.prediction.scoring import REASONS_JOB_NAME, score_into_new_files
from app.services.preprocessing import PREDICTION_COLUMNS, match_columns, read_table
from app.services.storage.uploads import upload_limits

log = logging.getLogger(__name__)

JOB_NAME = REASONS_JOB_NAME
LOST = "The process adding the reasons stopped before it finished; the result has none."


def _update(prediction: Prediction, **changes: Any) -> None:
    """Change the reasons' state on the row and commit (a JSON column: assigned anew)."""
    summary = dict(prediction.summary or {})
    summary["reasons"] = {
        **(summary.get("reasons") or {}),
        **changes,
        "touched_at": utcnow().isoformat(),
    }
    prediction.summary = summary
    db.session.commit()


def add_reasons(prediction_id: int) -> None:
    """The job: score a done prediction's upload again, with reasons, and swap in its files."""
    prediction = lifecycle.load_work(Prediction, prediction_id)
    if prediction is None or not prediction.is_done:
        return
    if prediction.late_reasons.get("state") not in IN_PROGRESS:
        return
    files: dict[str, str] = {}
    try:
        _update(prediction, state=WorkStatus.RUNNING, progress=0)
        pipeline = registry.load_model_pipeline(prediction.model)
        dataset = prediction.input_dataset
        original = read_table(
            storage.dataset_file(dataset.path), dataset.file_format, upload_limits()
        )
        mapping = match_columns(list(original.columns), PREDICTION_COLUMNS)
        earlier = prediction.summary or {}
        summary = score_into_new_files(
            prediction,
            (pipeline, original, mapping),
            files,
            lambda paths: _update(prediction, writing=paths),
            lambda percent: _update(prediction, progress=percent),
        )
        summary["reasons"] = {
            **summary["reasons"],
            "state": WorkStatus.DONE,
            "added_at": utcnow().isoformat(),
            "result_at": (earlier.get("reasons") or {}).get("touched_at"),
        }
        db.session.refresh(prediction)
        prediction.summary = summary
        prediction.result_path = files[prediction.result_format]
        db.session.commit()
    except DomainError as error:  # the model file altered since, the upload no longer reads
        _fail(prediction_id, str(error), files)
    except Exception as error:  # the outer edge of the job: logged, and the page says it failed
        log.exception("Reasons of prediction %s could not be added", prediction_id)
        _fail(prediction_id, lifecycle.failure_message(error), files)


def _fail(prediction_id: int, message: str, files: dict[str, str]) -> None:
    """The result stays as it was, without reasons; what this run wrote is removed."""
    db.session.rollback()
    for relative in files.values():
        path = storage.dataset_file(relative)
        storage.remove_quietly(path, *storage.partial_files(path))
    prediction = db.session.get(Prediction, prediction_id)
    if prediction is not None and prediction.late_reasons:
        _update(prediction, state=WorkStatus.FAILED, error=message, writing=None)


def reasons_apart(prediction_id: int) -> bool:
    """Whether the job runs in a child process (`jobs.isolate`): always, when children are
    used at all (PREDICTION_CHILD_ROWS set). The job is long, and the memory of substitution
    on both cores is what the web process would otherwise keep. Ends its read transaction."""
    db.session.rollback()
    return bool(current_app.config.get("PREDICTION_CHILD_ROWS"))


def child_lost(prediction_id: int) -> None:
    """The child process adding the reasons died: say so, and remove what it wrote."""
    db.session.rollback()
    prediction = db.session.get(Prediction, prediction_id)
    if prediction is None or prediction.late_reasons.get("state") not in IN_PROGRESS:
        return
    _fail(prediction_id, LOST, prediction.late_reasons.get("writing") or {})
