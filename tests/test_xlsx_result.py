"""The .xlsx result writer (`prediction.xlsx_result`): one pass per column, and every cell comes
back with its type and its text, read by openpyxl and by calamine alike."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from openpyxl import load_workbook
from python_calamine import CalamineWorkbook

from app.services.prediction import xlsx_result
from app.services.prediction.xlsx_result import XlsxResult, column_letters

LONG = "x" * 32_767


def write(path: Path, frame: pd.DataFrame, added: pa.RecordBatch, numbers=(), chunk=None):
    with XlsxResult(path, list(frame.columns), added.schema.names, numbers, len(frame)) as out:
        step = chunk or len(frame)
        for start in range(0, len(frame), step):
            out.write(frame.iloc[start : start + step], added.slice(start, step))
    return path


def openpyxl_rows(path: Path) -> list[tuple]:
    workbook = load_workbook(path)
    sheet = workbook.active
    assert sheet.title == "Predictions"
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    return [tuple(cell.value for cell in row) for row in sheet.iter_rows()]


def calamine_rows(path: Path) -> list[list]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()


@pytest.fixture
def written(tmp_path) -> Path:
    frame = pd.DataFrame(
        {
            "customerID": ["00123", "1E3", "=cmd|' /C calc'!A0", "a & b <c>", "bell\x07x"],
            "tenure": ["1", "", "abc", "+12", "72"],
            "Notes": [LONG, "  spaced  ", "-3.5", "line\r\nbreak", "@SUM(A1)"],
        }
    )
    added = pa.record_batch(
        [
            pa.array(["Yes", "No", "Yes", "No", "No"]),
            pa.array([0.9123, 0.1, 0.5, None, 0.0]),
            pa.array([1, 4, 2, 5, 3], type=pa.int32()),
            pa.array(["Contract = Month-to-month (+18 pts)", "", None, "=HYPERLINK(1)", "ok"]),
        ],
        names=["Churn Prediction", "Churn Probability", "Risk Rank", "Reason 1"],
    )
    return write(tmp_path / "result.xlsx", frame, added, numbers=["tenure"])


HEADER = ("customerID", "tenure", "Notes", "Churn Prediction", "Churn Probability", "Risk Rank")


def test_every_cell_keeps_its_type_and_text_in_openpyxl(written):
    rows = openpyxl_rows(written)
    assert rows[0] == (*HEADER, "Reason 1")
    assert rows[1] == ("00123", 1, LONG, "Yes", 0.9123, 1, "Contract = Month-to-month (+18 pts)")
    # blank stays blank; a number-looking id stays text; a blank added text is blank
    assert rows[2] == ("1E3", None, "  spaced  ", "No", 0.1, 4, None)
    # a cell of a number column that is not a number stays text; formulas are neutralised;
    # a plain negative number in a text column stays text, as the input had it
    assert rows[3] == ("'=cmd|' /C calc'!A0", "abc", "-3.5", "Yes", 0.5, 2, None)
    # XML's special characters escaped; a carriage return kept; a missing number blank
    assert rows[4] == ("a & b <c>", 12, "line\r\nbreak", "No", None, 5, "'=HYPERLINK(1)")
    # a character XML cannot hold is dropped
    assert rows[5] == ("bellx", 72, "'@SUM(A1)", "No", 0, 3, "ok")
    assert len(rows) == 6


def test_every_cell_keeps_its_type_and_text_in_calamine(written):
    rows = calamine_rows(written)
    assert rows[0] == [*HEADER, "Reason 1"]
    assert rows[1] == [
        "00123",
        1.0,
        LONG,
        "Yes",
        0.9123,
        1.0,
        "Contract = Month-to-month (+18 pts)",
    ]
    assert rows[2] == ["1E3", "", "  spaced  ", "No", 0.1, 4.0, ""]
    assert rows[3] == ["'=cmd|' /C calc'!A0", "abc", "-3.5", "Yes", 0.5, 2.0, ""]
    assert rows[4][:4] == ["a & b <c>", 12.0, "line\r\nbreak", "No"]
    assert rows[5][:3] == ["bellx", 72.0, "'@SUM(A1)"]


def test_repeated_values_written_once_per_distinct_value_come_back_as_each_cell_alone(tmp_path):
    # 40 copies of every row: each text column has few distinct values, so its cells are made
    # once per distinct value and taken for each row; they read as the rows written alone.
    frame = pd.DataFrame(
        {
            "customerID": ["00123", "1E3", "=cmd|' /C calc'!A0", "a & b <c>", "bell\x07x"] * 40,
            "tenure": ["1", "", "abc", "+12", "72"] * 40,
            "Notes": ["_x0041_", "  spaced  ", "-3.5", "line\r\nbreak", "@SUM(A1)"] * 40,
        }
    )
    added = pa.record_batch(
        [pa.array(["Yes", "No", "", None, "=HYPERLINK(1)"] * 40), pa.array([0.5, None] * 100)],
        names=["Reason 1", "Churn Probability"],
    )
    rows = calamine_rows(write(tmp_path / "r.xlsx", frame, added, numbers=["tenure"], chunk=77))
    first = [
        ["00123", 1.0, "_x0041_", "Yes"],
        ["1E3", "", "  spaced  ", "No"],
        ["'=cmd|' /C calc'!A0", "abc", "-3.5", ""],
        ["a & b <c>", 12.0, "line\r\nbreak", ""],
        ["bellx", 72.0, "'@SUM(A1)", "'=HYPERLINK(1)"],
    ]
    assert rows[1:] == [[*first[i % 5], [0.5, ""][i % 2]] for i in range(200)]
    with zipfile.ZipFile(tmp_path / "r.xlsx") as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    assert '<c r="B3"' not in sheet and '<c r="B8"' not in sheet  # blanks are left out


def test_text_longer_than_a_cell_is_cut_and_escape_lookalikes_come_back_as_written(tmp_path):
    frame = pd.DataFrame({"a": ["y" * 40_000, "_x0041_", "1e999"]})
    added = pa.record_batch([pa.array([1.5, 2.5, 3.5])], names=["p"])
    path = write(tmp_path / "r.xlsx", frame, added, numbers=["a"])
    rows = calamine_rows(path)
    assert rows[1][0] == "y" * 32_767
    assert rows[2][0] == "_x0041_"  # not the letter A
    assert rows[3][0] == "1e999"  # too large for a number: kept as text
    assert openpyxl_rows(path)[3][0] == "1e999"


def test_rows_written_in_several_chunks_and_batches_follow_on(tmp_path, monkeypatch):
    monkeypatch.setattr(xlsx_result, "BATCH_CELLS", 7)  # batches of 3 rows (2 columns)
    frame = pd.DataFrame({"id": [f"c{i}" for i in range(20)]})
    added = pa.record_batch([pa.array(range(20), type=pa.int32())], names=["Risk Rank"])
    path = write(tmp_path / "r.xlsx", frame, added, chunk=8)
    rows = openpyxl_rows(path)
    assert rows[1:] == [(f"c{i}", i) for i in range(20)]
    with zipfile.ZipFile(path) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
        assert b'<dimension ref="A1:B21"/>' in sheet
        assert "[Content_Types].xml" in archive.namelist()


def test_column_letters_follow_the_spreadsheet():
    assert [column_letters(i) for i in (0, 25, 26, 27, 701, 702, 16_383)] == [
        "A",
        "Z",
        "AA",
        "AB",
        "ZZ",
        "AAA",
        "XFD",
    ]
