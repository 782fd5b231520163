"""The model pages: lists with metrics, a page per model, and its charts, company by company."""

import re

import pytest

from app.services import registry
from app.services.catalog import DISPLAY_METRICS
from app.services.environment import initialize_developer_environment
from tests import factories

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _first_model_id(account) -> int:
    return registry.models_for(account)[0].id


@pytest.mark.parametrize("role", ["developer", "user"])
def test_the_model_list_shows_five_models_with_their_metrics_and_the_best_highlighted(
    request, developer, role
):
    client = request.getfixturevalue(f"{role}_client")
    page = client.get(f"/{role}/models")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name in ("Decision Tree", "Gradient Boosting", "Logistic Regression", "Random Forest"):
        assert name in html
    assert "Neural Network" in html
    for metric in DISPLAY_METRICS:
        assert f">{metric}</th>" in html
    assert len(re.findall(rf'href="/{role}/models/\d+"', html)) == 5
    # Every metric column has at least one best value.
    assert html.count('class="num best"') >= len(DISPLAY_METRICS)


def test_the_best_value_of_each_metric_is_the_highest_among_the_models(app, developer):
    rows = registry.model_table(developer)
    for column in range(len(DISPLAY_METRICS)):
        values = [row.cells[column].value for row in rows]
        best = [row.cells[column].value for row in rows if row.cells[column].is_best]
        assert best and all(value == max(values) for value in best)


def test_the_developer_model_page_shows_metrics_confusion_matrix_and_both_charts(
    developer_client, developer
):
    model_id = _first_model_id(developer)
    html = developer_client.get(f"/developer/models/{model_id}").get_data(as_text=True)
    assert "Confusion matrix" in html and "Actually churns" in html
    assert f"/developer/models/{model_id}/importance.png" in html
    assert f"/developer/models/{model_id}/roc.png" in html


def test_the_user_model_page_has_the_importance_chart_but_no_roc_comparison(
    developer, user_client, user
):
    model_id = _first_model_id(user)
    html = user_client.get(f"/user/models/{model_id}").get_data(as_text=True)
    assert f"/user/models/{model_id}/importance.png" in html
    assert "roc.png" not in html


@pytest.mark.parametrize(
    "role,chart", [("developer", "importance"), ("developer", "roc"), ("user", "importance")]
)
def test_charts_are_png_images_for_the_owner(request, developer, role, chart):
    client = request.getfixturevalue(f"{role}_client")
    account = request.getfixturevalue(role)
    response = client.get(f"/{role}/models/{_first_model_id(account)}/{chart}.png")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.data.startswith(PNG_MAGIC)


def test_a_chart_is_rendered_once_and_then_served_from_the_cache(app, developer):
    from app.services import charts

    model = registry.models_for(developer)[0]
    first = charts.feature_importance_png(model)
    stamp = first.stat().st_mtime_ns
    assert charts.feature_importance_png(model) == first
    assert first.stat().st_mtime_ns == stamp


@pytest.mark.parametrize(
    "role,path",
    [
        ("developer", "/developer/models/{id}"),
        ("developer", "/developer/models/{id}/importance.png"),
        ("developer", "/developer/models/{id}/roc.png"),
        ("user", "/user/models/{id}"),
        ("user", "/user/models/{id}/importance.png"),
    ],
)
def test_another_companys_developer_and_user_get_404_for_model_pages_and_charts(
    app, developer, role, path
):
    other_developer = factories.make_developer()
    initialize_developer_environment(other_developer)
    other = other_developer if role == "developer" else factories.make_user(other_developer.company)
    client = factories.log_in(app.test_client(), other)
    assert client.get(path.format(id=_first_model_id(developer))).status_code == 404


def test_a_model_that_does_not_exist_is_404(developer_client):
    assert developer_client.get("/developer/models/999999").status_code == 404
