"""The charts service: one cached PNG per chart and what decides it, served privately."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.schema import Prediction
from app.services import charts, jobs, registry
from app.services import prediction as predictions
from app.services.environment import initialize_developer_environment
from app.services.registry import comparison
from tests import factories

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ROWS = 200


pytestmark = pytest.mark.usefixtures("fresh_login_per_request")


@pytest.fixture
def scored(app, user, original_dataset) -> Prediction:
    """A finished prediction of the user's, on a few hundred real customers."""
    frame = pd.read_csv(original_dataset, dtype=str, keep_default_na=False).head(ROWS)
    upload = FileStorage(stream=io.BytesIO(frame.to_csv(index=False).encode()), filename="c.csv")
    model = registry.models_for(user)[0]
    prediction = predictions.create_prediction(user, "Charts", model.id, upload)
    jobs.wait_for_idle(app)
    db.session.refresh(prediction)
    assert prediction.status == "done", prediction.error
    return prediction


@pytest.fixture
def outsiders(app) -> dict[str, object]:
    """A developer and a user of another company, its environment set up like the first one's."""
    developer = factories.make_developer()
    initialize_developer_environment(developer)
    return {"developer": developer, "user": factories.make_user(developer.company)}


def _chart_urls(scored: Prediction) -> list[tuple[str, str]]:
    model_id = scored.model_id
    return [
        ("user", f"/user/models/{model_id}/importance.png"),
        ("developer", f"/developer/models/{model_id}/roc.png"),
        ("user", f"/user/predictions/{scored.id}/distribution.png"),
        ("user", f"/user/predictions/{scored.id}/importance.png"),
    ]


def test_every_kind_of_chart_is_a_private_png_and_404_for_another_company(
    app, developer, user, scored, outsiders
):
    accounts = {"developer": developer, "user": user}
    for role, url in _chart_urls(scored):
        response = factories.log_in(app.test_client(), accounts[role]).get(url)
        assert response.status_code == 200, url
        assert response.mimetype == "image/png" and response.data.startswith(PNG_MAGIC)
        assert response.cache_control.private, (url, response.headers["Cache-Control"])
        assert not response.cache_control.public, url
        outsider = factories.log_in(app.test_client(), outsiders[role])
        assert outsider.get(url).status_code == 404, url


def test_the_compare_chart_is_private_and_shows_only_the_viewers_company(app, developer, outsiders):
    response = factories.log_in(app.test_client(), developer).get("/developer/compare/roc.png")
    assert response.status_code == 200 and response.data.startswith(PNG_MAGIC)
    assert response.cache_control.private and not response.cache_control.public
    assert compare_chart(developer) != compare_chart(outsiders["developer"])


def compare_chart(developer):
    models = [row.model for row in comparison.compare_models(developer.company_id)]
    return charts.roc_comparison_png(models)


def test_the_model_page_and_the_prediction_page_share_one_importance_chart(app, user, scored):
    client = factories.log_in(app.test_client(), user)
    on_model_page = client.get(f"/user/models/{scored.model_id}/importance.png").data
    on_prediction_page = client.get(f"/user/predictions/{scored.id}/importance.png").data
    assert on_model_page == on_prediction_page
    assert charts.prediction_chart_png(scored, "importance") == charts.feature_importance_png(
        scored.model
    )


def test_a_chart_is_drawn_once_then_served_from_the_cache(app, scored):
    first = charts.churn_distribution_png(scored)
    stamp = first.stat().st_mtime_ns
    assert charts.churn_distribution_png(scored) == first
    assert first.stat().st_mtime_ns == stamp


def test_a_model_with_the_same_id_but_another_file_gets_its_own_charts(app, developer):
    """A re-created database can give another model the same id: the file hash tells them apart."""
    models = registry.models_for(developer)
    model = models[0]
    importance = charts.feature_importance_png(model)
    roc = charts.roc_comparison_png(models, model)
    model.file_sha256 = "0" * 64
    assert charts.feature_importance_png(model) != importance
    assert charts.roc_comparison_png(models, model) != roc
    db.session.rollback()


def test_the_roc_chart_of_a_model_page_differs_from_the_compare_chart(app, developer):
    models = registry.models_for(developer)
    assert charts.roc_comparison_png(models) != charts.roc_comparison_png(models, models[0])


def test_a_prediction_with_the_same_id_but_other_results_gets_its_own_chart(app, scored):
    first = charts.churn_distribution_png(scored)
    histogram = scored.summary["histogram"]
    scored.summary = {**scored.summary, "histogram": {**histogram, "counts": [0] * 10}}
    assert charts.churn_distribution_png(scored) != first
    db.session.rollback()


def test_a_prediction_without_a_result_has_no_distribution_chart(app, scored):
    scored.status = "running"
    with pytest.raises(charts.ChartUnavailable):
        charts.churn_distribution_png(scored)
    db.session.rollback()


def test_charts_live_in_the_cache_folder(app, developer):
    path = charts.feature_importance_png(registry.models_for(developer)[0])
    assert Path(app.config["CACHE_DIR"]).resolve() in path.parents
