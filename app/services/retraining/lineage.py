"""Data set lineage: each retrain's training data is the company's latest data plus an upload.

The first retrain combines the original data set with the upload; each later one combines the
latest combined data set with the next upload. A customerID that repeats keeps its newest row:
upload rows replace base rows with the same customerID, and within one upload the last occurrence
wins. Rows with a blank customerID cannot be matched, so they are all kept.

A combined file holds exactly the canonical columns (customerID, the 16 features, Churn) under
their canonical names, in that order: extra columns of an upload are dropped, because every data
set in a lineage must have the same columns to be combined again. Cells keep the text they were
uploaded with, except Churn, which is written as Yes/No.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import inspect, select, update

from app.extensions import db
from app.schema import Company, Dataset, Model, WorkStatus
from app.services import storage
from app.services.errors import DomainError
from app.services.preprocessing import (
    ID_COLUMN,
    RETRAINING_COLUMNS,
    TARGET_COLUMN,
    PreparedData,
    load_upload,
    match_columns,
)
from app.services.storage import datasets

COMBINED_AREA = "dev/combinedDataset"


class LineageError(DomainError):
    """The company's lineage cannot be continued; the message says why."""


@dataclass(frozen=True)
class CombineCounts:
    base_rows_used: int
    upload_rows_used: int
    replaced_rows: int

    @property
    def row_count(self) -> int:
        return self.base_rows_used + self.upload_rows_used


def latest_dataset(company: Company) -> Dataset:
    """The newest combined data set of `company` that a registered version was trained on, or
    its original data set the first time.

    Only successful runs continue the lineage, so data from a run that failed or was killed
    mid-way never becomes the base of the next retrain."""
    combined = db.session.scalars(
        select(Dataset)
        .join(Model, Model.training_dataset_id == Dataset.id)
        .where(
            Dataset.company_id == company.id,
            Dataset.kind == "combined",
            Model.status == WorkStatus.DONE,
        )
        .order_by(Dataset.id.desc())
        .limit(1)
    ).first()
    if combined is not None:
        return combined
    original = db.session.scalars(
        select(Dataset).filter_by(company_id=company.id, kind="original").limit(1)
    ).first()
    if original is None:
        raise LineageError(
            "Your company has no original data set yet, so there is nothing to retrain on. "
            "Ask the operator to run `make models`."
        )
    return original


def canonical_frame(prepared: PreparedData) -> pd.DataFrame:
    """The upload's canonical columns under their canonical names, Churn as Yes/No."""
    mapping = match_columns(list(prepared.original.columns), RETRAINING_COLUMNS)
    frame = prepared.original[[mapping[name] for name in RETRAINING_COLUMNS]].copy()
    frame.columns = RETRAINING_COLUMNS
    frame[ID_COLUMN] = prepared.customer_ids
    if prepared.target is not None:
        frame[TARGET_COLUMN] = prepared.target.map({1: "Yes", 0: "No"})
    return frame.reset_index(drop=True)


def _newest_per_id(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep the last row of each non-blank customerID (blank IDs cannot repeat)."""
    ids = frame[ID_COLUMN]
    repeated = ids.ne("") & ids.duplicated(keep="last")
    return frame[~repeated]


def merge_frames(base: pd.DataFrame, upload: pd.DataFrame) -> tuple[pd.DataFrame, CombineCounts]:
    """Base rows not replaced by the upload, then the upload's rows (newest per customerID)."""
    upload = _newest_per_id(upload)
    base = _newest_per_id(base)
    upload_ids = set(upload[ID_COLUMN]) - {""}
    replaced = base[ID_COLUMN].isin(upload_ids)
    kept = base[~replaced]
    combined = pd.concat([kept, upload], ignore_index=True)
    counts = CombineCounts(
        base_rows_used=len(kept), upload_rows_used=len(upload), replaced_rows=int(replaced.sum())
    )
    return combined, counts


def _read(dataset: Dataset) -> pd.DataFrame:
    path = storage.dataset_file(dataset.path)
    if not path.exists():
        raise LineageError(f"The data set “{dataset.name}” is missing from storage.")
    return canonical_frame(load_upload(path, dataset.file_format, require_target=True))


def combine(base: Dataset, upload: Dataset, name: str | None = None) -> Dataset:
    """Write base + upload as a new combined data set and add its row (flushed, not committed).

    The caller owns the transaction; if it fails later it must remove the file (see
    `discard`)."""
    frame, counts = merge_frames(_read(base), _read(upload))
    relative = storage.new_dataset_path(COMBINED_AREA, "csv")
    target = storage.dataset_file(relative)
    with storage.atomic_path(target) as tmp:
        frame.to_csv(tmp, index=False, quoting=csv.QUOTE_MINIMAL)
    with storage.removed_on_failure(target):
        dataset = datasets.record_dataset(
            base.company_id,
            "combined",
            name or f"Combined data set ({counts.row_count:,} rows)",
            relative,
            row_count=counts.row_count,
            column_count=len(frame.columns),
            base_dataset_id=base.id,
            upload_dataset_id=upload.id,
            base_rows_used=counts.base_rows_used,
            upload_rows_used=counts.upload_rows_used,
            replaced_rows=counts.replaced_rows,
        )
        dataset.uploaded_by_developer_id = upload.uploaded_by_developer_id
        db.session.flush()
    return dataset


def discard(dataset: Dataset | None) -> None:
    """Remove a combined data set created by a run that failed: its file and its row (the
    failed runs that point at it forget it)."""
    if dataset is None:
        return
    path = storage.dataset_file(dataset.path)
    dataset_id = inspect(dataset).identity
    row = db.session.get(Dataset, dataset_id) if dataset_id is not None else None
    if row is not None:
        db.session.execute(
            update(Model)
            .where(Model.training_dataset_id == row.id, Model.status != WorkStatus.DONE)
            .values(training_dataset_id=None)
            .execution_options(synchronize_session="fetch")
        )
        db.session.delete(row)
        db.session.commit()
    storage.remove_quietly(path)
