"""A large CSV, .csv.gz or Parquet upload is checked in the request on its header and a count of
its rows, and never parsed there: what its rows hold (a ragged row, a cell over the cap) fails
the job with its message and leaves no result; a count clearly over the row limit is refused in
the request. The count is right whatever the line endings and the encoding.

The apps here score at most 20 rows in the request (`PREDICTION_BACKGROUND_ROWS`), so a few
dozen rows make a "large" file.
"""

from __future__ import annotations

import codecs
import gzip
import io
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.schema import Dataset, Prediction
from app.services import jobs, registry
from app.services import prediction as predictions
from app.services.prediction import scoring
from app.services.preprocessing import InvalidUpload, read_head, read_table
from app.services.storage.uploads import upload_limits
from tests import factories

IN_REQUEST = 20
RAGGED = b"ragged,row\n" * 3

pytestmark = pytest.mark.usefixtures("fresh_login_per_request")


@pytest.fixture
def large_app(app):
    app.config["PREDICTION_BACKGROUND_ROWS"] = IN_REQUEST
    return app


def customers(app, rows: int) -> pd.DataFrame:
    return factories.customers(Path(app.config["ORIGINAL_DATASET"]), rows)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer)
    return buffer.getvalue()


def packed(data: bytes, file_format: str) -> tuple[bytes, str]:
    if file_format == "gz":
        return gzip.compress(data, mtime=0), "large.csv.gz"
    return data, "large.csv"


def counts() -> list[int]:
    return [db.session.scalar(select(func.count()).select_from(t)) for t in (Dataset, Prediction)]


def stored_files(app) -> list[Path]:
    root = Path(app.config["DATASETS_ROOT"])
    return sorted(p for p in root.rglob("*") if p.is_file() and "original" not in p.parts)


def post(client, account, data: bytes, filename: str):
    model = registry.models_for(account)[0]
    return client.post(
        f"/{account.role}/predict",
        data={"name": "Large", "model_id": str(model.id), "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def queued_then_failed(app, account, data: bytes, filename: str, rows: int) -> Prediction:
    """Post the file: the request answers with the redirect and queues the job, whose count of
    rows the row shows meanwhile; the job has failed by the end, with no result file left."""
    client = factories.log_in(app.test_client(), account)
    with jobs.held(app):
        response = post(client, account, data, filename)
        assert response.status_code == 302
        prediction = db.session.scalars(select(Prediction)).one()
        assert prediction.status == "queued"
        assert prediction.row_count == rows and prediction.input_dataset.row_count == rows
    jobs.wait_for_idle(app)
    db.session.expire_all()
    prediction = db.session.get(Prediction, prediction.id)
    assert prediction.status == "failed" and prediction.result_path is None
    assert not [p for p in stored_files(app) if p.parent.name == "predictionResult"]
    return prediction


# The request does not parse the rows ----------------------------------------------------------


@pytest.mark.parametrize("file_format", ["csv", "gz"])
def test_ragged_rows_past_the_first_ones_fail_the_job_not_the_request(large_app, user, file_format):
    data, filename = packed(csv_bytes(customers(large_app, 60)) + RAGGED, file_format)
    prediction = queued_then_failed(large_app, user, data, filename, rows=63)
    assert "some rows have a different number of fields than the header" in prediction.error


def test_a_parquet_cell_over_the_cap_fails_the_job_not_the_request(large_app, user):
    frame = customers(large_app, 60)
    frame.loc[50, "customerID"] = "x" * 40_000
    prediction = queued_then_failed(large_app, user, parquet_bytes(frame), "large.parquet", 60)
    assert "holds more than 32,767 characters" in prediction.error


def test_a_large_file_the_job_reads_is_scored_with_its_exact_row_count(
    large_app, user, monkeypatch
):
    """Quoted cells holding line breaks: the count says more rows than there are (51 lines)
    until the job has read the file, and the row says the exact count while it scores."""
    frame = customers(large_app, 25)
    frame["Note"] = "first line\nsecond line"
    seen = []
    score_to_files = scoring.score_to_files

    def watched(*args, **kwargs):
        rows = db.session.execute(
            select(Prediction.row_count, Dataset.row_count).join(
                Dataset, Prediction.input_dataset_id == Dataset.id
            )
        ).one()
        seen.append(tuple(rows))
        return score_to_files(*args, **kwargs)

    monkeypatch.setattr(scoring, "score_to_files", watched)
    client = factories.log_in(large_app.test_client(), user)
    with jobs.held(large_app):
        assert post(client, user, csv_bytes(frame), "notes.csv").status_code == 302
        prediction = db.session.scalars(select(Prediction)).one()
        assert prediction.row_count == 50
    jobs.wait_for_idle(large_app)
    db.session.expire_all()
    prediction = db.session.get(Prediction, prediction.id)
    assert prediction.status == "done" and prediction.result_path
    assert prediction.row_count == 25 and prediction.input_dataset.row_count == 25
    assert seen == [(25, 25)]


def test_a_large_file_without_the_required_columns_is_refused_in_the_request_alike(large_app, user):
    frame = customers(large_app, 60).drop(columns=["tenure", "Contract"])
    model = registry.models_for(user)[0]
    messages = []
    for rows in (10, 60):  # read whole, and counted only
        with pytest.raises(InvalidUpload) as error:
            upload = factories.upload(csv_bytes(frame.head(rows)))
            predictions.create_prediction(user, "Missing", model.id, upload)
        messages.append(str(error.value))
    assert messages[0] == messages[1] and "tenure" in messages[0] and "Contract" in messages[0]
    assert counts() == [0, 0] and stored_files(large_app) == []


# The row limit --------------------------------------------------------------------------------


@pytest.mark.parametrize("file_format", ["csv", "gz"])
def test_a_file_counted_over_the_row_limit_is_refused_in_the_request(large_app, user, file_format):
    """Its rows past the first are ragged: a parse would have said so, only the count refuses."""
    large_app.config["MAX_UPLOAD_ROWS"] = 40
    data, filename = packed(csv_bytes(customers(large_app, 40)) + RAGGED, file_format)
    client = factories.log_in(large_app.test_client(), user)
    before, files = counts(), stored_files(large_app)
    response = post(client, user, data, filename)
    assert response.status_code == 400
    assert "The file has about 43 rows; the limit is 40." in response.text
    assert counts() == before and stored_files(large_app) == files


def test_a_count_that_may_be_over_because_of_quoted_line_breaks_is_left_to_the_job(large_app, user):
    large_app.config["MAX_UPLOAD_ROWS"] = 40
    frame = customers(large_app, 41)
    frame["Note"] = "first line\nsecond line"  # 82 lines, 41 rows: one too many
    prediction = queued_then_failed(large_app, user, csv_bytes(frame), "notes.csv", rows=82)
    assert "more than 40 rows; the limit is 40" in prediction.error


# The count ------------------------------------------------------------------------------------

ROWS = 37
HEADER = ["customerID", "tenure", "Note"]


def table_text(ending: str, final: bool = True) -> str:
    # "\u010a" is written 0x0a 0x01 in UTF-16-LE: a byte count would take it for a line break.
    lines = [",".join(HEADER)] + [f"{i:04d}-AB,{i},caf\u00e9 \u010a{i}" for i in range(ROWS)]
    return ending.join(lines) + (ending if final else "")


@pytest.mark.parametrize(
    ("ending", "final", "encoding", "bom"),
    [
        ("\n", True, "utf-8", b""),
        ("\r\n", True, "utf-8", b""),
        ("\n", False, "utf-8", b""),
        ("\r\n", False, "utf-8", codecs.BOM_UTF8),
        ("\r", True, "utf-8", b""),
        ("\n", True, "utf-16-le", codecs.BOM_UTF16_LE),
        ("\r\n", False, "utf-16-be", codecs.BOM_UTF16_BE),
        ("\n", False, "utf-16-le", b""),
        ("\r\n", True, "utf-16-be", b""),
    ],
    ids=[
        "lf",
        "crlf",
        "lf-no-final",
        "bom-crlf-no-final",
        "cr",
        "utf16le-bom",
        "utf16be-bom",
        "utf16le-no-bom-no-final",
        "utf16be-no-bom-crlf",
    ],
)
@pytest.mark.parametrize("file_format", ["csv", "gz"])
def test_the_row_count_is_right_for_every_ending_and_encoding(
    app, tmp_path, ending, final, encoding, bom, file_format
):
    data, _ = packed(bom + table_text(ending, final).encode(encoding), file_format)
    path = tmp_path / f"table.{file_format}"
    path.write_bytes(data)
    head = read_head(path, file_format, upload_limits(), rows=5)
    assert not head.complete and len(head.frame) == 0
    assert list(head.frame.columns) == HEADER and head.row_count == ROWS
    whole = read_table(path, file_format, upload_limits())  # what the job reads agrees
    assert len(whole) == ROWS and whole["Note"].iloc[-1] == f"caf\u00e9 \u010a{ROWS - 1}"
    small = read_head(path, file_format, upload_limits(), rows=ROWS)
    assert small.complete and len(small.frame) == ROWS


def test_a_parquet_files_row_count_is_its_metadatas(app, tmp_path):
    path = tmp_path / "table.parquet"
    path.write_bytes(parquet_bytes(pd.DataFrame({"customerID": [str(i) for i in range(ROWS)]})))
    head = read_head(path, "parquet", upload_limits(), rows=5)
    assert not head.complete and len(head.frame) == 0 and head.row_count == ROWS
