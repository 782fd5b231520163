"""Neural-network retraining: validate the upload, then combine, train, save and register in a job.

This package: the runs (here) and `lineage` (combined data sets and the uploads that fed them).

A run is a `Model` row from the moment it is queued (the lifecycle of queued work: queued →
running → done | failed, with its current step and percent), so its page can show it and a
restart can repair it. It gets its version number (v2, v3, …; the default network is v1) and its
file only when it succeeds. Nothing of a failed run is left registered or half-written: its model
files and its combined data set are removed, and the row keeps the reason as the run's record,
without a version.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.schema import Company, Dataset, Developer, Model, WorkStatus, utcnow
from app.services import registry, storage, training
from app.services.catalog import NETWORK_KIND
from app.services.database import model_type_by_key
from app.services.errors import DomainError, NotFound
from app.services.jobs import lifecycle
from app.services.monitoring import holdout
from app.services.preprocessing import InvalidUpload, PreparedData, load_upload
from app.services.retraining import lineage
from app.services.storage import datasets
from app.services.storage.uploads import Upload, stored_upload, upload_limits

log = logging.getLogger(__name__)

UPLOAD_AREA = "dev/uploadToRetrain"
JOB_NAME = "retrain_model"


class RetrainError(DomainError):
    """A retrain cannot go on; the message is shown on the run's page."""


class RunNotFound(NotFound):
    """No retrain run with that id belongs to the company."""


def check_classes(prepared: PreparedData) -> None:
    """Refuse an upload without enough churned and staying customers to learn from."""
    minimum = current_app.config["RETRAIN_MIN_ROWS_PER_CLASS"]
    assert prepared.target is not None
    churned = int(prepared.target.sum())
    stayed = int(len(prepared.target) - churned)
    if churned < minimum or stayed < minimum:
        raise InvalidUpload(
            f"The file needs at least {minimum} customers who churned (Churn = Yes) and "
            f"{minimum} who stayed (Churn = No); it has {churned:,} and {stayed:,}."
        )


# Starting a run (web request) ------------------------------------------------------------------


def start_retrain(developer: Developer, name: str, upload: Upload) -> Model:
    """Validate and store the upload, create the run's row and queue the job.

    Raises InvalidUpload before anything is kept when the file cannot be used."""
    with stored_upload(upload, UPLOAD_AREA) as stored:
        prepared = load_upload(
            stored.path, stored.file_format, require_target=True, limits=upload_limits()
        )
        check_classes(prepared)
        dataset = datasets.record_dataset(
            developer.company_id,
            "retrain_upload",
            f"Retrain upload: {name}",
            stored.relative,
            row_count=prepared.row_count,
            column_count=len(prepared.original.columns),
            account=developer,
            original_filename=stored.original_filename,
            sha256=stored.sha256,
        )
        db.session.flush()
        run = Model(
            company_id=developer.company_id,
            model_type=model_type_by_key(NETWORK_KIND),
            name=name,
            version=None,
            is_default=False,
            status=WorkStatus.QUEUED,
            status_step="Waiting for a worker",
            progress=0,
            trained_by_developer_id=developer.id,
            details={"upload_dataset_id": dataset.id},
        )
        db.session.add(run)
        db.session.commit()
    return lifecycle.queue_job(run, JOB_NAME)  # fails the run with a message if need be


# Reading runs (pages) ----------------------------------------------------------------------------


def runs_for(company_id: int) -> list[Model]:
    """The company's retrain runs, newest first (default models are not runs)."""
    network = model_type_by_key(NETWORK_KIND)
    return list(
        db.session.scalars(
            select(Model)
            .filter_by(company_id=company_id, model_type_id=network.id, is_default=False)
            .order_by(Model.created_at.desc(), Model.id.desc())
        )
    )


def run_for(developer: Developer, run_id: int) -> Model:
    run = db.session.get(Model, run_id)
    if run is None or run.company_id != developer.company_id or run.is_default:
        raise RunNotFound("There is no such retrain run.")
    return run


def upload_of(run: Model) -> Dataset | None:
    dataset_id = (run.details or {}).get("upload_dataset_id")
    return db.session.get(Dataset, dataset_id) if dataset_id else None


def next_version(company_id: int) -> int:
    network = model_type_by_key(NETWORK_KIND)
    highest = db.session.scalar(
        select(func.max(Model.version)).filter_by(company_id=company_id, model_type_id=network.id)
    )
    return (highest or 1) + 1


# The job -----------------------------------------------------------------------------------------


def _set_step(run: Model, step: str, percent: int) -> None:
    run.status_step = step
    run.progress = max(0, min(100, percent))
    db.session.commit()


def retrain_model(run_id: int) -> None:
    """Combine, train, evaluate, save and register one run (the job's body)."""
    run = lifecycle.load_work(Model, run_id)
    if run is None or run.status != WorkStatus.QUEUED:
        log.warning("Retrain run %s is not waiting (status %s)", run_id, run and run.status)
        return
    run.started_at = utcnow()
    run.status_step = "Combining data sets"
    lifecycle.start(run, progress=5)
    combined: Dataset | None = None
    written: list[Path] = []
    try:
        combined = _combine(run)
        registered = _train_and_register(run, combined, written)
        log.info("Retrain run %s registered as v%s", run_id, registered.version)
    except Exception as error:  # every failure leaves nothing registered, then says why
        if not isinstance(error, DomainError):
            log.exception("Retrain run %s failed", run_id)
        if isinstance(error, DomainError):
            reason = str(error)
        elif storage.is_out_of_space(error):
            reason = storage.OUT_OF_SPACE
        else:
            reason = f"Training failed: {error}"
        lifecycle.mark_failed(run, reason or "Training failed.", written)
        lineage.discard(combined)


def _combine(run: Model) -> Dataset:
    company = db.session.get(Company, run.company_id)
    upload = upload_of(run)
    if company is None or upload is None:
        raise RetrainError("The uploaded file of this run is missing.")
    base = lineage.latest_dataset(company)
    combined = lineage.combine(base, upload, name=f"Combined for “{run.name}”")
    # Linked at once, so a run killed mid-way leaves its data set findable (the sweep removes it).
    run.training_dataset_id = combined.id
    db.session.commit()
    _set_step(run, "Combining data sets", 15)
    return combined


def _train_and_register(run: Model, combined: Dataset, written: list[Path]) -> Model:
    prepared = load_upload(
        storage.dataset_file(combined.path), "csv", require_target=True, limits=upload_limits()
    )

    def progress(step: str, percent: int) -> None:  # training's 0–100 maps onto 15–85
        _set_step(run, step, 15 + percent * 70 // 100)

    assert prepared.target is not None  # require_target=True
    _set_step(run, "Training", 20)
    held_out = holdout.holdout_mask(prepared.customer_ids)
    _check_both_sides(prepared, held_out)
    result = training.train(
        training.build_retrain_pipeline(),
        run.model_type.name,
        prepared.features,
        prepared.target,
        progress,
        held_out=held_out,
    )
    _set_step(run, "Saving", 90)
    company = db.session.get(Company, run.company_id)
    if company is None:
        raise RetrainError("The company of this run no longer exists.")
    version = next_version(company.id)
    model_relative = storage.retrained_model_path(company.public_id, version)
    model_path = storage.model_file(model_relative)
    metadata_path = storage.model_file(
        storage.retrained_model_path(company.public_id, version, metadata=True)
    )
    written.extend([model_path, metadata_path])
    result.metadata["version"] = version
    result.metadata["training_dataset"] = combined.path
    digest = training.save_model(result, model_path, metadata_path).sha256
    run.version = version
    run.file_path = model_relative
    run.file_sha256 = digest
    run.sklearn_version = result.metadata.get("sklearn_version")
    run.training_rows = result.metadata.get("training_rows")
    run.training_dataset_id = combined.id
    run.details = {
        **(run.details or {}),
        **registry.details_from_metadata(result.metadata),
        "holdout_safe": True,  # trained on none of the common holdout's customers
    }
    registry.save_metrics(run, result.metadata)
    run.status_step = "Done"
    lifecycle.finish(run)
    db.session.commit()
    _measure_later(run.company_id)
    return run


def _check_both_sides(prepared: PreparedData, held_out: np.ndarray) -> None:
    """Refuse a run whose training rows or holdout rows lack churned or staying customers."""
    assert prepared.target is not None
    target = prepared.target.to_numpy()
    sides = (
        (~held_out, "outside the common holdout (the customers it trains on)"),
        (held_out, "in the common holdout (the customers it is measured on)"),
    )
    for rows, where in sides:
        churned = int(target[rows].sum())
        if churned == 0 or churned == int(rows.sum()):
            kind = "churned" if churned == 0 else "staying"
            raise RetrainError(
                f"The combined data has no {kind} customers {where}; "
                "add customers who churned and who stayed, and try again."
            )


def _measure_later(company_id: int) -> None:
    """Queue the common-holdout measurement of every model (the holdout just grew).

    The run is done by now: a queue that is down is handled by `request_measurement` (the
    models' measurement fails with a message), and a database error here is logged and leaves
    the run as it is; the compare page asks for the measurement again."""
    try:
        holdout.request_measurement(company_id)
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("Could not ask for the holdout measurement of company %s", company_id)
