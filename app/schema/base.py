"""What every table shares: the declarative base, ids, timestamps, and the one lifecycle of
queued work (WorkStatus, held by a CHECK constraint)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db

if TYPE_CHECKING:  # Flask-SQLAlchemy builds db.Model at run time from this declarative base
    from app.extensions import Base as ModelBase
else:
    ModelBase = db.Model

# Ids are 32-bit integers on every database; a larger number in a URL cannot name a row.
MAX_ID = 2**31 - 1


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class WorkStatus(StrEnum):
    """The one lifecycle of queued work (a prediction being scored, a retrain run): queued →
    running → done | failed. A CHECK constraint holds every status column to these words."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


IN_PROGRESS = (WorkStatus.QUEUED, WorkStatus.RUNNING)
# A measurement (holdout, outcomes) still queued or running after this long lost its job.
MEASURING_TIMEOUT = timedelta(minutes=15)


def work_status_check(column: str = "status", name: str = "work_status") -> CheckConstraint:
    """Holds `column` to the WorkStatus words (a nullable column may also be NULL)."""
    words = ", ".join(f"'{status.value}'" for status in WorkStatus)
    if column == "status":
        return CheckConstraint(f"status IN ({words})", name=name)
    return CheckConstraint(f"{column} IS NULL OR {column} IN ({words})", name=name)


class QueuedWorkMixin:
    """The columns and words of queued work, shared by models (retrain runs) and predictions."""

    id: Mapped[int]
    updated_at: Mapped[datetime]

    status: Mapped[str] = mapped_column(String(20), default=WorkStatus.DONE)
    progress: Mapped[int] = mapped_column(Integer, default=0)  # percent
    error: Mapped[str | None] = mapped_column(Text)
    job_id: Mapped[str | None] = mapped_column(String(64))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)

    @property
    def in_progress(self) -> bool:
        return self.status in IN_PROGRESS

    @property
    def is_done(self) -> bool:
        return self.status == WorkStatus.DONE

    @property
    def is_failed(self) -> bool:
        return self.status == WorkStatus.FAILED

    def forget_result(self) -> None:
        """Drop what a failed run would otherwise point at (files, version)."""


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime, default=utcnow, onupdate=utcnow, nullable=False
    )
