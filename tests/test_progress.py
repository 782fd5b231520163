"""The waiting pages' JSON status: a prediction, a retrain run and the comparison page each
answer how their work goes (the page's script reloads it when `busy` turns false), under the
same access rules as the pages; the pages keep a refresh for browsers without JavaScript."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.schema import utcnow
from app.services import prediction as predictions
from app.services import registry
from tests import factories

pytestmark = pytest.mark.usefixtures("fresh_login_per_request")


def _prediction(account, status: str, progress: int = 0, error: str | None = None):
    model = registry.models_for(account)[0]
    dataset = factories.make_dataset(account.company_id, f"in {status}")
    prediction = factories.make_prediction(account, model, dataset, f"a {status} one")
    prediction.status, prediction.progress, prediction.error = status, progress, error
    db.session.commit()
    return prediction


@pytest.mark.parametrize(
    ("status", "progress", "busy"),
    [("queued", 0, True), ("running", 42, True), ("done", 100, False), ("failed", 7, False)],
)
def test_a_predictions_status_says_how_far_it_is_and_whether_its_page_still_waits(
    app, user, user_client, status, progress, busy
):
    prediction = _prediction(user, status, progress, "broken" if status == "failed" else None)
    response = user_client.get(f"/user/predictions/{prediction.id}/status")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json == {
        "status": status,
        "progress": progress,
        "step": None,
        "outcomes": None,
        "reasons": "done" if status == "done" else None,
        "busy": busy,
    }
    if busy:  # (a done page needs a real result: see the test below)
        page = user_client.get(f"/user/predictions/{prediction.id}").text
        assert f'data-progress-url="/user/predictions/{prediction.id}/status"' in page
        assert '<noscript><meta http-equiv="refresh"' in page and "progress.js" in page
        assert "This page updates itself when the work is done." in page


def test_a_done_prediction_whose_outcomes_are_being_measured_still_waits(
    app, user, user_client, original_dataset
):
    model = registry.models_for(user)[0]
    upload = factories.upload(factories.customers(original_dataset, rows=40))
    prediction = predictions.create_prediction(user, "scored", model.id, upload)
    assert prediction.status == "done"
    status_url = f'data-progress-url="/user/predictions/{prediction.id}/status"'
    page = user_client.get(f"/user/predictions/{prediction.id}").text
    assert status_url not in page and "http-equiv" not in page
    prediction.outcomes_status = "running"
    prediction.outcomes = {"requested_at": utcnow().isoformat()}
    db.session.commit()
    answer = user_client.get(f"/user/predictions/{prediction.id}/status").json
    assert answer["status"] == "done" and answer["outcomes"] == "running" and answer["busy"]
    page = user_client.get(f"/user/predictions/{prediction.id}").text
    assert status_url in page and '<noscript><meta http-equiv="refresh"' in page


def test_another_companys_or_colleagues_prediction_status_is_not_found(app, user, developer):
    prediction = _prediction(user, "running", 10)
    stranger = factories.make_developer(factories.make_company("Other Co"))
    client = factories.log_in(app.test_client(), stranger)
    assert client.get(f"/developer/predictions/{prediction.id}/status").status_code == 404
    colleague = factories.make_user(db.session.get(type(user.company), user.company_id))
    other = factories.log_in(app.test_client(), colleague)
    assert other.get(f"/user/predictions/{prediction.id}/status").status_code == 404
    # The company's developer sees every prediction of the company, as on the pages.
    own = factories.log_in(app.test_client(), developer)
    assert own.get(f"/developer/predictions/{prediction.id}/status").json["busy"] is True


def test_the_status_needs_a_signed_in_account_of_the_role(app, user, client):
    prediction = _prediction(user, "running", 10)
    response = client.get(f"/user/predictions/{prediction.id}/status")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    user_client = factories.log_in(app.test_client(), user)
    assert user_client.get(f"/developer/predictions/{prediction.id}/status").status_code == 403


def test_a_retrain_runs_status_follows_the_run_and_is_the_developers_alone(
    app, developer, developer_client
):
    run = factories.make_version(developer, 2, status="running", progress=35)
    run.status_step = "Training the network"
    db.session.commit()
    answer = developer_client.get(f"/developer/retrain/{run.id}/status").json
    assert answer == {
        "status": "running",
        "progress": 35,
        "step": "Training the network",
        "busy": True,
    }
    page = developer_client.get(f"/developer/retrain/{run.id}").text
    assert f'data-progress-url="/developer/retrain/{run.id}/status"' in page
    run.status, run.progress, run.status_step = "done", 100, "Done"
    db.session.commit()
    assert developer_client.get(f"/developer/retrain/{run.id}/status").json["busy"] is False
    assert "data-progress-url" not in developer_client.get(f"/developer/retrain/{run.id}").text

    stranger = factories.make_developer(factories.make_company("Other Co"))
    client = factories.log_in(app.test_client(), stranger)
    assert client.get(f"/developer/retrain/{run.id}/status").status_code == 404


def test_the_comparison_status_is_busy_while_a_model_of_the_company_is_being_measured(
    app, developer, developer_client
):
    version = factories.make_version(developer, 2, holdout_status="queued")
    db.session.commit()
    answer = developer_client.get("/developer/compare/status").json
    assert answer["busy"] is True and answer["status"] == "running"
    stranger = factories.make_developer(factories.make_company("Other Co"))
    other = factories.log_in(app.test_client(), stranger)
    assert other.get("/developer/compare/status").json["busy"] is False
    version.holdout_status = "failed"
    db.session.commit()
    db.session.expire_all()
    answer = developer_client.get("/developer/compare/status").json
    assert answer == {"status": "done", "progress": None, "step": None, "busy": False}
