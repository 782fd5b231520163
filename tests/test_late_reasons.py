"""Reasons added after the result: a large file scored by a model explained by substitution is
on screen and downloadable first, without reasons; a second job then swaps in the very file a
prediction with reasons inline would have written. A linear model's reasons always come with
the result; a reasons job that fails or stops keeps the result and says so."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from app.extensions import db
from app.schema import Prediction, utcnow
from app.services import jobs, registry, storage
from app.services.prediction import late_reasons
from tests import factories

pytestmark = pytest.mark.usefixtures("fresh_login_per_request")

REASON_COLUMNS = ["Reason 1", "Reason 2", "Reason 3"]


@pytest.fixture
def sample(original_dataset) -> bytes:
    frame = pd.read_csv(original_dataset, dtype=str, keep_default_na=False)
    return frame.sample(240, random_state=11).to_csv(index=False).encode()


@pytest.fixture
def client(app, developer):
    """The developer's client; files of over 100 rows get their reasons later."""
    app.config["PREDICTION_REASONS_LATER_ROWS"] = 100
    return factories.log_in(app.test_client(), developer)


def _set_reasons(prediction: Prediction, **changes) -> None:
    summary = dict(prediction.summary)
    summary["reasons"] = {**summary["reasons"], **changes}
    prediction.summary = summary
    db.session.commit()


def _model(account, kind: str):
    return next(m for m in registry.models_for(account) if m.model_type.key == kind)


def _predict(client, model_id: int, data: bytes, name: str = "March") -> str:
    response = client.post(
        "/developer/predict",
        data={"name": name, "model_id": str(model_id), "file": (io.BytesIO(data), "c.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def _latest() -> Prediction:
    db.session.expire_all()
    return db.session.scalars(select(Prediction).order_by(Prediction.id.desc())).first()


def _result(client, page: str) -> pd.DataFrame:
    download = client.get(f"{page}/download")
    assert download.status_code == 200
    return pd.read_csv(io.BytesIO(download.data), dtype=str, keep_default_na=False)


def _result_files(app) -> set[Path]:
    root = Path(app.config["DATASETS_ROOT"]) / "dev" / "predictionResult"
    return set(root.iterdir()) if root.exists() else set()


def test_a_large_file_explained_by_substitution_is_downloadable_first_then_gets_its_reasons(
    app, developer, sample, client
):
    tree = _model(developer, "decision_tree")
    with jobs.held(app):  # the reasons job waits: the result without reasons can be looked at
        page = _predict(client, tree.id, sample)
        prediction = _latest()
        assert prediction.status == "done" and prediction.late_reasons["state"] == "queued"
        status = client.get(f"{page}/status").get_json()
        assert status["status"] == "done" and status["reasons"] == "queued" and status["busy"]
        shown = client.get(page).text
        assert "Adding each customer" in shown and "Highest-risk customers" in shown
        assert 'http-equiv="refresh"' in shown  # it updates itself once the reasons are in
        first = _result(client, page)
        assert (first[REASON_COLUMNS] == "").all().all()
        assert first["Churn Probability"].ne("").all()
        files_before = _result_files(app)
    jobs.wait_for_idle(app)
    prediction = _latest()
    assert prediction.reasons_state == "done" and prediction.late_reasons["state"] == "done"
    status = client.get(f"{page}/status").get_json()
    assert status["reasons"] == "done" and not status["busy"]
    shown = client.get(page).text
    assert "Adding each customer" not in shown and 'http-equiv="refresh"' not in shown
    late = _result(client, page)
    assert (late[REASON_COLUMNS[0]] != "").mean() > 0.5

    # The same file with reasons scored inline: the swapped-in result is the same, cell for cell.
    app.config["PREDICTION_REASONS_LATER_ROWS"] = 0
    inline_page = _predict(client, tree.id, sample, name="Inline")
    inline = _result(client, inline_page)
    assert _latest().late_reasons == {}
    pd.testing.assert_frame_equal(late, inline)
    pd.testing.assert_frame_equal(
        first.drop(columns=REASON_COLUMNS), inline.drop(columns=REASON_COLUMNS)
    )
    # The replaced files stay until the sweep's grace period is over (a download may read them).
    assert files_before <= _result_files(app)


def test_a_linear_models_reasons_always_come_with_the_result(app, developer, sample, client):
    with jobs.held(app):
        page = _predict(client, _model(developer, "logistic_regression").id, sample)
        assert _latest().late_reasons == {}
        assert client.get(f"{page}/status").get_json()["reasons"] == "done"
        assert (_result(client, page)[REASON_COLUMNS[0]] != "").mean() > 0.5


def test_a_failed_reasons_job_keeps_the_result_says_why_and_leaves_no_file(
    app, developer, sample, client
):
    with jobs.held(app):
        page = _predict(client, _model(developer, "gradient_boosting").id, sample)
        prediction = _latest()
        files_before = _result_files(app)
        storage.dataset_file(prediction.input_dataset.path).unlink()  # the upload is gone
    jobs.wait_for_idle(app)
    prediction = _latest()
    assert prediction.reasons_state == "failed"
    assert prediction.late_reasons["error"]
    assert _result_files(app) == files_before  # what the failed run wrote is gone
    shown = client.get(page).text
    assert "The reasons could not be added" in shown and "Everything else" in shown
    assert not client.get(f"{page}/status").get_json()["busy"]
    result = _result(client, page)
    assert len(result) == 240 and (result[REASON_COLUMNS] == "").all().all()


def test_a_reasons_job_not_heard_from_is_shown_as_stopped(app, developer, sample, client):
    with jobs.held(app):
        page = _predict(client, _model(developer, "decision_tree").id, sample)
        prediction = _latest()
        long_ago = (utcnow() - timedelta(hours=1)).isoformat()
        _set_reasons(prediction, state="running", touched_at=long_ago)
        status = client.get(f"{page}/status").get_json()
        assert status["reasons"] == "failed" and not status["busy"]
        assert "The reasons could not be added" in client.get(page).text
    jobs.wait_for_idle(app)


def test_a_reasons_child_that_dies_fails_the_reasons_and_removes_what_it_wrote(
    app, developer, sample, client
):
    with jobs.held(app):
        _predict(client, _model(developer, "decision_tree").id, sample)
        prediction = _latest()
        left = storage.dataset_file("dev/predictionResult/" + "0" * 32 + ".csv")
        left.write_text("half")
        writing = {"csv": "dev/predictionResult/" + "0" * 32 + ".csv"}
        _set_reasons(prediction, state="running", writing=writing)
        late_reasons.child_lost(prediction.id)
    jobs.wait_for_idle(app)  # the queued job finds the reasons failed and leaves them
    prediction = _latest()
    assert prediction.late_reasons["state"] == "failed" and not left.exists()
    assert prediction.late_reasons["error"] == late_reasons.LOST


def test_a_prediction_scored_in_a_child_process_gets_its_reasons_there_too(
    app, developer, sample, client
):
    app.config.update(PREDICTION_BACKGROUND_ROWS=50, PREDICTION_CHILD_ROWS=100)
    page = _predict(client, _model(developer, "decision_tree").id, sample)
    jobs.wait_for_idle(app)  # the child scored it, then added its reasons before it ended
    prediction = _latest()
    assert prediction.status == "done" and prediction.reasons_state == "done"
    assert prediction.late_reasons["state"] == "done"
    assert (_result(client, page)[REASON_COLUMNS[0]] != "").mean() > 0.5


def test_reasons_added_later_are_added_in_a_child_process(
    app, developer, sample, client, monkeypatch
):
    """A prediction scored in the web process's thread still gets its reasons from a child
    process, so the web process does not keep the substitution's memory."""
    started: list = []
    real = jobs._run_in_child

    def spy(app, name, args, on_lost):
        started.append(name)
        return real(app, name, args, on_lost)

    monkeypatch.setattr(jobs, "_run_in_child", spy)
    page = _predict(client, _model(developer, "decision_tree").id, sample)
    jobs.wait_for_idle(app)
    assert started == ["add_reasons"]  # the scoring stayed in the thread (a small file)
    assert _latest().reasons_state == "done"
    assert (_result(client, page)[REASON_COLUMNS[0]] != "").mean() > 0.5


def test_a_scoring_child_that_dies_while_adding_its_reasons_fails_them(
    app, developer, sample, client
):
    """The scoring child runs the reasons it queued itself; if it dies then, the result stays
    and the reasons say they were lost (not "running" until they look stalled)."""
    from app.tasks import scoring_child_lost

    with jobs.held(app):
        _predict(client, _model(developer, "decision_tree").id, sample)
        prediction = _latest()
        _set_reasons(prediction, state="running")
        scoring_child_lost(prediction.id)
        prediction = _latest()
        assert prediction.status == "done" and prediction.result_path
        assert prediction.late_reasons["state"] == "failed"
        assert prediction.late_reasons["error"] == late_reasons.LOST
    jobs.wait_for_idle(app)


def test_reasons_expected_to_take_longer_than_a_requests_budget_come_from_the_second_job(
    app, developer, sample, monkeypatch
):
    """A file small enough for its request gets its reasons there only when substitution,
    timed on its first rows, fits PREDICTION_REASONS_INLINE_SECONDS: over it, the request
    answers with the result and the reasons job adds them, to the same cells."""
    from app.services.decisions import chunk

    monkeypatch.setattr(chunk, "PROBE_ROWS", 20)  # 240 rows: probed on their first 20
    app.config["PREDICTION_REASONS_LATER_ROWS"] = 1_000_000  # not later for its size
    client = factories.log_in(app.test_client(), developer)
    tree = _model(developer, "decision_tree")

    app.config["PREDICTION_REASONS_INLINE_SECONDS"] = 0.0  # no substitution fits
    with jobs.held(app):
        page = _predict(client, tree.id, sample)
        assert _latest().late_reasons["state"] == "queued"
        assert "deferred" not in _latest().late_reasons
        assert (_result(client, page)[REASON_COLUMNS] == "").all().all()
    jobs.wait_for_idle(app)
    assert _latest().late_reasons["state"] == "done"
    late = _result(client, page)

    app.config["PREDICTION_REASONS_INLINE_SECONDS"] = 3600.0  # any fits
    inline_page = _predict(client, tree.id, sample, name="Inline")
    assert _latest().late_reasons == {}
    pd.testing.assert_frame_equal(late, _result(client, inline_page))

    # A linear model's exact reasons are never put off.
    app.config["PREDICTION_REASONS_INLINE_SECONDS"] = 0.0
    _predict(client, _model(developer, "logistic_regression").id, sample, name="Linear")
    assert _latest().late_reasons == {}
