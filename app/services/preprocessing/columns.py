"""The upload contract's columns: their names, how uploads are matched to them, how values are
typed for the models, and the column layout that training's preprocessor and the fast encoder
share.

Columns match case-insensitively ignoring surrounding spaces; every missing required column is
reported at once by its canonical name. Any problem raises `InvalidUpload`, whose message is
meant to be shown to a person as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from app.services.errors import DomainError
from app.services.preprocessing.arrow_text import only_bytes

ID_COLUMN = "customerID"
TARGET_COLUMN = "Churn"
CATEGORICAL_FEATURES = [
    "InternetService",
    "OnlineSecurity",
    "TechSupport",
    "Contract",
    "SeniorCitizen",
    "Partner",
    "Dependents",
    "OnlineBackup",
    "DeviceProtection",
    "StreamingTV",
    "StreamingMovies",
    "PaymentMethod",
    "PaperlessBilling",
]
NUMERIC_FEATURES = ["tenure", "TotalCharges", "MonthlyCharges"]
FEATURES = CATEGORICAL_FEATURES + NUMERIC_FEATURES
PREDICTION_COLUMNS = [ID_COLUMN, *FEATURES]
RETRAINING_COLUMNS = [*PREDICTION_COLUMNS, TARGET_COLUMN]

# How the preprocessor of every pipeline is laid out: one transformer per group of inputs, under
# these names, with these steps. Training builds it from this; the fast encoder checks a fitted
# pipeline against it before building the same matrix itself, so the two cannot disagree.
CATEGORICAL_GROUP = "categorical"
NUMERIC_GROUP = "numeric"
COLUMN_LAYOUT: tuple[tuple[str, list[str]], ...] = (
    (CATEGORICAL_GROUP, CATEGORICAL_FEATURES),
    (NUMERIC_GROUP, NUMERIC_FEATURES),
)
CATEGORICAL_STEPS = ("impute", "onehot")
NUMERIC_STEPS = ("impute", "log1p", "scale")

_YES = {"yes", "y", "1", "1.0", "true", "t"}
_NO = {"no", "n", "0", "0.0", "false", "f"}


class InvalidUpload(DomainError):
    """The file cannot be used. `str(error)` is a complete sentence for the person who sent it."""


@dataclass
class PreparedData:
    """A validated upload: the untouched original, and the typed frame the models read."""

    original: pd.DataFrame  # every column as uploaded, in order
    features: pd.DataFrame  # the 16 feature columns under canonical names, typed
    customer_ids: pd.Series
    target: pd.Series | None  # 1 = churn, 0 = stays; only when the target was required
    file_format: str

    @property
    def row_count(self) -> int:
        return len(self.original)


def log1p_nonnegative(values: np.ndarray) -> np.ndarray:
    """log(1 + x) of the numeric inputs, negatives clipped to 0 so junk never becomes NaN."""
    return np.log1p(np.clip(values, 0, None))


def column_key(name: str) -> str:
    """How column names are compared: case-insensitive, surrounding spaces ignored."""
    return str(name).strip().lower()


def match_columns(columns: list[str], required: list[str]) -> dict[str, str]:
    """Map each required canonical name to the upload's column; report all missing ones."""
    by_key = {column_key(c): c for c in columns}
    missing = [name for name in required if column_key(name) not in by_key]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        raise InvalidUpload(
            f"The file is missing the required column{plural}: {', '.join(missing)}."
        )
    return {name: by_key[column_key(name)] for name in required}


def _categorical(column: pd.Series) -> pd.Series:
    values = column.astype(str).str.strip()
    return values.where(values != "", np.nan).astype(object)


def _yes_no(column: pd.Series) -> pd.Series:
    """Yes/No from 0/1, Yes/No, True/False in any case; anything else is missing."""
    keys = column.astype(str).str.strip().str.lower()
    out: pd.Series = pd.Series(np.nan, index=column.index, dtype=object)
    out.loc[keys.isin(_YES)] = "Yes"
    out.loc[keys.isin(_NO)] = "No"
    return out


def yes_no_text(text: Any) -> Any:
    """`_yes_no` of an Arrow text array without nulls, by the same Arrow kernels pandas uses
    for its text (trim, lower, membership): "Yes", "No", or null for anything else."""
    import pyarrow as pa
    import pyarrow.compute as pc

    keys = pc.utf8_lower(pc.utf8_trim_whitespace(text))
    yes = pc.is_in(keys, value_set=pa.array(sorted(_YES), keys.type))
    no = pc.is_in(keys, value_set=pa.array(sorted(_NO), keys.type))
    return pc.if_else(yes, "Yes", pc.if_else(no, "No", pa.scalar(None, pa.string())))


def _numeric(column: pd.Series) -> pd.Series:
    """Floats; blanks, junk and non-finite values ("inf", "1e400") become missing (imputed)."""
    text = column.astype(str).str.strip()
    plain = plain_numbers(text)
    if plain is not None:
        return pd.Series(plain, index=column.index, name=column.name)
    values = pd.to_numeric(text, errors="coerce").astype(float)
    return values.where(np.isfinite(values))


# Bytes of a plain decimal number ("-12.5", "+3", ".5"), and the longest one read the fast way:
# 15 characters hold at most 15 digits, an exact integer below 2**53 divided by an exact power
# of ten, so Arrow's parser and pandas' round it alike.
_PLAIN_BYTES = np.zeros(256, dtype=bool)
_PLAIN_BYTES[list(b"0123456789+-.")] = True
_PLAIN_CHARS = 15
_ARROW_TEXT = pd.StringDtype("pyarrow", na_value=np.nan)


def plain_numbers(text: pd.Series) -> np.ndarray | None:
    """The floats `pd.to_numeric(text, errors="coerce")` gives, read by Arrow in one pass, when
    every cell of the stripped Arrow-backed `text` is blank or a short plain decimal number that
    Arrow reads; else None (junk, exponents, long or odd numbers take pandas' own path). A
    negative zero also gives None: pandas reads "-0" as 0 in a column of whole numbers."""
    if text.dtype != _ARROW_TEXT:
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    array = pa.chunked_array(pa.array(text, from_pandas=True))
    if not only_bytes(array, _PLAIN_BYTES, _PLAIN_CHARS):
        return None
    blank = pc.equal(array, "")
    try:
        numbers = pc.cast(pc.if_else(blank, pa.scalar(None, array.type), array), pa.float64())
    except pa.ArrowInvalid:
        return None
    values = numbers.to_numpy()
    if np.any(np.signbit(values) & (values == 0)):
        return None
    return values


def _target(column: pd.Series) -> pd.Series:
    keys = column.astype(str).str.strip().str.lower()
    known = keys.isin(_YES | _NO)
    if not known.all():
        bad = column[~known]
        examples = ", ".join(repr(v) for v in bad.astype(str).unique()[:3])
        raise InvalidUpload(
            f"The Churn column must hold Yes or No; {len(bad):,} row(s) hold other values "
            f"(for example {examples})."
        )
    return keys.isin(_YES).astype(np.int8)


def coerce_target(column: pd.Series) -> pd.Series:
    """Churn as 1 (Yes) / 0 (No), refusing any other value (InvalidUpload names examples)."""
    return _target(column)


def coerce_features(original: pd.DataFrame, mapping: dict[str, str]) -> pd.DataFrame:
    """The 16 model inputs, typed: categories as stripped text, numbers as floats (NaN if junk)."""
    data = {name: coerce_feature(original[mapping[name]], name) for name in FEATURES}
    return pd.DataFrame(data, index=original.index)


def coerce_feature(column: pd.Series, name: str) -> pd.Series:
    """One model input, typed as `coerce_features` types it."""
    if name in NUMERIC_FEATURES:
        return _numeric(column)
    return _yes_no(column) if name == "SeniorCitizen" else _categorical(column)


def prepare(original: pd.DataFrame, require_target: bool = False) -> PreparedData:
    """Validate a table already read and return what the models need."""
    required = RETRAINING_COLUMNS if require_target else PREDICTION_COLUMNS
    mapping = match_columns(list(original.columns), required)
    features = coerce_features(original, mapping)
    ids = original[mapping[ID_COLUMN]].astype(str).str.strip()
    target = _target(original[mapping[TARGET_COLUMN]]) if require_target else None
    return PreparedData(
        original=original, features=features, customer_ids=ids, target=target, file_format=""
    )
