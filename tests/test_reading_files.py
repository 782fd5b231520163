"""Reading files right: long headers, repeated names in every format, line breaks in quoted
fields, UTF-16, messages that never echo control characters, and identifiers that come back as
they went in."""

from __future__ import annotations

import codecs
import html
import io
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook, load_workbook

from app.services import registry
from app.services.preprocessing import InvalidUpload, load_upload
from tests import factories


@pytest.fixture(scope="module")
def sample(original_dataset) -> pd.DataFrame:
    return pd.read_csv(original_dataset, dtype=str, keep_default_na=False, nrows=30)


def _refusal(path: Path, fmt: str = "csv", require_target: bool = False) -> str:
    with pytest.raises(InvalidUpload) as caught:
        load_upload(path, fmt, require_target=require_target)
    return str(caught.value)


def _xlsx(frame: pd.DataFrame, path: Path, header: list[str] | None = None) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header or list(frame.columns))
    for row in frame.itertuples(index=False):
        sheet.append(list(row))
    workbook.save(path)
    return path


# Headers -------------------------------------------------------------------------------------


def test_a_header_longer_than_the_sniffing_window_is_read_whole(sample, tmp_path):
    """10,000 columns (a header of about 120 KB), with the required ones at the very end."""
    extra = pd.DataFrame({f"extra_column_{i:05d}": "x" for i in range(9_979)}, index=sample.index)
    frame = pd.concat([extra, sample], axis=1)
    path = tmp_path / "wide.csv"
    frame.to_csv(path, index=False)
    assert len(path.read_bytes().split(b"\n", 1)[0]) > 64 * 1024

    prepared = load_upload(path, "csv", require_target=True)
    assert len(prepared.original.columns) == 10_000
    assert list(prepared.customer_ids) == list(sample["customerID"])


def test_a_repeated_column_past_the_sniffing_window_is_refused_naming_it(sample, tmp_path):
    extra = pd.DataFrame({f"extra_column_{i:05d}": "x" for i in range(6_000)}, index=sample.index)
    frame = pd.concat(
        [sample, extra, sample[["Contract"]].rename(columns={"Contract": "contract "})], axis=1
    )
    path = tmp_path / "wide.csv"
    frame.to_csv(path, index=False)
    message = _refusal(path)
    assert "same name" in message and "'Contract'" in message and "'contract '" in message


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_repeated_column_names_are_refused_in_every_format_naming_all_of_them(
    sample, tmp_path, fmt
):
    header = list(sample.columns) + ["CONTRACT", " gender"]
    frame = sample.assign(extra1=sample["gender"], extra2=sample["Contract"])
    path = tmp_path / f"dupes.{fmt}"
    if fmt == "csv":
        frame.set_axis(header, axis=1).to_csv(path, index=False)
    else:
        _xlsx(frame, path, header)
    message = _refusal(path, fmt)
    assert "'Contract' and 'CONTRACT'" in message
    assert "'gender' and ' gender'" in message


def test_a_retrain_upload_with_two_churn_columns_is_refused_naming_them(
    developer_client, sample, tmp_path
):
    frame = sample.assign(again=sample["Churn"])
    header = [*sample.columns, "Churn"]  # the same name twice, exactly
    data = _xlsx(frame, tmp_path / "twice.xlsx", header).read_bytes()
    response = developer_client.post(
        "/developer/retrain",
        data={"name": "Twice", "file": (io.BytesIO(data), "twice.xlsx")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "'Churn' and 'Churn'" in html.unescape(response.get_data(as_text=True))


# Text encodings and line breaks ----------------------------------------------------------------


def test_a_lone_carriage_return_inside_a_quoted_field_is_accepted(sample, tmp_path):
    """Over 8 MB, so the reader's blocks are cut where a CR stands inside quotes."""
    frame = pd.concat([sample] * 2_000, ignore_index=True).assign(Notes="called\ron Monday")
    path = tmp_path / "cr.csv"
    path.write_bytes(frame.to_csv(index=False, lineterminator="\r\n").encode())
    assert path.stat().st_size > 8 * 1024 * 1024
    prepared = load_upload(path, "csv")
    assert prepared.row_count == len(frame)
    assert set(prepared.original["Notes"]) == {"called\ron Monday"}


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_a_utf16_csv_is_read(sample, tmp_path, encoding):
    frame = sample.assign(Name="Zoë Åström")
    path = tmp_path / "wide-chars.csv"
    path.write_bytes(frame.to_csv(index=False).encode(encoding))
    prepared = load_upload(path, "csv")
    assert list(prepared.customer_ids) == list(sample["customerID"])
    assert set(prepared.original["Name"]) == {"Zoë Åström"}


def test_binary_data_is_still_refused_as_not_a_table(tmp_path):
    path = tmp_path / "random.csv"
    path.write_bytes(bytes(range(256)) * 50)
    assert "not a text table" in _refusal(path)


def test_a_parse_error_never_echoes_control_characters(sample, tmp_path):
    # Past the first 64 KB (where a NUL would mean binary data), one broken row.
    rows = pd.concat([sample] * 30).to_csv(index=False)
    text = rows + "7590-VHVEG,a\x00b,\x1b[31mred,\x07bell\n"
    path = tmp_path / "broken.csv"
    path.write_text(text)
    message = _refusal(path)
    assert "different number of fields" in message
    assert not any(ord(ch) < 32 for ch in message)
    assert "\\x00" in message or "\\x1b" in message


# Values come back as they went in -------------------------------------------------------------


def _id_workbook(sample: pd.DataFrame, path: Path) -> Path:
    """Text cells that look like numbers in the id column, numbers where numbers are."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(sample.columns))
    ids = ["00123", "1E3", "0.50", "+7", "1e-2"]
    for i, row in enumerate(sample.head(len(ids)).itertuples(index=False)):
        values = list(row)
        values[0] = ids[i]
        for name in ("tenure", "MonthlyCharges"):
            position = list(sample.columns).index(name)
            values[position] = float(values[position])
        sheet.append(values)
    workbook.save(path)
    return path


def test_xlsx_identifiers_stay_text_in_every_result_format(app, developer, sample, tmp_path):
    from app.services import prediction as predictions
    from app.services import storage

    path = _id_workbook(sample, tmp_path / "ids.xlsx")
    model = registry.models_for(developer)[0]
    prediction = predictions.create_prediction(
        developer, "Ids", model.id, factories.upload(path.read_bytes(), "ids.xlsx")
    )
    assert prediction.status == "done", prediction.error
    files = prediction.summary["files"]

    csv_result = pd.read_csv(storage.dataset_file(files["csv"]), dtype=str, keep_default_na=False)
    assert list(csv_result["customerID"]) == ["00123", "1E3", "0.50", "+7", "1e-2"]

    sheet = load_workbook(storage.dataset_file(files["xlsx"])).active
    ids = [sheet.cell(row=r, column=1) for r in range(2, 7)]
    assert [c.value for c in ids] == ["00123", "1E3", "0.50", "+7", "1e-2"]
    assert all(c.data_type == "s" for c in ids)
    tenure = list(sample.columns).index("tenure") + 1
    assert isinstance(sheet.cell(row=2, column=tenure).value, (int, float))  # numbers stay numbers


def test_numbers_read_from_a_workbook_have_no_float_artefacts(sample, tmp_path):
    frame = sample.head(3).copy()
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        values = list(row)
        values[list(frame.columns).index("MonthlyCharges")] = 29.850000000000001
        values[list(frame.columns).index("tenure")] = 12.0
        sheet.append(values)
    path = tmp_path / "floats.xlsx"
    workbook.save(path)
    original = load_upload(path, "xlsx").original
    assert set(original["MonthlyCharges"]) == {"29.85"}
    assert set(original["tenure"]) == {"12"}


# Downloads -------------------------------------------------------------------------------------


def test_result_downloads_are_not_stored_by_any_cache(app, user, user_client, sample):
    csv_bytes = sample.drop(columns=["Churn"]).to_csv(index=False).encode()
    model = registry.models_for(user)[0]
    response = user_client.post(
        "/user/predict",
        data={"name": "Cache", "model_id": str(model.id), "file": (io.BytesIO(csv_bytes), "c.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    download = user_client.get(response.headers["Location"] + "/download")
    assert download.status_code == 200
    assert download.headers["Cache-Control"] == "no-store"


def test_a_utf8_bom_still_reads(sample, tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(codecs.BOM_UTF8 + sample.to_csv(index=False).encode())
    assert list(load_upload(path, "csv").customer_ids) == list(sample["customerID"])


def test_the_workbook_reader_gives_the_same_rows_through_its_exact_parser(tmp_path):
    """Rich text, dates, booleans and shared strings; then the same sheet with an XML comment
    in every chunk, which sends it through the expat parser: the rows are the same."""
    import datetime
    import zipfile

    from app.services.preprocessing.xlsx import iter_xlsx_rows

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["customerID", "joined", "active", "note", "amount"])
    sheet.append(["00123", datetime.date(2020, 1, 2), True, "a & b <c>", 29.850000000000001])
    sheet.append(["1E3", datetime.datetime(2021, 5, 6, 7, 8, 9), False, "  spaced  ", 1e20])
    plain = tmp_path / "plain.xlsx"
    workbook.save(plain)
    header, rows = iter_xlsx_rows(plain)
    expected = [
        ["00123", "2020-01-02", "TRUE", "a & b <c>", "29.85"],
        ["1E3", "2021-05-06 07:08:09", "FALSE", "  spaced  ", "1E+20"],
    ]
    assert header == ["customerID", "joined", "active", "note", "amount"]
    assert list(rows) == expected

    commented = tmp_path / "commented.xlsx"
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(commented, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</row>", b"<!-- a note --></row>")
            target.writestr(item, data)
    header, rows = iter_xlsx_rows(commented)
    assert list(rows) == expected
