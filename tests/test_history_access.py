"""Whose history each role sees, its filters alone and combined, paging and the empty state."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.schema import Dataset, Prediction, utcnow
from app.services import prediction as predictions
from app.services import registry
from tests import factories

pytestmark = pytest.mark.usefixtures("fresh_login_per_request")


def _row(account, model, dataset, days_ago: int, name: str) -> Prediction:
    at = utcnow().replace(hour=12) - timedelta(days=days_ago)
    return factories.make_prediction(account, model, dataset, name, at)


@pytest.fixture
def history(app, developer, user):
    """Predictions by two users and the developer, with two models, over several days."""
    other = factories.make_user(developer.company)
    outsider = factories.make_user(factories.make_developer().company)
    first, second = registry.models_for(developer)[:2]
    dataset = db.session.scalars(select(Dataset)).first()
    rows = {
        "u-first-today": _row(user, first, dataset, 0, "u-first-today"),
        "u-second-3d": _row(user, second, dataset, 3, "u-second-3d"),
        "o-first-5d": _row(other, first, dataset, 5, "o-first-5d"),
        "o-second-1d": _row(other, second, dataset, 1, "o-second-1d"),
        "d-first-10d": _row(developer, first, dataset, 10, "d-first-10d"),
    }
    foreign_dataset = Dataset(
        company_id=outsider.company_id,
        kind="predict_upload",
        name="x",
        path="user/uploadToPredict/x.csv",
    )
    db.session.add(foreign_dataset)
    db.session.flush()
    foreign = registry.models_for(outsider)
    if foreign:
        _row(outsider, foreign[0], foreign_dataset, 0, "foreign")
    db.session.commit()
    return {"rows": rows, "user": user, "other": other, "first": first, "second": second}


def names(account, **args) -> list[str]:
    filters = predictions.HistoryFilters.from_args({k: str(v) for k, v in args.items()}, account)
    return [p.name for p in predictions.prediction_history(account, filters).items]


def test_a_user_sees_only_their_own_predictions_newest_first(history):
    assert names(history["user"]) == ["u-first-today", "u-second-3d"]


def test_a_developer_sees_the_whole_companys_predictions_newest_first(history, developer):
    assert names(developer) == [
        "u-first-today",
        "o-second-1d",
        "u-second-3d",
        "o-first-5d",
        "d-first-10d",
    ]


def test_history_filters_each_alone_and_combined(history, developer):
    today = utcnow().date()
    user, other, first = history["user"], history["other"], history["first"]
    assert names(developer, user=other.id) == ["o-second-1d", "o-first-5d"]
    assert names(developer, model=first.id) == ["u-first-today", "o-first-5d", "d-first-10d"]
    assert names(developer, date_from=today - timedelta(days=3)) == [
        "u-first-today",
        "o-second-1d",
        "u-second-3d",
    ]
    assert names(developer, date_to=today - timedelta(days=5)) == ["o-first-5d", "d-first-10d"]
    assert names(
        developer, date_from=today - timedelta(days=5), date_to=today - timedelta(days=1)
    ) == ["o-second-1d", "u-second-3d", "o-first-5d"]
    assert names(developer, user=other.id, model=first.id) == ["o-first-5d"]
    assert names(developer, user=user.id, model=first.id, date_to=today - timedelta(days=1)) == []
    # A user cannot widen their view with the user filter.
    assert names(user, user=other.id) == ["u-first-today", "u-second-3d"]
    assert names(user, model=history["second"].id) == ["u-second-3d"]


def test_a_bad_date_is_a_message_not_an_error(developer_client, history):
    response = developer_client.get("/developer/predictions?date_from=31-01-2025&model=abc")
    assert response.status_code == 200
    assert "must be a date like" in response.text
    assert "u-first-today" in response.text


def test_history_pages_keep_the_filters_in_their_links(app, developer_client, history):
    app.config["HISTORY_PAGE_SIZE"] = 2
    first = history["first"]
    response = developer_client.get(f"/developer/predictions?model={first.id}")
    assert "Page 1 of 2" in response.text
    assert f"model={first.id}" in response.text and "page=2" in response.text
    second = developer_client.get(f"/developer/predictions?model={first.id}&page=2")
    assert "d-first-10d" in second.text and "u-first-today" not in second.text


def test_an_empty_history_links_to_a_new_prediction(user_client):
    response = user_client.get("/user/predictions")
    assert response.status_code == 200
    assert "No predictions yet" in response.text and 'href="/user/predict"' in response.text
