"""Reference data the migrations' companion, create_database, seeds."""

from app.extensions import db
from app.schema import ModelType


def test_modeltypes_are_seeded_with_the_five_default_kinds(any_db_app):
    keys = {mt.key for mt in db.session.scalars(db.select(ModelType))}
    assert keys == {
        "decision_tree",
        "gradient_boosting",
        "logistic_regression",
        "random_forest",
        "neural_network",
    }
