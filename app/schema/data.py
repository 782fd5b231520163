"""Data files and predictions: every data set on disk (with its lineage) and every prediction
(with its result, drift and outcomes)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.schema.base import (
    IN_PROGRESS,
    MEASURING_TIMEOUT,
    ModelBase,
    QueuedWorkMixin,
    TimestampMixin,
    WorkStatus,
    utcnow,
    work_status_check,
)

if TYPE_CHECKING:
    from app.schema.accounts import Developer, User
    from app.schema.registry import Model


class Dataset(TimestampMixin, ModelBase):
    """A data file on disk. Combined data sets record the two data sets they came from."""

    __tablename__ = "datasets"
    __table_args__ = (Index("ix_datasets_company_kind", "company_id", "kind"),)

    KINDS = ("original", "retrain_upload", "combined", "predict_upload", "outcomes")

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(String(500), unique=True)  # relative to DATASETS_ROOT
    original_filename: Mapped[str | None] = mapped_column(String(255))
    file_format: Mapped[str] = mapped_column(String(10), default="csv")
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    column_count: Mapped[int] = mapped_column(Integer, default=0)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str | None] = mapped_column(String(64))
    uploaded_by_developer_id: Mapped[int | None] = mapped_column(ForeignKey("developers.id"))
    uploaded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Lineage: a combined data set = base (original or previous combined) + upload.
    base_dataset_id: Mapped[int | None] = mapped_column(ForeignKey("datasets.id"))
    upload_dataset_id: Mapped[int | None] = mapped_column(ForeignKey("datasets.id"))
    base_rows_used: Mapped[int | None] = mapped_column(Integer)
    upload_rows_used: Mapped[int | None] = mapped_column(Integer)
    replaced_rows: Mapped[int | None] = mapped_column(Integer)

    base_dataset: Mapped[Dataset | None] = relationship(
        remote_side=[id], foreign_keys=[base_dataset_id]
    )
    upload_dataset: Mapped[Dataset | None] = relationship(
        remote_side=[id], foreign_keys=[upload_dataset_id]
    )


class Prediction(QueuedWorkMixin, TimestampMixin, ModelBase):
    __tablename__ = "predictions"
    __table_args__ = (
        Index("ix_predictions_company_created", "company_id", "created_at"),
        Index("ix_predictions_user_created", "user_id", "created_at"),
        Index("ix_predictions_model_created", "model_id", "created_at"),
        work_status_check(),
        work_status_check("outcomes_status", "outcomes_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    developer_id: Mapped[int | None] = mapped_column(ForeignKey("developers.id"))
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    input_dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    name: Mapped[str] = mapped_column(String(200))
    result_path: Mapped[str | None] = mapped_column(String(500))  # relative to DATASETS_ROOT
    result_format: Mapped[str] = mapped_column(String(10), default="csv")
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    churn_count: Mapped[int] = mapped_column(Integer, default=0)
    # Top-risk preview rows and summary figures, computed once when scoring finishes.
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Input drift (services.monitoring.drift): None as the count when the model has no statistics.
    drift: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    drifting_count: Mapped[int | None] = mapped_column(Integer)
    # What really happened (services.monitoring.outcomes): job state, files, realised figures.
    outcomes_status: Mapped[str | None] = mapped_column(String(20))
    outcomes: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    model: Mapped[Model] = relationship()
    user: Mapped[User | None] = relationship()
    developer: Mapped[Developer | None] = relationship()
    input_dataset: Mapped[Dataset] = relationship()

    def forget_result(self) -> None:
        self.result_path = None

    @property
    def outcomes_in_progress(self) -> bool:
        """The outcomes are queued or being measured (and their job has not been lost)."""
        if self.outcomes_status not in IN_PROGRESS:
            return False
        requested = (self.outcomes or {}).get("requested_at")
        if not isinstance(requested, str):
            return False
        return utcnow() - datetime.fromisoformat(requested) < MEASURING_TIMEOUT

    @property
    def outcomes_stalled(self) -> bool:
        return self.outcomes_status in IN_PROGRESS and not self.outcomes_in_progress

    @property
    def late_reasons(self) -> dict[str, Any]:
        """How the reasons of a done result are being added (services.prediction.late_reasons):
        empty when they came with the result."""
        reasons = (self.summary or {}).get("reasons") or {}
        return reasons if reasons.get("state") else {}

    @property
    def reasons_in_progress(self) -> bool:
        """Reasons are queued or being added (and their job was heard from lately)."""
        late = self.late_reasons
        if late.get("state") not in IN_PROGRESS:
            return False
        touched = late.get("touched_at")
        if not isinstance(touched, str):
            return False
        return utcnow() - datetime.fromisoformat(touched) < MEASURING_TIMEOUT

    @property
    def reasons_stalled(self) -> bool:
        return self.late_reasons.get("state") in IN_PROGRESS and not self.reasons_in_progress

    @property
    def reasons_state(self) -> str | None:
        """None until done; then "done" (with the result, or added since), "queued" or
        "running" (being added), or "failed" (the result stays without them)."""
        if not self.is_done:
            return None
        if self.reasons_stalled:
            return WorkStatus.FAILED
        return self.late_reasons.get("state") or WorkStatus.DONE

    @property
    def owner_name(self) -> str:
        person = self.user or self.developer
        return person.name if person else "—"
