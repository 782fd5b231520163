"""A worker killed mid-job (SIGKILL of its whole process group: no exception, no clean-up) and
restarted at once: the new worker's sweep sees that the old one is dead (it is not fooled by the
dead worker's entry that Redis keeps for minutes), marks the row failed, and removes what the
killed run left: the partial result, the retrain's combined data set and its row."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from sqlalchemy import select

from app.extensions import db
from app.schema import Dataset, Model, Prediction
from app.services import jobs, registry, retraining, storage
from app.services.jobs import lifecycle
from app.services.prediction import create_prediction
from tests import factories
from tests.conftest import build_app
from tests.processes import (
    environment_of,
    kill_group,
    live_redis_url,
    started,
    unique_queue,
    wait_until,
    worker_command,
)


@pytest.fixture
def rq_app(tmp_path, migrated_sqlite_template, original_dataset, default_models_dir):
    """An app on a SQLite file that worker processes share, queueing on a queue of its own."""
    database = tmp_path / "shared.sqlite3"
    shutil.copyfile(migrated_sqlite_template, database)
    app = build_app(
        tmp_path,
        f"sqlite:///{database}",
        original_dataset,
        default_models_dir,
        JOB_BACKEND="rq",
        REDIS_URL=live_redis_url(),
        RQ_QUEUE=unique_queue(),
        PREDICTION_BACKGROUND_ROWS=1000,
        PREDICTION_CHUNK_ROWS=500,
        SWEEP_INTERVAL=2,
        SWEEP_GRACE_SECONDS=1,
    )
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
    from rq import Queue

    Queue(app.config["RQ_QUEUE"], connection=jobs.redis_connection(app)).delete(delete_jobs=True)


@pytest.fixture
def developer(rq_app):
    developer = factories.make_developer()
    from app.services.environment import initialize_developer_environment

    initialize_developer_environment(developer)
    return developer


def _fresh(row_class, row_id):
    db.session.rollback()  # a new snapshot: the worker writes from another process
    return db.session.get(row_class, row_id)


def test_a_prediction_whose_worker_is_killed_is_failed_by_the_restarted_worker(
    rq_app, developer, original_dataset, tmp_path
):
    frame = pd.read_csv(original_dataset, dtype=str, keep_default_na=False)
    big = frame.sample(120_000, replace=True, random_state=3)
    model = registry.models_for(developer)[0]
    prediction = create_prediction(
        developer, "big", model.id, factories.upload(big.to_csv(index=False).encode())
    )
    assert prediction.status == "queued" and prediction.job_id
    env = environment_of(rq_app)
    log = tmp_path / "worker.log"

    with started(worker_command(), env, log) as first:
        wait_until(lambda: _fresh(Prediction, prediction.id).progress > 1, what="scoring to start")
        kill_group(first)  # a crash: nothing of the job's own failure handling runs
    assert _fresh(Prediction, prediction.id).status == "running"

    with started(worker_command(), env, log):  # restarted at once, within seconds
        failed = wait_until(
            lambda: (row := _fresh(Prediction, prediction.id)).status == "failed" and row,
            timeout=60,
            what="the restarted worker's sweep",
        )
        assert failed.error == lifecycle.INTERRUPTED and failed.result_path is None
        results = storage.datasets_root() / "dev" / "predictionResult"
        wait_until(lambda: not any(results.iterdir()), what="the partial result's removal")
        wait_until(lambda: "Removed a file no row references" in log.read_text(), what="log")
    assert "Marked failed (its job is gone): prediction" in log.read_text()


def test_a_retrain_killed_mid_way_leaves_no_combined_data_set(
    rq_app, developer, original_dataset, tmp_path
):
    frame = pd.read_csv(original_dataset, dtype=str, keep_default_na=False)
    upload = frame.sample(500, random_state=4).assign(
        customerID=[f"NEW-{i:04d}" for i in range(500)]
    )
    run = retraining.start_retrain(developer, "killed", factories.upload(upload))
    env = environment_of(rq_app)
    log = tmp_path / "worker.log"

    with started(worker_command(), env, log) as first:
        combined = wait_until(
            lambda: (
                (row := _fresh(Model, run.id)).status == "running"
                and row.progress >= 20  # combined, and training has begun
                and row.training_dataset
            ),
            what="training to start",
            interval=0.05,
        )
        combined_id, combined_path = combined.id, storage.dataset_file(combined.path)
        kill_group(first)
    assert combined_path.exists() and _fresh(Model, run.id).status == "running"

    with started(worker_command(), env, log):
        failed = wait_until(
            lambda: (row := _fresh(Model, run.id)).status == "failed" and row,
            timeout=60,
            what="the restarted worker's sweep",
        )
        assert failed.error == lifecycle.INTERRUPTED and failed.version is None
        wait_until(lambda: "Removed the data set of a failed run" in log.read_text(), what="log")
    assert _fresh(Model, run.id).training_dataset_id is None
    assert db.session.get(Dataset, combined_id) is None
    assert not combined_path.exists()
    assert db.session.scalars(select(Dataset).filter_by(kind="combined")).all() == []
