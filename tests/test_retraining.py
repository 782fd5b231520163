"""Retraining: lineage across versions, the repeat-customerID rule, fixed network parameters,
failed and refused runs, recovery of interrupted jobs, and the RQ back end on a real Redis."""

from __future__ import annotations

import io
import os
import shutil
import uuid
from pathlib import Path

import pandas as pd
import pytest
from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.schema import Dataset, Model
from app.services import jobs, retraining, storage, training
from app.services.environment import initialize_developer_environment
from app.services.jobs import lifecycle, liveness
from app.services.preprocessing import FEATURES
from app.services.retraining import lineage
from app.services.storage import datasets
from tests import factories
from tests.conftest import UNDER_CI, build_app


@pytest.fixture
def rapp(tmp_path, migrated_sqlite_template, small_original, default_models_dir):
    database = tmp_path / "test.sqlite3"
    shutil.copyfile(migrated_sqlite_template, database)
    app = build_app(tmp_path, f"sqlite:///{database}", small_original, default_models_dir)
    with app.app_context():
        yield app
        jobs.wait_for_idle(app)
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def dev(rapp):
    developer = factories.make_developer()
    initialize_developer_environment(developer)
    return developer


@pytest.fixture
def dev_client(rapp, dev):
    return factories.log_in(rapp.test_client(), dev)


def upload_frame(source: Path, rows: int, repeated: int = 0, seed: int = 0) -> pd.DataFrame:
    """`rows` rows sampled from `source`: fresh customerIDs except the first `repeated`."""
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    sample = frame.sample(n=rows, random_state=seed).reset_index(drop=True)
    fresh = [f"NEW-{seed}-{i:05d}" for i in range(rows)]
    sample["customerID"] = [
        sample.loc[i, "customerID"] if i < repeated else fresh[i] for i in range(rows)
    ]
    return sample


def retrain(developer, frame, name="run") -> Model:
    run = retraining.start_retrain(developer, name, factories.upload(frame))
    jobs.wait_for_idle(current_app._get_current_object())
    db.session.expire_all()
    return db.session.get(Model, run.id)


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# Lineage ----------------------------------------------------------------------------------------


def test_three_successive_retrains_chain_their_data_sets_and_count_rows(rapp, dev, small_original):
    original = lineage.latest_dataset(dev.company)
    assert original.kind == "original"
    previous = original
    for version, seed in ((2, 1), (3, 2), (4, 3)):
        frame = upload_frame(small_original, 80, repeated=10, seed=seed)
        run = retrain(dev, frame, name=f"run {version}")
        assert run.status == "done", run.error
        assert run.version == version
        combined = run.training_dataset
        assert combined.kind == "combined"
        assert combined.base_dataset_id == previous.id
        assert combined.upload_dataset.kind == "retrain_upload"
        assert combined.upload_rows_used == 80
        assert combined.replaced_rows == 10
        assert combined.base_rows_used == previous.row_count - 10
        assert combined.row_count == previous.row_count + 80 - 10
        on_disk = pd.read_csv(storage.dataset_file(combined.path))
        assert len(on_disk) == combined.row_count
        assert list(on_disk.columns) == ["customerID", *FEATURES, "Churn"]
        assert on_disk["customerID"].is_unique
        previous = combined
    chain = datasets.lineage_chain(previous)
    assert [d.kind for d in chain] == ["original", "combined", "combined", "combined"]
    assert chain[0].id == original.id
    assert len(files_under(storage.models_root() / "retrained_models")) == 6


def test_an_upload_row_replaces_the_base_row_with_the_same_customer_id():
    columns = ["customerID", *FEATURES, "Churn"]
    base = pd.DataFrame([["A", *["x"] * 16, "No"], ["B", *["x"] * 16, "No"]], columns=columns)
    upload = pd.DataFrame(
        [["B", *["first"] * 16, "No"], ["C", *["y"] * 16, "No"], ["B", *["last"] * 16, "Yes"]],
        columns=columns,
    )
    combined, counts = lineage.merge_frames(base, upload)
    assert list(combined["customerID"]) == ["A", "C", "B"]
    assert combined.set_index("customerID").loc["B", "Churn"] == "Yes"
    assert combined.set_index("customerID").loc["B", "tenure"] == "last"
    assert (counts.base_rows_used, counts.upload_rows_used, counts.replaced_rows) == (1, 2, 1)
    assert counts.row_count == len(combined) == 3


def test_the_saved_network_has_the_fixed_parameters_of_the_spec(rapp, dev, small_original):
    run = retrain(dev, upload_frame(small_original, 60, seed=5))
    assert run.status == "done", run.error
    pipeline = training.load_pipeline(storage.model_file(run.file_path), run.file_sha256)
    params = pipeline.named_steps["model"].get_params()
    assert params["hidden_layer_sizes"] == (100, 50)
    assert params["activation"] == "identity"
    assert params["solver"] == "sgd"
    assert params["alpha"] == 0.1
    assert params["max_iter"] == 200
    assert params["random_state"] == 42
    assert run.metric("AUC") is not None and run.details["roc_curve"]
    assert run.trained_by_developer_id == dev.id


# Failures ---------------------------------------------------------------------------------------


def test_a_failing_job_leaves_nothing_registered_and_the_page_says_why(
    rapp, dev, dev_client, small_original, monkeypatch
):
    def broken_train(*args, **kwargs):
        raise RuntimeError("the optimiser exploded")

    monkeypatch.setattr(training, "train", broken_train)
    run = retrain(dev, upload_frame(small_original, 60, seed=6), name="doomed")
    assert run.status == "failed"
    assert run.version is None and run.file_path is None
    assert "the optimiser exploded" in run.error
    assert files_under(storage.models_root() / "retrained_models") == []
    assert files_under(storage.datasets_root() / "dev/combinedDataset") == [
        storage.dataset_file(lineage.latest_dataset(dev.company).path)
    ]
    assert db.session.scalars(select(Dataset).filter_by(kind="combined")).all() == []
    page = dev_client.get(f"/developer/retrain/{run.id}")
    assert page.status_code == 200
    assert "the optimiser exploded" in page.get_data(as_text=True)
    assert 'http-equiv="refresh"' not in page.get_data(as_text=True)
    ready_versions = db.session.scalars(
        select(Model).where(Model.company_id == dev.company_id, Model.version > 1)
    ).all()
    assert ready_versions == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns=["Churn"]), "missing the required column: Churn"),
        (lambda f: f.assign(Churn="Maybe"), "must hold Yes or No"),
        (lambda f: f.assign(Churn="No"), "at least 10 customers who churned"),
    ],
)
def test_a_refused_upload_leaves_no_file_and_no_row(
    rapp, dev, dev_client, small_original, change, message
):
    frame = change(upload_frame(small_original, 60, seed=7))
    response = dev_client.post(
        "/developer/retrain",
        data={"name": "bad", "file": (io.BytesIO(frame.to_csv(index=False).encode()), "bad.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert files_under(storage.datasets_root() / "dev/uploadToRetrain") == []
    assert db.session.scalars(select(Dataset).filter_by(kind="retrain_upload")).all() == []
    assert retraining.runs_for(dev.company_id) == []


def test_recovery_marks_a_run_left_running_by_a_dead_process_failed(rapp, dev):
    network = retraining.model_type_by_key("neural_network")
    stale = Model(
        company_id=dev.company_id,
        model_type=network,
        name="killed",
        status="running",
        status_step="Training",
        job_id=jobs.thread_job_id("999999999"),
    )
    live = Model(
        company_id=dev.company_id,
        model_type=network,
        name="alive",
        status="running",
        job_id=jobs.claim_here(),  # work this process is running
    )
    # This process's own work that has ended without recording it is gone too.
    ended_here = Model(
        company_id=dev.company_id,
        model_type=network,
        name="ended without saying so",
        status="running",
        job_id=jobs.thread_job_id(),
    )
    # A later process that happens to get the dead one's pid does not keep its job alive.
    reused_pid = Model(
        company_id=dev.company_id,
        model_type=network,
        name="killed before a restart that reused its pid",
        status="running",
        job_id=jobs.thread_job_id(f"{os.getpid()}.1"),
    )
    db.session.add_all([stale, live, reused_pid, ended_here])
    db.session.commit()
    assert len(lifecycle.recover_interrupted(liveness.job_states(rapp))) == 3
    assert stale.status == "failed" and "interrupted" in stale.error
    assert reused_pid.status == "failed"
    assert ended_here.status == "failed"
    assert live.status == "running"


# Pages ------------------------------------------------------------------------------------------


def test_the_retrain_form_queues_a_run_whose_page_refreshes_until_it_is_done(
    rapp, dev, dev_client, small_original
):
    csv = upload_frame(small_original, 60, seed=8).to_csv(index=False).encode()
    with jobs.held(rapp):  # the run stays queued until its page has been seen
        response = dev_client.post(
            "/developer/retrain",
            data={"name": "From the form", "file": (io.BytesIO(csv), "new.csv")},
            content_type="multipart/form-data",
        )
        assert response.status_code == 302
        run_url = response.headers["Location"]
        queued = dev_client.get(run_url).get_data(as_text=True)
        assert 'http-equiv="refresh"' in queued and "badge-queued" in queued
    jobs.wait_for_idle(rapp)
    db.session.expire_all()
    page = dev_client.get(run_url).get_data(as_text=True)
    assert "Neural Network v2" in page
    assert 'http-equiv="refresh"' not in page
    assert "/developer/compare" in page
    listing = dev_client.get("/developer/retrain").get_data(as_text=True)
    assert "From the form" in listing and "badge-done" in listing
    datasets = dev_client.get("/developer/datasets").get_data(as_text=True)
    assert 'class="lineage"' in datasets and "Combined" in datasets
    compare = dev_client.get("/developer/compare").get_data(as_text=True)
    assert "Neural Network v2" in compare and "vs v1" in compare
    chart = dev_client.get("/developer/compare/roc.png")
    assert chart.status_code == 200 and chart.data.startswith(b"\x89PNG")


# The RQ back end ----------------------------------------------------------------------------------


def _redis_url() -> str:
    return os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def test_the_rq_back_end_runs_a_real_retrain(rapp, dev, small_original):
    from redis import Redis
    from redis.exceptions import RedisError
    from rq import Queue, SimpleWorker

    url = _redis_url()
    connection = Redis.from_url(url)
    try:
        connection.ping()
    except RedisError as error:
        if UNDER_CI:
            pytest.fail(f"CI must provide Redis at {url}: {error}")
        pytest.skip(f"Redis is not reachable at {url} ({error}); set TEST_REDIS_URL.")
    queue_name = f"test-retrain-{uuid.uuid4().hex[:8]}"
    rapp.config.update(JOB_BACKEND="rq", REDIS_URL=url, RQ_QUEUE=queue_name)
    queue = Queue(queue_name, connection=connection)
    try:
        run = retraining.start_retrain(
            dev, "via rq", factories.upload(upload_frame(small_original, 60))
        )
        assert run.status == "queued" and run.job_id
        assert queue.count == 1
        SimpleWorker([queue], connection=connection).work(burst=True)
        db.session.expire_all()
        run = db.session.get(Model, run.id)
        assert run.status == "done", run.error
        assert run.version == 2
        assert lifecycle.recover_interrupted(liveness.job_states(rapp)) == []
    finally:
        queue.empty()
        queue.delete(delete_jobs=True)
