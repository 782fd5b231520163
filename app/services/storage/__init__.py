"""File storage under the two configured roots, `MODELS_ROOT` and `DATASETS_ROOT`.

This package: paths and atomic writes (here), `uploads` (the one upload protocol), `datasets`
(the one way a data file gets its row) and `original_data` (the original data set, by SHA-256).

Every path under `models/` and `datasets/` is built here. The database stores paths relative to
their root, so moving the roots to a shared volume is one setting. Names are chosen by the server,
never taken from a client. Writes are atomic: a temporary file in the same folder, then a rename.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from flask import current_app

from app.services.errors import DomainError, Unavailable

# The data set folders, as the product's original layout lists them, plus the outcome files
# (what really happened to a prediction's customers) of each role.
DATASET_AREAS = {
    "dev/combinedDataset",
    "dev/predictionResult",
    "dev/uploadToPredict",
    "dev/uploadToRetrain",
    "dev/uploadOutcomes",
    "user/predictionResult",
    "user/uploadToPredict",
    "user/uploadOutcomes",
}
MODEL_AREAS = {"default_models", "retrained_models"}


class StorageError(DomainError):
    """A stored file is missing, or a path escapes its root."""


OUT_OF_SPACE = (
    "The server is out of space, so nothing was kept. Please tell your administrator, and try "
    "again once space has been freed."
)
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}


class OutOfSpace(Unavailable):
    """A write failed because the disk (or the quota) is full."""

    def __init__(self, message: str = OUT_OF_SPACE) -> None:
        super().__init__(message)


def is_out_of_space(error: BaseException | None) -> bool:
    """Did `error` (or what caused it) come from a full disk? Libraries wrap the OSError
    (pyarrow, SQLite's "database or disk is full"), so the chain and the text are read too."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, OutOfSpace):
            return True
        if isinstance(error, OSError) and error.errno in _FULL_ERRNOS:
            return True
        text = str(error)
        if "No space left on device" in text or "database or disk is full" in text:
            return True
        error = error.__cause__ or error.__context__
        seen += 1
    return False


@contextlib.contextmanager
def refused_when_full() -> Iterator[None]:
    """Turn a write that fails on a full disk into OutOfSpace (the message a person reads)."""
    try:
        yield
    except OutOfSpace:
        raise
    except Exception as error:
        if is_out_of_space(error):
            raise OutOfSpace() from error
        raise


def models_root() -> Path:
    return Path(current_app.config["MODELS_ROOT"]).resolve()


def datasets_root() -> Path:
    return Path(current_app.config["DATASETS_ROOT"]).resolve()


def cache_root() -> Path:
    return Path(current_app.config["CACHE_DIR"]).resolve()


def ensure_layout() -> None:
    """Create the folder tree of the original layout (idempotent)."""
    for area in DATASET_AREAS:
        (datasets_root() / area).mkdir(parents=True, exist_ok=True)
    for area in MODEL_AREAS:
        (models_root() / area).mkdir(parents=True, exist_ok=True)
    cache_root().mkdir(parents=True, exist_ok=True)


def _resolve_under(root: Path, relative: str) -> Path:
    # normpath, not resolve: '..' may not escape, but a root may link to a shared volume.
    path = Path(os.path.normpath(root / relative))
    if root != path and root not in path.parents:
        raise StorageError("Path escapes its storage root.")
    return path


def dataset_file(relative: str) -> Path:
    return _resolve_under(datasets_root(), relative)


def model_file(relative: str) -> Path:
    return _resolve_under(models_root(), relative)


def cache_file(relative: str) -> Path:
    return _resolve_under(cache_root(), relative)


def new_dataset_path(area: str, extension: str) -> str:
    """A fresh, server-chosen relative path like 'user/uploadToPredict/<uuid>.csv'."""
    if area not in DATASET_AREAS:
        raise StorageError(f"Unknown data set area {area!r}.")
    if extension not in {"csv", "xlsx", "gz", "parquet"}:
        raise StorageError(f"Unsupported extension {extension!r}.")
    (datasets_root() / area).mkdir(parents=True, exist_ok=True)
    return f"{area}/{uuid.uuid4().hex}.{extension}"


def default_models_folder() -> Path:
    """The folder of the default model files, shared by every company (and their manifest)."""
    return model_file("default_models")


def default_model_path(key: str, metadata: bool = False) -> str:
    return f"default_models/{key}{'_metadata' if metadata else ''}.pkl"


def retrained_model_path(company_public_id: str, version: int, metadata: bool = False) -> str:
    suffix = "_metadata" if metadata else ""
    return f"retrained_models/{company_public_id}/neural_network_v{version}{suffix}.pkl"


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it into place only if the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def removed_on_failure(*paths: Path, cleanup: Callable[[], None] | None = None) -> Iterator[None]:
    """Remove `paths` (after calling `cleanup`, e.g. a session rollback) if the block raises, then
    re-raise: a stored file must not outlive the record that failed to be made for it."""
    try:
        yield
    except BaseException:
        if cleanup is not None:
            cleanup()
        remove_quietly(*paths)
        raise


def write_atomic(target: Path, writer: Callable[[Path], None]) -> None:
    with atomic_path(target) as tmp:
        writer(tmp)


def partial_files(path: Path) -> list[Path]:
    """The unfinished atomic writes of `path` (the temporary names `atomic_path` gives)."""
    return list(path.parent.glob(f".{path.name}.*.tmp"))


def remove_quietly(*paths: Path | None) -> None:
    """Remove files left by a failed operation; a missing file is already what we want."""
    for path in paths:
        if path is not None:
            path.unlink(missing_ok=True)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()
