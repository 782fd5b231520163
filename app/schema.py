"""The database schema: ten tables as SQLAlchemy 2.0 typed models.

The migrations in `migrations/` are generated from these classes and are the only way the schema
reaches a database. Paths stored here are relative to the configured storage roots.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
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


class Company(TimestampMixin, ModelBase):
    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254), index=True)
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Decision costs, set by the developer (services.decisions.costs, which validates them):
    # all four or none.
    customer_value: Mapped[float | None] = mapped_column(Float)
    offer_cost: Mapped[float | None] = mapped_column(Float)
    contact_cost: Mapped[float | None] = mapped_column(Float)
    acceptance_rate: Mapped[float | None] = mapped_column(Float)
    costs_updated_at: Mapped[datetime | None] = mapped_column(DateTime)

    developer: Mapped[Developer | None] = relationship(back_populates="company")
    users: Mapped[list[User]] = relationship(back_populates="company")


class AccountMixin(TimestampMixin, UserMixin):
    """Columns and login behaviour shared by developers and users."""

    role: str = ""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime)
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped on logout and password change: every session issued before then stops working.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)

    # The key of the login session this object was loaded for (not a column: sessions live in
    # `login_sessions`); Flask-Login stores get_id() in the session and remember cookies.
    if TYPE_CHECKING:
        session_key: str | None
    session_key = None  # set by the session loader (a plain attribute, not a column)

    def get_id(self) -> str:
        base = f"{self.role}:{self.id}:{self.session_version}"
        return f"{base}:{self.session_key}" if self.session_key else base

    @property
    def is_developer(self) -> bool:
        return self.role == "developer"


class Developer(AccountMixin, ModelBase):
    __tablename__ = "developers"
    role = "developer"

    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), unique=True)
    approved_at: Mapped[datetime | None] = mapped_column(DateTime)
    environment_ready_at: Mapped[datetime | None] = mapped_column(DateTime)

    company: Mapped[Company] = relationship(back_populates="developer")

    @property
    def is_active(self) -> bool:  # Flask-Login: may this account hold a session?
        return bool(self.is_enabled and self.email_verified_at and self.approved_at)


class User(AccountMixin, ModelBase):
    __tablename__ = "users"
    role = "user"

    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime)

    company: Mapped[Company] = relationship(back_populates="users")

    @property
    def is_active(self) -> bool:
        return bool(self.is_enabled and self.email_verified_at)


class LoginSession(TimestampMixin, ModelBase):
    """One browser's login: logging out deletes its row, so a copy of its cookies stops working
    while the account's other sessions go on. Only a hash of the key in the cookie is kept."""

    __tablename__ = "login_sessions"
    __table_args__ = (
        CheckConstraint("(developer_id IS NULL) <> (user_id IS NULL)", name="one_account"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    developer_id: Mapped[int | None] = mapped_column(
        ForeignKey("developers.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )


class ModelType(TimestampMixin, ModelBase):
    __tablename__ = "modeltypes"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)  # e.g. "neural_network"
    name: Mapped[str] = mapped_column(String(80))  # e.g. "Neural Network"
    description: Mapped[str] = mapped_column(Text, default="")
    retrainable: Mapped[bool] = mapped_column(Boolean, default=False)


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
    def owner_name(self) -> str:
        person = self.user or self.developer
        return person.name if person else "—"


class ApiToken(TimestampMixin, ModelBase):
    """A named API token of a company's developer, for the company's own pipelines.

    Only the token's SHA-256 is stored (the token itself is shown once, when it is created);
    `prefix` (its first characters) tells tokens apart on the page. A revoked token stays, so
    the page can show when it was last used.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    developer_id: Mapped[int] = mapped_column(ForeignKey("developers.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)

    developer: Mapped[Developer] = relationship()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
