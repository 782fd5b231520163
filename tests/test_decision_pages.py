"""From a score to a decision, over HTTP: the costs pages, the prediction page's warnings and
campaign, every row paged, sorted and searched, the call list, calibration on the model pages,
and another company's ids answered with 404."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest

from app.extensions import db
from app.schema import Company, Prediction
from app.services import decisions, registry
from app.services import prediction as predictions
from app.services.environment import initialize_developer_environment
from tests import factories

ROWS = 180
COSTS = {"customer_value": "500", "offer_cost": "50", "contact_cost": "5", "acceptance_rate": "30%"}
PNG = b"\x89PNG\r\n\x1a\n"


pytestmark = pytest.mark.usefixtures("fresh_login_per_request")


@pytest.fixture(scope="module")
def customers(original_dataset) -> pd.DataFrame:
    frame = pd.read_csv(original_dataset, dtype=str, keep_default_na=False)
    frame = frame.drop(columns=["Churn"]).sample(ROWS, random_state=5).reset_index(drop=True)
    frame.loc[[4, 9, 33], "tenure"] = "abc"
    frame.loc[[12, 40], "Contract"] = "Weekly"
    frame.loc[7, "customerID"] = "=HYPERLINK(1)"
    return frame


def post_prediction(client, role: str, model_id: int, frame: pd.DataFrame, name: str = "March"):
    data = frame.to_csv(index=False).encode()
    response = client.post(
        f"/{role}/predict",
        data={"name": name, "model_id": str(model_id), "file": (io.BytesIO(data), "march.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.text
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def csv_of(response) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(response.data), dtype=str, keep_default_na=False)


@pytest.fixture
def scored(app, developer, developer_client, customers):
    """A developer's prediction scored with the company's costs set through the form."""
    response = developer_client.post("/developer/costs", data=COSTS)
    assert response.status_code == 302
    model = next(m for m in registry.models_for(developer) if m.model_type.key == "random_forest")
    return post_prediction(developer_client, "developer", model.id, customers)


# Costs --------------------------------------------------------------------------------------------


def test_the_developer_sets_the_costs_and_sees_what_they_mean(app, developer, developer_client):
    page = developer_client.get("/developer/costs")
    assert page.status_code == 200
    for field in decisions.FIELDS:
        assert f'name="{field.name}"' in page.text and field.explanation in page.text
    response = developer_client.post("/developer/costs", data=COSTS, follow_redirects=True)
    assert "Costs saved" in response.text
    company = db.session.get(Company, developer.company_id)
    db.session.refresh(company)
    assert (company.customer_value, company.acceptance_rate) == (500.0, 0.3)
    assert 'value="30%"' in response.text and "29.7%" in response.text  # the break-even


def test_a_refused_cost_keeps_the_form_and_says_why(developer, developer_client):
    response = developer_client.post("/developer/costs", data={**COSTS, "acceptance_rate": "30"})
    assert response.status_code == 400
    assert "write 30%" in response.text
    assert 'value="500"' in response.text
    assert decisions.company_costs(developer.company) is None


def test_users_see_the_costs_read_only(app, developer, user, user_client):
    page = user_client.get("/user/costs")
    assert page.status_code == 200 and "has not set the company" in page.text
    decisions.save_costs(developer, COSTS)
    page = user_client.get("/user/costs")
    assert "500.00" in page.text and "30.0%" in page.text
    assert 'name="customer_value"' not in page.text  # read-only: no form
    assert user_client.post("/user/costs", data=COSTS).status_code == 405
    assert user_client.post("/developer/costs", data=COSTS).status_code == 403


def test_each_company_sees_and_changes_only_its_own_costs(app, developer, developer_client):
    decisions.save_costs(developer, COSTS)
    other = factories.make_developer()
    initialize_developer_environment(other)
    client = factories.log_in(app.test_client(), other)
    assert 'value="500"' not in client.get("/developer/costs").text
    client.post("/developer/costs", data={**COSTS, "customer_value": "900"})
    assert decisions.company_costs(developer.company).customer_value == 500.0
    assert decisions.company_costs(other.company).customer_value == 900.0


# The prediction page --------------------------------------------------------------------------


def test_the_prediction_page_counts_the_warnings_and_answers_the_capacity_question(
    app, developer_client, scored
):
    page = developer_client.get(f"/developer/predictions/{scored}")
    assert page.status_code == 200
    assert "5 rows have input warnings" in page.text
    assert "tenure &#39;abc&#39; is not a number" in page.text
    assert "Whom to contact" in page.text and "Contact = Yes" in page.text
    assert f"/developer/predictions/{scored}/profit.png" in page.text
    assert f"/developer/predictions/{scored}/rows" in page.text
    assert f"/developer/predictions/{scored}/calllist" in page.text
    prediction = db.session.get(Prediction, scored)
    worth = prediction.summary["campaign"]["best"]
    assert 10 < worth < ROWS
    asked = developer_client.get(f"/developer/predictions/{scored}?capacity=10")
    assert "If you can call <strong>10</strong>, call these 10" in asked.text
    assert "calllist?limit=10" in asked.text
    more = developer_client.get(f"/developer/predictions/{scored}?capacity=100000")
    assert f"only <strong>{worth}</strong>" in more.text and "would lose money" in more.text
    wrong = developer_client.get(f"/developer/predictions/{scored}?capacity=lots")
    assert wrong.status_code == 200 and "as a whole number" in wrong.text
    png = developer_client.get(f"/developer/predictions/{scored}/profit.png")
    assert png.status_code == 200 and png.data.startswith(PNG)
    narrow = developer_client.get(f"/developer/predictions/{scored}/profit.png?size=narrow")
    assert narrow.data.startswith(PNG) and narrow.data != png.data


def test_without_costs_the_page_says_what_setting_them_would_give(
    app, developer, developer_client, user, user_client, customers
):
    model = registry.models_for(user)[0]
    mine = post_prediction(user_client, "user", model.id, customers)
    page = user_client.get(f"/user/predictions/{mine}")
    assert "costs are not set yet" in page.text and "your developer sets them" in page.text
    assert "calllist" not in page.text
    assert user_client.get(f"/user/predictions/{mine}/profit.png").status_code == 404
    assert user_client.get(f"/user/predictions/{mine}/calllist").status_code == 404
    before = csv_of(user_client.get(f"/user/predictions/{mine}/download"))
    assert "Expected Value" not in before.columns

    decisions.save_costs(developer, COSTS)
    page = user_client.get(f"/user/predictions/{mine}")
    assert "scored before your company's costs were set" in page.text
    again = csv_of(user_client.get(f"/user/predictions/{mine}/download"))
    pd.testing.assert_frame_equal(again, before)  # it keeps its file
    later = post_prediction(user_client, "user", model.id, customers, name="After")
    after = csv_of(user_client.get(f"/user/predictions/{later}/download"))
    assert list(after.columns[-2:]) == ["Expected Value", "Contact"]


# Every row ---------------------------------------------------------------------------------------


def _ranks(html: str) -> list[int]:
    return [int(n.replace(",", "")) for n in re.findall(r'data-label="Risk rank">([\d,]+)<', html)]


def _ids(html: str) -> list[str]:
    return re.findall(r'data-label="customerID">([^<]+)<', html)


def test_every_row_pages_in_risk_order_both_ways_and_in_file_order(app, developer_client, scored):
    url = f"/developer/predictions/{scored}/rows"
    first = developer_client.get(url)
    assert first.status_code == 200
    assert _ranks(first.text) == list(range(1, 51))
    assert f"of {ROWS}" in first.text and "Page 1 of 4" in first.text
    second = developer_client.get(f"{url}?page=2")
    assert _ranks(second.text) == list(range(51, 101))
    last = developer_client.get(f"{url}?page=999")  # past the end: the last page
    assert _ranks(last.text) == list(range(151, ROWS + 1))
    lowest = developer_client.get(f"{url}?sort=-rank")
    assert _ranks(lowest.text) == list(range(ROWS, ROWS - 50, -1))
    assert _ranks(developer_client.get(f"{url}?sort=expected_value").text) == list(range(1, 51))
    assert _ranks(developer_client.get(f"{url}?sort=-probability").text)[0] == ROWS
    download = csv_of(developer_client.get(f"/developer/predictions/{scored}/download"))
    in_file = developer_client.get(f"{url}?sort=row&page=2")
    rows = re.findall(r'data-label="Row">([\d,]+)<', in_file.text)
    assert [int(r) for r in rows] == list(range(51, 101))
    expected_ids = download["customerID"].iloc[50:100].tolist()
    assert _ids(in_file.text) == expected_ids
    assert _ranks(in_file.text) == download["Risk Rank"].iloc[50:100].astype(int).tolist()
    nonsense = developer_client.get(f"{url}?sort=drop table&page=-3")
    assert nonsense.status_code == 200 and _ranks(nonsense.text) == list(range(1, 51))


def test_searching_by_customer_id_finds_exactly_the_matching_rows(
    developer_client, scored, customers
):
    url = f"/developer/predictions/{scored}/rows"
    part = customers.loc[20, "customerID"][-3:].lower()
    found = developer_client.get(f"{url}?q={part}")
    expected = [i for i in customers["customerID"] if part in i.lower()]
    assert sorted(_ids(found.text)) == sorted(expected)
    ranks = _ranks(found.text)
    assert ranks == sorted(ranks)
    nothing = developer_client.get(f"{url}?q=no-such-customer")
    assert "No customerID contains" in nothing.text and _ids(nothing.text) == []
    # Text from the file is shown escaped, never as markup.
    formula = developer_client.get(f"{url}?q=HYPERLINK")
    assert _ids(formula.text) == ["=HYPERLINK(1)"]


def test_a_prediction_scored_before_row_stores_says_so(app, developer, developer_client, scored):
    prediction = db.session.get(Prediction, scored)
    prediction.summary = {k: v for k, v in prediction.summary.items() if k != "row_store"}
    db.session.commit()
    page = developer_client.get(f"/developer/predictions/{scored}/rows")
    assert page.status_code == 200 and "scored before rows could be browsed" in page.text
    assert developer_client.get(f"/developer/predictions/{scored}/calllist").status_code == 404


# The call list -----------------------------------------------------------------------------------


def test_the_call_list_is_the_contact_yes_rows_best_expected_value_first(developer_client, scored):
    result = csv_of(developer_client.get(f"/developer/predictions/{scored}/download"))
    response = developer_client.get(f"/developer/predictions/{scored}/calllist")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    assert "no-store" in response.headers["Cache-Control"]
    calls = csv_of(response)
    assert list(calls.columns[:5]) == [
        "Risk Rank",
        "Row",
        "customerID",
        "Churn Probability",
        "Expected Value",
    ]
    chosen = result[result["Contact"] == "Yes"]
    assert len(calls) == len(chosen) > 0
    value = calls["Expected Value"].astype(float)
    assert value.is_monotonic_decreasing and (value > 0).all()
    expected = chosen.assign(r=chosen["Risk Rank"].astype(int)).sort_values("r")
    ids = expected["customerID"].tolist()  # formula-like ids neutralised in both files
    assert calls["customerID"].tolist() == ids
    assert calls["Reason 1"].tolist() == expected["Reason 1"].tolist()
    assert calls["Risk Rank"].astype(int).tolist() == expected["r"].tolist()
    limited = csv_of(developer_client.get(f"/developer/predictions/{scored}/calllist?limit=7"))
    assert limited["customerID"].tolist() == ids[:7]


# Calibration on the model pages -------------------------------------------------------------------


@pytest.mark.parametrize("role", ["developer", "user"])
def test_every_default_model_page_shows_its_reliability_diagram_and_brier_score(
    request, developer, role
):
    client = request.getfixturevalue(f"{role}_client")
    account = request.getfixturevalue(role)
    for model in registry.models_for(account):
        page = client.get(f"/{role}/models/{model.id}")
        assert "Brier score" in page.text and "held-out customers" in page.text
        brier = model.details["calibration"]["held_out"]["brier"]
        assert f"{brier:.3f}" in page.text
        chart = client.get(f"/{role}/models/{model.id}/calibration.png")
        assert chart.status_code == 200 and chart.data.startswith(PNG)


def test_a_calibrated_model_page_shows_both_curves(app, developer, developer_client):
    model = registry.models_for(developer)[0]
    details = dict(model.details)
    before = {**details["calibration"]["held_out"], "ece": 0.081, "brier": 0.171}
    details["calibration"] = {**details["calibration"], "before": before, "method": "isotonic"}
    model.details = details
    db.session.commit()
    page = developer_client.get(f"/developer/models/{model.id}")
    assert "Before calibration" in page.text and "0.171" in page.text
    assert "calibrated (isotonic" in page.text
    assert developer_client.get(f"/developer/models/{model.id}/calibration.png").data.startswith(
        PNG
    )


def test_a_model_without_calibration_figures_says_so(app, developer, developer_client):
    model = registry.models_for(developer)[0]
    model.details = {k: v for k, v in model.details.items() if k != "calibration"}
    db.session.commit()
    page = developer_client.get(f"/developer/models/{model.id}")
    assert "No calibration figures were recorded" in page.text
    assert developer_client.get(f"/developer/models/{model.id}/calibration.png").status_code == 404


# Tenancy ------------------------------------------------------------------------------------------


def test_another_company_gets_404_for_the_rows_call_list_and_charts(
    app, developer, scored, customers
):
    outsider = factories.make_developer()
    initialize_developer_environment(outsider)
    outsider_user = factories.make_user(outsider.company)
    base = f"predictions/{scored}"
    paths = [f"{base}/rows", f"{base}/rows?q=a", f"{base}/calllist", f"{base}/profit.png"]
    for account, role in ((outsider, "developer"), (outsider_user, "user")):
        client = factories.log_in(app.test_client(), account)
        for path in paths:
            assert client.get(f"/{role}/{path}").status_code == 404, (role, path)
    colleague = factories.make_user(developer.company)
    client = factories.log_in(app.test_client(), colleague)
    assert client.get(f"/user/{base}/rows").status_code == 404  # a developer's prediction
    with pytest.raises(predictions.PredictionNotFound):
        predictions.prediction_for(colleague, scored)


def test_a_prediction_scored_before_decisions_existed_still_shows_its_page(
    app, developer, developer_client, scored
):
    prediction = db.session.get(Prediction, scored)
    old = {
        key: prediction.summary[key]
        for key in ("rows", "churn", "stay", "churn_share", "histogram", "threshold", "files")
    }
    old["preview_columns"] = ["Contract"]
    old["top"] = [
        {"row": t["row"], "customerID": t["customerID"], "probability": t["probability"]}
        for t in prediction.summary["top"]
    ]
    prediction.summary = old
    db.session.commit()
    page = developer_client.get(f"/developer/predictions/{scored}")
    assert page.status_code == 200
    assert "Highest-risk customers" in page.text and "/rows" not in page.text
    assert "scored before your company's costs were set" in page.text
    download = developer_client.get(f"/developer/predictions/{scored}/download")
    assert download.status_code == 200
