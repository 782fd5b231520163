"""Uploads packed for size (.csv.gz and Parquet) are scored like a CSV, with a CSV result; a
damaged or fake one is refused with a message and leaves nothing behind; the default limits
take a 2,000,000-row customer file."""

from __future__ import annotations

import gzip
import io

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.schema import Dataset, Prediction
from app.services import prediction as predictions
from app.services import registry, storage
from app.services.preprocessing import InvalidUpload, file_format_for, read_head, read_table
from app.services.storage.uploads import upload_limits
from tests import factories

ROWS = 120


pytestmark = pytest.mark.usefixtures("fresh_login_per_request")


@pytest.fixture
def sample(original_dataset) -> pd.DataFrame:
    frame = pd.read_csv(original_dataset, dtype=str, keep_default_na=False)
    return frame.sample(ROWS, random_state=3).reset_index(drop=True)


def gz_bytes(frame: pd.DataFrame) -> bytes:
    return gzip.compress(frame.to_csv(index=False).encode(), mtime=0)


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    typed = frame.copy()
    typed["tenure"] = typed["tenure"].astype(int)  # numbers as numbers, as a pipeline writes
    typed["MonthlyCharges"] = typed["MonthlyCharges"].astype(float)
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(typed, preserve_index=False), buffer)
    return buffer.getvalue()


def stored_files(app) -> list:
    root = storage.datasets_root()
    return [p for p in root.rglob("*") if p.is_file() and "original" not in p.parts]


def predict(user, data: bytes, filename: str):
    model = registry.models_for(user)[0]
    return predictions.create_prediction(user, "packed", model.id, factories.upload(data, filename))


@pytest.mark.parametrize(
    ("make", "filename"), [(gz_bytes, "march.csv.gz"), (parquet_bytes, "m.parquet")]
)
def test_a_gzip_csv_or_a_parquet_upload_is_scored_with_a_csv_result(
    app, user, user_client, sample, make, filename
):
    prediction = predict(user, make(sample), filename)
    assert prediction.status == "done", prediction.error
    assert prediction.result_format == "csv" and prediction.row_count == ROWS
    assert predictions.download_formats(prediction) == ["csv"]
    response = user_client.get(f"/user/predictions/{prediction.id}/download")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    result = pd.read_csv(io.BytesIO(response.data), dtype=str, keep_default_na=False)
    assert result["customerID"].tolist() == sample["customerID"].tolist()
    assert len(result) == ROWS and result["Churn Probability"].astype(float).between(0, 1).all()
    assert result["tenure"].tolist() == sample["tenure"].tolist()


def test_a_gzip_csv_is_read_by_the_csv_rules(app, tmp_path, sample):
    semicolons = gzip.compress(sample.to_csv(index=False, sep=";").encode("utf-8-sig"))
    (tmp_path / "in").mkdir()
    path = tmp_path / "in" / "x.gz"
    path.write_bytes(semicolons)
    frame = read_table(path, "gz", upload_limits())
    assert list(frame.columns) == list(sample.columns) and len(frame) == ROWS
    assert frame["customerID"].tolist() == sample["customerID"].tolist()
    assert list(path.parent.iterdir()) == [path]  # the expanded copy is gone


def test_the_file_name_decides_the_format():
    assert file_format_for("Customers.CSV.GZ") == "gz"
    assert file_format_for("c.parquet") == "parquet"
    with pytest.raises(InvalidUpload, match=r"\.csv, \.csv\.gz, \.parquet or \.xlsx"):
        file_format_for("c.gz")


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (gzip.compress(b"customerID,tenure\n1,2\n" * 50, mtime=0)[:40], "c.csv.gz", "cut short"),
        (b"customerID,tenure\n1,2\n", "c.csv.gz", "not gzip-compressed"),
        (b"PAR1 this is no parquet at all PAR1", "c.parquet", "damaged"),
        (b"customerID,tenure\n1,2\n", "c.parquet", "not a Parquet file"),
        (gzip.compress(b"", mtime=0), "c.csv.gz", "empty"),
    ],
    ids=["cut-gzip", "plain-named-gz", "damaged-parquet", "csv-named-parquet", "empty-gzip"],
)
def test_a_damaged_or_fake_packed_file_is_refused_and_leaves_nothing_behind(
    app, user, user_client, data, filename, message
):
    model = registry.models_for(user)[0]
    response = user_client.post(
        "/user/predict",
        data={"name": "bad", "model_id": str(model.id), "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert message in response.text
    assert db.session.scalar(select(func.count()).select_from(Prediction)) == 0
    assert (
        db.session.scalar(
            select(func.count()).select_from(Dataset).where(Dataset.kind == "predict_upload")
        )
        == 0
    )
    assert stored_files(app) == []


def test_a_gzip_bomb_is_refused_once_it_expands_past_the_limit(app, user, sample):
    app.config["MAX_EXPANDED_BYTES"] = 64 * 1024
    padded = sample.copy()
    padded["Notes"] = "x" * 2000
    with pytest.raises(InvalidUpload, match="expands to more than"):
        predict(user, gz_bytes(padded), "big.csv.gz")
    assert stored_files(app) == []


def test_a_parquet_file_with_nested_or_repeated_columns_is_refused(app, tmp_path):
    path = tmp_path / "n.parquet"
    pq.write_table(pa.table({"customerID": ["a"], "tags": [[1, 2]]}), path)
    with pytest.raises(InvalidUpload, match="'tags' holds lists or records"):
        read_table(path, "parquet", upload_limits())
    pq.write_table(pa.table([pa.array(["a"]), pa.array(["b"])], names=["Tenure", "tenure "]), path)
    with pytest.raises(InvalidUpload, match="same name"):
        read_table(path, "parquet", upload_limits())


def test_the_upload_forms_accept_and_name_the_packed_formats(user_client, developer_client):
    for client, url in ((user_client, "/user/predict"), (developer_client, "/developer/retrain")):
        page = client.get(url).text
        assert 'accept=".csv,.gz,.parquet,.xlsx"' in page
        assert ".csv, .csv.gz, .parquet or .xlsx" in page


def test_the_default_limits_take_a_two_million_row_customer_file(app):
    limits = upload_limits()
    limits.check_rows(2_000_000, 28)  # the 21 columns, or a re-uploaded result's 28
    assert app.config["MAX_CONTENT_LENGTH"] >= 300 * 1024 * 1024  # 2M rows of CSV: ~280 MB
    with pytest.raises(InvalidUpload, match="2,000,000"):
        limits.check_rows(2_000_001, 21)


@pytest.mark.parametrize("file_format", ["csv", "gz", "parquet"])
def test_a_large_file_is_checked_on_its_header_and_row_count_and_a_small_one_read_whole(
    app, tmp_path, sample, file_format
):
    path = tmp_path / f"c.{file_format}"
    data = {"csv": lambda f: f.to_csv(index=False).encode(), "gz": gz_bytes}
    path.write_bytes(data.get(file_format, parquet_bytes)(sample))
    head = read_head(path, file_format, upload_limits(), rows=50)
    assert len(head.frame) == 0 and not head.complete and head.row_count == ROWS
    assert list(head.frame.columns) == list(sample.columns)
    small = read_head(path, file_format, upload_limits(), rows=ROWS)
    assert small.complete and small.frame["customerID"].tolist() == sample["customerID"].tolist()
    whole = read_head(path, file_format, upload_limits())
    assert whole.complete and len(whole.frame) == ROWS


def test_a_bad_row_of_a_large_file_is_left_to_the_whole_read_and_refuses_a_small_one(
    app, tmp_path, sample
):
    path = tmp_path / "c.csv"
    path.write_bytes(sample.to_csv(index=False).encode() + b"one,field,too,few\n")
    assert read_head(path, "csv", upload_limits(), rows=50).row_count == ROWS + 1
    with pytest.raises(InvalidUpload, match="different number of fields"):
        read_table(path, "csv", upload_limits())
    with pytest.raises(InvalidUpload, match="different number of fields"):
        read_head(path, "csv", upload_limits(), rows=ROWS + 1)
