"""Database creation: apply the migrations (the schema's only source) and seed `modeltypes`."""

from __future__ import annotations

from flask_migrate import upgrade
from sqlalchemy import select, update

from app.extensions import db
from app.schema import ModelType, TimestampMixin
from app.services.catalog import MODEL_KINDS


def upgrade_database() -> None:
    """Bring the database to the newest migration and seed reference data (idempotent)."""
    upgrade()
    seed_model_types()


def seed_model_types() -> None:
    existing = {mt.key: mt for mt in db.session.scalars(select(ModelType))}
    for kind in MODEL_KINDS:
        model_type = existing.get(kind.key) or ModelType(key=kind.key)
        model_type.name = kind.name
        model_type.description = kind.description
        model_type.retrainable = kind.retrainable
        db.session.add(model_type)
    db.session.commit()


def model_type_by_key(key: str) -> ModelType:
    return db.session.execute(select(ModelType).filter_by(key=key)).scalar_one()


def lock_row(table: type[TimestampMixin], row_id: int) -> None:
    """Lock one row for the rest of the transaction, before reading what is to be changed.

    A no-op UPDATE takes PostgreSQL's row lock and SQLite's write lock, so two requests that
    change the same thing run one after the other and the second sees the first's result."""
    db.session.execute(
        update(table).where(table.id == row_id).values(updated_at=table.updated_at)  # type: ignore[attr-defined]
    )
