"""The sweep: puts right, at any time, what a killed process left behind.

It runs every SWEEP_INTERVAL seconds in the RQ worker, in `flask sweep --every N` (or once, from
cron), and in the web process when jobs run there (the thread back end). Each pass:

1. marks failed every queued or running row whose job is gone (`lifecycle.recover_interrupted`);
2. removes the combined data set (file and row) of every retrain run that did not succeed;
3. removes files that no row references once they are older than SWEEP_GRACE_SECONDS (longer
   than any request or job may run): partial `.tmp` writes, an upload whose request was killed
   before its row was recorded, the model files of a run killed before it was registered;
4. sets up the default models of companies whose setup job never ran;
5. keeps the chart cache under CACHE_MAX_MB, oldest charts first (they are redrawn on demand).

It says what it did (`SweepReport.lines()`); every step is safe to run twice or concurrently.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import exists, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import aliased

from app.extensions import db
from app.schema import IN_PROGRESS, Dataset, Model, Prediction, WorkStatus, utcnow
from app.services import environment, storage
from app.services.jobs import lifecycle, liveness
from app.services.retraining import lineage

log = logging.getLogger(__name__)

# Every file the app names carries a uuid4 hex; files without one are not the app's to remove.
_TOKEN = re.compile(r"[0-9a-f]{32}")
_RETRAINED_FILE = re.compile(r"neural_network_v\d+(_metadata)?\.pkl")
SETUP_WAIT = timedelta(minutes=10)


@dataclass
class SweepReport:
    repaired: list[str] = field(default_factory=list)
    removed_datasets: list[str] = field(default_factory=list)
    removed_files: list[str] = field(default_factory=list)
    companies_set_up: list[str] = field(default_factory=list)
    cache_files_removed: int = 0
    cache_bytes_removed: int = 0
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """What the pass did, one line each (nothing when there was nothing to do)."""
        lines = [f"Marked failed (its job is gone): {name}" for name in self.repaired]
        lines += [f"Removed the data set of a failed run: {name}" for name in self.removed_datasets]
        lines += [f"Removed a file no row references: {name}" for name in self.removed_files]
        lines += [f"Set up the default models of company {name}" for name in self.companies_set_up]
        if self.cache_files_removed:
            lines.append(
                f"Trimmed the chart cache: {self.cache_files_removed} files, "
                f"{self.cache_bytes_removed / 1024 / 1024:.1f} MB"
            )
        lines += [f"Could not finish: {problem}" for problem in self.problems]
        return lines


def sweep(app: Flask | None = None) -> SweepReport:
    """One pass of the sweep in the current app context (see the module docstring)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    config = app.config
    report = SweepReport()
    now = utcnow()
    grace = timedelta(seconds=config["SWEEP_GRACE_SECONDS"])
    steps = [
        ("repairing rows", lambda: _repair_rows(app, report)),
        ("removing failed runs' data sets", lambda: _discard_failed_datasets(report, now - grace)),
        ("removing orphaned files", lambda: _remove_orphans(report, now - grace)),
        ("setting up companies", lambda: _set_up_waiting_companies(report, now - SETUP_WAIT)),
        ("trimming the cache", lambda: _trim_cache(report, config["CACHE_MAX_MB"] * 1024**2)),
    ]
    for what, step in steps:
        try:
            step()
        except Exception as error:
            db.session.rollback()
            log.warning("Sweep: %s failed: %s", what, error)
            report.problems.append(f"{what}: {error}")
    for line in report.lines():
        log.info("Sweep: %s", line)
    return report


def _repair_rows(app: Flask, report: SweepReport) -> None:
    stale = timedelta(seconds=app.config["JOB_TIMEOUT"] + 60)
    repaired = lifecycle.recover_interrupted(liveness.job_states(app), stale_after=stale)
    report.repaired += [lifecycle.describe(row) for row in repaired]


def _discard_failed_datasets(report: SweepReport, cutoff: datetime) -> None:
    """Combined data sets that no successful or unfinished run uses and that no other data set
    continues: those of failed runs at once, any other after the grace period."""
    user = aliased(Model)
    child = aliased(Dataset)
    wanted = exists().where(
        user.training_dataset_id == Dataset.id,
        user.status.in_([WorkStatus.DONE, *IN_PROGRESS]),
    )
    failed_user = exists().where(
        user.training_dataset_id == Dataset.id, user.status == WorkStatus.FAILED
    )
    continued = exists().where(child.base_dataset_id == Dataset.id)
    abandoned = db.session.scalars(
        select(Dataset).where(
            Dataset.kind == "combined",
            ~wanted,
            ~continued,
            or_(failed_user, Dataset.created_at < cutoff),
        )
    ).all()
    for dataset in abandoned:
        name = f"{dataset.name} ({dataset.path})"
        lineage.discard(dataset)
        report.removed_datasets.append(name)


def _files(root: Path, recursive: bool = True) -> Iterator[Path]:
    """The regular files under `root` (symbolic links are never followed nor removed)."""
    if not root.is_dir():
        return
    for folder, _, names in os.walk(root, followlinks=False):
        for name in names:
            path = Path(folder) / name
            if not path.is_symlink():
                yield path
        if not recursive:
            return


def _old_files(root: Path, cutoff: float, recursive: bool = True) -> Iterator[Path]:
    for path in _files(root, recursive):
        try:
            if path.stat().st_mtime < cutoff:
                yield path
        except OSError:  # removed meanwhile
            continue


def _is_partial(path: Path) -> bool:
    return path.name.startswith(".") and path.name.endswith(".tmp")


def _remove(path: Path, root: Path, report: SweepReport, label: str) -> None:
    path.unlink(missing_ok=True)
    report.removed_files.append(f"{label}/{path.relative_to(root)}")


def _remove_orphans(report: SweepReport, cutoff: datetime) -> None:
    cutoff_ts = _timestamp(cutoff)
    datasets_root = storage.datasets_root()
    candidates = [
        path
        for area in sorted(storage.DATASET_AREAS)
        for path in _old_files(datasets_root / area, cutoff_ts, recursive=False)
    ]
    referenced: set[str] | None = None
    for path in candidates:
        if _is_partial(path):
            _remove(path, datasets_root, report, "datasets")
            continue
        token = _TOKEN.search(path.name)
        if token is None:
            continue
        if referenced is None:  # read the references only when there is something to check
            referenced = _referenced_dataset_tokens()
        if token.group() not in referenced:
            _remove(path, datasets_root, report, "datasets")

    models_root = storage.models_root()
    registered: set[str] | None = None
    for path in _old_files(models_root, cutoff_ts):
        relative = path.relative_to(models_root).as_posix()
        if _is_partial(path):
            _remove(path, models_root, report, "models")
        elif relative.startswith("retrained_models/") and _RETRAINED_FILE.fullmatch(path.name):
            if registered is None:
                registered = _registered_model_files()
            if relative not in registered:
                _remove(path, models_root, report, "models")

    cache_root = storage.cache_root()
    for path in _old_files(cache_root, cutoff_ts):
        if _is_partial(path):
            _remove(path, cache_root, report, "cache")


def _timestamp(moment: datetime) -> float:
    return moment.replace(tzinfo=UTC).timestamp()


def _referenced_dataset_tokens() -> set[str]:
    paths = list(db.session.scalars(select(Dataset.path)))
    paths += db.session.scalars(
        select(Prediction.result_path).where(Prediction.result_path.is_not(None))
    )
    return {match.group() for path in paths if (match := _TOKEN.search(path))}


def _registered_model_files() -> set[str]:
    files: set[str] = set()
    for path in db.session.scalars(select(Model.file_path).where(Model.file_path.is_not(None))):
        if not path:
            continue
        files.add(path)
        files.add(path.removesuffix(".pkl") + "_metadata.pkl")
    return files


def _set_up_waiting_companies(report: SweepReport, activated_before: datetime) -> None:
    for company in environment.companies_waiting_for_models(activated_before):
        environment.prepare_company_models(company.id)
        report.companies_set_up.append(company.public_id)


def _trim_cache(report: SweepReport, max_bytes: int) -> None:
    root = storage.cache_root()
    if not root.is_dir():
        return
    files = []
    for path in _files(root):
        try:
            info = path.stat()
        except OSError:
            continue
        files.append((info.st_mtime, info.st_size, path))
    total = sum(size for _, size, _ in files)
    if total <= max_bytes:
        return
    target = int(max_bytes * 0.9)  # trim below the bound, so it is not trimmed on every pass
    for _, size, path in sorted(files, key=lambda item: item[0]):
        if total <= target:
            break
        path.unlink(missing_ok=True)
        total -= size
        report.cache_files_removed += 1
        report.cache_bytes_removed += size


# Running it periodically --------------------------------------------------------------------------


def run_periodically(app: Flask, interval: float, stop: threading.Event | None = None) -> None:
    """Sweep every `interval` seconds until `stop` is set (each pass in its own app context);
    a pass that fails (the database is down) is logged and tried again next time."""
    stop = stop or threading.Event()
    while not stop.is_set():
        started = time.monotonic()
        try:
            with app.app_context():
                sweep(app)
        except (SQLAlchemyError, OSError) as error:
            log.warning("Sweep failed, will try again in %s s: %s", interval, error)
        stop.wait(max(1.0, interval - (time.monotonic() - started)))


def start_in_background(app: Flask) -> threading.Thread:
    """Run the sweep on a daemon thread of this process (the web, when it also runs the jobs)."""
    thread = threading.Thread(
        target=run_periodically,
        args=(app, app.config["SWEEP_INTERVAL"]),
        name="churnbuster-sweep",
        daemon=True,
    )
    thread.start()
    return thread
