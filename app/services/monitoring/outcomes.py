"""What really happened: outcome files for a past prediction, and its realised figures.

A developer or a user uploads a CSV or Excel file of customerID + Churn (Yes/No) for a finished
prediction they may see. It is read by the same rules as every upload (`uploads.stored_upload`,
`preprocessing.read_table`) and refused before anything is kept when it cannot be used. Outcomes
may arrive in several files: they add up, a later file's answer for a customer replacing an
earlier one. Rows whose Churn is blank (not known yet) or whose customerID is blank are skipped.

Joining the outcomes to the prediction's customers and measuring the realised AUC, accuracy,
precision and recall (of the churn class, at the threshold) is the `measure_outcomes` job; its
state and figures live on the prediction's row (`outcomes_status`, `outcomes`). The figures use
the probabilities of the result file exactly as it is downloaded.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from app.extensions import db
from app.schema import IN_PROGRESS, Dataset, Developer, Prediction, User, WorkStatus, utcnow
from app.services import jobs, storage, training
from app.services.database import lock_row
from app.services.errors import DomainError
from app.services.jobs import lifecycle
from app.services.prediction import PROBABILITY_COLUMN, prediction_for, result_file
from app.services.preprocessing import (
    ID_COLUMN,
    TARGET_COLUMN,
    InvalidUpload,
    coerce_target,
    match_columns,
    read_table,
)
from app.services.storage import datasets
from app.services.storage.uploads import Upload, stored_upload, upload_limits

log = logging.getLogger(__name__)

JOB_NAME = "measure_outcomes"
Account = Developer | User


class InvalidOutcomes(DomainError):
    """The outcomes cannot be taken now; the message says why."""


# Reading an outcome file -------------------------------------------------------------------------


def read_outcomes(table: pd.DataFrame) -> tuple[pd.Series, int]:
    """The file's outcome of each customer (1 = churned), the last row of a customerID winning,
    and how many rows were skipped (blank customerID or blank Churn). Raises InvalidUpload."""
    mapping = match_columns(list(table.columns), [ID_COLUMN, TARGET_COLUMN])
    ids = table[mapping[ID_COLUMN]].astype(str).str.strip()
    labels = table[mapping[TARGET_COLUMN]].astype(str).str.strip()
    usable = (ids != "") & (labels != "")
    if not usable.any():
        raise InvalidUpload(
            "The file has no row with both a customerID and an outcome (Churn = Yes or No)."
        )
    outcome = pd.Series(coerce_target(labels[usable]).to_numpy(), index=ids[usable].to_numpy())
    outcome = outcome[~outcome.index.duplicated(keep="last")]
    return outcome, int((~usable).sum())


def _outcome_area(account: Account) -> str:
    return f"{'dev' if account.role == 'developer' else 'user'}/uploadOutcomes"


def record_outcomes(account: Account, prediction_id: int, upload: Upload) -> Prediction:
    """Store and check an outcome file for a prediction `account` may see, and queue its
    measurement (commits). Refused before anything is kept when the file cannot be used."""
    prediction = prediction_for(account, prediction_id)
    if not prediction.is_done:
        raise InvalidOutcomes(
            "This prediction has no results yet; upload what happened once it is done.",
            field="file",
        )
    if prediction.outcomes_in_progress:
        raise InvalidOutcomes(
            "The previous outcome file is still being measured; upload this one in a moment.",
            field="file",
        )
    with stored_upload(upload, _outcome_area(account)) as stored:
        table = read_table(stored.path, stored.file_format, upload_limits())
        outcome, skipped = read_outcomes(table)
        dataset = datasets.record_dataset(
            account.company_id,
            "outcomes",
            f"Outcomes of “{prediction.name}”",
            stored.relative,
            row_count=len(table),
            column_count=len(table.columns),
            account=account,
            original_filename=stored.original_filename,
            sha256=stored.sha256,
        )
        db.session.flush()
        lock_row(Prediction, prediction.id)  # two files at once: neither is lost
        db.session.refresh(prediction)
        previous = prediction.outcomes or {}
        prediction.outcomes = {
            **previous,
            "dataset_ids": [*previous.get("dataset_ids", []), dataset.id],
            "new_dataset_id": dataset.id,
            "new_customers": int(len(outcome)),
            "new_skipped": skipped,
            "requested_at": utcnow().isoformat(),
            "error": None,
        }
        prediction.outcomes_status = WorkStatus.QUEUED
        db.session.commit()
    try:
        jobs.enqueue(JOB_NAME, prediction.id)
    except jobs.QueueUnavailable:
        log.exception("Could not queue the outcomes of prediction %s", prediction.id)
        _fail(prediction, "The measurement could not be queued; please upload the file again.")
    return prediction


# The job ---------------------------------------------------------------------------------------


def _fail(prediction: Prediction | None, message: str) -> None:
    if prediction is None:
        return
    prediction.outcomes_status = WorkStatus.FAILED
    prediction.outcomes = {**(prediction.outcomes or {}), "error": message}
    db.session.commit()


def _read_dataset_outcomes(dataset: Dataset) -> pd.Series:
    path = storage.dataset_file(dataset.path)
    table = read_table(path, dataset.file_format, upload_limits())
    return read_outcomes(table)[0]


def _scored_customers(prediction: Prediction) -> tuple[pd.Series, np.ndarray]:
    """The prediction's customerIDs (as uploaded) and probabilities (as downloaded), by row."""
    from pyarrow import csv as pa_csv

    source = prediction.input_dataset
    original = read_table(storage.dataset_file(source.path), source.file_format, upload_limits())
    ids = original[match_columns(list(original.columns), [ID_COLUMN])[ID_COLUMN]]
    result = pa_csv.read_csv(
        result_file(prediction, "csv").path,
        convert_options=pa_csv.ConvertOptions(include_columns=[PROBABILITY_COLUMN]),
    )
    probability = result.column(PROBABILITY_COLUMN).to_numpy().astype(float)
    if len(probability) != len(ids):
        raise InvalidOutcomes("The prediction's result file no longer matches its upload.")
    return ids.astype(str).str.strip().reset_index(drop=True), probability


def measure_outcomes(prediction_id: int) -> None:
    """The job: join every outcome file of the prediction to its customers and measure."""
    prediction = lifecycle.load_work(Prediction, prediction_id)
    if prediction is None or prediction.outcomes_status not in IN_PROGRESS:
        return
    prediction.outcomes_status = WorkStatus.RUNNING
    db.session.commit()
    try:
        prediction.outcomes = {**(prediction.outcomes or {}), **_measure(prediction)}
        prediction.outcomes_status = WorkStatus.DONE
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        _fail(db.session.get(Prediction, prediction_id), str(error))
    except Exception:  # the outer edge of the job: logged, and the row says it failed
        log.exception("Outcomes of prediction %s could not be measured", prediction_id)
        db.session.rollback()
        _fail(db.session.get(Prediction, prediction_id), lifecycle.UNEXPECTED)


def _measure(prediction: Prediction) -> dict[str, Any]:
    record = prediction.outcomes or {}
    ids, probability = _scored_customers(prediction)
    customers = set(ids) - {""}
    outcome = pd.Series(dtype=np.int8)
    for dataset_id in record.get("dataset_ids", []):
        dataset = db.session.get(Dataset, dataset_id)
        if dataset is None or dataset.company_id != prediction.company_id:
            continue
        found = _read_dataset_outcomes(dataset)
        if dataset_id == record.get("new_dataset_id") and not customers & set(found.index):
            _discard(prediction, dataset)
            raise InvalidOutcomes(
                f"None of the {len(found):,} customers in “{dataset.original_filename}” is in "
                "this prediction, so the file was not kept. Is it the outcome file of another "
                "prediction?"
            )
        outcome = pd.concat([outcome[~outcome.index.isin(found.index)], found])
    matched = ids.isin(outcome.index).to_numpy()
    actual = ids[matched].map(outcome).to_numpy(dtype=int)
    figures = training.figures(actual, probability[matched]) if matched.any() else None
    return {
        "matched": int(matched.sum()),
        "missing": int((~matched).sum()),
        "ignored": int((~outcome.index.isin(list(customers))).sum()),
        "figures": figures,
        "measured_at": utcnow().isoformat(timespec="seconds"),
        "error": None,
    }


def _discard(prediction: Prediction, dataset: Dataset) -> None:
    """Remove an outcome file that matched none of the prediction's customers (commits)."""
    record = dict(prediction.outcomes or {})
    record["dataset_ids"] = [i for i in record.get("dataset_ids", []) if i != dataset.id]
    record["new_dataset_id"] = None
    prediction.outcomes = record
    path = storage.dataset_file(dataset.path)
    db.session.delete(dataset)
    db.session.commit()
    storage.remove_quietly(path)
