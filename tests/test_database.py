"""The schema reaches every supported database through the migrations."""

from sqlalchemy import inspect

from app.extensions import db

TABLES = {
    "companies",
    "developers",
    "users",
    "modeltypes",
    "datasets",
    "models",
    "modelmetrics",
    "modeldeployments",
    "predictions",
}


def test_migrations_create_the_nine_tables(any_db_app):
    assert set(inspect(db.engine).get_table_names()) >= TABLES


def test_modeltypes_are_seeded_with_the_five_default_kinds(any_db_app):
    from app.schema import ModelType

    keys = {mt.key for mt in db.session.scalars(db.select(ModelType))}
    assert keys == {
        "decision_tree",
        "gradient_boosting",
        "logistic_regression",
        "random_forest",
        "neural_network",
    }
