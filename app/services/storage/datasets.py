"""Data set rows: the one way a file under `datasets/` is recorded, and the data sets page.

Every data file the app keeps (the original data set's copy, uploads, combined data sets) gets
its row through `record_dataset`, with its size and checksum read from the stored file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from app.extensions import db
from app.schema import Dataset, Developer, Model, User, WorkStatus
from app.services import storage
from app.services.errors import NotFound

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


def datasets_page(company_id: int, page: int, per_page: int | None = None, kind: str | None = None):
    """One page of the company's data sets, newest first (of `kind` when given, a key of
    KIND_LABELS), each combined one with its lineage; a page past the end shows the last."""
    statement = select(Dataset).filter_by(company_id=company_id).order_by(Dataset.id.desc())
    if kind in KIND_LABELS:
        statement = statement.filter_by(kind=kind)
    per_page = per_page or current_app.config["HISTORY_PAGE_SIZE"]
    pagination = db.paginate(statement, page=page, per_page=per_page, error_out=False)
    if pagination.total and pagination.page > pagination.pages:
        pagination = db.paginate(statement, page=pagination.pages, per_page=per_page)
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


class DatasetNotFound(NotFound):
    """No such data set in the viewer's company."""


def company_dataset(company_id: int, dataset_id: int) -> Dataset:
    """A data set of the company whose file is still stored (else DatasetNotFound: never
    another company's)."""
    dataset = db.session.get(Dataset, dataset_id)
    if dataset is None or dataset.company_id != company_id:
        raise DatasetNotFound("There is no such data set in your company.")
    if not storage.dataset_file(dataset.path).is_file():
        raise DatasetNotFound("This data set's file is no longer stored.")
    return dataset


def download_name(dataset: Dataset) -> str:
    """The name a download of `dataset` is saved under: the uploaded name, else its own."""
    stem = (dataset.original_filename or dataset.name).rsplit(".", 1)[0] or f"dataset-{dataset.id}"
    safe = "".join(c if c.isalnum() or c in " -_." else "_" for c in stem).strip() or "dataset"
    return f"{safe}.{dataset.file_format}"


def kind_counts(company_id: int) -> list[tuple[str, str, int]]:
    """(kind, label, how many) of each kind the company has, in KIND_LABELS' order."""
    counts = dict(
        db.session.execute(
            select(Dataset.kind, func.count(Dataset.id))
            .where(Dataset.company_id == company_id)
            .group_by(Dataset.kind)
        ).all()
    )
    return [(kind, label, counts[kind]) for kind, label in KIND_LABELS.items() if kind in counts]


@dataclass
class LineageStep:
    """One combination: `base` plus `upload` gave `combined`."""

    base: Dataset | None
    upload: Dataset | None
    combined: Dataset


def lineage_steps(company_id: int) -> list[LineageStep]:
    """Every combined data set of the company, oldest first, with the two it came from."""
    combined = db.session.scalars(
        select(Dataset).filter_by(company_id=company_id, kind="combined").order_by(Dataset.id)
    )
    return [LineageStep(d.base_dataset, d.upload_dataset, d) for d in combined]
