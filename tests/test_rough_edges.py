"""The rough edges a walkthrough found: history (past the end, own runs, name search, churn
rate), data sets (kind filter, downloads kept to the company, lineage), users (last login),
deployment history (seconds and time zone, rollbacks), copy (approval email, approval page),
the company ID's copy button and a retrain run's duration."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from app.extensions import db
from app.schema import Dataset
from app.services import prediction as predictions
from app.services import registry
from app.services.registry import deployment
from app.services.storage import datasets as dataset_records
from app.web.templating import duration, when_exact
from tests import factories

pytestmark = pytest.mark.usefixtures("fresh_login_per_request")


# History -----------------------------------------------------------------------------------------


def test_history_searches_the_prediction_name_in_any_case(app, developer):
    model = registry.models_for(developer)[0]
    dataset = factories.make_dataset(developer.company_id, "in")
    for name in ("March north", "march south", "April 100%_done", "May"):
        factories.make_prediction(developer, model, dataset, name)
    db.session.commit()

    def names(q: str) -> list[str]:
        filters = predictions.HistoryFilters.from_args({"q": q}, developer)
        return sorted(p.name for p in predictions.prediction_history(developer, filters).items)

    assert names("MARCH") == ["March north", "march south"]
    assert names("  north  ") == ["March north"]
    assert names("100%_") == ["April 100%_done"]  # % and _ are letters here, not wildcards
    assert names("%") == ["April 100%_done"]


def test_a_page_past_the_end_shows_the_last_page(app, developer_client, developer):
    model = registry.models_for(developer)[0]
    dataset = factories.make_dataset(developer.company_id, "in")
    start = datetime(2025, 1, 1)
    for n in range(30):  # 25 a page: two pages, the second holding the 5 oldest
        factories.make_prediction(developer, model, dataset, f"run {n:02d}", start + timedelta(n))
    db.session.commit()
    page = developer_client.get("/developer/predictions?page=99").text
    assert "Page 2 of 2" in page and "Page 99" not in page
    assert all(f">run {n:02d}<" in page for n in range(5))
    assert "run 05" not in page


def test_history_shows_the_churn_rate_and_one_call_to_action_when_empty(
    app, developer_client, developer
):
    empty = developer_client.get("/developer/predictions").text
    main = empty[empty.index("<main") :]
    assert main.count('href="/developer/predict"') == 1
    model = registry.models_for(developer)[0]
    dataset = factories.make_dataset(developer.company_id, "in")
    factories.make_prediction(developer, model, dataset, "Rates")  # 3 of 10 churn
    db.session.commit()
    page = developer_client.get("/developer/predictions").text
    assert "Churn rate" in page and ">30.0%<" in page


# Data sets ---------------------------------------------------------------------------------------


def test_datasets_filter_by_kind_and_count_each_kind(app, developer_client, developer):
    for n in range(3):
        factories.make_dataset(developer.company_id, f"input {n}")
    db.session.commit()
    page = developer_client.get("/developer/datasets?kind=original").text
    assert "Prediction input (3)" in page and "Original (1)" in page
    rows = re.search(r"<tbody>(.*?)</tbody>", page, re.S).group(1)
    assert rows.count("<tr>") == 1 and "Original" in rows
    everything = developer_client.get("/developer/datasets?kind=nonsense").text
    assert re.search(r"<tbody>(.*?)</tbody>", everything, re.S).group(1).count("<tr>") == 4


def test_a_data_set_downloads_for_its_company_only(app, developer_client, developer):
    original = db.session.scalars(
        db.select(Dataset).filter_by(company_id=developer.company_id, kind="original")
    ).one()
    response = developer_client.get(f"/developer/datasets/{original.id}/download")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"customerID,")

    outsider = factories.make_developer()
    from app.services.environment import initialize_developer_environment

    initialize_developer_environment(outsider)
    theirs = db.session.scalars(
        db.select(Dataset).filter_by(company_id=outsider.company_id, kind="original")
    ).one()
    assert developer_client.get(f"/developer/datasets/{theirs.id}/download").status_code == 404
    assert developer_client.get("/developer/datasets/999999/download").status_code == 404


def test_the_lineage_drawing_shows_which_upload_fed_each_combined_set(app, developer):
    original = db.session.scalars(
        db.select(Dataset).filter_by(company_id=developer.company_id, kind="original")
    ).one()
    upload = factories.make_dataset(developer.company_id, "june upload", kind="retrain_upload")
    combined = factories.make_dataset(developer.company_id, "combined", kind="combined")
    combined.base_dataset_id, combined.upload_dataset_id = original.id, upload.id
    db.session.commit()
    (step,) = dataset_records.lineage_steps(developer.company_id)
    assert (step.base, step.upload, step.combined) == (original, upload, combined)
    client = factories.log_in(app.test_client(), developer)
    page = client.get("/developer/datasets").text
    drawing = re.search(r'<ol class="lineage-drawing">(.*?)</ol>', page, re.S).group(1)
    assert drawing.index(f"#{original.id}") < drawing.index(f"#{upload.id}")
    assert drawing.index(f"#{upload.id}") < drawing.index(f"#{combined.id}")


# Users, deployments, copy ------------------------------------------------------------------------


def test_the_users_page_shows_each_users_last_login(app, developer_client, developer, user):
    page = developer_client.get("/developer/users").text
    assert "Last login" in page and ">never<" in page
    app.test_client().post(
        "/auth/login", data={"email": user.email, "password": factories.PASSWORD}
    )
    db.session.refresh(user)
    assert user.last_login_at is not None
    page = developer_client.get("/developer/users").text
    assert user.last_login_at.strftime("%Y-%m-%d %H:%M") in page


def test_deployment_history_gives_seconds_the_time_zone_and_names_rollbacks(
    app, developer_client, developer
):
    v2 = factories.make_version(developer, 2)
    v3 = factories.make_version(developer, 3)
    db.session.commit()
    deployment.deploy(developer, v2.id, "first")
    deployment.deploy(developer, v3.id, "second")
    deployment.roll_back(developer, v2.id, "v3 misbehaves")
    page = developer_client.get("/developer/deployments").text
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", page)
    assert 'class="badge badge-event-rollback">rollback<' in page
    assert 'class="badge badge-event-deploy">deploy<' in page


def test_exact_times_and_durations_read_well():
    at = datetime(2026, 12, 2, 7, 5, 9)
    assert when_exact(at) == "2026-12-02 07:05:09 UTC"
    assert duration(at, at + timedelta(seconds=42)) == "42 s"
    assert duration(at, at + timedelta(minutes=3, seconds=4)) == "3 min 04 s"
    assert duration(at, at + timedelta(hours=1, minutes=5)) == "1 h 05 min"
    assert duration(None, at) == "—"


def test_the_company_id_has_a_copy_button(developer_client, developer):
    page = developer_client.get("/developer/users").text
    public_id = developer.company.public_id
    assert f'id="company-id">{public_id}</span>' in page
    assert 'data-copy="#company-id"' in page
