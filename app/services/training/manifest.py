"""The signed manifest of a model folder: the SHA-256 of each file the app wrote there, recorded
when it wrote it and signed with the app's SECRET_KEY.

Whoever can write to `models/` can replace a file and any checksum kept beside it, but cannot
sign a manifest without the key. A file is trusted only when its checksum matches this record;
a manifest that is missing, damaged or signed with another key trusts nothing (the default
models are then trained again by `model_initialization.py`).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Iterator
from pathlib import Path

from flask import current_app
from itsdangerous import BadSignature, Serializer

from app.services.storage import atomic_path

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.signed"
_SALT = "model-files-manifest"
_LOCK_NAME = ".manifest.lock"


def _serializer() -> Serializer[str]:
    return Serializer(current_app.config["SECRET_KEY"], salt=_SALT)


def recorded_checksums(folder: Path) -> dict[str, str]:
    """{file name: SHA-256} of the files the app recorded in `folder`; {} when nothing there can
    be trusted (no manifest, or one this app did not sign)."""
    path = folder / MANIFEST_NAME
    try:
        token = path.read_bytes()
    except FileNotFoundError:
        return {}
    try:
        entries = _serializer().loads(token)
    except (BadSignature, ValueError, UnicodeDecodeError):
        log.error(
            "The manifest %s is not signed by this installation; nothing in it is trusted", path
        )
        return {}
    if not isinstance(entries, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in entries.items()
    ):
        return {}
    return entries


def record_checksums(folder: Path, checksums: dict[str, str]) -> None:
    """Add (or replace) the checksums of files the app has just written in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder):
        entries = {**recorded_checksums(folder), **checksums}
        with atomic_path(folder / MANIFEST_NAME) as tmp:
            tmp.write_bytes(_signed(entries))


def _signed(entries: dict[str, str]) -> bytes:
    token = _serializer().dumps(dict(sorted(entries.items())))
    # Serializer returns str for the default JSON serializer; the file holds its UTF-8 bytes.
    return (token if isinstance(token, str) else token.decode()).encode()


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One writer at a time (two processes training defaults at once must not lose entries)."""
    with (folder / _LOCK_NAME).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
