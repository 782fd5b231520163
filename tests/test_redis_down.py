"""Redis or another dependency down never takes the web down: the web starts and serves, rate
limits fall back to memory, the health check names what is down, and work that cannot be queued
fails with a message instead of a 500 and a row stuck "queued"."""

from __future__ import annotations

import io
import json
import logging
import re
import urllib.request
from http.cookiejar import CookieJar
from urllib.parse import urlencode

from sqlalchemy import select

from app.extensions import db
from app.schema import Model, Prediction
from app.services import jobs, registry, retraining
from tests import factories
from tests.processes import (
    dead_redis_url,
    environment_of,
    free_port,
    gunicorn_command,
    started,
    wait_for_http,
)


def _post_login(client, email="nobody@example.com"):
    return client.post("/auth/login", data={"email": email, "password": "not the password"})


def test_rate_limits_fall_back_to_memory_with_a_warning_when_redis_is_down(make_app, caplog):
    url = dead_redis_url()
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=url, RATELIMIT_AUTH="3 per minute")
    client = app.test_client()
    with caplog.at_level(logging.WARNING):
        codes = [_post_login(client).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]  # served, and still limited (in this process's memory)
    assert "falling back to in-memory storage" in caplog.text
    assert client.post("/auth/register/company", data={}).status_code == 200


def test_healthz_names_the_queue_when_redis_is_down(make_app):
    app = make_app(JOB_BACKEND="rq", REDIS_URL=dead_redis_url())
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "error",
        "database": "ok",
        "queue": "down",
        "storage": "ok",
    }


def test_healthz_names_the_database_when_it_is_down(make_app):
    app = make_app()
    dead = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing?connect_timeout=2"
    app.extensions["sqlalchemy"]._app_engines[app][None] = db.create_engine(dead)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "down"
    assert response.get_json()["storage"] == "ok"


def test_healthz_names_storage_that_cannot_be_written(make_app, tmp_path):
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("storage roots must be folders")
    app = make_app(DATASETS_ROOT=str(not_a_folder / "datasets"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["storage"] == "down"


def test_a_large_prediction_with_redis_down_fails_with_a_message_not_a_500(
    app, developer, original_dataset
):
    app.config.update(JOB_BACKEND="rq", REDIS_URL=dead_redis_url(), PREDICTION_BACKGROUND_ROWS=10)
    client = factories.log_in(app.test_client(), developer)
    model = registry.models_for(developer)[0]
    data = original_dataset.read_bytes()[:20000]
    data = data[: data.rfind(b"\n") + 1]
    response = client.post(
        "/developer/predict",
        data={"name": "big", "model_id": str(model.id), "file": (io.BytesIO(data), "big.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert jobs.QUEUE_DOWN in page.text
    prediction = db.session.scalars(select(Prediction)).one()
    assert prediction.status == "failed" and prediction.error == jobs.QUEUE_DOWN
    assert prediction.result_path is None


def test_a_retrain_with_redis_down_fails_with_the_same_message(app, developer, original_dataset):
    app.config.update(JOB_BACKEND="rq", REDIS_URL=dead_redis_url())
    frame_bytes = original_dataset.read_bytes()
    run = retraining.start_retrain(
        developer, "no queue", factories.upload(frame_bytes, "retrain.csv")
    )
    assert run.status == "failed" and run.error == jobs.QUEUE_DOWN
    assert (
        db.session.scalars(select(Model).where(Model.status.in_(["queued", "running"]))).all() == []
    )


def test_gunicorn_starts_and_serves_while_redis_is_down(app, tmp_path):
    """The web's start touches no Redis: it boots, the login form answers (its rate limit
    counted in memory), and /healthz says what is down."""
    db.session.commit()
    env = environment_of(app, REDIS_URL=dead_redis_url(), JOB_BACKEND="rq")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    with started(gunicorn_command(port, workers=2), env, tmp_path / "gunicorn.log") as server:
        wait_for_http(f"{base}/", server)
        try:
            opener.open(f"{base}/healthz", timeout=10)
            raise AssertionError("/healthz answered 200 with Redis down")
        except urllib.error.HTTPError as error:
            assert error.code == 503
            assert json.loads(error.read())["queue"] == "down"
        with opener.open(f"{base}/auth/login", timeout=10) as page:
            token = re.search(
                r'name="csrf_token" type="hidden" value="([^"]+)"', page.read().decode()
            )
        form = urlencode(
            {"csrf_token": token.group(1), "email": "nobody@example.com", "password": "x" * 12}
        ).encode()
        with opener.open(f"{base}/auth/login", data=form, timeout=10) as answer:
            assert answer.status == 200
            assert "Email or password is incorrect." in answer.read().decode()
        assert server.poll() is None
    log = (tmp_path / "gunicorn.log").read_text()
    assert "Worker failed to boot" not in log and "Traceback" not in log
    assert "falling back to in-memory storage" in log


def test_a_holdout_measurement_with_redis_down_is_recorded_as_failed(app, developer):
    from app.services.monitoring import holdout

    app.config.update(JOB_BACKEND="rq", REDIS_URL=dead_redis_url())
    assert holdout.request_measurement(developer.company_id) is False
    models = holdout.company_models(developer.company_id)
    assert models and all(m.holdout_status == "failed" for m in models)
    assert all("could not be queued" in m.holdout["error"] for m in models)


def test_outcomes_with_redis_down_are_recorded_as_failed_and_can_be_sent_again(
    app, user, original_dataset
):
    from app.services import prediction as predictions
    from app.services.monitoring import outcomes

    customers = factories.customers(original_dataset, rows=40)
    model = registry.models_for(user)[0]
    prediction = predictions.create_prediction(
        user, "Scored", model.id, factories.upload(customers)
    )
    app.config.update(JOB_BACKEND="rq", REDIS_URL=dead_redis_url())
    labelled = customers[["customerID", "Churn"]]
    prediction = outcomes.record_outcomes(user, prediction.id, factories.upload(labelled))
    assert prediction.outcomes_status == "failed"
    assert "upload the file again" in prediction.outcomes["error"]
