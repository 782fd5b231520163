"""Model files on disk: pipelines and their metadata written atomically, and nothing unpickled
before its SHA-256 matches one the app recorded when it wrote the file (a model row in the
database, or the folder's signed manifest), never one read from a file beside it.

`_metadata.pkl` keeps the original format (a pickled dict: model_type, metrics, …) but holds
only plain values, and is read by an unpickler that refuses every class and function, so even a
metadata file that passed its check cannot run code.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pickle
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
from sklearn.pipeline import Pipeline

from app.services.errors import DomainError
from app.services.storage import atomic_path, sha256_of
from app.services.training.evaluation import TrainingResult

log = logging.getLogger(__name__)

# Plain values only: what JSON could hold, plus tuples. Anything else in metadata is a bug.
_PLAIN_SCALARS = (str, int, float, bool, type(None))
METADATA_MAX_BYTES = 16 * 1024 * 1024


class ModelIntegrityError(DomainError):
    """A model file is missing or differs from the one that was registered."""

    status = 409


class UnsafeMetadata(ModelIntegrityError):
    """A metadata file holds something other than plain values, or cannot be read."""


@dataclass(frozen=True)
class SavedModel:
    """The checksums of the two files `save_model` wrote, to be recorded by the caller."""

    sha256: str
    metadata_sha256: str


def save_model(result: TrainingResult, model_path: Path, metadata_path: Path) -> SavedModel:
    """Write the pipeline, then its plain metadata (which repeats the pipeline's SHA-256 for
    people reading it; the app never trusts that copy). Returns both files' checksums."""
    with atomic_path(model_path) as tmp:
        joblib.dump(result.pipeline, tmp)
        digest = sha256_of(tmp)
    result.metadata["file_sha256"] = digest
    metadata = plain_values(result.metadata)
    with atomic_path(metadata_path) as tmp:
        with tmp.open("wb") as handle:
            pickle.dump(metadata, handle, protocol=pickle.HIGHEST_PROTOCOL)
        metadata_digest = sha256_of(tmp)
    return SavedModel(digest, metadata_digest)


def plain_values(value: Any) -> Any:
    """`value` as plain dicts, lists and scalars; numpy numbers become Python numbers."""
    if isinstance(value, dict):
        return {str(key): plain_values(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_values(item) for item in value]
    if isinstance(value, _PLAIN_SCALARS):
        return value
    item = getattr(value, "item", None)  # a numpy scalar
    if callable(item):
        return plain_values(item())
    raise TypeError(f"Metadata may hold only plain values, not {type(value).__name__}.")


class _PlainUnpickler(pickle.Unpickler):
    """Builds dicts, lists, tuples, strings and numbers; refuses every global (class, function),
    which is how a pickle runs code."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"metadata may not name {module}.{name}")


def read_plain_pickle(data: bytes) -> Any:
    """Unpickle `data` without running anything (UnsafeMetadata if it names any global)."""
    try:
        return _PlainUnpickler(io.BytesIO(data)).load()
    except Exception as error:
        raise UnsafeMetadata(
            "The model's metadata file is not in the expected format, so it will not be used."
        ) from error


def load_metadata(metadata_path: Path, expected_sha256: str | None) -> dict[str, Any]:
    """The metadata dict, after checking the file against its recorded SHA-256."""
    metadata = read_plain_pickle(
        _verified_bytes(metadata_path, expected_sha256, METADATA_MAX_BYTES)
    )
    if not isinstance(metadata, dict):
        raise UnsafeMetadata("The model's metadata file does not hold a dictionary.")
    return metadata


def _require(path: Path, expected_sha256: str | None) -> None:
    if not expected_sha256:
        raise ModelIntegrityError("This model has no recorded checksum, so it cannot be trusted.")
    if not path.exists():
        raise ModelIntegrityError("The model's file is missing; ask your developer to restore it.")


def _verify(path: Path, actual: str, expected_sha256: str | None) -> None:
    if actual != expected_sha256:
        log.error("Model file %s has SHA-256 %s, expected %s", path, actual, expected_sha256)
        raise ModelIntegrityError(
            "The model's file has been altered since it was registered, so it will not be used. "
            "Ask your developer to retrain or restore it."
        )


def _verified_bytes(path: Path, expected_sha256: str | None, max_bytes: int | None = None) -> bytes:
    """The file's bytes, read once and checked: what is unpickled is exactly what was hashed,
    so a file swapped between a check and a load is never unpickled."""
    _require(path, expected_sha256)
    if max_bytes is not None and path.stat().st_size > max_bytes:
        raise UnsafeMetadata("The model's metadata file is far larger than metadata can be.")
    data = path.read_bytes()
    _verify(path, hashlib.sha256(data).hexdigest(), expected_sha256)
    return data


def predict_on_every_core(pipeline: Any) -> None:
    """Let a forest predict its trees on every core of this machine, the same bits on every
    run (`forests`). Set on the loaded object only (the file and its checksum stay as
    trained); the other estimators predict in one vectorised pass, or through BLAS, which uses
    the cores by itself."""
    from app.services.training.forests import repeatable

    steps = getattr(pipeline, "named_steps", None)
    estimator = steps.get("model") if steps is not None else None
    if estimator is not None and repeatable(estimator):
        estimator.n_jobs = os.cpu_count() or 1


_cache: dict[tuple[str, str], Pipeline] = {}
_cache_lock = threading.Lock()


def load_pipeline(model_path: Path, expected_sha256: str | None) -> Pipeline:
    """Load a fitted pipeline after checking its SHA-256 against the registered one.

    The file is hashed on every load (milliseconds), so a file altered after it was cached is
    still refused; only the unpickled object is cached, per process.
    """
    key = (str(model_path), expected_sha256 or "")
    with _cache_lock:
        pipeline = _cache.get(key)
    if pipeline is not None:
        _require(model_path, expected_sha256)
        _verify(model_path, sha256_of(model_path), expected_sha256)
        return pipeline
    pipeline = joblib.load(io.BytesIO(_verified_bytes(model_path, expected_sha256)))
    predict_on_every_core(pipeline)
    with _cache_lock:
        _cache[key] = pipeline
    return pipeline
