"""The one upload protocol, for prediction and retraining alike.

An upload is copied under a server-chosen name (hashed on the way, never read twice), and the
caller validates and records it inside `stored_upload`'s block: if anything in the block fails,
the session is rolled back and the file removed, so a refused upload leaves no file and no row.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from flask import current_app

from app.extensions import db
from app.services import storage
from app.services.preprocessing import UploadLimits, file_format_for

COPY_BLOCK = 1024 * 1024
FILENAME_MAX = 255


class Upload(Protocol):
    """What the services need from an uploaded file (werkzeug's FileStorage fits)."""

    stream: BinaryIO
    filename: str | None


@dataclass(frozen=True)
class StoredUpload:
    relative: str  # under DATASETS_ROOT, server-chosen
    path: Path
    file_format: str
    sha256: str
    size_bytes: int
    original_filename: str | None


def upload_limits(config: Mapping[str, Any] | None = None) -> UploadLimits:
    """The limits of this app's settings (MAX_UPLOAD_ROWS, XLSX_MAX_*)."""
    return UploadLimits.from_config(config or current_app.config)


def client_filename(filename: str | None) -> str | None:
    """The client's file name as shown back to them (never used to build a path)."""
    return (filename or "")[-FILENAME_MAX:] or None


@contextlib.contextmanager
def stored_upload(upload: Upload, area: str) -> Iterator[StoredUpload]:
    """Store `upload` in data set `area`; inside the block, validate and record it.

    The file format comes from the client's file name (refused before anything is written).
    """
    file_format = file_format_for(upload.filename)
    relative = storage.new_dataset_path(area, file_format)
    target = storage.dataset_file(relative)
    digest = hashlib.sha256()
    # A full disk refuses the upload with a message; the partial copy is removed.
    with storage.refused_when_full(), storage.atomic_path(target) as tmp, tmp.open("wb") as handle:
        for block in iter(lambda: upload.stream.read(COPY_BLOCK), b""):
            digest.update(block)
            handle.write(block)
    stored = StoredUpload(
        relative=relative,
        path=target,
        file_format=file_format,
        sha256=digest.hexdigest(),
        size_bytes=target.stat().st_size,
        original_filename=client_filename(upload.filename),
    )
    with storage.removed_on_failure(target, cleanup=db.session.rollback):
        yield stored
