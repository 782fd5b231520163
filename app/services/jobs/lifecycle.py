"""The one lifecycle of queued work: predictions being scored and retrain runs being trained.

Both kinds of row carry the same columns and words (`schema.WorkStatus`: queued → running →
done | failed). This module queues a row's job (and fails the row with a message when the queue
does not answer), moves a row along, marks it failed (removing its partial files) in one way for
every job, and repairs rows whose job is gone (`recover_interrupted`, run by the sweep).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar, cast

from sqlalchemy import CursorResult, inspect, select, update
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError, SQLAlchemyError

from app.extensions import db
from app.schema import IN_PROGRESS, Model, Prediction, QueuedWorkMixin, WorkStatus, utcnow
from app.services import jobs, storage
from app.services.jobs.liveness import JobState, JobStates

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted: the worker stopped before the job finished. Please start it again."
UNEXPECTED = "The job failed unexpectedly. The error has been logged; please try again."
# A row is committed a moment before its job is queued: leave young rows without a job alone.
UNQUEUED_GRACE = timedelta(minutes=2)
# The queue may not know a job yet that was queued a moment ago.
MISSING_GRACE = timedelta(minutes=1)
# Recording a failure survives a database that restarts: tried again for about ten seconds.
FAILURE_RETRY_DELAYS = (0.5, 1, 2, 3, 4)
WORK_TABLES: tuple[type[QueuedWorkMixin], ...] = (Model, Prediction)


def failure_message(error: BaseException) -> str:
    """What a failed run tells its owner about an unexpected `error`."""
    if storage.is_out_of_space(error):
        return storage.OUT_OF_SPACE
    return UNEXPECTED


Work = TypeVar("Work", bound=QueuedWorkMixin)


def queue_job(row: Work, job_name: str) -> Work:
    """Queue job `job_name` for the committed `row` and store its job id (commits).

    When the queue does not answer, the row is failed with a message that says so (it is never
    left "queued" for a job that does not exist). Returns the row (reloaded if it failed)."""
    try:
        row.job_id = jobs.enqueue(job_name, row.id)
    except jobs.QueueUnavailable as error:
        return cast(Work, mark_failed(row, error.message) or row)
    db.session.commit()
    return row


def start(row: QueuedWorkMixin, progress: int = 1) -> None:
    """Mark `row` running (commits). Work that runs in this process without a queued job (a
    small prediction scored in its request) gets an id naming this process, so that the sweep
    can tell whether it still runs."""
    row.status = WorkStatus.RUNNING
    row.progress = progress
    if row.job_id is None:
        row.job_id = jobs.claim_here()
    db.session.commit()


def finish(row: QueuedWorkMixin) -> None:
    """Mark `row` done at 100 % (the caller commits, with its results)."""
    row.status = WorkStatus.DONE
    row.progress = 100
    row.error = None
    row.finished_at = utcnow()


T = TypeVar("T")


def _despite_disconnects(work: Callable[[], T], what: str) -> T:
    """`work()`, tried again for about ten seconds while the database connection is lost (a
    restart, a terminated backend): the session is rolled back before each new try."""
    for attempt, delay in enumerate((*FAILURE_RETRY_DELAYS, None)):
        try:
            return work()
        except (OperationalError, DBAPIError) as error:
            db.session.rollback()
            if delay is None or not _is_disconnect(error):
                raise
            log.warning("Could not %s (attempt %s): %s", what, attempt + 1, error.orig)
            time.sleep(delay)
    raise AssertionError("not reached: the last attempt returns or raises")


def load_work(row_class: type[Work], row_id: int) -> Work | None:
    """The row a job is about to work on, read as `mark_failed` writes: a connection lost at
    that moment (a database restart, a terminated backend) is rolled back and tried again for
    about ten seconds, so a job never ends before its row knows it began."""
    return _despite_disconnects(
        lambda: db.session.get(row_class, row_id), f"read {row_class.__name__} {row_id}"
    )


def mark_failed(
    row: QueuedWorkMixin, message: str, files: Iterable[Path | None] = ()
) -> QueuedWorkMixin | None:
    """Mark `row` failed with `message` and remove the partial `files` it wrote.

    The session may be broken by the very error being handled (a lost connection, a failed
    flush): it is rolled back first and the row reloaded by its id, so the failure is recorded
    whatever state the session was in; a database that does not answer is tried again for
    about ten seconds. Returns the reloaded row (None if it no longer exists).
    """
    identity = inspect(row).identity
    row_class = type(row)
    storage.remove_quietly(*files)
    if identity is None:
        db.session.rollback()
        return None
    return _despite_disconnects(
        lambda: _record_failure(row_class, identity, message),
        f"record the failure of {row_class.__name__} {identity[0]}",
    )


def _record_failure(row_class: type, identity: tuple, message: str) -> QueuedWorkMixin | None:
    db.session.rollback()
    fresh = db.session.get(row_class, identity)
    if fresh is None:
        return None
    fresh.status = WorkStatus.FAILED
    fresh.error = message
    fresh.finished_at = utcnow()
    fresh.forget_result()
    db.session.commit()
    return fresh


def _is_disconnect(error: DBAPIError) -> bool:
    return bool(error.connection_invalidated) or isinstance(error, OperationalError)


# Repairing rows whose job is gone (the sweep) -------------------------------------------------


def _is_dead(row: QueuedWorkMixin, state: JobStates, now: datetime, stale: timedelta) -> bool:
    """Is the job behind `row` gone for good? (Queued rows may wait for a worker for long.)"""
    age = now - row.updated_at
    if row.job_id is None:
        return age > UNQUEUED_GRACE
    verdict = state(row.job_id)
    if verdict is JobState.GONE:
        return True
    if verdict is JobState.MISSING:
        return age > MISSING_GRACE
    if verdict is JobState.UNKNOWN:
        return age > stale  # another host's process: no job runs longer than JOB_TIMEOUT
    if verdict is JobState.ALIVE and row.job_id.startswith(jobs.THREAD_PREFIX):
        # Another process's in-process work cannot be asked how it is doing, and nothing stops
        # it at JOB_TIMEOUT as RQ does: a running row untouched for longer was abandoned.
        return (
            row.status == WorkStatus.RUNNING and age > stale and not jobs.running_here(row.job_id)
        )
    return False  # alive, or the queue cannot be asked now: judged again next time


def recover_interrupted(
    job_states: JobStates, stale_after: timedelta = timedelta(hours=1)
) -> list[QueuedWorkMixin]:
    """Mark rows left queued or running by a job that is gone as failed; returns them.

    `job_states` answers for a stored job id (see `liveness.job_states`). A row changes only if
    it is still exactly as it was read (same status, same last update), so a job that finishes
    meanwhile keeps its result. A database not created yet is tolerated: nothing to repair.
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
        return []
    now = utcnow()
    dead = [row for row in rows if _is_dead(row, job_states, now, stale_after)]
    repaired = [row for row in dead if _fail_if_unchanged(row, now)]
    if repaired:
        log.warning(
            "Marked %s interrupted job(s) as failed: %s",
            len(repaired),
            ", ".join(describe(row) for row in repaired),
        )
    return repaired


def _fail_if_unchanged(row: QueuedWorkMixin, now: datetime) -> bool:
    table = type(row)
    try:
        result = db.session.execute(
            update(table)
            .where(
                table.id == row.id,
                table.status.in_(IN_PROGRESS),
                table.updated_at == row.updated_at,
            )
            .values(status=WorkStatus.FAILED, error=INTERRUPTED, finished_at=now)
            .execution_options(synchronize_session=False)
        )
        changed = cast(CursorResult, result).rowcount
        if changed:
            db.session.refresh(row)
            row.forget_result()
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        raise
    return bool(changed)


def describe(row: QueuedWorkMixin) -> str:
    kind = "prediction" if isinstance(row, Prediction) else "retrain run"
    return f"{kind} {row.id}"
