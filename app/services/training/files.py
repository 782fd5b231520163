"""Model files on disk: pipelines and their metadata written atomically, and a pipeline loaded
only after its SHA-256 matches the one recorded when it was registered."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import joblib
from sklearn.pipeline import Pipeline

from app.services.errors import DomainError
from app.services.storage import atomic_path, sha256_of
from app.services.training.evaluation import TrainingResult

log = logging.getLogger(__name__)


class ModelIntegrityError(DomainError):
    """A model file is missing or differs from the one that was registered."""

    status = 409


def save_model(result: TrainingResult, model_path: Path, metadata_path: Path) -> str:
    """Write the pipeline, then its metadata (which records the pipeline file's SHA-256)."""
    with atomic_path(model_path) as tmp:
        joblib.dump(result.pipeline, tmp)
        digest = sha256_of(tmp)
    result.metadata["file_sha256"] = digest
    with atomic_path(metadata_path) as tmp:
        joblib.dump(result.metadata, tmp)
    return digest


def load_metadata(metadata_path: Path) -> dict[str, Any]:
    return joblib.load(metadata_path)


_cache: dict[tuple[str, str], Pipeline] = {}
_cache_lock = threading.Lock()


def load_pipeline(model_path: Path, expected_sha256: str | None) -> Pipeline:
    """Load a fitted pipeline after checking its SHA-256 against the registered one.

    The file is hashed on every load (milliseconds), so a file altered after it was cached is
    still refused; only the unpickled object is cached, per process.
    """
    if not expected_sha256:
        raise ModelIntegrityError("This model has no recorded checksum, so it cannot be trusted.")
    if not model_path.exists():
        raise ModelIntegrityError("The model's file is missing; ask your developer to restore it.")
    actual = sha256_of(model_path)
    if actual != expected_sha256:
        log.error("Model file %s has SHA-256 %s, expected %s", model_path, actual, expected_sha256)
        raise ModelIntegrityError(
            "The model's file has been altered since it was registered, so it will not be used. "
            "Ask your developer to retrain or restore it."
        )
    key = (str(model_path), actual)
    with _cache_lock:
        pipeline = _cache.get(key)
    if pipeline is None:
        pipeline = joblib.load(model_path)
        with _cache_lock:
            _cache[key] = pipeline
    return pipeline
