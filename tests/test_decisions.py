"""From a score to a decision, through the services: reasons for every model type (checked
against the pipeline itself), risk ranks over chunks, input warnings, expected value and costs,
and calibration recorded at training time."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from app.extensions import db
from app.schema import Model
from app.services import decisions, jobs, registry, retraining, storage, training
from app.services import prediction as predictions
from app.services.environment import initialize_developer_environment
from app.services.preprocessing import FEATURES, NUMERIC_FEATURES, coerce_features
from app.services.preprocessing.encoding import encode, estimator_of
from app.services.registry import default_models
from tests import factories

ROWS = 240
REASON = re.compile(r"^(?P<feature>\w+) = (?P<value>.+) \(\+(?P<points>[\d.]+) pts\)$")
COSTS = {"customer_value": "500", "offer_cost": "50", "contact_cost": "5", "acceptance_rate": "30%"}


@pytest.fixture(scope="module")
def customers(original_dataset) -> pd.DataFrame:
    """Real customers as a person's file holds them (text), without the answer."""
    frame = pd.read_csv(original_dataset, dtype=str, keep_default_na=False)
    return frame.drop(columns=["Churn"]).sample(ROWS, random_state=11).reset_index(drop=True)


def read_csv(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def predict(account, model: Model, frame: pd.DataFrame, filename: str = "c.csv", name="Run"):
    data = frame.to_csv(index=False).encode()
    if filename.endswith(".xlsx"):
        import io

        buffer = io.BytesIO()
        frame.to_excel(buffer, index=False)
        data = buffer.getvalue()
    prediction = predictions.create_prediction(
        account, name, model.id, factories.upload(data, filename)
    )
    assert prediction.status == "done", prediction.error
    return prediction


def result_of(prediction, file_format: str = "csv") -> pd.DataFrame:
    return read_csv(predictions.result_file(prediction, file_format).path)


def expected_without(pipeline, features: pd.DataFrame, feature: str, baseline) -> np.ndarray:
    """P(churn) with `feature` set to its training baseline, by the ordinary sklearn path: the
    median for a number, each training category weighted by its share for a category."""
    if feature in NUMERIC_FEATURES:
        changed = features.copy()
        changed[feature] = baseline["numeric"][feature]
        return pipeline.predict_proba(changed[FEATURES])[:, 1]
    total = np.zeros(len(features))
    shares = baseline["categorical"][feature]
    for value, share in shares.items():
        changed = features.copy()
        changed[feature] = value
        total += share / sum(shares.values()) * pipeline.predict_proba(changed[FEATURES])[:, 1]
    return total


def parsed_reasons(result: pd.DataFrame, row: int) -> list[dict]:
    found = []
    for column in ("Reason 1", "Reason 2", "Reason 3"):
        if result.loc[row, column]:
            match = REASON.match(result.loc[row, column])
            assert match, result.loc[row, column]
            found.append({**match.groupdict(), "points": float(match["points"])})
    return found


def assert_reasons_move_the_probability(pipeline, model, frame, result, rows) -> None:
    """Each reason's feature, set to its baseline, lowers the probability by the stated points."""
    features = coerce_features(frame, {name: name for name in FEATURES})
    baseline = model.details["baseline"]
    probability = pipeline.predict_proba(features[FEATURES])[:, 1]
    checked = 0
    for row in rows:
        reasons = parsed_reasons(result, row)
        points = [r["points"] for r in reasons]
        assert points == sorted(points, reverse=True)
        for reason in reasons:
            without = expected_without(pipeline, features.iloc[[row]], reason["feature"], baseline)
            moved = 100 * (probability[row] - without[0])
            assert moved > 0, (row, reason)
            assert moved == pytest.approx(reason["points"], abs=0.55), (row, reason)
            checked += 1
    assert checked >= len(rows)  # the riskiest customers have reasons


# Reasons ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["decision_tree", "gradient_boosting", "random_forest", "neural_network"]
)
def test_each_reason_of_a_model_without_exact_contributions_is_what_substituting_its_baseline_moves(
    developer, customers, kind
):
    model = next(m for m in registry.models_for(developer) if m.model_type.key == kind)
    assert decisions.reason_method(model) == decisions.SUBSTITUTION
    prediction = predict(developer, model, customers)
    assert prediction.summary["reasons"]["method"] == decisions.SUBSTITUTION
    result = result_of(prediction)
    riskiest = result["Risk Rank"].astype(int).sort_values().index[:12].tolist()
    pipeline = registry.load_model_pipeline(model)
    assert_reasons_move_the_probability(pipeline, model, customers, result, riskiest)


def test_logistic_regression_reasons_are_its_exact_contributions(developer, customers):
    model = next(
        m for m in registry.models_for(developer) if m.model_type.key == "logistic_regression"
    )
    assert decisions.reason_method(model) == decisions.EXACT
    prediction = predict(developer, model, customers)
    assert prediction.summary["reasons"]["method"] == decisions.EXACT
    result = result_of(prediction)
    pipeline = registry.load_model_pipeline(model)
    estimator = pipeline.named_steps["model"]
    coef, intercept = estimator.coef_[0], estimator.intercept_[0]
    assert_exact_contributions(pipeline, model, customers, result, coef, intercept)
    assert (result["Reason 1"] != "").mean() > 0.9


def assert_exact_contributions(pipeline, model, customers, result, coef, intercept) -> None:
    """Every reason states coef x (x - baseline) over its input's columns, in points."""
    features = coerce_features(customers, {name: name for name in FEATURES})
    encoded = pipeline.named_steps["preprocess"].transform(features[FEATURES])
    names = pipeline.named_steps["preprocess"].get_feature_names_out()
    # The baseline as a row of the encoded matrix: category shares and the encoded medians.
    baseline = model.details["baseline"]
    medians = pd.DataFrame([{**{f: np.nan for f in FEATURES}, **baseline["numeric"]}])
    reference = pipeline.named_steps["preprocess"].transform(medians[FEATURES])[0]
    for position, name in enumerate(names):
        group, _, rest = name.partition("__")
        if group == "categorical":
            feature, _, category = rest.partition("_")
            shares = baseline["categorical"][feature]
            reference[position] = shares.get(category, 0.0) / sum(shares.values())
    logits = encoded @ coef + intercept
    for row in range(len(customers)):
        for reason in parsed_reasons(result, row):
            feature = reason["feature"]
            columns = [
                i
                for i, name in enumerate(names)
                if name.split("__")[1] == feature or name.split("__")[1].startswith(feature + "_")
            ]
            phi = sum(coef[i] * (encoded[row, i] - reference[i]) for i in columns)
            points = 100 * (1 / (1 + np.exp(-logits[row])) - 1 / (1 + np.exp(-(logits[row] - phi))))
            assert points == pytest.approx(reason["points"], abs=0.051 if points < 1 else 0.51)


def test_a_retrained_version_gets_reasons_too(make_app, small_original, customers):
    app = make_app(ORIGINAL_DATASET=str(small_original))
    developer = factories.make_developer()
    initialize_developer_environment(developer)
    upload = pd.read_csv(small_original, dtype=str, keep_default_na=False).sample(
        80, random_state=4
    )
    upload["customerID"] = [f"R-{i}" for i in range(len(upload))]
    run = retraining.start_retrain(developer, "v2", factories.upload(upload))
    jobs.wait_for_idle(app)
    db.session.expire_all()
    version = db.session.get(Model, run.id)
    assert version.status == "done", version.error
    assert version.details["baseline"]["rows"] == version.training_rows
    assert version.details["calibration"]["held_out"]["brier"] is not None
    # Its network's hidden layers are linear (identity): its reasons are exact contributions.
    assert decisions.reason_method(version) == decisions.EXACT
    prediction = predict(developer, version, customers)
    assert prediction.summary["reasons"]["method"] == decisions.EXACT
    result = result_of(prediction)
    assert (result["Reason 1"] != "").sum() > ROWS // 2
    pipeline = registry.load_model_pipeline(version)
    network = pipeline.named_steps["model"]
    coef, intercept = network.coefs_[0], network.intercepts_[0]
    for weights, bias in zip(network.coefs_[1:], network.intercepts_[1:], strict=True):
        coef, intercept = coef @ weights, intercept @ weights + bias
    assert_exact_contributions(pipeline, version, customers, result, coef[:, 0], intercept[0])


def test_a_model_trained_before_baselines_compares_with_its_imputers_values(developer, customers):
    model = next(m for m in registry.models_for(developer) if m.model_type.key == "random_forest")
    model.details = {k: v for k, v in model.details.items() if k != "baseline"}
    db.session.commit()
    prediction = predict(developer, model, customers)
    assert prediction.summary["reasons"]["baseline"] == "imputer"
    assert "most common value" in decisions.model_notes(model).baseline_text
    result = result_of(prediction)
    assert (result["Reason 1"] != "").any()
    # The most common contract is the baseline now, so it is never a reason.
    pipeline = registry.load_model_pipeline(model)
    mode = pipeline.named_steps["preprocess"].named_transformers_["categorical"]
    contract_mode = mode.named_steps["impute"].statistics_[FEATURES.index("Contract")]
    reasons = result[["Reason 1", "Reason 2", "Reason 3"]].to_numpy().ravel()
    assert not any(r.startswith(f"Contract = {contract_mode} ") for r in reasons)


# Risk rank ----------------------------------------------------------------------------------------


def test_risk_ranks_cover_the_whole_file_across_chunks_with_ties_in_row_order(
    app, developer, customers
):
    app.config["PREDICTION_CHUNK_ROWS"] = 37  # ranks must be global, not per chunk
    frame = pd.concat([customers, customers.head(30)], ignore_index=True)  # 30 exact ties
    frame["customerID"] = [f"C{i:04d}" for i in range(len(frame))]
    model = registry.models_for(developer)[0]
    result = result_of(predict(developer, model, frame))
    ranks = result["Risk Rank"].astype(int)
    assert sorted(ranks) == list(range(1, len(frame) + 1))
    probability = result["Churn Probability"].astype(float)
    by_rank = result.assign(p=probability, r=ranks).sort_values("r")
    assert by_rank["p"].is_monotonic_decreasing
    ties = by_rank[by_rank.duplicated("p", keep=False)]
    for _, group in ties.groupby("p"):
        rows = group.index.tolist()
        assert rows == sorted(rows)  # equal probabilities: the earlier row ranks first
    assert ranks.iloc[0] < ranks.iloc[len(customers)]  # row 1 before its duplicate
    assert ranks[probability.idxmax()] == 1


# Input warnings ---------------------------------------------------------------------------------


def test_the_warned_rows_are_exactly_the_bad_ones_and_valid_inputs_are_not_flagged(
    developer, customers
):
    frame = customers.copy()
    bad = {
        3: ("tenure", "abc"),
        10: ("tenure", "twelve"),
        15: ("MonthlyCharges", "n/a"),
        20: ("Contract", "Weekly"),
        25: ("PaymentMethod", "Bitcoin"),
        30: ("InternetService", ""),
        35: ("SeniorCitizen", "maybe"),
        40: ("TotalCharges", "=1+1"),
    }
    for row, (column, value) in bad.items():
        frame.loc[row, column] = value
    # Valid: SeniorCitizen as Yes/No, a blank TotalCharges, surrounding spaces.
    frame["SeniorCitizen"] = frame["SeniorCitizen"].map({"0": "No", "1": "Yes"}).fillna("maybe")
    frame.loc[[50, 51, 52], "TotalCharges"] = ["", " ", ""]
    frame.loc[60, "Contract"] = "  Two year "
    model = next(m for m in registry.models_for(developer) if m.model_type.key == "random_forest")
    prediction = predict(developer, model, frame)
    result = result_of(prediction)
    warned = set(result.index[result["Input Warnings"] != ""])
    assert warned == set(bad)
    for row, (column, value) in bad.items():
        text = result.loc[row, "Input Warnings"]
        assert text.startswith(column), text
        if value:
            assert f"'{value}'" in text
    assert "is not a number; the training median" in result.loc[3, "Input Warnings"]
    assert "never seen in training" in result.loc[20, "Input Warnings"]
    assert "is blank; the most common value" in result.loc[30, "Input Warnings"]
    assert "not Yes/No or 0/1" in result.loc[35, "Input Warnings"]
    # A flagged input is never a reason: the model did not read it as written.
    for row, (column, _) in bad.items():
        assert not any(r["feature"] == column for r in parsed_reasons(result, row))
    summary = prediction.summary["warnings"]
    assert summary["rows"] == len(bad)
    assert [w["row"] for w in summary["examples"]] == [r + 1 for r in sorted(bad)]
    assert summary["by_input"]["tenure"] == 2


# Costs and expected value -------------------------------------------------------------------------


def test_expected_value_grows_with_probability_and_contact_is_yes_exactly_when_it_is_positive(
    developer, customers
):
    costs = decisions.save_costs(developer, COSTS)
    model = registry.models_for(developer)[0]
    prediction = predict(developer, model, customers)
    result = result_of(prediction)
    assert list(result.columns[-2:]) == ["Expected Value", "Contact"]
    p = result["Churn Probability"].astype(float).to_numpy()
    value = result["Expected Value"].astype(float).to_numpy()
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(value[order]) >= -0.01)  # non-decreasing (2-decimal rounding)
    assert ((value > 0) == (result["Contact"] == "Yes")).all()
    unrounded = np.asarray(result["Churn Probability"], dtype=float)
    expected = unrounded * 0.3 * (500 - 50) - (1 - unrounded) * 50 - 5
    np.testing.assert_allclose(value, expected, atol=0.03)  # the probability has 4 decimals
    campaign = prediction.summary["campaign"]
    assert campaign["best"] == int((result["Contact"] == "Yes").sum())
    assert campaign["best_gain"] == pytest.approx(value[value > 0].sum(), abs=0.05 * ROWS)
    assert costs.break_even == pytest.approx((50 + 5) / (0.3 * 500 + 50 * 0.7))


# Result files ----------------------------------------------------------------------------------


def test_an_excel_result_has_the_same_columns_and_values_as_the_csv(developer, customers):
    decisions.save_costs(developer, COSTS)
    model = registry.models_for(developer)[0]
    frame = customers.head(60).copy()
    frame.loc[2, "tenure"] = "abc"
    prediction = predict(developer, model, frame, filename="c.xlsx")
    csv = result_of(prediction, "csv")
    xlsx = pd.read_excel(
        predictions.result_file(prediction, "xlsx").path,
        engine="openpyxl",
        dtype=str,
        keep_default_na=False,
    )
    assert list(xlsx.columns) == list(csv.columns)
    for column in ("Risk Rank", "Reason 1", "Reason 2", "Reason 3", "Input Warnings", "Contact"):
        assert xlsx[column].tolist() == csv[column].tolist(), column
    np.testing.assert_allclose(
        xlsx["Expected Value"].astype(float), csv["Expected Value"].astype(float)
    )


def test_a_large_file_is_scored_in_the_background_with_reasons_and_global_ranks(
    app, developer, customers
):
    app.config["PREDICTION_BACKGROUND_ROWS"] = 50
    app.config["PREDICTION_CHUNK_ROWS"] = 64
    decisions.save_costs(developer, COSTS)
    model = next(m for m in registry.models_for(developer) if m.model_type.key == "neural_network")
    with jobs.held(app):
        prediction = predictions.create_prediction(
            developer, "Big", model.id, factories.upload(customers)
        )
        assert prediction.status == "queued"
    jobs.wait_for_idle(app)
    db.session.expire_all()
    prediction = db.session.get(type(prediction), prediction.id)
    assert prediction.status == "done", prediction.error
    result = result_of(prediction)
    assert sorted(result["Risk Rank"].astype(int)) == list(range(1, ROWS + 1))
    assert (result["Reason 1"] != "").sum() > ROWS // 2
    assert prediction.summary["top"][0]["rank"] == 1
    top_row = prediction.summary["top"][0]["row"]
    assert result.loc[top_row - 1, "Risk Rank"] == "1"
    store = {name: storage.dataset_file(p) for name, p in prediction.summary["row_store"].items()}
    assert all(path.exists() for path in store.values())


# Calibration ------------------------------------------------------------------------------------


def test_a_calibrated_models_reasons_come_from_substitution(original_dataset, customers):
    features, target = default_models.default_training_data(original_dataset, 1500)
    pipeline = training.build_calibrated(training.build_pipeline("logistic_regression"), "isotonic")
    pipeline.fit(features, target)
    decider = decisions.Decider(pipeline, {}, None)
    assert decider.method == decisions.SUBSTITUTION
    mapping = {name: name for name in customers.columns}
    encoded = encode(pipeline, customers, mapping)
    probability = estimator_of(pipeline).predict_proba(encoded.matrix)[:, 1]
    columns = decider.decide(customers, mapping, encoded, probability)
    assert sum(bool(r) for r in columns.reasons[0].to_pylist()) > ROWS // 2
