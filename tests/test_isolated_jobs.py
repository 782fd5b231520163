"""A large prediction of the thread back end is scored in a child process (so the web process
gives the job's memory back); its status lives on its row as ever, and a child that dies leaves
the row failed with a message and none of its partial files."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from sqlalchemy import select

from app.extensions import db
from app.schema import Prediction
from app.services import jobs, registry, storage
from app.services import prediction as predictions
from app.services.prediction import scoring
from tests import factories

ROWS = 150


def _queued_prediction(app, user, original_dataset, child_rows: int):
    app.config.update(PREDICTION_BACKGROUND_ROWS=50, PREDICTION_CHILD_ROWS=child_rows)
    model = registry.models_for(user)[0]
    upload = factories.upload(factories.customers(original_dataset, rows=ROWS))
    predictions.create_prediction(user, "large", model.id, upload)
    jobs.wait_for_idle(app)
    db.session.expire_all()
    return db.session.scalars(select(Prediction)).one()


def _spy_on_children(monkeypatch) -> list:
    started: list = []
    real = jobs._run_in_child

    def spy(app, name, args, on_lost):
        started.append((name, args))
        return real(app, name, args, on_lost)

    monkeypatch.setattr(jobs, "_run_in_child", spy)
    return started


def test_a_large_prediction_is_scored_in_a_child_process_with_its_status_on_its_row(
    app, user, original_dataset, monkeypatch
):
    parent = os.getpid()
    children = _spy_on_children(monkeypatch)
    prediction = _queued_prediction(app, user, original_dataset, child_rows=100)
    assert children == [("score_prediction", (prediction.id,))]
    assert prediction.status == "done", prediction.error
    assert prediction.row_count == ROWS and prediction.summary["rows"] == ROWS
    result = pd.read_csv(predictions.result_file(prediction).path, dtype=str)
    assert len(result) == ROWS
    # The child wrote it: the job id still names the web process that waited for it.
    assert jobs.parse_thread_job_id(prediction.job_id)[1] == parent


def test_a_small_background_prediction_stays_in_the_web_process(
    app, user, original_dataset, monkeypatch
):
    children = _spy_on_children(monkeypatch)
    assert not scoring.scores_apart(10**9)  # no such prediction
    prediction = _queued_prediction(app, user, original_dataset, child_rows=10**6)
    assert prediction.status == "done" and children == []


def test_a_workbook_is_scored_in_a_child_from_fewer_rows_than_a_csv(
    app, user, original_dataset, monkeypatch
):
    children = _spy_on_children(monkeypatch)
    app.config.update(
        PREDICTION_BACKGROUND_ROWS=50,
        PREDICTION_CHILD_ROWS=10**6,
        PREDICTION_CHILD_WORKBOOK_ROWS=100,
    )
    model = registry.models_for(user)[0]
    frame = factories.customers(original_dataset, rows=ROWS)
    book = io.BytesIO()
    frame.to_excel(book, index=False)
    upload = factories.upload(book.getvalue(), "customers.xlsx")
    workbook = predictions.create_prediction(user, "workbook", model.id, upload)
    text = predictions.create_prediction(user, "csv", model.id, factories.upload(frame))
    jobs.wait_for_idle(app)
    db.session.expire_all()
    assert children == [("score_prediction", (workbook.id,))]
    assert workbook.status == text.status == "done", (workbook.error, text.error)
    assert workbook.row_count == text.row_count == ROWS


def write_then_die(settings: dict, name: str, args: tuple) -> None:
    """A child that starts writing the result as scoring does, then is killed."""
    from app import create_app

    app = create_app(settings.get("ENV_NAME"), **settings)
    with app.app_context():
        prediction = db.session.get(Prediction, args[0])
        stem = storage.new_dataset_path("user/predictionResult", "csv").rsplit(".", 1)[0]
        files = {"csv": f"{stem}.csv", "table": f"{stem}.rows.arrow"}
        prediction.status = "running"
        prediction.summary = {"writing": files}
        db.session.commit()
        result = storage.dataset_file(files["csv"])
        result.write_text("half a file")
        (result.parent / f".{result.name}.abc123.tmp").write_text("half")
    os._exit(9)


def test_a_child_that_dies_leaves_the_row_failed_and_no_partial_file(app, user, original_dataset):
    app.config["ISOLATED_JOB_ENTRY"] = f"{__name__}:write_then_die"
    prediction = _queued_prediction(app, user, original_dataset, child_rows=100)
    assert prediction.status == "failed"
    assert "stopped before it finished" in prediction.error
    results = storage.datasets_root() / "user" / "predictionResult"
    assert not results.exists() or not any(results.iterdir())
    assert not [p for p in Path(storage.datasets_root()).rglob("*.tmp")]


def sleep_in_child(settings: dict, name: str, args: tuple) -> None:
    """A child that says who it is, then works for longer than any test waits."""
    Path(args[0]).write_text(str(os.getpid()))
    time.sleep(120)


WEB_PROCESS = """
import sys, time
from app import create_app
from app.services import jobs
app = create_app("testing", ISOLATED_JOB_ENTRY="tests.test_isolated_jobs:sleep_in_child")
jobs.register("long", lambda path: None)
jobs.isolate("long", when=lambda path: True, on_lost=lambda path: None)
with app.app_context():
    jobs.enqueue("long", sys.argv[1])
time.sleep(120)
"""


def test_a_child_dies_with_the_web_process_that_started_it(tmp_path):
    said = tmp_path / "child.pid"
    root = Path(__file__).resolve().parents[1]
    web = subprocess.Popen([sys.executable, "-c", WEB_PROCESS, str(said)], cwd=root)
    try:
        deadline = time.monotonic() + 90
        while not said.exists() or not said.read_text():
            assert web.poll() is None and time.monotonic() < deadline, "no child started"
            time.sleep(0.1)
        child = int(said.read_text())
        os.kill(child, 0)  # running
    finally:
        web.kill()
        web.wait()
    deadline = time.monotonic() + 15
    while _running(child):
        assert time.monotonic() < deadline, "the child outlived the web process"
        time.sleep(0.1)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has ended; only its parent's wait is missing
