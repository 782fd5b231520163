"""The sweep repairs, at any time, every row whose job is gone, and removes what no row
references: partial writes, uploads of killed requests, a killed retrain's combined data set
and model files. It says what it removed."""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.schema import Dataset, Model, Prediction, utcnow
from app.services import environment, jobs, registry, storage
from app.services.environment import initialize_developer_environment
from app.services.jobs import lifecycle, liveness, sweep
from tests import factories


@pytest.fixture
def dev(any_db_app):
    developer = factories.make_developer()
    initialize_developer_environment(developer)
    return developer


def _prediction(developer, job_id, status="running", age=timedelta(0)) -> Prediction:
    model = registry.models_for(developer)[0]
    dataset = factories.make_dataset(developer.company_id, f"input-{uuid.uuid4().hex[:6]}")
    prediction = factories.make_prediction(developer, model, dataset, "p")
    prediction.status, prediction.progress, prediction.job_id = status, 40, job_id
    db.session.commit()
    if age:  # as if nothing had touched the row for `age`
        db.session.execute(
            Prediction.__table__.update()
            .where(Prediction.id == prediction.id)
            .values(updated_at=utcnow() - age)
        )
        db.session.commit()
        db.session.refresh(prediction)
    return prediction


def test_every_row_whose_job_is_gone_is_repaired_and_no_other(any_db_app, dev):
    dead_process = _prediction(dev, jobs.thread_job_id("999999999"))
    ended_here = _prediction(dev, jobs.thread_job_id())  # this process, no longer running it
    running_here = _prediction(dev, jobs.claim_here())
    old_unqueued = _prediction(dev, None, status="queued", age=timedelta(minutes=3))
    young_unqueued = _prediction(dev, None, status="queued")
    other_host = _prediction(dev, "t:another-host:1.1:abc", age=timedelta(minutes=10))
    stale_other_host = _prediction(dev, "t:another-host:1.1:def", age=timedelta(hours=2))

    report = sweep.sweep(any_db_app)

    assert sorted(report.repaired) == sorted(
        f"prediction {p.id}" for p in (dead_process, ended_here, old_unqueued, stale_other_host)
    )
    for row in (dead_process, ended_here, old_unqueued, stale_other_host):
        db.session.refresh(row)
        assert row.status == "failed" and row.error == lifecycle.INTERRUPTED
    for row in (running_here, young_unqueued, other_host):
        db.session.refresh(row)
        assert row.in_progress


def test_a_job_that_finishes_while_the_sweep_looks_keeps_its_result(any_db_app, dev):
    prediction = _prediction(dev, jobs.thread_job_id("999999999"))

    def finishes_meanwhile(job_id: str) -> liveness.JobState:
        db.session.execute(
            Prediction.__table__.update()
            .where(Prediction.id == prediction.id)
            .values(status="done", progress=100, updated_at=utcnow())
        )
        return liveness.JobState.GONE

    assert lifecycle.recover_interrupted(finishes_meanwhile) == []
    db.session.refresh(prediction)
    assert prediction.status == "done"


def test_the_periodic_sweep_repairs_a_row_that_dies_after_it_started(any_db_app, dev):
    stop = threading.Event()
    thread = threading.Thread(target=sweep.run_periodically, args=(any_db_app, 1, stop))
    thread.start()
    try:
        time.sleep(1.5)  # the first pass is over: this row dies later
        prediction = _prediction(dev, jobs.thread_job_id("999999998"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            db.session.rollback()
            if db.session.get(Prediction, prediction.id).status == "failed":
                break
            time.sleep(0.2)
        assert db.session.get(Prediction, prediction.id).status == "failed"
    finally:
        stop.set()
        thread.join(timeout=10)


def _age(path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_files_no_row_references_are_removed_after_the_grace_period(any_db_app, dev):
    any_db_app.config["SWEEP_GRACE_SECONDS"] = 600
    root = storage.datasets_root()
    referenced = root / db.session.scalars(select(Dataset.path)).first()
    area = root / "user" / "uploadToPredict"
    area.mkdir(parents=True, exist_ok=True)
    orphan_upload = area / f"{uuid.uuid4().hex}.csv"  # a killed request's complete upload
    partial = root / "dev" / "predictionResult" / f".{uuid.uuid4().hex}.csv.x1y2.tmp"
    partial.parent.mkdir(parents=True, exist_ok=True)
    young_orphan = area / f"{uuid.uuid4().hex}.csv"  # a request may still record it
    not_ours = area / "operator-notes.txt"
    model_root = storage.models_root() / "retrained_models" / dev.company.public_id
    model_root.mkdir(parents=True, exist_ok=True)
    orphan_model = model_root / "neural_network_v7.pkl"  # a run killed before registering
    orphan_metadata = model_root / "neural_network_v7_metadata.pkl"
    for path in (orphan_upload, partial, young_orphan, not_ours, orphan_model, orphan_metadata):
        path.write_bytes(b"leftover")
    for path in (orphan_upload, partial, not_ours, orphan_model, orphan_metadata, referenced):
        _age(path, 3600)

    report = sweep.sweep(any_db_app)

    removed = {line.rsplit("/", 1)[-1] for line in report.removed_files}
    assert removed == {p.name for p in (orphan_upload, partial, orphan_model, orphan_metadata)}
    assert not orphan_upload.exists() and not partial.exists() and not orphan_model.exists()
    assert referenced.exists() and young_orphan.exists() and not_ours.exists()
    assert all(line.startswith("Removed a file no row references") for line in report.lines())
    assert sweep.sweep(any_db_app).removed_files == []  # idempotent


def test_the_combined_data_set_of_a_failed_run_is_removed_with_its_row(any_db_app, dev):
    network = environment.registry.model_type_by_key("neural_network")
    original = db.session.scalars(select(Dataset).filter_by(kind="original")).one()
    relative = storage.new_dataset_path("dev/combinedDataset", "csv")
    storage.dataset_file(relative).write_text("customerID\n")
    combined = Dataset(
        company_id=dev.company_id,
        kind="combined",
        name="killed run's",
        path=relative,
        base_dataset_id=original.id,
    )
    db.session.add(combined)
    db.session.flush()
    run = Model(
        company_id=dev.company_id,
        model_type=network,
        name="killed",
        status="running",
        job_id=jobs.thread_job_id("999999997"),
        training_dataset_id=combined.id,
    )
    db.session.add(run)
    db.session.commit()

    report = sweep.sweep(any_db_app)

    assert report.repaired == [f"retrain run {run.id}"]
    assert report.removed_datasets == [f"killed run's ({relative})"]
    assert db.session.get(Dataset, combined.id) is None
    assert not storage.dataset_file(relative).exists()
    db.session.refresh(run)
    assert run.status == "failed" and run.training_dataset_id is None
    assert db.session.get(Dataset, original.id) is not None  # the lineage root stays


def test_the_chart_cache_is_kept_under_its_bound_oldest_first(any_db_app, dev):
    any_db_app.config["CACHE_MAX_MB"] = 1
    charts = storage.cache_root() / "charts"
    charts.mkdir(parents=True, exist_ok=True)
    files = []
    for number in range(6):
        path = charts / f"chart-{number}.png"
        path.write_bytes(b"x" * 300_000)
        _age(path, 600 - number * 60)  # chart-0 is the oldest
        files.append(path)

    report = sweep.sweep(any_db_app)

    assert report.cache_files_removed == 3  # 1.8 MB trimmed below 90 % of 1 MiB
    assert [path.exists() for path in files] == [False, False, False, True, True, True]
    assert "Trimmed the chart cache: 3 files" in "\n".join(report.lines())


def test_a_company_whose_setup_never_ran_gets_its_models(any_db_app):
    company = factories.make_company()
    user = factories.make_user(company)
    user.email_verified_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    assert environment.models_being_prepared(company)

    report = sweep.sweep(any_db_app)

    assert report.companies_set_up == [company.public_id]
    assert not environment.models_being_prepared(company)


def test_flask_sweep_says_what_it_did(any_db_app, dev):
    prediction = _prediction(dev, jobs.thread_job_id("999999996"))
    runner = any_db_app.test_cli_runner()
    result = runner.invoke(args=["sweep"])
    assert result.exit_code == 0, result.output
    assert f"Marked failed (its job is gone): prediction {prediction.id}" in result.output
    assert runner.invoke(args=["sweep"]).output.strip() == "Nothing to repair or remove."
