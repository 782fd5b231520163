"""The migrations build the whole schema on SQLite and PostgreSQL and match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app.extensions import db
from app.services.database import upgrade_database

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
    "login_sessions",
}


def test_migrations_create_every_table_of_the_models(any_db_app):
    assert set(inspect(db.engine).get_table_names()) >= TABLES
    assert set(db.metadata.tables) == TABLES


def test_migrations_leave_no_difference_from_the_models(any_db_app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": True}
        )
        assert compare_metadata(context, db.metadata) == []


def test_upgrading_an_up_to_date_database_again_is_harmless(any_db_app):
    from app.schema import ModelType

    upgrade_database()
    upgrade_database()
    assert db.session.scalar(db.select(db.func.count(ModelType.id))) == 5
