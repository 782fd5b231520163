"""Batch prediction: upload, validation, scoring, result files, access and history."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.extensions import db
from app.schema import Dataset, Prediction
from app.services import jobs, preprocessing, registry, storage
from app.services import prediction as predictions
from app.services.preprocessing import InvalidUpload, encoding
from tests import factories

ROWS = 300


pytestmark = pytest.mark.usefixtures("fresh_login_per_request")


@pytest.fixture(scope="module")
def sample(original_dataset) -> pd.DataFrame:
    """A few hundred real customers, all cells as text (as a person's file would hold them)."""
    frame = pd.read_csv(original_dataset, dtype=str, keep_default_na=False)
    return frame.sample(ROWS, random_state=7).reset_index(drop=True)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def xlsx_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    # Text stays text, even when it looks like a formula (as a person typing '=... would get).
    options = {"strings_to_formulas": False, "strings_to_numbers": True}
    with pd.ExcelWriter(buffer, engine="xlsxwriter", engine_kwargs={"options": options}) as xl:
        frame.to_excel(xl, index=False)
    return buffer.getvalue()


def post_prediction(client, role, model_id, data, filename="customers.csv", name="March"):
    return client.post(
        f"/{role}/predict",
        data={"name": name, "model_id": str(model_id), "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def read_result(data: bytes, file_format: str) -> pd.DataFrame:
    if file_format == "xlsx":
        return pd.read_excel(io.BytesIO(data), engine="openpyxl", dtype=str, keep_default_na=False)
    return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)


def stored_files(app) -> list[Path]:
    root = Path(app.config["DATASETS_ROOT"])
    areas = ["dev/uploadToPredict", "user/uploadToPredict"]
    areas += ["dev/predictionResult", "user/predictionResult"]
    return [p for area in areas if (root / area).exists() for p in (root / area).iterdir()]


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def assert_result_matches(result: pd.DataFrame, original: pd.DataFrame) -> None:
    assert list(result.columns) == [*original.columns, *factories.RESULT_COLUMNS]
    assert len(result) == len(original)
    id_column = next(c for c in original.columns if c.strip().lower() == "customerid")
    assert result[id_column].tolist() == original[id_column].tolist()
    pd.testing.assert_frame_equal(result[list(original.columns)], original, check_dtype=False)
    assert set(result["Churn Prediction"]) <= {"Yes", "No"}
    probability = result["Churn Probability"].astype(float)
    assert probability.between(0, 1).all()
    assert ((probability >= 0.5) == (result["Churn Prediction"] == "Yes")).all()


# Predicting through the pages ----------------------------------------------------------------


@pytest.mark.parametrize("role", ["developer", "user"])
def test_both_roles_predict_with_every_default_model_and_download_the_whole_file(
    app, role, developer, user, sample
):
    account = developer if role == "developer" else user
    client = factories.log_in(app.test_client(), account)
    for model in registry.models_for(account):
        response = post_prediction(client, role, model.id, csv_bytes(sample), name=model.label)
        assert response.status_code == 302, response.text
        page = client.get(response.headers["Location"])
        assert page.status_code == 200
        assert model.label in page.text and "customers.csv" in page.text
        assert "Highest-risk customers" in page.text
        prediction = db.session.scalars(select(Prediction).order_by(Prediction.id.desc())).first()
        download = client.get(f"/{role}/predictions/{prediction.id}/download")
        assert download.status_code == 200
        assert "attachment" in download.headers["Content-Disposition"]
        assert_result_matches(read_result(download.data, "csv"), sample)
        for chart in ("distribution", "importance"):
            png = client.get(f"/{role}/predictions/{prediction.id}/{chart}.png")
            assert png.status_code == 200 and png.data.startswith(b"\x89PNG")
    area = "dev" if role == "developer" else "user"
    stored = {p.parent.name for p in stored_files(app) if p.parent.parent.name == area}
    assert stored == {"uploadToPredict", "predictionResult"}


def test_the_model_list_offered_is_what_the_person_may_use(user_client, user, developer):
    page = user_client.get("/user/predict")
    assert page.status_code == 200
    for model in registry.models_for(user):
        assert f'value="{model.id}"' in page.text
    assert page.text.count("<option") == len(registry.models_for(user))
    assert "512 MB" in page.text


def test_a_refused_file_keeps_the_other_values_and_names_every_missing_column(
    app, user_client, user, developer, sample
):
    model = registry.models_for(user)[0]
    data = csv_bytes(sample.drop(columns=["tenure", "Contract"]))
    response = post_prediction(user_client, "user", model.id, data, name="Keep me")
    assert response.status_code == 400
    assert "tenure" in response.text and "Contract" in response.text
    assert 'value="Keep me"' in response.text
    assert stored_files(app) == []
    assert count(Prediction) == 0 and count(Dataset) == 1  # only the original data set


# Flexible input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    ["mixed_case_headers", "extra_columns", "shuffled_columns", "blank_total_charges", "xlsx"],
)
def test_flexible_uploads_are_scored_row_for_row(app, developer, sample, variant):
    frame = sample.copy()
    filename = "customers.csv"
    if variant == "mixed_case_headers":
        frame.columns = [f" {c.upper()} " if i % 2 else c.lower() for i, c in enumerate(frame)]
    elif variant == "extra_columns":
        frame.insert(3, "Region", "North")
        frame["Notes"] = "vip"
    elif variant == "shuffled_columns":
        frame = frame[list(reversed(frame.columns))]
    elif variant == "blank_total_charges":
        frame.loc[:9, "TotalCharges"] = " "
    model = registry.models_for(developer)[0]
    data = xlsx_bytes(frame) if variant == "xlsx" else csv_bytes(frame)
    if variant == "xlsx":
        filename = "customers.xlsx"
    prediction = predictions.create_prediction(
        developer, "Flexible", model.id, factories.upload(data, filename)
    )
    assert prediction.status == "done", prediction.error
    file_format = "xlsx" if variant == "xlsx" else "csv"
    result = predictions.result_file(prediction, file_format)
    assert result.path.suffix == f".{file_format}"
    got = read_result(result.path.read_bytes(), file_format)
    if variant == "xlsx":
        # Excel shows numbers as numbers; compare what a person would see.
        assert list(got.columns) == [*frame.columns, *factories.RESULT_COLUMNS]
        assert got["customerID"].tolist() == frame["customerID"].tolist()
        assert got["tenure"].astype(float).tolist() == frame["tenure"].astype(float).tolist()
        csv_copy = predictions.result_file(prediction, "csv")
        assert_result_matches(read_result(csv_copy.path.read_bytes(), "csv"), frame)
    else:
        assert_result_matches(got, frame)


def test_fast_scoring_gives_the_pipelines_own_probabilities(developer, sample):
    frame = sample.copy()
    frame.loc[0, "Contract"] = "Ten-year"  # unseen category
    frame.loc[1, "TotalCharges"] = " "  # missing number
    frame.loc[2, "InternetService"] = ""  # missing category
    prepared = preprocessing.prepare(frame)
    for model in registry.models_for(developer):
        pipeline = registry.load_model_pipeline(model)
        mapping = preprocessing.match_columns(list(frame.columns), preprocessing.FEATURES)
        assert encoding.encoded_matrix(pipeline, frame, mapping) is not None
        expected = pipeline.predict_proba(prepared.features)[:, 1]
        got = encoding.churn_probabilities(pipeline, frame, mapping)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
        # Text held as Python objects (not Arrow) takes the pandas route to the same codes.
        as_objects = encoding.churn_probabilities(pipeline, frame.astype(object), mapping)
        np.testing.assert_allclose(as_objects, expected, rtol=0, atol=1e-12)


# Refused files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"customerID,tenure\n1,2\n", "customers.csv", "missing the required columns"),
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "customers.csv", "not a text table"),
        (b"", "customers.csv", "empty"),
        (b"just some words", "customers.csv", "does not look like a table"),
        (b"not a zip at all", "customers.xlsx", "not an Excel workbook"),
        (b"a,b\n1,2\n", "customers.txt", ".csv, .csv.gz, .parquet or .xlsx"),
    ],
)
def test_refused_files_leave_no_file_and_no_row(app, user, developer, data, filename, message):
    model = registry.models_for(user)[0]
    datasets_before = count(Dataset)
    with pytest.raises(InvalidUpload, match=message):
        predictions.create_prediction(user, "Refused", model.id, factories.upload(data, filename))
    assert stored_files(app) == []
    assert count(Dataset) == datasets_before
    assert count(Prediction) == 0


def test_a_missing_column_message_names_all_of_them(user, developer, sample):
    model = registry.models_for(user)[0]
    data = csv_bytes(sample.drop(columns=["PaymentMethod", "MonthlyCharges", "customerID"]))
    with pytest.raises(InvalidUpload) as error:
        predictions.create_prediction(user, "Missing", model.id, factories.upload(data))
    for column in ("PaymentMethod", "MonthlyCharges", "customerID"):
        assert column in str(error.value)


# Formula cells -------------------------------------------------------------------------------


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_formula_looking_cells_are_neutralised_in_downloads(developer, sample, file_format):
    frame = sample.head(20).copy()
    frame["Notes"] = "plain"
    frame.loc[0, "Notes"] = '=HYPERLINK("http://evil")'
    frame.loc[1, "Notes"] = "+1+1"
    frame.loc[2, "Notes"] = "@SUM(A1)"
    frame.loc[3, "Notes"] = "-3.5"
    frame.loc[4, "customerID"] = "-cmd|' /C calc'!A0"
    model = registry.models_for(developer)[0]
    data = xlsx_bytes(frame) if file_format == "xlsx" else csv_bytes(frame)
    prediction = predictions.create_prediction(
        developer, "Formulas", model.id, factories.upload(data, f"x.{file_format}")
    )
    path = predictions.result_file(prediction, file_format).path
    if file_format == "xlsx":
        sheet = load_workbook(path).active
        notes_col = list(frame.columns).index("Notes") + 1
        notes = [sheet.cell(row=r, column=notes_col).value for r in range(2, 7)]
        first_id = sheet.cell(row=6, column=list(frame.columns).index("customerID") + 1).value
        assert all(
            sheet.cell(row=r, column=c).data_type != "f"
            for r in range(1, 22)
            for c in range(1, sheet.max_column + 1)
        )
    else:
        result = read_result(path.read_bytes(), "csv")
        notes = result["Notes"].head(5).tolist()
        first_id = result["customerID"][4]
    assert notes[:3] == ['\'=HYPERLINK("http://evil")', "'+1+1", "'@SUM(A1)"]
    assert notes[3] in ("-3.5", -3.5)
    assert first_id == "'-cmd|' /C calc'!A0"


# Background scoring --------------------------------------------------------------------------


def test_a_large_file_is_scored_by_a_background_job_and_the_page_shows_progress(
    app, user, developer, sample
):
    app.config["PREDICTION_BACKGROUND_ROWS"] = 50
    app.config["PREDICTION_CHUNK_ROWS"] = 64
    client = factories.log_in(app.test_client(), user)
    model = registry.models_for(user)[0]
    with jobs.held(app):  # the worker waits until the page was seen
        response = post_prediction(client, "user", model.id, csv_bytes(sample))
        assert response.status_code == 302
        page = client.get(response.headers["Location"])
        assert 'http-equiv="refresh"' in page.text and "<progress" in page.text
    jobs.wait_for_idle(app)
    db.session.expire_all()
    prediction = db.session.scalars(select(Prediction)).one()
    assert prediction.status == "done" and prediction.job_id
    page = client.get(response.headers["Location"])
    assert 'http-equiv="refresh"' not in page.text
    assert "Highest-risk customers" in page.text
    download = client.get(f"/user/predictions/{prediction.id}/download")
    assert_result_matches(read_result(download.data, "csv"), sample)


# Tampered model ------------------------------------------------------------------------------


def test_a_tampered_model_file_is_refused_with_a_clear_message(
    app, tmp_path, user, developer, sample
):
    model = registry.models_for(user)[0]
    private = tmp_path / "private_models"
    (private / "default_models").mkdir(parents=True)
    intact = storage.model_file(model.file_path).read_bytes()
    app.config["MODELS_ROOT"] = str(private)  # the session's model files are shared: tamper a copy
    model_file = storage.model_file(model.file_path)
    model_file.write_bytes(intact + b"tampered")
    client = factories.log_in(app.test_client(), user)

    response = post_prediction(client, "user", model.id, csv_bytes(sample))
    assert response.status_code == 400
    assert "has been altered" in response.text
    assert stored_files(app) == [] and count(Prediction) == 0


def test_a_model_altered_while_a_job_waits_marks_the_prediction_failed(
    app, tmp_path, user, developer, sample
):
    model = registry.models_for(user)[0]
    private = tmp_path / "private_models"
    (private / "default_models").mkdir(parents=True)
    intact = storage.model_file(model.file_path).read_bytes()
    app.config["MODELS_ROOT"] = str(private)
    model_file = storage.model_file(model.file_path)
    model_file.write_bytes(intact)
    app.config["PREDICTION_BACKGROUND_ROWS"] = 50
    with jobs.held(app):  # the worker waits until the file is altered
        prediction = predictions.create_prediction(
            user, "Late", model.id, factories.upload(csv_bytes(sample))
        )
        assert prediction.status == "queued"
        model_file.write_bytes(intact + b"tampered")
    jobs.wait_for_idle(app)
    db.session.expire_all()
    prediction = db.session.get(Prediction, prediction.id)
    assert prediction.status == "failed" and "has been altered" in prediction.error
    assert prediction.result_path is None
    assert not [p for p in stored_files(app) if p.parent.name == "predictionResult"]
    page = factories.log_in(app.test_client(), user).get(f"/user/predictions/{prediction.id}")
    assert page.status_code == 200 and "has been altered" in page.text


# Access --------------------------------------------------------------------------------------


def test_nobody_sees_another_persons_or_another_companys_prediction(app, developer, user, sample):
    model = registry.models_for(user)[0]
    mine = predictions.create_prediction(
        user, "Mine", model.id, factories.upload(csv_bytes(sample))
    )
    colleague = factories.make_user(user.company)
    outsider_dev = factories.make_developer()
    outsider_user = factories.make_user(outsider_dev.company)
    base = f"predictions/{mine.id}"
    paths = [base, f"{base}/download", f"{base}/distribution.png", f"{base}/importance.png"]
    for account in (colleague, outsider_user):
        client = factories.log_in(app.test_client(), account)
        for path in paths:
            assert client.get(f"/user/{path}").status_code == 404, (account, path)
    outsider = factories.log_in(app.test_client(), outsider_dev)
    for path in paths:
        assert outsider.get(f"/developer/{path}").status_code == 404
    own_developer = factories.log_in(app.test_client(), developer)
    for path in paths:
        assert own_developer.get(f"/developer/{path}").status_code == 200
    with pytest.raises(predictions.PredictionNotFound):
        predictions.prediction_for(colleague, mine.id)


def test_the_download_name_is_safe_whatever_the_prediction_is_called(user, developer, sample):
    model = registry.models_for(user)[0]
    prediction = predictions.create_prediction(
        user, '../../etc/"passwd" März', model.id, factories.upload(csv_bytes(sample))
    )
    result = predictions.result_file(prediction)
    assert result.download_name == "etc-passwd-M-rz-predictions.csv"
