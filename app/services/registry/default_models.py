"""The default model files: trained once per installation into `models/default_models/` from
DatasetA.csv, retrained when missing or outdated, and trusted only through the checksums the
app recorded in the folder's signed manifest."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from app.services import storage, training
from app.services.catalog import MODEL_KINDS
from app.services.preprocessing import load_upload

log = logging.getLogger(__name__)

# What a default model's metadata must record beyond the original format: the customers of its
# 80/20 split (the common holdout keeps its held-out 20% and never holds out the other 80%) and
# the training inputs' distribution (drift checks).
RECORDED_AT_TRAINING = {"split_customers", "training_profile"}


@dataclass
class DefaultModelStatus:
    kind: str
    name: str
    trained: bool  # trained by this call (False: an up-to-date file was already there)
    metrics: dict[str, float]


# Default model files -------------------------------------------------------------------------


def default_model_paths(kind: str) -> tuple[Path, Path]:
    return (
        storage.model_file(storage.default_model_path(kind)),
        storage.model_file(storage.default_model_path(kind, metadata=True)),
    )


def recorded_default_checksums(kind: str) -> tuple[str | None, str | None]:
    """The SHA-256 of the default model file of `kind` and of its metadata, as the app recorded
    them when it wrote the files (the folder's signed manifest); None where nothing is."""
    recorded = training.recorded_checksums(storage.default_models_folder())
    model_path, metadata_path = default_model_paths(kind)
    return recorded.get(model_path.name), recorded.get(metadata_path.name)


def default_model_state(kind: str) -> str:
    """Why the default model of `kind` must be (re)trained, or "current" when it need not be.

    Nothing is unpickled before its checksum matches the signed record."""
    model_path, metadata_path = default_model_paths(kind)
    if not (model_path.exists() and metadata_path.exists()):
        return "missing"
    model_sha, metadata_sha = recorded_default_checksums(kind)
    if not (model_sha and metadata_sha):
        return "not recorded by this installation"
    if storage.sha256_of(metadata_path) != metadata_sha:
        return "metadata does not match its recorded SHA-256"
    if storage.sha256_of(model_path) != model_sha:
        return "file does not match its recorded SHA-256"
    try:
        metadata = training.load_metadata(metadata_path, metadata_sha)
    except training.ModelIntegrityError:
        log.warning("Unreadable metadata %s; the model will be retrained", metadata_path)
        return "unreadable metadata"
    recorded = metadata.get("sklearn_version")
    if recorded != training.SKLEARN_VERSION:
        return f"scikit-learn changed ({recorded} → {training.SKLEARN_VERSION})"
    if not set(metadata) >= RECORDED_AT_TRAINING:
        return "trained before its split and drift statistics were recorded"
    if not set(metadata) >= training.RECORDED_KEYS:
        return "trained before its baseline and calibration were recorded"
    return "current"


def default_model_is_current(kind: str) -> bool:
    """True when both files match their signed record and sklearn is the same."""
    return default_model_state(kind) == "current"


def default_model_metadata(kind: str) -> dict[str, Any]:
    """The metadata of the default model of `kind`, checked against its recorded SHA-256."""
    _, metadata_sha = recorded_default_checksums(kind)
    return training.load_metadata(default_model_paths(kind)[1], metadata_sha)


def default_model_checksum(kind: str) -> str:
    """The SHA-256 the app recorded for the default model file of `kind` (never one read from
    its metadata)."""
    model_sha, _ = recorded_default_checksums(kind)
    if not model_sha:
        raise training.ModelIntegrityError(
            "The default model files were not written by this installation; run "
            "model_initialization.py (or `make run`) to train them."
        )
    return model_sha


def ensure_default_model_files(
    dataset_path: Path,
    sample_rows: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[DefaultModelStatus]:
    """Train every default model whose files are missing or outdated (idempotent).

    `sample_rows` trains on a stratified sample instead of the whole data set (tests only).
    """
    storage.ensure_layout()
    report = progress or (lambda message: log.info("%s", message))
    data = None
    statuses = []
    total = len(MODEL_KINDS)
    for number, model_kind in enumerate(MODEL_KINDS, start=1):
        kind, name = model_kind.key, model_kind.name
        model_path, metadata_path = default_model_paths(kind)
        state = default_model_state(kind)
        if state == "current":
            metadata = default_model_metadata(kind)
            statuses.append(DefaultModelStatus(kind, name, False, metadata["metrics"]))
            continue
        if data is None:
            report(f"Reading {dataset_path.name}…")
            data = _default_training_sample(dataset_path, sample_rows)
        features, target, customer_ids = data
        report(f"[{number}/{total}] Training {name} ({state}) on {len(features):,} rows…")
        started = time.perf_counter()
        result = training.train(
            training.build_pipeline(kind), name, features, target, calibrate_when_off=True
        )
        result.metadata["split_customers"] = {
            part: customer_ids.loc[rows].tolist() for part, rows in result.split_indices.items()
        }
        saved = training.save_model(result, model_path, metadata_path)
        training.record_checksums(
            storage.default_models_folder(),
            {model_path.name: saved.sha256, metadata_path.name: saved.metadata_sha256},
        )
        report(
            f"[{number}/{total}] {name} ready in {time.perf_counter() - started:.1f} s "
            f"(AUC {result.metrics['AUC']:.3f})"
        )
        statuses.append(DefaultModelStatus(kind, name, True, result.metrics))
    return statuses


def default_training_data(
    dataset_path: Path, sample_rows: int | None
) -> tuple[pd.DataFrame, pd.Series]:
    """The default models' features and target (a stratified sample of `sample_rows` rows)."""
    features, target, _ = _default_training_sample(dataset_path, sample_rows)
    return features, target


def _default_training_sample(
    dataset_path: Path, sample_rows: int | None
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    prepared = load_upload(dataset_path, "csv", require_target=True)
    features, target, ids = prepared.features, prepared.target, prepared.customer_ids
    assert target is not None  # require_target=True
    if sample_rows and sample_rows < len(features):
        fraction = sample_rows / len(target)
        sample = target.groupby(target, group_keys=False).apply(
            lambda g: g.sample(frac=fraction, random_state=training.SEED)
        )
        features, target = features.loc[sample.index], target.loc[sample.index]
        ids = ids.loc[sample.index]
    return (
        features.reset_index(drop=True),
        target.reset_index(drop=True),
        ids.reset_index(drop=True),
    )
