"""Database creation: apply the migrations (the schema's only source) and seed `modeltypes`."""

from __future__ import annotations

from flask_migrate import upgrade
from sqlalchemy import select

from app.extensions import db
from app.schema import ModelType
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
