"""Input drift: statistics stored with each model at training time, each prediction's PSI per
feature, a warning that names exactly the features that moved, and the developer's home list."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.extensions import db
from app.schema import Model, Prediction
from app.services import prediction as predictions
from app.services import registry
from app.services.catalog import MODEL_KINDS
from app.services.monitoring import drift
from app.services.prediction.scoring import score_to_files
from app.services.preprocessing import FEATURES, PREDICTION_COLUMNS, match_columns
from app.services.registry import default_models
from tests import factories

ROWS = 800
MOVED = {"Contract", "tenure"}


@pytest.fixture(scope="module")
def customers(original_dataset) -> pd.DataFrame:
    """Real customers, all cells as text, like the training data."""
    frame = pd.read_csv(original_dataset, dtype=str, keep_default_na=False)
    return frame.sample(ROWS, random_state=11).reset_index(drop=True)


def shifted(frame: pd.DataFrame) -> pd.DataFrame:
    """The same customers, but all on month-to-month contracts and five years longer with us."""
    moved = frame.copy()
    moved["Contract"] = "Month-to-month"
    moved["tenure"] = (moved["tenure"].astype(int) + 60).astype(str)
    return moved


def network(account) -> Model:
    return next(
        m
        for m in registry.models_for(account)
        if m.is_default and m.model_type.key == "neural_network"
    )


def predict(account, frame: pd.DataFrame, name: str, model: Model | None = None) -> Prediction:
    model = model or network(account)
    prediction = predictions.create_prediction(account, name, model.id, factories.upload(frame))
    db.session.expire_all()
    return db.session.get(Prediction, prediction.id)


def test_every_model_stores_its_training_statistics(developer):
    for kind in (k.key for k in MODEL_KINDS):
        metadata = default_models.default_model_metadata(kind)
        profile = metadata["training_profile"]
        assert profile["rows"] == metadata["training_rows"]
        assert set(profile["features"]) == set(FEATURES)
        for spec in profile["features"].values():
            assert sum(spec["shares"]) == pytest.approx(1, abs=1e-5)
        tenure = profile["features"]["tenure"]
        assert tenure["kind"] == "number" and 5 <= len(tenure["edges"]) <= 9
        assert profile["features"]["Contract"]["categories"] == [
            "Month-to-month",
            "One year",
            "Two year",
        ]
    for model in registry.models_for(developer):  # and the company's rows carry them
        assert model.details["training_profile"]["features"]


def test_data_like_the_training_data_shows_no_warning(developer, developer_client, customers):
    prediction = predict(developer, customers, "like training")
    assert prediction.drift["available"] and prediction.drift["drifting"] == []
    assert prediction.drifting_count == 0
    assert max(f["psi"] for f in prediction.drift["features"]) < 0.1
    page = developer_client.get(f"/developer/predictions/{prediction.id}").get_data(as_text=True)
    assert "look like the model" in page and "look different" not in page


def test_a_shifted_file_warns_on_the_shifted_features_and_only_on_them(
    developer, developer_client, customers
):
    prediction = predict(developer, shifted(customers), "shifted")
    assert sorted(prediction.drift["drifting"]) == ["Contract", "tenure"]
    assert prediction.drifting_count == 2
    psi = {f["name"]: f["psi"] for f in prediction.drift["features"]}
    assert all(value < drift.PSI_ALERT for name, value in psi.items() if name not in MOVED)
    contract = next(f for f in prediction.drift["features"] if f["name"] == "Contract")
    assert contract["bin"] == "Month-to-month" and contract["share"] == 1.0
    page = developer_client.get(f"/developer/predictions/{prediction.id}").get_data(as_text=True)
    warning = page.split('role="alert"')[1].split("</div>")[0]
    assert "<strong>Contract</strong>" in warning and "<strong>tenure</strong>" in warning
    for name in set(FEATURES) - MOVED:
        assert f"<strong>{name}</strong>" not in warning

    home = developer_client.get("/developer/").get_data(as_text=True)
    row = home.split('id="drift"')[1].split("shifted</a>")[1].split("</tr>")[0]
    assert {name.strip() for name in row.split("<td>")[-1].split("</td>")[0].split(",")} == MOVED


def test_the_home_lists_only_drifting_predictions_of_the_company(
    app, developer, developer_client, customers
):
    predict(developer, customers, "calm March")
    predict(developer, shifted(customers), "moved April")
    other = factories.make_developer()
    from app.services.environment import initialize_developer_environment

    initialize_developer_environment(other)
    predict(other, shifted(customers), "another company's May")
    home = developer_client.get("/developer/").get_data(as_text=True)
    section = home.split('id="drift"')[1]
    assert "moved April" in section and "calm March" not in section
    assert "another company" not in section


def test_a_model_without_statistics_says_so_and_few_rows_are_not_judged(developer, customers):
    model = network(developer)
    model.details = {k: v for k, v in model.details.items() if k != "training_profile"}
    db.session.commit()
    prediction = predict(developer, customers, "old model", model)
    assert prediction.drift == {"available": False, "reason": drift.NO_STATISTICS}
    assert prediction.drifting_count is None

    model.details = registry.details_from_metadata(
        default_models.default_model_metadata("neural_network")
    )
    db.session.commit()
    few = predict(developer, shifted(customers).head(40), "few rows", model)
    assert not few.drift["available"] and "Too few customers (40)" in few.drift["reason"]


def test_the_chunked_count_equals_one_pass(developer, customers, tmp_path: Path):
    model = network(developer)
    pipeline = registry.load_model_pipeline(model)
    mapping = match_columns(list(customers.columns), PREDICTION_COLUMNS)
    results = []
    for chunk_rows in (97, len(customers)):
        monitor = drift.DriftMonitor.for_model(model, mapping)
        score_to_files(
            pipeline,
            shifted(customers),
            mapping,
            {"csv": tmp_path / f"{chunk_rows}.csv"},
            chunk_rows,
            observers=(monitor,),
        )
        results.append(monitor.result())
    assert results[0] == results[1]


def test_psi_is_zero_for_the_same_shares_and_grows_with_the_shift():
    expected = np.array([0.2, 0.3, 0.5])
    assert drift.psi(expected, expected) == 0
    small = drift.psi(np.array([0.25, 0.3, 0.45]), expected)
    large = drift.psi(np.array([0.6, 0.3, 0.1]), expected)
    assert 0 < small < drift.PSI_ALERT <= large


@pytest.mark.parametrize(
    "cells",
    [
        ["12", " 3.5 ", "", "0", "1e3", "-4"],  # plain numbers and blanks: read by Arrow
        ["12", "abc", "", "inf", "1e400", "7,5"],  # junk: read as the models read it
    ],
)
def test_drift_reads_numbers_as_the_models_do(cells):
    from app.services.preprocessing import coerce_feature

    column = pd.Series(cells, dtype="string[pyarrow]")
    expected = coerce_feature(column, "tenure").to_numpy(dtype=float)
    found = drift.numeric_values(column, "tenure")
    finite = np.isfinite(expected)
    assert (np.isfinite(found) == finite).all()
    assert (found[finite] == expected[finite]).all()


def test_counts_from_the_scoring_encoding_equal_counts_read_from_the_cells(developer, customers):
    """The scoring loop hands the monitor its encoding; the bins must be those the cells give:
    blanks, unknown categories, unreadable Yes/No and junk numbers included."""
    from app.services.preprocessing.encoding import encode

    messy = shifted(customers)
    messy.loc[::7, "Contract"] = "  "
    messy.loc[::11, "PaymentMethod"] = "Carrier pigeon"
    messy.loc[::5, "SeniorCitizen"] = "maybe"
    messy.loc[::3, "InternetService"] = " Fiber optic "
    messy.loc[::13, "TotalCharges"] = "n/a"
    mapping = match_columns(list(messy.columns), PREDICTION_COLUMNS)
    for model in registry.models_for(developer):
        pipeline = registry.load_model_pipeline(model)
        encoded = encode(pipeline, messy, mapping)
        assert encoded is not None
        from_cells = drift.DriftMonitor.for_model(model, mapping)
        from_cells.add(messy)
        from_encoding = drift.DriftMonitor.for_model(model, mapping)
        from_encoding.add(messy, encoded)
        for name in FEATURES:
            assert (from_cells.counts[name] == from_encoding.counts[name]).all(), name
        assert from_cells.counts["PaymentMethod"][-1] > 0  # the unknown ones: "other values"
        assert from_cells.result() == from_encoding.result()
