"""Database creation: apply the migrations (the schema's only source) and seed `modeltypes`."""

from __future__ import annotations

from flask_migrate import upgrade
from sqlalchemy import select

from app.extensions import db
from app.schema import ModelType

MODEL_TYPES = [
    ("decision_tree", "Decision Tree", "A single tree of yes/no questions: easy to read.", False),
    ("gradient_boosting", "Gradient Boosting", "Many small trees, each fixing the last.", False),
    ("logistic_regression", "Logistic Regression", "A linear model of churn odds.", False),
    ("random_forest", "Random Forest", "Many trees voting on random views of the data.", False),
    ("neural_network", "Neural Network", "A multi-layer perceptron; retrainable.", True),
]


def upgrade_database() -> None:
    """Bring the database to the newest migration and seed reference data (idempotent)."""
    upgrade()
    seed_model_types()


def seed_model_types() -> None:
    existing = {mt.key: mt for mt in db.session.scalars(select(ModelType))}
    for key, name, description, retrainable in MODEL_TYPES:
        model_type = existing.get(key) or ModelType(key=key)
        model_type.name = name
        model_type.description = description
        model_type.retrainable = retrainable
        db.session.add(model_type)
    db.session.commit()


def model_type_by_key(key: str) -> ModelType:
    return db.session.execute(select(ModelType).filter_by(key=key)).scalar_one()
