"""What really happened: outcome files for a past prediction, realised figures that equal
scikit-learn's on the downloaded probabilities, refusals that leave nothing behind, the
developer's realised performance over time, and the wall between companies and users."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from flask import current_app
from sklearn.metrics import accuracy_score, precision_score, recall_score, roc_auc_score
from sqlalchemy import func, select

from app.extensions import db
from app.schema import Dataset, Prediction
from app.services import jobs, registry, storage
from app.services.environment import ensure_company_models, initialize_developer_environment
from tests import factories

ROWS = 300


def settle() -> None:
    jobs.wait_for_idle(current_app._get_current_object())


@pytest.fixture(scope="module")
def customers(original_dataset) -> pd.DataFrame:
    frame = pd.read_csv(original_dataset, dtype=str, keep_default_na=False)
    return frame.sample(ROWS, random_state=21).reset_index(drop=True)


def csv(frame: pd.DataFrame) -> io.BytesIO:
    return io.BytesIO(frame.to_csv(index=False).encode())


def xlsx(frame: pd.DataFrame) -> io.BytesIO:
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False)
    buffer.seek(0)
    return buffer


def predict(client, role: str, account, customers: pd.DataFrame) -> Prediction:
    model = next(m for m in registry.models_for(account) if m.model_type.key == "random_forest")
    features = customers.drop(columns=["Churn"])
    response = client.post(
        f"/{role}/predict",
        data={"name": "March", "model_id": model.id, "file": (csv(features), "march.csv")},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    settle()
    return db.session.scalars(select(Prediction).order_by(Prediction.id.desc())).first()


def upload_outcomes(client, role: str, prediction: Prediction, data, filename="outcomes.csv"):
    return client.post(
        f"/{role}/predictions/{prediction.id}/outcomes",
        data={"file": (data, filename)},
    )


def downloaded(client, role: str, prediction: Prediction) -> pd.DataFrame:
    response = client.get(f"/{role}/predictions/{prediction.id}/download?format=csv")
    assert response.status_code == 200
    return pd.read_csv(io.BytesIO(response.data), dtype={"customerID": str})


@pytest.fixture
def world(any_db_app):
    developer = factories.make_developer()
    initialize_developer_environment(developer)
    return developer, factories.log_in(any_db_app.test_client(), developer)


def test_realised_figures_equal_sklearns_on_the_downloaded_probabilities(world, customers):
    developer, client = world
    prediction = predict(client, "developer", developer, customers)
    known = customers.iloc[:250][["customerID", "Churn"]]
    extra = pd.DataFrame({"customerID": [f"GONE-{i}" for i in range(10)], "Churn": "Yes"})
    pending = pd.DataFrame({"customerID": customers.customerID.iloc[250:255], "Churn": ""})
    response = upload_outcomes(
        client, "developer", prediction, csv(pd.concat([known, extra, pending]))
    )
    assert response.status_code == 302
    settle()
    db.session.expire_all()
    prediction = db.session.get(Prediction, prediction.id)
    assert prediction.outcomes_status == "done", prediction.outcomes
    record = prediction.outcomes
    assert (record["matched"], record["missing"], record["ignored"]) == (250, 50, 10)

    result = downloaded(client, "developer", prediction).iloc[:250]
    actual = (known["Churn"] == "Yes").astype(int).to_numpy()
    probability = result["Churn Probability"].to_numpy()
    predicted = (probability >= 0.5).astype(int)
    figures = record["figures"]
    assert figures["AUC"] == roc_auc_score(actual, probability)
    assert figures["Accuracy"] == accuracy_score(actual, predicted)
    assert figures["Churn Precision"] == precision_score(actual, predicted)
    assert figures["Churn Recall"] == recall_score(actual, predicted)

    page = client.get(f"/developer/predictions/{prediction.id}").get_data(as_text=True)
    assert f"{figures['AUC']:.3f}" in page and "realised AUC" in page
    assert "<strong>250</strong> of the prediction's 300 customers" in page
    assert "<strong>50</strong> outcomes are still missing" in page

    # A later file adds the rest, and its answer for a customer replaces the earlier one.
    rest = customers.iloc[250:][["customerID", "Churn"]]
    changed = customers.iloc[:1][["customerID"]].assign(
        Churn="No" if customers.Churn.iloc[0] == "Yes" else "Yes"
    )
    response = upload_outcomes(
        client, "developer", prediction, xlsx(pd.concat([rest, changed])), "rest.xlsx"
    )
    assert response.status_code == 302
    settle()
    db.session.expire_all()
    record = db.session.get(Prediction, prediction.id).outcomes
    assert (record["matched"], record["missing"]) == (300, 0)
    actual = (customers["Churn"] == "Yes").astype(int).to_numpy().copy()
    actual[0] = 1 - actual[0]
    probability = downloaded(client, "developer", prediction)["Churn Probability"].to_numpy()
    assert record["figures"]["AUC"] == roc_auc_score(actual, probability)
    assert len(record["dataset_ids"]) == 2

    # The developer's monitoring page: realised performance per model, with its chart.
    monitoring = client.get("/developer/monitoring").get_data(as_text=True)
    assert "Random Forest" in monitoring and f"{record['figures']['AUC']:.3f}" in monitoring
    chart = client.get("/developer/monitoring/realised.png")
    assert chart.status_code == 200 and chart.mimetype == "image/png"


@pytest.mark.parametrize(
    ("content", "filename", "message"),
    [
        ("customerID,Outcome\nA,Yes\n", "o.csv", "missing the required column: Churn"),
        ("customerID,Churn\nA,Maybe\n", "o.csv", "must hold Yes or No"),
        ("customerID,Churn\nA,\n", "o.csv", "no row with both a customerID and an outcome"),
        ("customerID,Churn\n", "o.csv", "header but no data rows"),
        ("just some words", "o.csv", "does not look like a table"),
        (
            "customerID,Churn\nA,Yes\n",
            "o.pdf",
            "Please upload a .csv, .csv.gz, .parquet or .xlsx file.",
        ),
    ],
)
def test_an_unusable_outcome_file_is_refused_and_leaves_nothing(
    app, developer, developer_client, customers, content, filename, message
):
    prediction = predict(developer_client, "developer", developer, customers)
    response = upload_outcomes(
        developer_client, "developer", prediction, io.BytesIO(content.encode()), filename
    )
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Prediction, prediction.id).outcomes is None
    assert db.session.scalar(select(func.count(Dataset.id)).filter_by(kind="outcomes")) == 0
    assert not list((storage.datasets_root() / "dev/uploadOutcomes").glob("*"))


def test_a_file_of_another_predictions_customers_is_not_kept(
    developer, developer_client, customers
):
    prediction = predict(developer_client, "developer", developer, customers)
    strangers = pd.DataFrame({"customerID": ["X1", "X2", "X3"], "Churn": ["Yes", "No", "No"]})
    assert (
        upload_outcomes(developer_client, "developer", prediction, csv(strangers)).status_code
        == 302
    )
    settle()
    db.session.expire_all()
    prediction = db.session.get(Prediction, prediction.id)
    assert prediction.outcomes_status == "failed"
    assert "None of the 3 customers" in prediction.outcomes["error"]
    page = developer_client.get(f"/developer/predictions/{prediction.id}").get_data(as_text=True)
    assert "None of the 3 customers" in page
    assert db.session.scalar(select(func.count(Dataset.id)).filter_by(kind="outcomes")) == 0
    assert not list((storage.datasets_root() / "dev/uploadOutcomes").glob("*"))


def test_a_measurement_whose_job_was_lost_says_so_and_takes_the_file_again(
    developer, developer_client, customers
):
    prediction = predict(developer_client, "developer", developer, customers)
    prediction.outcomes_status = "queued"
    prediction.outcomes = {"requested_at": "2020-01-01T00:00:00", "dataset_ids": []}
    db.session.commit()
    page = developer_client.get(f"/developer/predictions/{prediction.id}").get_data(as_text=True)
    assert "stopped before it finished" in page and 'http-equiv="refresh"' not in page
    good = csv(customers[["customerID", "Churn"]])
    assert upload_outcomes(developer_client, "developer", prediction, good).status_code == 302
    settle()
    db.session.expire_all()
    assert db.session.get(Prediction, prediction.id).outcomes["matched"] == ROWS


def test_outcomes_follow_who_may_see_the_prediction(app, developer, customers):
    user = factories.make_user(developer.company)
    ensure_company_models(developer.company)
    user_client = factories.log_in(app.test_client(), user)
    prediction = predict(user_client, "user", user, customers)
    good = csv(customers[["customerID", "Churn"]])

    colleague = factories.log_in(app.test_client(), factories.make_user(developer.company))
    outsider = factories.make_developer()
    initialize_developer_environment(outsider)
    stranger = factories.log_in(app.test_client(), outsider)
    for client, role in ((colleague, "user"), (stranger, "developer")):
        url = f"/{role}/predictions/{prediction.id}/outcomes"
        assert client.get(url).status_code == 404
        assert client.post(url, data={"file": (csv(customers), "o.csv")}).status_code == 404
    assert db.session.get(Prediction, prediction.id).outcomes is None

    # The user who made it may, and so may the company's developer.
    assert user_client.get(f"/user/predictions/{prediction.id}/outcomes").status_code == 200
    assert upload_outcomes(user_client, "user", prediction, good).status_code == 302
    settle()
    db.session.expire_all()
    developer_client = factories.log_in(app.test_client(), developer)
    page = developer_client.get(f"/developer/predictions/{prediction.id}").get_data(as_text=True)
    assert "realised AUC" in page
    assert "Random Forest" in developer_client.get("/developer/monitoring").get_data(as_text=True)
    assert "Random Forest" not in stranger.get("/developer/monitoring").get_data(as_text=True)
