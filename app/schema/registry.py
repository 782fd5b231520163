"""The model registry's tables: model types, models (defaults, retrained versions and retrain
runs), their metrics, and deployments."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.schema.base import (
    ModelBase,
    QueuedWorkMixin,
    TimestampMixin,
    utcnow,
    work_status_check,
)

if TYPE_CHECKING:
    from app.schema.accounts import Developer
    from app.schema.data import Dataset


class ModelType(TimestampMixin, ModelBase):
    __tablename__ = "modeltypes"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)  # e.g. "neural_network"
    name: Mapped[str] = mapped_column(String(80))  # e.g. "Neural Network"
    description: Mapped[str] = mapped_column(Text, default="")
    retrainable: Mapped[bool] = mapped_column(Boolean, default=False)


class Model(QueuedWorkMixin, TimestampMixin, ModelBase):
    """A trained model of a company: a default (v1) or a retrained version, or a retrain run.

    A retrain run is a row from the moment it is queued, so its status survives restarts; it
    gets its version number and file only when it succeeds.
    """

    __tablename__ = "models"
    __table_args__ = (
        UniqueConstraint("company_id", "model_type_id", "version"),
        Index("ix_models_company_status", "company_id", "status"),
        work_status_check(),
        work_status_check("holdout_status", "holdout_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    model_type_id: Mapped[int] = mapped_column(ForeignKey("modeltypes.id"))
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int | None] = mapped_column(Integer)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    file_path: Mapped[str | None] = mapped_column(String(500))  # relative to MODELS_ROOT
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    sklearn_version: Mapped[str | None] = mapped_column(String(20))
    training_dataset_id: Mapped[int | None] = mapped_column(ForeignKey("datasets.id"))
    trained_by_developer_id: Mapped[int | None] = mapped_column(ForeignKey("developers.id"))
    training_rows: Mapped[int | None] = mapped_column(Integer)
    status_step: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Importances, ROC points, confusion matrix and drift statistics computed at training time.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Figures on the common holdout (services.monitoring.holdout), beside the model's own metrics.
    holdout_status: Mapped[str | None] = mapped_column(String(20))
    holdout: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    model_type: Mapped[ModelType] = relationship()
    metrics: Mapped[list[ModelMetric]] = relationship(
        back_populates="model", cascade="all, delete-orphan", order_by="ModelMetric.id"
    )
    training_dataset: Mapped[Dataset | None] = relationship()

    @property
    def label(self) -> str:
        if self.is_default:
            return self.model_type.name
        return f"{self.model_type.name} v{self.version}" if self.version else self.name

    def metric(self, name: str) -> float | None:
        return next((m.value for m in self.metrics if m.name == name), None)

    def top_features(self, count: int = 5) -> list[tuple[str, float]]:
        """The `count` input columns with the largest permutation importance, largest first."""
        importances = (self.details or {}).get("feature_importances") or {}
        return sorted(importances.items(), key=lambda pair: pair[1], reverse=True)[:count]

    def forget_result(self) -> None:
        self.status_step = "Failed"
        self.version = None
        self.file_path = None
        self.file_sha256 = None


class ModelMetric(TimestampMixin, ModelBase):
    __tablename__ = "modelmetrics"
    __table_args__ = (UniqueConstraint("model_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    name: Mapped[str] = mapped_column(String(40))
    value: Mapped[float] = mapped_column(Float)

    model: Mapped[Model] = relationship(back_populates="metrics")


class ModelDeployment(TimestampMixin, ModelBase):
    """A model made available to a company's users; withdrawing keeps the row, inactive. It
    records who deployed and withdrew it, when, why, and what the deploy guard compared; the
    database holds one active row per model and one live retrained version per company."""

    __tablename__ = "modeldeployments"
    __table_args__ = (
        Index("ix_modeldeployments_company_active", "company_id", "is_active"),
        Index(
            "uq_modeldeployments_active_model",
            "model_id",
            unique=True,
            sqlite_where=text("is_active"),
            postgresql_where=text("is_active"),
        ),
        Index(
            "uq_modeldeployments_live_retrained",
            "company_id",
            unique=True,
            sqlite_where=text("is_active AND is_retrained"),
            postgresql_where=text("is_active AND is_retrained"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    # A retrained version of the network (not one of the five defaults): at most one is live.
    is_retrained: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    deployed_by_developer_id: Mapped[int | None] = mapped_column(ForeignKey("developers.id"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    deployed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(20), default="deploy", server_default="deploy")
    # action: "deploy" or "rollback"; withdraw_action: "withdraw", "replaced" or "rollback".
    reason: Mapped[str | None] = mapped_column(Text)
    # The deploy guard's comparison when it was deployed: this version and the live network.
    guard: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime)
    withdrawn_by_developer_id: Mapped[int | None] = mapped_column(ForeignKey("developers.id"))
    withdraw_action: Mapped[str | None] = mapped_column(String(20))
    withdraw_reason: Mapped[str | None] = mapped_column(Text)

    model: Mapped[Model] = relationship()
    deployed_by: Mapped[Developer | None] = relationship(foreign_keys=[deployed_by_developer_id])
    withdrawn_by: Mapped[Developer | None] = relationship(foreign_keys=[withdrawn_by_developer_id])
