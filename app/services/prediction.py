"""Batch prediction: one service for both roles.

It owns the whole life of a prediction: the upload (stored under a server-chosen name and
validated before any work), scoring in bounded chunks (in the request for small files, as a
background job for large ones), the result file (the original upload plus two columns, formula
cells neutralised), the summary shown on the page, who may see which prediction, and the history.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np
import pandas as pd
from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.schema import MAX_ID, Dataset, Developer, Model, Prediction, User, utcnow
from app.services import charts, jobs, preprocessing, registry, storage, training
from app.services.preprocessing import InvalidUpload, UploadLimits
from app.services.training import ModelIntegrityError

log = logging.getLogger(__name__)

PREDICTION_COLUMN = "Churn Prediction"
PROBABILITY_COLUMN = "Churn Probability"
THRESHOLD = 0.5
HISTOGRAM_BINS = 10
TOP_ROWS = 20
# Columns shown beside each highest-risk customer on the result page.
PREVIEW_COLUMNS = ("Contract", "tenure", "MonthlyCharges", "InternetService")
NAME_MAX = 200
FORMAT_MIMETYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# A cell starting like this would run as a formula in a spreadsheet...
_FORMULA_START = r"^[=+\-@\t\r]"
# ...unless it is a plain number such as -3.5 or +12.
_PLAIN_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
_FORMULA_RE = re.compile(_FORMULA_START)
_NUMBER_RE = re.compile(_PLAIN_NUMBER)

Account = Developer | User
ProgressCallback = Callable[[int], None]


class Upload(Protocol):
    """What the service needs from an uploaded file (werkzeug's FileStorage fits)."""

    stream: BinaryIO
    filename: str | None


class InvalidPrediction(Exception):
    """The form's values cannot be used; the message is meant for the person."""


class PredictionNotFound(Exception):
    """No such prediction, or the viewer may not see it (both look the same: 404)."""


# Creating a prediction -----------------------------------------------------------------------


def upload_limits() -> UploadLimits:
    return UploadLimits.from_config(current_app.config)


def _area(account: Account, kind: str) -> str:
    return f"{'dev' if account.role == 'developer' else 'user'}/{kind}"


def _check_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        raise InvalidPrediction("Please give the prediction a name.")
    if len(name) > NAME_MAX:
        raise InvalidPrediction(f"The name is too long (at most {NAME_MAX} characters).")
    return name


def create_prediction(account: Account, name: str, model_id: int, upload: Upload) -> Prediction:
    """Store and validate the upload, record it, and score it (now, or as a background job).

    Raises InvalidPrediction, ModelNotAvailable, ModelIntegrityError or InvalidUpload before
    anything is stored; a refused file leaves no file and no row behind.
    """
    name = _check_name(name)
    model = registry.model_for(account, model_id)
    pipeline = registry.load_model_pipeline(model)  # refuse an altered model before any work
    file_format = preprocessing.file_format_for(upload.filename)

    relative = storage.new_dataset_path(_area(account, "uploadToPredict"), file_format)
    target = storage.dataset_file(relative)
    with storage.atomic_path(target) as tmp, tmp.open("wb") as handle:
        sha256 = _copy_and_hash(upload.stream, handle)
    # Refused or failing for any reason, the upload leaves no file and no row behind.
    with storage.removed_on_failure(target, cleanup=db.session.rollback):
        original = preprocessing.read_table(target, file_format, upload_limits())
        mapping = preprocessing.match_columns(
            list(original.columns), preprocessing.PREDICTION_COLUMNS
        )
        dataset = _record_dataset(
            account, name, relative, target, upload.filename, original, sha256
        )
        prediction = Prediction(
            company_id=account.company_id,
            user_id=account.id if account.role == "user" else None,
            developer_id=account.id if account.role == "developer" else None,
            model=model,
            input_dataset=dataset,
            name=name,
            result_format=file_format,
            row_count=len(original),
            status="queued",
            progress=0,
        )
        db.session.add(prediction)
        db.session.commit()

    if len(original) <= current_app.config["PREDICTION_BACKGROUND_ROWS"]:
        _run_scoring(prediction, lambda: (pipeline, original, mapping))
    else:
        del original
        prediction.job_id = jobs.enqueue("score_prediction", prediction.id)
        db.session.commit()
    return prediction


def _copy_and_hash(source: BinaryIO, target: BinaryIO) -> str:
    """Copy the upload to disk, hashing it on the way (the file is not read twice)."""
    digest = hashlib.sha256()
    for block in iter(lambda: source.read(1024 * 1024), b""):
        digest.update(block)
        target.write(block)
    return digest.hexdigest()


def _record_dataset(
    account: Account,
    name: str,
    relative: str,
    path: Path,
    filename: str | None,
    original: pd.DataFrame,
    sha256: str,
) -> Dataset:
    dataset = Dataset(
        company_id=account.company_id,
        kind="predict_upload",
        name=name,
        path=relative,
        original_filename=(filename or "")[-255:] or None,
        file_format=relative.rsplit(".", 1)[-1],
        row_count=len(original),
        column_count=len(original.columns),
        size_bytes=path.stat().st_size,
        sha256=sha256,
        uploaded_by_developer_id=account.id if account.role == "developer" else None,
        uploaded_by_user_id=account.id if account.role == "user" else None,
    )
    db.session.add(dataset)
    return dataset


@jobs.job("score_prediction")
def score_prediction(prediction_id: int) -> None:
    """The background job: score a queued prediction, keeping its status on the row."""
    prediction = db.session.get(Prediction, prediction_id)
    if prediction is None or prediction.status not in ("queued", "running"):
        return

    def load() -> tuple[Any, pd.DataFrame, dict[str, str]]:
        pipeline = registry.load_model_pipeline(prediction.model)
        path = storage.dataset_file(prediction.input_dataset.path)
        original = preprocessing.read_table(
            path, prediction.input_dataset.file_format, upload_limits()
        )
        columns = list(original.columns)
        mapping = preprocessing.match_columns(columns, preprocessing.PREDICTION_COLUMNS)
        return pipeline, original, mapping

    _run_scoring(prediction, load)


def _run_scoring(
    prediction: Prediction, load: Callable[[], tuple[Any, pd.DataFrame, dict[str, str]]]
) -> None:
    """Score, write the result files and the summary; any failure marks the row failed."""
    files: dict[str, str] = {}
    try:
        prediction.status = "running"
        prediction.progress = 1
        db.session.commit()
        pipeline, original, mapping = load()

        def progress(percent: int) -> None:
            prediction.progress = percent
            db.session.commit()

        area = _area_of(prediction)
        stem = storage.new_dataset_path(area, "csv").rsplit(".", 1)[0]
        files = {"csv": f"{stem}.csv"}
        if prediction.result_format == "xlsx":
            files["xlsx"] = f"{stem}.xlsx"
        summary = score_to_files(
            pipeline,
            original,
            mapping,
            {fmt: storage.dataset_file(rel) for fmt, rel in files.items()},
            current_app.config["PREDICTION_CHUNK_ROWS"],
            progress,
        )
        summary["files"] = files
        prediction.summary = summary
        prediction.result_path = files[prediction.result_format]
        prediction.row_count = summary["rows"]
        prediction.churn_count = summary["churn"]
        prediction.status = "done"
        prediction.progress = 100
        prediction.error = None
        prediction.finished_at = utcnow()
        db.session.commit()
        render_charts(prediction)
    except (ModelIntegrityError, InvalidUpload) as error:
        _mark_failed(prediction, str(error), files)
    except Exception:  # the outer edge of scoring: logged, and the row says it failed
        log.exception("Prediction %s failed", prediction.id)
        _mark_failed(
            prediction,
            "Scoring failed unexpectedly. The error has been logged; please try again.",
            files,
        )


def _area_of(prediction: Prediction) -> str:
    return "dev/predictionResult" if prediction.developer_id else "user/predictionResult"


def _mark_failed(prediction: Prediction, message: str, files: dict[str, str]) -> None:
    db.session.rollback()
    storage.remove_quietly(*(storage.dataset_file(rel) for rel in files.values()))
    prediction.status = "failed"
    prediction.error = message
    prediction.result_path = None
    prediction.finished_at = utcnow()
    db.session.commit()


def render_charts(prediction: Prediction) -> None:
    """Render the page's charts once, so the first visit does not wait for them."""
    charts.churn_distribution_png(prediction)
    charts.feature_importance_png(prediction.model)


# Scoring and the result files ----------------------------------------------------------------


@dataclass
class _Accumulator:
    """The summary figures, built chunk by chunk without keeping every probability."""

    rows: int = 0
    churn: int = 0
    histogram: np.ndarray = field(default_factory=lambda: np.zeros(HISTOGRAM_BINS, dtype=np.int64))
    probability_sum: float = 0.0
    top: pd.DataFrame | None = None

    def add(self, chunk: pd.DataFrame, mapping: dict[str, str], probability: np.ndarray) -> None:
        self.rows += len(probability)
        self.churn += int((probability >= THRESHOLD).sum())
        self.probability_sum += float(probability.sum())
        counts, _ = np.histogram(probability, bins=HISTOGRAM_BINS, range=(0.0, 1.0))
        self.histogram += counts
        best = np.argsort(-probability, kind="stable")[:TOP_ROWS]
        picked = chunk.iloc[best]  # the few best rows, before any column leaves Arrow
        candidates = pd.DataFrame(
            {
                "row": picked.index.to_numpy() + 1,
                "customerID": picked[mapping[preprocessing.ID_COLUMN]].to_numpy(),
                "probability": probability[best],
                **{c: picked[mapping[c]].to_numpy() for c in PREVIEW_COLUMNS},
            }
        )
        merged = candidates if self.top is None else pd.concat([self.top, candidates])
        self.top = merged.sort_values(
            ["probability", "row"], ascending=[False, True], kind="stable"
        ).head(TOP_ROWS)

    def summary(self) -> dict[str, Any]:
        top = self.top if self.top is not None else pd.DataFrame()
        return {
            "rows": self.rows,
            "churn": self.churn,
            "stay": self.rows - self.churn,
            "churn_share": self.churn / self.rows if self.rows else 0.0,
            "mean_probability": self.probability_sum / self.rows if self.rows else 0.0,
            "histogram": {
                "edges": [round(i / HISTOGRAM_BINS, 2) for i in range(HISTOGRAM_BINS + 1)],
                "counts": [int(c) for c in self.histogram],
            },
            "threshold": THRESHOLD,
            "preview_columns": list(PREVIEW_COLUMNS),
            "top": [
                {
                    "row": int(r["row"]),
                    "customerID": str(r["customerID"]),
                    "probability": round(float(r["probability"]), 4),
                    "values": [str(r[c]) for c in PREVIEW_COLUMNS],
                }
                for r in top.to_dict("records")
            ],
        }


def score_to_files(
    pipeline: Any,
    original: pd.DataFrame,
    mapping: dict[str, str],
    targets: Mapping[str, Path],
    chunk_rows: int,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Score `original` chunk by chunk and write each result file atomically; return the summary.

    Memory stays bounded by the chunk: only the model inputs of one chunk exist at a time,
    and the result is streamed to disk as it is scored.
    """
    kept = [c for c in original.columns if preprocessing.column_key(c) not in _NEW_COLUMN_KEYS]
    accumulator = _Accumulator()
    with _ResultWriters(kept, targets) as writers:
        for start in range(0, len(original), max(chunk_rows, 1)):
            chunk = original.iloc[start : start + chunk_rows]
            probability = churn_probabilities(pipeline, chunk, mapping)
            accumulator.add(chunk, mapping, probability)
            writers.write(chunk, probability)
            if progress is not None and start + chunk_rows < len(original):
                progress(min(99, int(100 * (start + chunk_rows) / len(original))))
    return accumulator.summary()


def churn_probabilities(
    pipeline: Any, original: pd.DataFrame, mapping: dict[str, str]
) -> np.ndarray:
    """P(churn) per row of the upload `original`: identical to `pipeline.predict_proba` on
    `preprocessing.coerce_features(original, mapping)`, several times faster.

    scikit-learn's one-hot encoder compares Python strings row by row; for a pipeline of the
    shape training builds, the same matrix is built straight from the upload's text columns
    (category codes found by Arrow) and the fitted statistics, then handed to the estimator.
    Any other pipeline takes the ordinary path.
    """
    matrix = _encoded_matrix(pipeline, original, mapping)
    if matrix is None:
        features = preprocessing.coerce_features(original, mapping)
        return pipeline.predict_proba(features[preprocessing.FEATURES])[:, 1]
    return pipeline.named_steps["model"].predict_proba(matrix)[:, 1]


NUMERIC_WITH_LOG = ["impute", "log1p", "scale"]


def _encoded_matrix(
    pipeline: Any, original: pd.DataFrame, mapping: dict[str, str]
) -> np.ndarray | None:
    """The estimator's input matrix for the upload rows `original`, or None for a pipeline
    whose shape this does not know."""
    try:
        preprocess = pipeline.named_steps["preprocess"]
        categorical = preprocess.named_transformers_["categorical"]
        numeric = preprocess.named_transformers_["numeric"]
        category_imputer = categorical.named_steps["impute"]
        onehot = categorical.named_steps["onehot"]
        number_imputer = numeric.named_steps["impute"]
        scaler = numeric.named_steps["scale"]
        layout = [(name, list(columns)) for name, _, columns in preprocess.transformers_]
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
    expected = [
        ("categorical", preprocessing.CATEGORICAL_FEATURES),
        ("numeric", preprocessing.NUMERIC_FEATURES),
    ]
    if (
        [item for item in layout if item[0] != "remainder"] != expected
        or getattr(preprocess, "remainder", "drop") != "drop"
        or onehot.drop is not None
        or onehot.handle_unknown != "ignore"
        or getattr(onehot, "sparse_output", True)
        or len(categorical.steps) != 2
        or [name for name, _ in numeric.steps] not in (["impute", "scale"], NUMERIC_WITH_LOG)
        or (
            "log1p" in numeric.named_steps
            and numeric.named_steps["log1p"].func is not training.log1p_nonnegative
        )
        or scaler.scale_ is None
        or scaler.mean_ is None
    ):
        return None
    rows = len(original)
    widths = [len(categories) for categories in onehot.categories_]
    offsets = np.concatenate([[0], np.cumsum(widths)])
    numeric_at = int(offsets[-1])
    # One matrix, filled in place: no per-feature blocks to stack.
    matrix = np.zeros((rows, numeric_at + len(preprocessing.NUMERIC_FEATURES)), dtype=np.float64)
    row_numbers = np.arange(rows)
    for i, name in enumerate(preprocessing.CATEGORICAL_FEATURES):
        codes = _category_codes(
            original[mapping[name]], name, onehot.categories_[i], category_imputer.statistics_[i]
        )
        known = codes >= 0  # a value never seen in training: all zeros
        matrix[row_numbers[known], offsets[i] + codes[known]] = 1.0
    numbers = np.column_stack(
        [
            preprocessing.coerce_feature(original[mapping[name]], name).to_numpy(np.float64)
            for name in preprocessing.NUMERIC_FEATURES
        ]
    )
    missing = np.isnan(numbers)
    if missing.any():
        numbers[missing] = np.take(number_imputer.statistics_, np.nonzero(missing)[1])
    if "log1p" in numeric.named_steps:
        numbers = training.log1p_nonnegative(numbers)
    matrix[:, numeric_at:] = (numbers - scaler.mean_) / scaler.scale_
    return matrix


def _category_codes(
    column: pd.Series, name: str, categories: np.ndarray, fill: object
) -> np.ndarray:
    """Position of each row's category in `categories` (-1 if unseen), after the missing-value
    fill, exactly as coerce_features + the fitted imputer + one-hot encoder would place it."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if name != "SeniorCitizen" and all(isinstance(c, str) for c in categories):
        text = pa.array(column, from_pandas=True)  # no copy for Arrow-backed text
        is_text = pa.types.is_large_string(text.type) or pa.types.is_string(text.type)
        if is_text and text.null_count == 0:
            # coerce_features strips with the same Arrow kernel, and "" means missing.
            stripped = pc.utf8_trim_whitespace(text)
            filled = pc.if_else(pc.equal(stripped, ""), str(fill), stripped)
            codes = pc.index_in(filled, value_set=pa.array(list(categories), filled.type))
            return codes.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.intp)
    values = preprocessing.coerce_feature(column, name).fillna(fill)
    return pd.Index(categories).get_indexer(values)


# A re-uploaded result file already has these: they are replaced, not repeated.
_NEW_COLUMN_KEYS = {
    preprocessing.column_key(PREDICTION_COLUMN),
    preprocessing.column_key(PROBABILITY_COLUMN),
}


def neutralise(value: str) -> str:
    """A text cell a spreadsheet would execute as a formula, made inert by a leading quote."""
    if value and _FORMULA_RE.match(value) and not _NUMBER_RE.match(value):
        return "'" + value
    return value


def _labels(probability: np.ndarray) -> np.ndarray:
    return np.where(probability >= THRESHOLD, "Yes", "No")


class _ResultWriters:
    """Writes the CSV (pyarrow, streamed) and, for Excel uploads, the .xlsx, atomically."""

    def __init__(self, columns: list[str], targets: Mapping[str, Path]) -> None:
        self.columns = columns
        self.targets = targets
        self._csv = None
        self._xlsx = None

    def __enter__(self) -> _ResultWriters:
        import contextlib

        self._exit = contextlib.ExitStack()
        self._exit.__enter__()
        if "csv" in self.targets:
            tmp = self._exit.enter_context(storage.atomic_path(self.targets["csv"]))
            self._csv = self._exit.enter_context(_CsvResult(tmp, self.columns))
        if "xlsx" in self.targets:
            tmp = self._exit.enter_context(storage.atomic_path(self.targets["xlsx"]))
            self._xlsx = self._exit.enter_context(_XlsxResult(tmp, self.columns))
        return self

    def write(self, chunk: pd.DataFrame, probability: np.ndarray) -> None:
        if list(chunk.columns) != self.columns:  # a re-uploaded result: drop the old two
            chunk = chunk[self.columns]
        for writer in (self._csv, self._xlsx):
            if writer is not None:
                writer.write(chunk, probability)

    def __exit__(self, *exc_info: Any) -> bool | None:
        return self._exit.__exit__(*exc_info)


class _CsvResult:
    def __init__(self, path: Path, columns: list[str]) -> None:
        import pyarrow as pa

        self.path = path
        names = [neutralise(c) for c in columns] + [PREDICTION_COLUMN, PROBABILITY_COLUMN]
        # large_string is how pandas keeps Arrow-backed text: the columns go out uncopied.
        types = [pa.large_string()] * (len(columns) + 1) + [pa.float64()]
        self.schema = pa.schema(list(zip(names, types, strict=True)))
        self.writer = None

    def __enter__(self) -> _CsvResult:
        from pyarrow import csv as pa_csv

        self.writer = pa_csv.CSVWriter(str(self.path), self.schema)
        return self

    def write(self, chunk: pd.DataFrame, probability: np.ndarray) -> None:
        import pyarrow as pa

        arrays = [_neutralised_array(chunk.iloc[:, i]) for i in range(chunk.shape[1])]
        arrays.append(pa.array(_labels(probability), type=pa.large_string()))
        arrays.append(pa.array(np.round(probability, 4), type=pa.float64()))
        self.writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))

    def __exit__(self, *exc_info: Any) -> None:
        self.writer.close()


def _neutralised_array(column: pd.Series):
    import pyarrow as pa
    import pyarrow.compute as pc

    array = pa.array(column, type=pa.large_string(), from_pandas=True)
    starts = pc.match_substring_regex(array, _FORMULA_START)
    if not pc.any(starts).as_py():  # the usual case: one cheap anchored test per column
        return array
    risky = pc.and_not(starts, pc.match_substring_regex(array, _PLAIN_NUMBER)).fill_null(False)
    if not pc.any(risky).as_py():
        return array
    return pc.if_else(
        risky,
        pc.binary_join_element_wise(pa.scalar("'", array.type), array, pa.scalar("", array.type)),
        array,
    )


class _XlsxResult:
    """An .xlsx in constant memory: rows are streamed; numbers stay numbers, text stays text."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        self.path = path
        self.columns = columns
        self.row = 0

    def __enter__(self) -> _XlsxResult:
        import xlsxwriter

        self.workbook = xlsxwriter.Workbook(
            str(self.path),
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        self.sheet = self.workbook.add_worksheet("Predictions")
        header = [neutralise(c) for c in self.columns] + [PREDICTION_COLUMN, PROBABILITY_COLUMN]
        for col, name in enumerate(header):
            self.sheet.write_string(0, col, name)
        self.row = 1
        return self

    def write(self, chunk: pd.DataFrame, probability: np.ndarray) -> None:
        columns = []
        for i in range(chunk.shape[1]):
            text = chunk.iloc[:, i].astype(str).to_numpy(dtype=object)
            number = pd.to_numeric(chunk.iloc[:, i], errors="coerce").to_numpy(dtype=float)
            columns.append((text, number))
        labels = _labels(probability)
        rounded = np.round(probability, 4)
        write_string, write_number = self.sheet.write_string, self.sheet.write_number
        last = len(columns)
        for r in range(len(probability)):
            row = self.row + r
            for c, (text, number) in enumerate(columns):
                value = number[r]
                if np.isfinite(value) and _NUMBER_RE.match(text[r].strip()):
                    write_number(row, c, float(value))
                elif text[r]:
                    write_string(row, c, neutralise(text[r]))
            write_string(row, last, str(labels[r]))
            write_number(row, last + 1, float(rounded[r]))
        self.row += len(probability)

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        self.workbook.close()


# Who may see what ----------------------------------------------------------------------------


def _visible(account: Account):
    statement = select(Prediction).where(Prediction.company_id == account.company_id)
    if account.role != "developer":
        statement = statement.where(Prediction.user_id == account.id)
    return statement


def prediction_for(account: Account, prediction_id: int) -> Prediction:
    """The prediction if `account` may see it (a user: their own; a developer: the company's)."""
    prediction = db.session.execute(
        _visible(account)
        .where(Prediction.id == prediction_id)
        .options(
            joinedload(Prediction.model).joinedload(Model.model_type),
            joinedload(Prediction.input_dataset),
        )
    ).scalar_one_or_none()
    if prediction is None:
        raise PredictionNotFound("There is no such prediction, or it belongs to someone else.")
    return prediction


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


# History -------------------------------------------------------------------------------------


@dataclass
class HistoryFilters:
    user: int | None = None
    model: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    errors: list[str] = field(default_factory=list)

    @classmethod
    def from_args(cls, args: Mapping[str, str], account: Account) -> HistoryFilters:
        """Read the query string; a bad value becomes a message, never an error page."""
        filters = cls()
        if account.role == "developer":
            filters.user = _int_arg(args.get("user"), "user", filters.errors)
        filters.model = _int_arg(args.get("model"), "model", filters.errors)
        filters.date_from = _date_arg(args.get("date_from"), "From", filters.errors)
        filters.date_to = _date_arg(args.get("date_to"), "To", filters.errors)
        if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
            filters.errors.append("The 'From' date is after the 'To' date.")
        return filters

    def as_args(self) -> dict[str, str]:
        """The filters as query-string values, for links that keep them."""
        values = {
            "user": self.user,
            "model": self.model,
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
        }
        return {key: str(value) for key, value in values.items() if value is not None}


def _int_arg(value: str | None, label: str, errors: list[str]) -> int | None:
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_ID:
        errors.append(f"Unknown {label} filter {value!r}; it was ignored.")
        return None
    return number


def _date_arg(value: str | None, label: str, errors: list[str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        errors.append(f"'{label}' must be a date like 2025-01-31; it was ignored.")
        return None


def prediction_history(account: Account, filters: HistoryFilters, page: int = 1):
    """The account's visible predictions, filtered, newest first, one page (a Pagination)."""
    statement = _visible(account)
    if filters.user is not None and account.role == "developer":
        statement = statement.where(Prediction.user_id == filters.user)
    if filters.model is not None:
        statement = statement.where(Prediction.model_id == filters.model)
    if filters.date_from:
        start = datetime.combine(filters.date_from, datetime.min.time())
        statement = statement.where(Prediction.created_at >= start)
    if filters.date_to and filters.date_to < date.max:
        end = datetime.combine(filters.date_to + timedelta(days=1), datetime.min.time())
        statement = statement.where(Prediction.created_at < end)
    statement = statement.order_by(Prediction.created_at.desc(), Prediction.id.desc()).options(
        joinedload(Prediction.model).joinedload(Model.model_type),
        joinedload(Prediction.user),
        joinedload(Prediction.developer),
        joinedload(Prediction.input_dataset),
    )
    return db.paginate(
        statement,
        page=max(page, 1),
        per_page=current_app.config["HISTORY_PAGE_SIZE"],
        error_out=False,
        count=True,
    )


def history_choices(account: Account) -> dict[str, list[tuple[int, str]]]:
    """Options of the history filters: the company's users (developer only) and models (for a
    user, those they may use or have used: never a version that was not deployed to them)."""
    statement = select(Model).where(Model.company_id == account.company_id, Model.status == "ready")
    if account.role != "developer":
        used = select(Prediction.model_id).where(Prediction.user_id == account.id)
        deployed = registry.deployed_model_ids(account.company_id)
        statement = statement.where(or_(Model.id.in_(deployed), Model.id.in_(used)))
    models = db.session.scalars(
        statement.options(joinedload(Model.model_type)).order_by(
            Model.is_default.desc(), Model.model_type_id, Model.version
        )
    )
    choices: dict[str, list[tuple[int, str]]] = {"models": [(m.id, m.label) for m in models]}
    if account.role == "developer":
        users = db.session.scalars(
            select(User).where(User.company_id == account.company_id).order_by(User.name)
        )
        choices["users"] = [(u.id, u.name) for u in users]
    return choices
