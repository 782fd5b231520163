"""Data set rows: the one way a file under `datasets/` is recorded, and the data sets page.

Every data file the app keeps (the original data set's copy, uploads, combined data sets) gets
its row through `record_dataset`, with its size and checksum read from the stored file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.schema import Dataset, Developer, Model, User, WorkStatus
from app.services import storage

KIND_LABELS = {
    "original": "Original",
    "retrain_upload": "Retrain upload",
    "combined": "Combined",
    "predict_upload": "Prediction input",
    "outcomes": "Outcomes",
}


def record_dataset(
    company_id: int,
    kind: str,
    name: str,
    relative: str,
    *,
    row_count: int,
    column_count: int,
    account: Developer | User | None = None,
    original_filename: str | None = None,
    sha256: str | None = None,
    dataset: Dataset | None = None,
    **lineage: Any,
) -> Dataset:
    """Add (or refresh `dataset`) the row of the stored file `relative` (added, not committed).

    `lineage` takes the combined data sets' fields (base_dataset_id, upload_dataset_id, …).
    """
    if kind not in KIND_LABELS:
        raise ValueError(f"Unknown data set kind {kind!r}.")
    path = storage.dataset_file(relative)
    dataset = dataset or Dataset(company_id=company_id, kind=kind)
    dataset.name = name
    dataset.path = relative
    dataset.original_filename = original_filename
    dataset.file_format = relative.rsplit(".", 1)[-1]
    dataset.row_count = row_count
    dataset.column_count = column_count
    dataset.size_bytes = path.stat().st_size
    dataset.sha256 = sha256 or storage.sha256_of(path)
    dataset.uploaded_by_developer_id = (
        account.id if account is not None and account.role == "developer" else None
    )
    dataset.uploaded_by_user_id = (
        account.id if account is not None and account.role == "user" else None
    )
    for key, value in lineage.items():
        setattr(dataset, key, value)
    db.session.add(dataset)
    return dataset


def lineage_chain(dataset: Dataset) -> list[Dataset]:
    """The data sets from the original to `dataset`, oldest first."""
    chain = [dataset]
    seen = {dataset.id}
    current = dataset
    while current.base_dataset_id is not None:
        parent = db.session.get(Dataset, current.base_dataset_id)
        if parent is None or parent.id in seen:  # a broken or looping chain ends here
            break
        seen.add(parent.id)
        chain.append(parent)
        current = parent
    return list(reversed(chain))


@dataclass
class DatasetRow:
    dataset: Dataset
    kind_label: str
    chain: list[Dataset]  # original → … → this one, for combined data sets; else empty
    used_by: list[str]  # labels of the registered versions trained on it


def datasets_page(company_id: int, page: int, per_page: int | None = None):
    """One page of the company's data sets, newest first, each combined one with its lineage."""
    pagination = db.paginate(
        select(Dataset).filter_by(company_id=company_id).order_by(Dataset.id.desc()),
        page=page,
        per_page=per_page or current_app.config["HISTORY_PAGE_SIZE"],
        error_out=False,
    )
    ids = [dataset.id for dataset in pagination.items]
    used: dict[int, list[str]] = {}
    for model in db.session.scalars(
        select(Model).where(Model.training_dataset_id.in_(ids), Model.status == WorkStatus.DONE)
    ):
        if model.training_dataset_id is not None:
            used.setdefault(model.training_dataset_id, []).append(model.label)
    rows = [
        DatasetRow(
            dataset=dataset,
            kind_label=KIND_LABELS.get(dataset.kind, dataset.kind),
            chain=lineage_chain(dataset) if dataset.kind == "combined" else [],
            used_by=used.get(dataset.id, []),
        )
        for dataset in pagination.items
    ]
    return pagination, rows
