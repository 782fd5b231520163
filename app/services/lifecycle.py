"""The one lifecycle of queued work: predictions being scored and retrain runs being trained.

Both kinds of row carry the same columns and words (`schema.WorkStatus`: queued → running →
done | failed). This module moves a row along, marks it failed (removing its partial files) in one
way for every job, and repairs rows whose job died.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import inspect, select
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError

from app.extensions import db
from app.schema import IN_PROGRESS, Model, Prediction, QueuedWorkMixin, WorkStatus, utcnow
from app.services import storage

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted: the worker stopped before the job finished. Please start it again."
UNEXPECTED = "The job failed unexpectedly. The error has been logged; please try again."
# A row may be committed a moment before its job id is stored: leave such young rows alone.
UNQUEUED_GRACE = timedelta(minutes=5)
WORK_TABLES: tuple[type[QueuedWorkMixin], ...] = (Model, Prediction)


def start(row: QueuedWorkMixin, progress: int = 1) -> None:
    """Mark `row` running (commits)."""
    row.status = WorkStatus.RUNNING
    row.progress = progress
    db.session.commit()


def finish(row: QueuedWorkMixin) -> None:
    """Mark `row` done at 100 % (the caller commits, with its results)."""
    row.status = WorkStatus.DONE
    row.progress = 100
    row.error = None
    row.finished_at = utcnow()


def mark_failed(
    row: QueuedWorkMixin, message: str, files: Iterable[Path | None] = ()
) -> QueuedWorkMixin | None:
    """Mark `row` failed with `message` and remove the partial `files` it wrote.

    The session may be broken by the very error being handled (a lost connection, a failed
    flush): it is rolled back first and the row reloaded by its id, so the failure is recorded
    whatever state the session was in. Returns the reloaded row (None if it no longer exists).
    """
    identity = inspect(row).identity
    row_class = type(row)
    db.session.rollback()
    storage.remove_quietly(*files)
    if identity is None:
        return None
    fresh = db.session.get(row_class, identity)
    if fresh is None:
        return None
    fresh.status = WorkStatus.FAILED
    fresh.error = message
    fresh.finished_at = utcnow()
    fresh.forget_result()
    db.session.commit()
    return fresh


JobIsAlive = Callable[[str], bool]


def recover_interrupted(job_is_alive: JobIsAlive) -> int:
    """Mark rows left queued or running by a dead job as failed; returns how many.

    `job_is_alive` answers for a stored job id (see `jobs.liveness`). A database not created
    yet is tolerated: there is nothing to repair.
    """
    try:
        rows: list[QueuedWorkMixin] = [
            row
            for table in WORK_TABLES
            for row in db.session.scalars(select(table).where(table.status.in_(IN_PROGRESS)))
        ]
    except (OperationalError, ProgrammingError) as error:
        db.session.rollback()
        log.info("Job recovery skipped: the database has no tables yet (%s)", error.orig)
        return 0
    now = utcnow()
    repaired = 0
    for row in rows:
        if row.job_id is None:
            alive = now - row.updated_at < UNQUEUED_GRACE
        else:
            alive = job_is_alive(row.job_id)
        if not alive:
            row.status = WorkStatus.FAILED
            row.error = INTERRUPTED
            row.finished_at = now
            row.forget_result()
            repaired += 1
    try:
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        raise
    if repaired:
        log.warning("Marked %s interrupted job(s) as failed", repaired)
    return repaired
