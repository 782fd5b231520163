"""The database schema: SQLAlchemy 2.0 typed models of the nine seed tables (companies,
developers, users, modeltypes, datasets, models, modelmetrics, modeldeployments, predictions)
and two the product added (login_sessions: one row per browser session; api_tokens).

- `base`: the declarative base, ids, timestamps, and WorkStatus, the one lifecycle of queued work;
- `accounts`: companies, developers, users, login sessions, API tokens;
- `registry`: model types, models, their metrics, deployments;
- `data`: data sets and predictions.

The migrations in `migrations/` are generated from these classes and are the only way the schema
reaches a database. Paths stored here are relative to the configured storage roots.
"""

from app.schema.accounts import AccountMixin, ApiToken, Company, Developer, LoginSession, User
from app.schema.base import (
    IN_PROGRESS,
    MAX_ID,
    MEASURING_TIMEOUT,
    ModelBase,
    QueuedWorkMixin,
    TimestampMixin,
    WorkStatus,
    utcnow,
    work_status_check,
)
from app.schema.data import Dataset, Prediction
from app.schema.registry import Model, ModelDeployment, ModelMetric, ModelType

__all__ = [
    "IN_PROGRESS",
    "MAX_ID",
    "MEASURING_TIMEOUT",
    "AccountMixin",
    "ApiToken",
    "Company",
    "Dataset",
    "Developer",
    "LoginSession",
    "Model",
    "ModelBase",
    "ModelDeployment",
    "ModelMetric",
    "ModelType",
    "Prediction",
    "QueuedWorkMixin",
    "TimestampMixin",
    "User",
    "WorkStatus",
    "utcnow",
    "work_status_check",
]
