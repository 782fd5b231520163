"""The API for the company's own pipelines: tokens made and revoked on /developer/tokens
(shown once, stored hashed), predictions started, polled and downloaded with a token, JSON
errors (401, 404 for another company's ids, 400 with the message), a rate limit per token."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest
from sqlalchemy import select

from app.extensions import db
from app.schema import ApiToken, Dataset, Prediction
from app.services import jobs, registry
from app.services.api import tokens as api_tokens
from app.services.environment import initialize_developer_environment
from tests import factories

TOKEN_PATTERN = re.compile(r"cb_[A-Za-z0-9_-]{20,}")
NEVER_USED = '<span class="hint">never</span>'


@pytest.fixture
def sample(original_dataset) -> pd.DataFrame:
    frame = pd.read_csv(original_dataset, dtype=str, keep_default_na=False)
    return frame.sample(300, random_state=11).reset_index(drop=True)


def _token(developer, name="pipeline") -> str:
    return api_tokens.create_token(developer, name)[1]


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _post(client, token, data: bytes, model="Gradient Boosting", filename="customers.csv"):
    return client.post(
        "/api/v1/predictions",
        data={"file": (io.BytesIO(data), filename), "model": model},
        headers=_auth(token),
        content_type="multipart/form-data",
    )


# Tokens on the developer's page -----------------------------------------------------------------


def test_a_token_is_shown_once_stored_hashed_and_listed_with_its_name(developer_client, developer):
    page = developer_client.post("/developer/tokens", data={"name": "nightly export"})
    assert page.status_code == 200
    token = TOKEN_PATTERN.search(page.text).group()
    assert "shown only once" in page.text and f"Bearer {token}" in page.text  # a curl to copy
    row = db.session.scalars(select(ApiToken)).one()
    assert row.name == "nightly export" and row.developer_id == developer.id
    assert row.token_hash == api_tokens.digest(token) and token not in row.token_hash
    listing = developer_client.get("/developer/tokens").text
    assert token not in listing  # never shown again
    assert "nightly export" in listing and f"{token[:7]}…" in listing
    assert NEVER_USED in listing


def test_a_token_needs_a_name(developer_client):
    page = developer_client.post("/developer/tokens", data={"name": "  "})
    assert page.status_code == 400 and "Please give the token a name" in page.text
    assert db.session.scalars(select(ApiToken)).all() == []


def test_the_page_shows_a_tokens_last_use(app, developer_client, developer):
    token = _token(developer, "reporting")
    assert app.test_client().get("/api/v1/predictions/1", headers=_auth(token)).status_code == 404
    row = db.session.scalars(select(ApiToken)).one()
    assert row.last_used_at is not None
    assert NEVER_USED not in developer_client.get("/developer/tokens").text


def test_a_revoked_token_is_refused_and_only_its_owner_can_revoke_it(
    app, developer_client, developer
):
    token = _token(developer)
    row = db.session.scalars(select(ApiToken)).one()
    other = factories.make_developer()
    other_client = factories.log_in(app.test_client(), other)
    assert other_client.post(f"/developer/tokens/{row.id}/revoke").status_code == 404
    assert app.test_client().get("/api/v1/predictions/1", headers=_auth(token)).status_code == 404

    response = developer_client.post(f"/developer/tokens/{row.id}/revoke")
    assert response.status_code == 302
    refused = app.test_client().get("/api/v1/predictions/1", headers=_auth(token))
    assert refused.status_code == 401 and "valid API token" in refused.get_json()["error"]
    assert "revoked" in developer_client.get("/developer/tokens").text


# Predictions through the API ---------------------------------------------------------------------


def test_a_pipeline_starts_a_prediction_polls_it_and_downloads_the_result(app, developer, sample):
    token = _token(developer)
    client = app.test_client()
    response = _post(client, token, sample.to_csv(index=False).encode())
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert response.headers["Location"] == body["status_url"]
    assert body["model"]["label"] == "Gradient Boosting" and body["rows"] == len(sample)
    assert "Set-Cookie" not in response.headers  # no session for a pipeline

    status = client.get(body["status_url"], headers=_auth(token)).get_json()
    assert status["status"] == "done" and status["progress"] == 100
    result = client.get(status["result_url"], headers=_auth(token))
    assert result.status_code == 200 and result.mimetype == "text/csv"
    assert result.headers["Cache-Control"] == "no-store"
    frame = pd.read_csv(io.BytesIO(result.data), dtype=str, keep_default_na=False)
    assert frame["customerID"].tolist() == sample["customerID"].tolist()
    assert {"Churn Prediction", "Churn Probability"} <= set(frame.columns)


def test_the_model_can_be_named_by_its_id_and_a_large_file_is_queued(app, developer, sample):
    app.config["PREDICTION_BACKGROUND_ROWS"] = 100
    token = _token(developer)
    model = registry.models_for(developer)[-1]
    client = app.test_client()
    with jobs.held(app):
        body = _post(client, token, sample.to_csv(index=False).encode(), model=str(model.id))
        assert body.status_code == 202
        queued = client.get(body.get_json()["status_url"], headers=_auth(token)).get_json()
        assert queued["status"] == "queued" and queued["result_url"] is None
    jobs.wait_for_idle(app)
    done = client.get(body.get_json()["status_url"], headers=_auth(token)).get_json()
    assert done["status"] == "done" and done["model"]["id"] == model.id


def test_a_refused_file_is_a_400_with_the_message_and_leaves_nothing(app, developer, sample):
    token = _token(developer)
    client = app.test_client()
    broken = sample.drop(columns=["tenure", "Contract"]).to_csv(index=False).encode()
    response = _post(client, token, broken)
    assert response.status_code == 400
    assert "tenure" in response.get_json()["error"] and "Contract" in response.get_json()["error"]
    unknown = _post(client, token, sample.to_csv(index=False).encode(), model="Crystal Ball")
    assert unknown.status_code == 400 and "Gradient Boosting" in unknown.get_json()["error"]
    no_file = client.post("/api/v1/predictions", data={"model": "1"}, headers=_auth(token))
    assert no_file.status_code == 400 and "`file`" in no_file.get_json()["error"]
    assert db.session.scalars(select(Prediction)).all() == []
    assert db.session.scalars(select(Dataset).filter_by(kind="predict_upload")).all() == []


def test_without_a_valid_token_every_call_is_a_401(app, developer):
    client = app.test_client()
    for headers in ({}, _auth("cb_not-a-real-token-at-all-123"), {"Authorization": "Basic abc"}):
        for method, path in (("GET", "/api/v1/predictions/1"), ("POST", "/api/v1/predictions")):
            response = client.open(path, method=method, headers=headers)
            assert response.status_code == 401
            assert response.headers["WWW-Authenticate"].lower().startswith("bearer")
            assert response.is_json


def test_a_deactivated_developers_token_stops_working(app, developer):
    token = _token(developer)
    developer.is_enabled = False
    db.session.commit()
    assert app.test_client().get("/api/v1/predictions/1", headers=_auth(token)).status_code == 401


def test_another_companys_predictions_are_not_found(app, developer, sample):
    other = factories.make_developer()
    initialize_developer_environment(other)
    theirs = _post(app.test_client(), _token(other), sample.to_csv(index=False).encode())
    prediction_id = theirs.get_json()["id"]
    token = _token(developer)
    for path in (
        f"/api/v1/predictions/{prediction_id}",
        f"/api/v1/predictions/{prediction_id}/result",
    ):
        response = app.test_client().get(path, headers=_auth(token))
        assert response.status_code == 404 and response.is_json


def test_the_api_needs_no_csrf_token(make_app, sample):
    app = make_app(WTF_CSRF_ENABLED=True)
    developer = factories.make_developer()
    initialize_developer_environment(developer)
    response = _post(app.test_client(), _token(developer), sample.to_csv(index=False).encode())
    assert response.status_code == 202


def test_the_rate_limit_counts_per_token(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_API="3 per minute")
    developer = factories.make_developer()
    first, second = _token(developer, "a"), _token(developer, "b")
    client = app.test_client()
    codes = [
        client.get("/api/v1/predictions/1", headers=_auth(first)).status_code for _ in range(4)
    ]
    assert codes == [404, 404, 404, 429]
    limited = client.get("/api/v1/predictions/1", headers=_auth(first))
    assert limited.is_json and "error" in limited.get_json()
    assert client.get("/api/v1/predictions/1", headers=_auth(second)).status_code == 404


def test_the_openapi_document_describes_every_api_route(app):
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    documented = {
        (method.upper(), "/api/v1" + path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    routes = {
        (method, re.sub(r"<int:(\w+)>", r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.") and rule.endpoint != "api.openapi"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes == documented


def test_a_method_the_api_does_not_offer_is_a_json_405_with_allow(app):
    response = app.test_client().put("/api/v1/predictions/1")
    assert response.status_code == 405 and response.is_json
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET"}
