"""Fixtures: an app per test with a fresh, migrated database and temporary storage roots."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
import sklearn
from flask import g, has_app_context, request_started
from flask.testing import FlaskClient
from sqlalchemy import create_engine, make_url, text

from app import create_app
from app.extensions import db
from app.services.database import upgrade_database
from app.services.environment import ensure_company_models, initialize_developer_environment
from app.services.registry.default_models import ensure_default_model_files
from app.services.storage.original_data import provision_original_dataset
from tests import factories
from tests.mail_server import MailServer

UNDER_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")
TRAINING_SAMPLE_ROWS = 1500
# One key for every test process: the default model files are trained once and cached between
# runs, and their manifest is signed with the key of the app that wrote them.
TEST_SECRET_KEY = "tests-only-secret-key-" + "0" * 42
SMALL_ORIGINAL_ROWS = 400


@pytest.fixture(scope="session")
def original_dataset(tmp_path_factory) -> Path:
    """DatasetA.csv, provisioned from its package once per test session."""
    target = tmp_path_factory.mktemp("original") / "DatasetA.csv"
    provision_original_dataset(target)
    return target


@pytest.fixture(scope="session")
def small_original(tmp_path_factory, original_dataset) -> Path:
    """A stratified sample of DatasetA.csv, so each retrain takes about a second."""
    frame = pd.read_csv(original_dataset, dtype=str, keep_default_na=False)
    sample = frame.groupby("Churn", group_keys=False).sample(
        frac=SMALL_ORIGINAL_ROWS / len(frame), random_state=1
    )
    path = tmp_path_factory.mktemp("small") / "DatasetA.csv"
    sample.to_csv(path, index=False)
    return path


def _training_key(original_dataset: Path) -> str:
    """What decides the trained default models: scikit-learn, the data, the training code."""
    digest = hashlib.sha256()
    digest.update(f"{sklearn.__version__}:{TRAINING_SAMPLE_ROWS}:".encode())
    digest.update(original_dataset.read_bytes())
    services = Path(__file__).resolve().parent.parent / "app" / "services"
    for package in ("training", "preprocessing", "monitoring", "registry"):
        for source in sorted((services / package).glob("*.py")):
            digest.update(source.read_bytes())
    return digest.hexdigest()[:24]


@pytest.fixture(scope="session")
def default_models_dir(request, tmp_path_factory, original_dataset) -> Path:
    """The five default models, trained on a small stratified sample once and cached between
    runs (pytest's cache folder), keyed by what decides them: a second run trains nothing."""
    cache = request.config.cache.mkdir("trained-default-models")
    root = cache / _training_key(original_dataset)
    if not (root / "default_models").is_dir():
        staging = Path(tempfile.mkdtemp(dir=cache, prefix=".training-"))
        app = create_app(
            "testing",
            SECRET_KEY=TEST_SECRET_KEY,
            MODELS_ROOT=str(staging),
            DATASETS_ROOT=str(staging / "datasets"),
            CACHE_DIR=str(staging / "cache"),
        )
        with app.app_context():
            ensure_default_model_files(original_dataset, sample_rows=TRAINING_SAMPLE_ROWS)
        try:
            staging.rename(root)  # atomic: a parallel worker either wins or finds it done
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
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


def _fresh_postgres_url(url: str) -> str:
    """A URL on an empty schema of its own for this xdist worker.

    Parallel workers (and test runs of other checkouts on the same machine) share one
    PostgreSQL database, so each process gets its own schema, set as the connection's
    search_path, instead of all dropping and creating `public` at once.
    """
    schema = _own_schema()
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    with_schema = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return with_schema.render_as_string(hide_password=False)


def _own_schema() -> str:
    return f"test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"


def _drop_own_schema(url: str) -> None:
    schema = _own_schema()
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


class RequestClient(FlaskClient):
    """A test client whose every request starts with an empty `g`, as in production.

    The fixtures keep an app context open so tests can use the database directly; Flask then
    reuses that context for requests, and `g` (where Flask-Login caches the logged-in account)
    would otherwise leak from one request, and one client, to the next.
    """

    def open(self, *args, **kwargs):
        if has_app_context():
            g.__dict__.clear()
        return super().open(*args, **kwargs)


def build_app(
    tmp_path: Path,
    database_url: str,
    original_dataset: Path,
    default_models: Path | None = None,
    **overrides,
):
    """An app whose storage lives under tmp_path; the session's trained defaults are linked in."""
    if default_models is not None:
        (tmp_path / "models").mkdir(parents=True, exist_ok=True)
        link = tmp_path / "models" / "default_models"
        if not link.exists():
            link.symlink_to(default_models, target_is_directory=True)
    config = {
        "SECRET_KEY": TEST_SECRET_KEY,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "MODELS_ROOT": str(tmp_path / "models"),
        "DATASETS_ROOT": str(tmp_path / "datasets"),
        "CACHE_DIR": str(tmp_path / "cache"),
        "OUTBOX_DIR": str(tmp_path / "outbox"),
        "ORIGINAL_DATASET": str(original_dataset),
        "SERVER_NAME": "localhost",
    }
    config.update(overrides)
    app = create_app("testing", **config)
    app.test_client_class = RequestClient
    return app


def sqlite_app(
    tmp_path: Path, template: Path, original_dataset: Path, default_models: Path, **overrides
):
    """An app on a copy of the migrated SQLite template, inside its app context."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    database = tmp_path / "test.sqlite3"
    shutil.copyfile(template, database)
    app = build_app(
        tmp_path, f"sqlite:///{database}", original_dataset, default_models, **overrides
    )
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(tmp_path, migrated_sqlite_template, original_dataset, default_models_dir):
    yield from sqlite_app(tmp_path, migrated_sqlite_template, original_dataset, default_models_dir)


@pytest.fixture
def private_models_app(tmp_path, migrated_sqlite_template, original_dataset, default_models_dir):
    """An app with its own copy of the default model files (and their manifest), safe to alter."""
    shutil.copytree(default_models_dir, tmp_path / "models" / "default_models")
    yield from sqlite_app(tmp_path, migrated_sqlite_template, original_dataset, default_models_dir)


@contextmanager
def forgetting_login(app):
    """Tests run inside one app context, so `g` (where Flask-Login caches the account) would
    outlive a request; forget it at each request so several clients can take turns."""

    def forget(_sender, **_extra):
        g.pop("_login_user", None)

    request_started.connect(forget, app)
    try:
        yield
    finally:
        request_started.disconnect(forget, app)


@pytest.fixture
def fresh_login_per_request(app):
    """`forgetting_login` for the test's app, for `pytest.mark.usefixtures`."""
    with forgetting_login(app):
        yield


@pytest.fixture
def make_app(tmp_path, migrated_sqlite_template, original_dataset, default_models_dir):
    """Build an app with config overrides (e.g. CSRF or rate limits on); one per test."""
    apps = []

    def build(**overrides):
        generator = sqlite_app(
            tmp_path / f"app{len(apps)}",
            migrated_sqlite_template,
            original_dataset,
            default_models_dir,
            **overrides,
        )
        apps.append(generator)
        return next(generator)

    yield build
    for generator in reversed(apps):
        next(generator, None)


@pytest.fixture(scope="session")
def smtp_server():
    """A real SMTP server on a free loopback port, shared by the tests of one process."""
    server = MailServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mail_server(smtp_server):
    smtp_server.clear()
    return smtp_server


@pytest.fixture
def smtp_app(tmp_path, migrated_sqlite_template, original_dataset, default_models_dir, mail_server):
    """An app that sends its email over SMTP to `mail_server`."""
    yield from sqlite_app(
        tmp_path,
        migrated_sqlite_template,
        original_dataset,
        default_models_dir,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=mail_server.port,
        MAIL_SUPPRESS_SEND=False,  # Flask-Mail stays silent under TESTING unless told
    )


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
        url = _fresh_postgres_url(POSTGRES_URL)
    else:
        url = f"sqlite:///{tmp_path / 'any.sqlite3'}"
    app = build_app(tmp_path, url, original_dataset, default_models_dir)
    with app.app_context():
        upgrade_database()
        yield app
        db.session.remove()
        db.engine.dispose()
    if request.param == "postgresql":
        _drop_own_schema(POSTGRES_URL)


@pytest.fixture
def small_app(tmp_path, migrated_sqlite_template, small_original, default_models_dir):
    """An app whose original data set is the 400-row sample, so a retrain takes about a second;
    it waits for its background jobs before it goes."""
    from app.services import jobs

    database = tmp_path / "small.sqlite3"
    shutil.copyfile(migrated_sqlite_template, database)
    app = build_app(tmp_path, f"sqlite:///{database}", small_original, default_models_dir)
    with app.app_context():
        yield app
        jobs.wait_for_idle(app)
        jobs.wait_for_idle(app)  # a job may queue another (a retrain queues the holdout's)
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
    """A verified user; the company's default models are registered, as verification does."""
    user = factories.make_user(company)
    ensure_company_models(company)
    return user


@pytest.fixture
def developer_client(app, developer):
    return factories.log_in(app.test_client(), developer)


@pytest.fixture
def user_client(app, user):
    return factories.log_in(app.test_client(), user)
