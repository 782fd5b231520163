"""A database blip during a background job never leaves its row "running": the job's own
connection is terminated by PostgreSQL in the middle of its transaction, or the server restarts
(a throwaway cluster of this test, never the machine's shared server); the failure is recorded
once the database answers again, and the partial result is removed."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from sqlalchemy import make_url
from sqlalchemy import text as sa_text
from sqlalchemy.exc import DBAPIError

from app.extensions import db
from app.schema import Prediction
from app.services import jobs, registry, storage
from app.services.database import upgrade_database
from app.services.environment import initialize_developer_environment
from app.services.jobs import lifecycle
from app.services.prediction import create_prediction
from tests import factories
from tests.conftest import POSTGRES_URL, UNDER_CI, _drop_own_schema, _fresh_postgres_url, build_app
from tests.processes import free_port, wait_until

ROWS = 150_000


def _app_on(url: str, tmp_path: Path, original_dataset: Path, default_models: Path, name: str):
    return build_app(
        tmp_path,
        url,
        original_dataset,
        default_models,
        # The job's connections carry a name of their own, so the test can find them.
        SQLALCHEMY_ENGINE_OPTIONS={
            "pool_pre_ping": True,
            "connect_args": {"application_name": name},
        },
        PREDICTION_BACKGROUND_ROWS=1000,
        PREDICTION_CHUNK_ROWS=5000,
        # Reasons in the scoring job, by a model that needs substitution for them: the job
        # runs for many seconds, so the blip lands in it and not after it.
        PREDICTION_REASONS_LATER_ROWS=0,
    )


def _libpq(url: str) -> str:
    """The plain libpq form of a SQLAlchemy URL (for the test's own observer connection)."""
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def _job_connections_in_transaction(observer, name: str) -> list[int]:
    rows = observer.execute(
        "SELECT pid FROM pg_stat_activity WHERE application_name = %s "
        "AND state = 'idle in transaction'",
        (name,),
    ).fetchall()
    return [row[0] for row in rows]


def _start_big_prediction(app, original_dataset: Path) -> int:
    developer = factories.make_developer()
    initialize_developer_environment(developer)
    frame = pd.read_csv(original_dataset, dtype=str, keep_default_na=False)
    big = frame.sample(ROWS, replace=True, random_state=5)
    model = next(
        m for m in registry.models_for(developer) if m.model_type.key == "gradient_boosting"
    )
    prediction = create_prediction(
        developer, "during a blip", model.id, factories.upload(big.to_csv(index=False).encode())
    )
    prediction_id = prediction.id
    db.session.close()  # the test's own session holds no transaction while it watches
    return prediction_id


def _assert_failed_and_clean(app, prediction_id: int) -> None:
    jobs.wait_for_idle(app, timeout=180)
    db.session.rollback()
    prediction = db.session.get(Prediction, prediction_id)
    assert prediction.status == "failed", prediction.status
    assert prediction.error == lifecycle.UNEXPECTED
    assert prediction.result_path is None
    results = storage.datasets_root() / "dev" / "predictionResult"
    assert not results.exists() or list(results.iterdir()) == []


@pytest.fixture
def shared_pg_app(tmp_path, original_dataset, default_models_dir):
    if not POSTGRES_URL:
        if UNDER_CI:
            pytest.fail("CI must set TEST_DATABASE_URL")
        pytest.skip("set TEST_DATABASE_URL for the PostgreSQL tests")
    name = f"cb-blip-{uuid.uuid4().hex[:8]}"
    url = _fresh_postgres_url(POSTGRES_URL)
    app = _app_on(url, tmp_path, original_dataset, default_models_dir, name)
    with app.app_context():
        upgrade_database()
        yield app, url, name
        jobs.wait_for_idle(app, timeout=180)
        db.session.remove()
        db.engine.dispose()
    _drop_own_schema(POSTGRES_URL)


def test_a_terminated_connection_mid_job_marks_the_prediction_failed(
    shared_pg_app, original_dataset
):
    app, url, name = shared_pg_app
    prediction_id = _start_big_prediction(app, original_dataset)
    with psycopg.connect(_libpq(url), autocommit=True) as observer:
        progress_at_kill: list[int | None] = [None]

        def terminated_mid_transaction() -> bool:
            """Terminate the job's connection while it is inside a transaction. A kill that
            lands just after a commit is absorbed by the pool's pre-ping, and the job goes on:
            kill again only once its progress has moved past where the last kill found it, so
            the failure handler (which moves no progress) is never killed in turn."""
            status, progress = observer.execute(
                "SELECT status, progress FROM predictions WHERE id = %s", (prediction_id,)
            ).fetchone()
            if status not in ("queued", "running"):
                return True
            if progress_at_kill[0] is None or (progress or 0) > progress_at_kill[0]:
                for pid in _job_connections_in_transaction(observer, name):
                    observer.execute("SELECT pg_terminate_backend(%s)", (pid,))
                    progress_at_kill[0] = progress or 0
            return False

        wait_until(terminated_mid_transaction, timeout=180, interval=0.01, what="the job's end")
    _assert_failed_and_clean(app, prediction_id)


def test_a_job_whose_connection_dies_before_its_first_read_still_reads_its_row(shared_pg_app):
    app, url, name = shared_pg_app
    developer = factories.make_developer()
    developer_id = developer.id
    db.session.commit()
    # The session holds a connection inside a transaction; the server then ends it, as a
    # restart would between the job being queued and its first statement.
    pid = db.session.execute(sa_text("SELECT pg_backend_pid()")).scalar_one()
    with psycopg.connect(_libpq(url), autocommit=True) as observer:
        observer.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(DBAPIError):  # what a job's plain first read meets
        db.session.execute(sa_text("SELECT 1"))
    db.session.rollback()
    pid = db.session.execute(sa_text("SELECT pg_backend_pid()")).scalar_one()
    with psycopg.connect(_libpq(url), autocommit=True) as observer:
        observer.execute("SELECT pg_terminate_backend(%s)", (pid,))
    found = lifecycle.load_work(type(developer), developer_id)
    assert found is not None and found.id == developer_id


# A PostgreSQL of this test's own, so that it can be restarted --------------------------------


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[str]:
    """A fresh PostgreSQL cluster on a free port, run as the postgres user; removed after."""
    initdb = shutil.which("initdb") or next(Path("/usr/lib/postgresql").glob("*/bin/initdb"), None)
    if initdb is None or os.geteuid() != 0:
        if UNDER_CI:
            pytest.fail("CI runs as root with PostgreSQL installed (initdb)")
        pytest.skip("needs root and PostgreSQL's initdb to run a throwaway cluster")
    bin_dir = Path(initdb).resolve().parent
    folder = Path(tempfile.mkdtemp(prefix="cb-pg-"))
    shutil.chown(folder, "postgres")
    port = free_port()
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"

    def pg(*args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *args],
            check=True,
            capture_output=True,
            timeout=60,
        )

    pg(str(bin_dir / "initdb"), "-D", f"{folder}/data", "-A", "trust", "-U", "postgres")
    ctl = [str(bin_dir / "pg_ctl"), "-D", f"{folder}/data", "-l", f"{folder}/log", "-o", options]
    pg(*ctl, "-w", "start")
    try:
        yield (
            f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres",
            (
                lambda: pg(*ctl, "-m", "fast", "-w", "stop"),
                lambda: pg(*ctl, "-w", "start"),
            ),
        )
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            pg(*ctl, "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


class Messages(logging.Handler):
    """The messages of one logger (the migrations reconfigure logging, so caplog misses them)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def warnings():
    handler = Messages()
    logger = logging.getLogger("app.services.jobs.lifecycle")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def test_a_database_restart_mid_job_marks_the_prediction_failed_once_it_is_back(
    tmp_path, original_dataset, default_models_dir, warnings
):
    name = f"cb-restart-{uuid.uuid4().hex[:8]}"
    with throwaway_cluster() as (url, (stop, start)):
        app = _app_on(url, tmp_path, original_dataset, default_models_dir, name)
        with app.app_context():
            upgrade_database()
            prediction_id = _start_big_prediction(app, original_dataset)
            with psycopg.connect(_libpq(url), autocommit=True) as observer:
                wait_until(
                    lambda: _job_connections_in_transaction(observer, name),
                    timeout=120,
                    interval=0.02,
                    what="the job's transaction",
                )
            stop()  # the server goes down in the middle of the job's transaction...
            wait_until(  # ...and stays down while the job tries to record its failure
                lambda: any("Could not record the failure" in m for m in warnings.messages),
                timeout=120,
                what="the job's first attempt to record its failure",
            )
            start()
            _assert_failed_and_clean(app, prediction_id)
            db.session.remove()
            db.engine.dispose()
