"""The fast paths of reading and scoring change nothing: numbers read by one Arrow cast, Yes/No
read by Arrow's kernels, formula checks that look at first bytes, CSVs read in small blocks. A
messy upload is scored with them and without them, and the result files are the same bytes."""

from __future__ import annotations

import random
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from app.services import registry
from app.services.decisions.costs import Costs
from app.services.prediction import formulas, scoring
from app.services.preprocessing import (
    PREDICTION_COLUMNS,
    csv_reading,
    encoding,
    match_columns,
    read_table,
)
from app.services.preprocessing import columns as columns_module
from app.services.preprocessing.columns import InvalidUpload, coerce_feature
from app.services.preprocessing.limits import UploadLimits

ODD_NUMBERS = ["", " ", "-5", "-0.5", "+5", ".5", "5.", "0012", " 12.5 ", "123456789012345"]
JUNK_NUMBERS = ["abc", "-0", "1e3", "1E400", "inf", "nan", "1,000", "\u00a012", "-", "1.2.3"]
CATEGORIES = ["", "  ", "DSL ", "dsl", "Unknown", '=HYPERLINK("x")', "+cmd", "-1", "@SUM(A1)"]
SENIOR = ["yes", " TRUE ", "1.0", "2", "", "y", "N", "0.0", "t", "F", "maybe", "Yes\u00a0"]
IDS = ["=1+1", "-3.5", "+12", "\t x", "@a", "\rq", "-", "+-", "="]


def _numeric_by_pandas(column: pd.Series) -> pd.Series:
    values = pd.to_numeric(column.astype(str).str.strip(), errors="coerce").astype(float)
    return values.where(np.isfinite(values))


def _codes_by_pandas(column, name, categories, fill):
    values = coerce_feature(column, name)
    return pd.Index(categories).get_indexer(values.fillna(fill)), values.isna().to_numpy()


def _neutralised_by_regex(array):
    starts = pc.match_substring_regex(array, formulas.FORMULA_START)
    risky = pc.and_not(starts, pc.match_substring_regex(array, formulas.PLAIN_NUMBER))
    risky = risky.fill_null(False)
    if not pc.any(risky).as_py():
        return array
    quote, nothing = pa.scalar("'", array.type), pa.scalar("", array.type)
    return pc.if_else(risky, pc.binary_join_element_wise(quote, array, nothing), array)


def _bits(series: pd.Series) -> list[int]:
    return series.to_numpy(dtype=np.float64).view(np.int64).tolist()


@pytest.mark.parametrize("seed", range(4))
def test_numbers_read_by_arrow_are_the_numbers_pandas_reads(seed):
    rng = random.Random(seed)
    cells = ODD_NUMBERS + JUNK_NUMBERS + ["7", "29.85", "0.0", "-0.0", "1234567890123456"]
    for _ in range(300):
        values = [rng.choice(cells) for _ in range(rng.randint(1, 6))]
        for column in (pd.Series(values, dtype="str"), pd.Series(values, dtype=object)):
            found, expected = columns_module._numeric(column), _numeric_by_pandas(column)
            assert _bits(found) == _bits(expected), values  # -0.0 and 0.0 told apart
    whole_numbers = pd.Series(["3", "-0", "4"], dtype="str")  # pandas reads "-0" as 0 here
    assert columns_module.plain_numbers(whole_numbers) is None
    assert columns_module.plain_numbers(pd.Series(["3", "", ".5"], dtype="str")) is not None


def test_yes_no_codes_by_arrow_are_the_codes_pandas_gives(app, user):
    model = next(m for m in registry.models_for(user) if m.model_type.key == "logistic_regression")
    layout = encoding.layout_of(registry.load_model_pipeline(model))
    where = encoding.CATEGORICAL_FEATURES.index("SeniorCitizen")
    categories, fill = layout.categories[where], layout.category_fill[where]
    rng = random.Random(1)
    for _ in range(300):
        column = pd.Series([rng.choice(SENIOR) for _ in range(rng.randint(1, 8))], dtype="str")
        found = encoding.category_codes_and_missing(column, "SeniorCitizen", categories, fill)
        expected = _codes_by_pandas(column, "SeniorCitizen", categories, fill)
        assert [x.tolist() for x in found] == [x.tolist() for x in expected], list(column)


def test_the_first_byte_check_neutralises_what_the_regex_does():
    rng = random.Random(2)
    cells = ["", "a", "=1", "+", "-3.5", "+12", "@x", "\tq", "\rz", " =x", "é", "-", None, "--1"]
    for _ in range(500):
        values = [rng.choice(cells) for _ in range(rng.randint(0, 7))]
        for kind in (pa.string(), pa.large_string()):
            array = pa.array(values, type=kind)
            for case in (array, array.slice(1), pa.chunked_array([array, array.slice(2)], kind)):
                found = formulas.neutralised_text(case).to_pylist()
                assert found == _neutralised_by_regex(case).to_pylist(), values


def _messy_upload(original_dataset: Path, path: Path) -> None:
    frame = pd.read_csv(original_dataset, dtype=str, keep_default_na=False).head(3_000)
    frame["Notes"] = "called"
    rng = np.random.default_rng(7)
    for name, cells, share in [
        ("Notes", ['=HYPERLINK("x")', "=1+1"], 0.01),  # formulas of one kind only
        ("tenure", ODD_NUMBERS + JUNK_NUMBERS, 0.05),
        ("MonthlyCharges", ODD_NUMBERS, 0.05),  # odd but readable: the Arrow cast takes it
        ("TotalCharges", ODD_NUMBERS, 0.05),
        ("InternetService", CATEGORIES, 0.05),
        ("Contract", CATEGORIES, 0.05),
        ("SeniorCitizen", SENIOR, 0.1),
        ("customerID", IDS, 0.05),
    ]:
        rows = rng.choice(len(frame), int(len(frame) * share), replace=False)
        frame.iloc[rows, frame.columns.get_loc(name)] = rng.choice(cells, len(rows))
    path.write_text(frame.to_csv(index=False))


def _score(path: Path, model, folder: Path, chunk_rows: int = 701) -> dict[str, bytes]:
    folder.mkdir()
    original = read_table(path, "csv")
    mapping = match_columns(list(original.columns), PREDICTION_COLUMNS)
    targets = {name: folder / name for name in ("r.csv", "r.xlsx")}
    scoring.score_to_files(
        registry.load_model_pipeline(model),
        original,
        mapping,
        {"csv": targets["r.csv"], "xlsx": targets["r.xlsx"]},
        chunk_rows,
        details=model.details,
        costs=Costs(500.0, 50.0, 5.0, 0.3),
    )
    with zipfile.ZipFile(targets["r.xlsx"]) as workbook:
        files = {name: workbook.read(name) for name in workbook.namelist()}
    return {"r.csv": targets["r.csv"].read_bytes(), **files}


@pytest.mark.parametrize("kind", ["logistic_regression", "decision_tree"])
def test_a_messy_upload_scores_to_the_same_bytes_without_the_fast_paths(
    app, user, original_dataset, tmp_path, monkeypatch, kind
):
    model = next(m for m in registry.models_for(user) if m.model_type.key == kind)
    upload = tmp_path / "messy.csv"
    _messy_upload(original_dataset, upload)
    fast = _score(upload, model, tmp_path / "fast")
    monkeypatch.setattr(columns_module, "plain_numbers", lambda text: None)
    monkeypatch.setattr(encoding, "category_codes_and_missing", _codes_by_pandas)
    monkeypatch.setattr(formulas, "any_starts_with", lambda array, first: True)
    monkeypatch.setattr(csv_reading, "FAST_BLOCK_BYTES", csv_reading.BLOCK_BYTES)
    plain = _score(upload, model, tmp_path / "plain")
    assert fast.keys() == plain.keys()
    for name in fast:
        assert fast[name] == plain[name], name


def test_a_row_longer_than_a_small_block_still_reads(tmp_path):
    path = tmp_path / "long-row.csv"
    cell = "x" * (csv_reading.FAST_BLOCK_BYTES + 1000)
    path.write_text(
        "customerID,Notes\n" + "".join(f"{i},n{i}\n" for i in range(50)) + f"a,{cell}\n"
    )
    frame = read_table(path, "csv", UploadLimits(max_cell_chars=len(cell)))
    assert len(frame) == 51 and frame["Notes"].iloc[-1] == cell


def test_a_refusal_after_small_blocks_says_what_the_large_blocks_say(tmp_path, monkeypatch):
    path = tmp_path / "many.csv"
    path.write_text("a,b\n" + "".join(f"{i},{i}\n" for i in range(300_000)))
    limits = UploadLimits(max_cells=400_000)
    with pytest.raises(InvalidUpload) as fast:
        read_table(path, "csv", limits)
    monkeypatch.setattr(csv_reading, "FAST_BLOCK_BYTES", csv_reading.BLOCK_BYTES)
    with pytest.raises(InvalidUpload) as plain:
        read_table(path, "csv", limits)
    assert str(fast.value) == str(plain.value)
