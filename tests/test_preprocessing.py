"""The preprocessing contract: what uploads are accepted, how they are read, what is refused."""

from __future__ import annotations

import codecs
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook

from app.services import training
from app.services.preprocessing import (
    FEATURES,
    PREDICTION_COLUMNS,
    InvalidUpload,
    load_upload,
)
from app.services.registry import default_models

ROWS = 40


@pytest.fixture(scope="module")
def sample(original_dataset) -> pd.DataFrame:
    """The first rows of DatasetA.csv, every cell as text."""
    return pd.read_csv(original_dataset, dtype=str, keep_default_na=False, nrows=ROWS)


@pytest.fixture
def write_csv(tmp_path):
    def write(frame: pd.DataFrame, name: str = "upload.csv", **options) -> Path:
        path = tmp_path / name
        frame.to_csv(path, index=False, **options)
        return path

    return write


@pytest.fixture
def pipeline(app):
    model_path, _ = default_models.default_model_paths("neural_network")
    return training.load_pipeline(
        model_path, default_models.default_model_checksum("neural_network")
    )


def _refusal(path: Path, fmt: str = "csv", require_target: bool = False) -> str:
    with pytest.raises(InvalidUpload) as caught:
        load_upload(path, fmt, require_target=require_target)
    return str(caught.value)


# Required columns ----------------------------------------------------------------------------


@pytest.mark.parametrize("column", PREDICTION_COLUMNS)
def test_each_missing_required_column_is_named_in_the_message(sample, write_csv, column):
    message = _refusal(write_csv(sample.drop(columns=[column])))
    assert column in message
    assert "missing" in message


def test_several_missing_columns_are_all_named_at_once(sample, write_csv):
    dropped = ["tenure", "Contract", "customerID"]
    message = _refusal(write_csv(sample.drop(columns=dropped)))
    assert all(name in message for name in dropped)


def test_the_churn_column_is_required_for_retraining_only(sample, write_csv):
    path = write_csv(sample.drop(columns=["Churn"]))
    assert load_upload(path, "csv").row_count == ROWS
    assert "Churn" in _refusal(path, require_target=True)


@pytest.mark.parametrize(
    "rename",
    [str.upper, str.lower, lambda n: n[0].swapcase() + n[1:].upper(), lambda n: f"  {n} "],
    ids=["upper", "lower", "mixed", "padded"],
)
def test_headers_match_whatever_their_case_and_surrounding_spaces(sample, write_csv, rename):
    prepared = load_upload(write_csv(sample.rename(columns=rename)), "csv", require_target=True)
    assert list(prepared.features.columns) == FEATURES
    assert prepared.features["tenure"].notna().all()
    assert prepared.target.sum() == (sample["Churn"] == "Yes").sum()


def test_extra_columns_are_kept_in_the_original_untouched(sample, write_csv):
    frame = sample.assign(Region="North", Notes="=1+1")
    prepared = load_upload(write_csv(frame), "csv")
    assert list(prepared.original.columns) == list(frame.columns)
    assert (prepared.original["Region"] == "North").all()
    assert "Region" not in prepared.features.columns


# Values --------------------------------------------------------------------------------------


def test_blank_or_junk_total_charges_become_missing_and_prediction_still_works(
    sample, write_csv, pipeline
):
    frame = sample.copy()
    frame.loc[:4, "TotalCharges"] = [" ", "", "abc", " ", ""]
    frame.loc[5, "TotalCharges"] = "-20"
    prepared = load_upload(write_csv(frame), "csv")
    assert prepared.features["TotalCharges"].isna().sum() == 5
    probabilities = pipeline.predict_proba(prepared.features)[:, 1]
    assert np.isfinite(probabilities).all() and len(probabilities) == ROWS


def test_infinite_numbers_become_missing_instead_of_breaking_the_models(
    sample, write_csv, pipeline
):
    frame = sample.copy()
    frame.loc[:3, "tenure"] = ["inf", "-Infinity", "1e400", "nan"]
    frame.loc[:1, "MonthlyCharges"] = ["Infinity", "-1e999"]
    prepared = load_upload(write_csv(frame), "csv")
    assert prepared.features["tenure"].isna().sum() == 4
    assert prepared.features["MonthlyCharges"].isna().sum() == 2
    probabilities = pipeline.predict_proba(prepared.features)[:, 1]
    assert np.isfinite(probabilities).all() and len(probabilities) == ROWS


@pytest.mark.parametrize("yes,no", [("1", "0"), ("Yes", "No"), ("yes", "NO")])
def test_senior_citizen_is_read_from_yes_no_and_from_zero_one(sample, write_csv, yes, no):
    frame = sample.copy()
    frame["SeniorCitizen"] = [yes if i % 3 == 0 else no for i in range(ROWS)]
    senior = load_upload(write_csv(frame), "csv").features["SeniorCitizen"]
    assert list(senior) == ["Yes" if i % 3 == 0 else "No" for i in range(ROWS)]


def test_an_unseen_category_value_does_not_crash_a_prediction(sample, write_csv, pipeline):
    frame = sample.copy()
    frame.loc[0, "Contract"] = "Lifetime deal"
    frame.loc[1, "PaymentMethod"] = "Barter"
    prepared = load_upload(write_csv(frame), "csv")
    probabilities = pipeline.predict_proba(prepared.features)[:, 1]
    assert ((probabilities >= 0) & (probabilities <= 1)).all()


# Files that are not usable -------------------------------------------------------------------


def test_an_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    assert "empty" in _refusal(path)


def test_a_header_only_file_is_refused_for_having_no_rows(sample, tmp_path):
    path = tmp_path / "header.csv"
    path.write_text(",".join(sample.columns) + "\n")
    assert "no data rows" in _refusal(path)


def test_a_png_named_csv_is_refused_as_not_a_table(tmp_path):
    path = tmp_path / "picture.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    assert "not a text table" in _refusal(path)


def test_a_text_file_named_xlsx_is_refused_as_not_a_workbook(sample, write_csv):
    path = write_csv(sample, name="really_text.xlsx")
    assert "not an Excel workbook" in _refusal(path, "xlsx")


# Formats -------------------------------------------------------------------------------------


def test_a_real_xlsx_reads_with_the_same_values_as_the_csv(sample, write_csv, tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(sample.columns))
    for row in sample.itertuples(index=False):
        # Numbers as numbers, as Excel would store them.
        sheet.append([_as_excel_value(value) for value in row])
    path = tmp_path / "upload.xlsx"
    workbook.save(path)
    from_xlsx = load_upload(path, "xlsx", require_target=True)
    from_csv = load_upload(write_csv(sample), "csv", require_target=True)
    pd.testing.assert_frame_equal(from_xlsx.features, from_csv.features)
    assert list(from_xlsx.customer_ids) == list(sample["customerID"])
    assert list(from_xlsx.target) == list(from_csv.target)


def _as_excel_value(text: str):
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() else number


def test_a_semicolon_delimited_csv_is_read(sample, write_csv):
    prepared = load_upload(write_csv(sample, sep=";"), "csv", require_target=True)
    assert prepared.row_count == ROWS
    assert prepared.features["MonthlyCharges"].notna().all()


def test_a_csv_with_a_utf8_bom_is_read_and_its_first_column_found(sample, tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(codecs.BOM_UTF8 + sample.to_csv(index=False).encode())
    prepared = load_upload(path, "csv")
    assert list(prepared.customer_ids) == list(sample["customerID"])
