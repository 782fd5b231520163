"""Result files: the original upload, every row in its order, plus the prediction columns, in
CSV (always) and `.xlsx` (for Excel uploads), written atomically; formula-like text cells are
neutralised. Also what a download of them is called and which formats a prediction has.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from app.schema import Prediction
from app.services import storage
from app.services.catalog import THRESHOLD
from app.services.decisions import REASON_COUNT
from app.services.errors import NotFound
from app.services.prediction.formulas import neutralise, neutralised_text
from app.services.prediction.rowstore import REASON_FIELDS
from app.services.prediction.xlsx_result import XlsxResult
from app.services.preprocessing import column_key

PREDICTION_COLUMN = "Churn Prediction"
PROBABILITY_COLUMN = "Churn Probability"
RANK_COLUMN = "Risk Rank"
REASON_COLUMNS = tuple(f"Reason {n}" for n in range(1, REASON_COUNT + 1))
WARNINGS_COLUMN = "Input Warnings"
EXPECTED_VALUE_COLUMN = "Expected Value"
CONTACT_COLUMN = "Contact"
FORMAT_MIMETYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class PredictionNotFound(NotFound):
    """No such prediction, or the viewer may not see it (both look the same: 404)."""


def new_columns(with_costs: bool) -> list[str]:
    """The columns a result adds after the upload's, in order (SPEC section 6)."""
    columns = [PREDICTION_COLUMN, PROBABILITY_COLUMN, RANK_COLUMN, *REASON_COLUMNS]
    columns.append(WARNINGS_COLUMN)
    if with_costs:
        columns += [EXPECTED_VALUE_COLUMN, CONTACT_COLUMN]
    return columns


# A re-uploaded result file already has these: they are replaced, not repeated.
_NEW_COLUMN_KEYS = {column_key(name) for name in new_columns(with_costs=True)}


def kept_columns(columns: Iterable[str]) -> list[str]:
    """The upload's columns that go into the result (a re-uploaded result's old ones do not)."""
    return [c for c in columns if column_key(c) not in _NEW_COLUMN_KEYS]


def yes_no(flags: Any) -> Any:
    """Arrow text "Yes" where the Arrow booleans `flags` are true, "No" elsewhere (one kernel,
    no NumPy text array in between)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.if_else(flags, pa.scalar("Yes", pa.string()), pa.scalar("No", pa.string()))


class ResultWriters:
    """Writes the CSV (pyarrow, streamed) and, for Excel uploads, the .xlsx, atomically.

    Each chunk is the upload's rows plus `added`: an Arrow record batch of the new columns
    (`new_columns`), already typed (numbers as numbers, text as text). In the .xlsx, the
    upload's `number_columns` (numbers in the uploaded workbook) are numbers again
    (`xlsx_result`).
    """

    def __init__(
        self,
        columns: list[str],
        added: list[tuple[str, Any]],
        targets: Mapping[str, Path],
        number_columns: Iterable[str] = (),
        rows: int | None = None,
    ) -> None:
        self.columns = columns
        self.rows = rows  # how many the file will hold, when known (the .xlsx declares it)
        self.added = added  # (name, Arrow type) of each new column
        self.targets = targets
        self.number_columns = set(number_columns)
        self._csv: _CsvResult | None = None
        self._xlsx: XlsxResult | None = None

    def __enter__(self) -> ResultWriters:
        self._exit = contextlib.ExitStack()
        self._exit.__enter__()
        if "csv" in self.targets:
            tmp = self._exit.enter_context(storage.atomic_path(self.targets["csv"]))
            self._csv = self._exit.enter_context(_CsvResult(tmp, self.columns, self.added))
        if "xlsx" in self.targets:
            tmp = self._exit.enter_context(storage.atomic_path(self.targets["xlsx"]))
            names = [name for name, _ in self.added]
            self._xlsx = self._exit.enter_context(
                XlsxResult(tmp, self.columns, names, self.number_columns, self.rows)
            )
        return self

    def write(self, chunk: pd.DataFrame, added: Any) -> None:
        if list(chunk.columns) != self.columns:  # a re-uploaded result: drop the old ones
            chunk = chunk[self.columns]
        for writer in (self._csv, self._xlsx):
            if writer is not None:
                writer.write(chunk, added)

    def __exit__(self, *exc_info: Any) -> bool | None:
        return self._exit.__exit__(*exc_info)


class _CsvResult:
    def __init__(self, path: Path, columns: list[str], added: list[tuple[str, Any]]) -> None:
        import pyarrow as pa

        self.path = path
        # large_string is how pandas keeps Arrow-backed text: the columns go out uncopied.
        fields = [(neutralise(c), pa.large_string()) for c in columns] + list(added)
        self.schema = pa.schema(fields)
        self.writer: Any = None

    def __enter__(self) -> _CsvResult:
        from pyarrow import csv as pa_csv

        self.writer = pa_csv.CSVWriter(str(self.path), self.schema)
        return self

    def write(self, chunk: pd.DataFrame, added: Any) -> None:
        import pyarrow as pa

        arrays = [_neutralised_array(chunk.iloc[:, i]) for i in range(chunk.shape[1])]
        for column in added.columns:
            is_text = pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
            arrays.append(neutralised_text(column) if is_text else column)
        self.writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))

    def __exit__(self, *exc_info: Any) -> None:
        self.writer.close()


def _neutralised_array(column: pd.Series):
    import pyarrow as pa

    return neutralised_text(pa.array(column, type=pa.large_string(), from_pandas=True))


@dataclass
class ResultFile:
    path: Path
    download_name: str
    mimetype: str


def safe_download_stem(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._")[:80]
    return stem or "prediction"


def result_file(prediction: Prediction, file_format: str | None = None) -> ResultFile:
    """The result file to download, in `file_format` ('csv', or 'xlsx' for Excel uploads)."""
    if prediction.status != "done" or not prediction.summary:
        raise PredictionNotFound("This prediction has no result yet.")
    files = prediction.summary.get("files", {})
    file_format = file_format or prediction.result_format
    if file_format not in files:
        raise PredictionNotFound("This result is not available in that format.")
    path = storage.dataset_file(files[file_format])
    if not path.exists():
        raise PredictionNotFound("The result file is missing.")
    return ResultFile(
        path=path,
        download_name=f"{safe_download_stem(prediction.name)}-predictions.{file_format}",
        mimetype=FORMAT_MIMETYPES[file_format],
    )


def download_formats(prediction: Prediction) -> list[str]:
    if prediction.status != "done" or not prediction.summary:
        return []
    return sorted(prediction.summary.get("files", {}), key=lambda f: f != "csv")


def added_fields(with_costs: bool) -> list[tuple[str, Any]]:
    """(name, Arrow type) of each column a result adds, in order."""
    import pyarrow as pa

    fields = [
        (PREDICTION_COLUMN, pa.string()),
        (PROBABILITY_COLUMN, pa.float64()),
        (RANK_COLUMN, pa.int32()),
        *[(name, pa.string()) for name in REASON_COLUMNS],
        (WARNINGS_COLUMN, pa.string()),
    ]
    if with_costs:
        fields += [(EXPECTED_VALUE_COLUMN, pa.float64()), (CONTACT_COLUMN, pa.string())]
    return fields


def added_columns(stored: Any, ranks: np.ndarray, fields: list[tuple[str, Any]]) -> Any:
    """The new columns of one chunk, from its row store batch and its ranks."""
    import pyarrow as pa
    import pyarrow.compute as pc

    probability = stored.column("probability")
    arrays = [
        yes_no(pc.greater_equal(probability, THRESHOLD)),  # the model's call at the threshold
        pc.round(probability, 4),
        pa.array(ranks, type=pa.int32()),
        *[stored.column(name) for name in REASON_FIELDS],
        stored.column("warnings"),
    ]
    if len(fields) > len(arrays):
        arrays.append(pc.round(stored.column("expected_value"), 2))
        arrays.append(yes_no(pc.fill_null(stored.column("contact"), False)))
    return pa.record_batch(arrays, schema=pa.schema(fields))
