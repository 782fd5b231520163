"""The one preprocessing contract used by training, retraining and prediction.

- `columns`: the canonical columns, how an upload's columns match them, how values are typed,
  and the column layout of every pipeline's preprocessor;
- `limits`: what an upload may hold, and the checks every reader shares;
- `reading`: CSV (`csv_reading`) and `.xlsx` (`xlsx_table`, over the streaming reader in
  `xlsx`) uploads read as text, within those limits;
- `encoding`: the fast encoder that mirrors the fitted preprocessor.
"""

from app.services.preprocessing.columns import (
    CATEGORICAL_FEATURES,
    FEATURES,
    ID_COLUMN,
    NUMERIC_FEATURES,
    PREDICTION_COLUMNS,
    RETRAINING_COLUMNS,
    TARGET_COLUMN,
    InvalidUpload,
    PreparedData,
    coerce_feature,
    coerce_features,
    coerce_target,
    column_key,
    match_columns,
    prepare,
)
from app.services.preprocessing.limits import UploadLimits
from app.services.preprocessing.reading import (
    SUPPORTED_FORMATS,
    TableHead,
    file_format_for,
    load_upload,
    read_head,
    read_table,
)
from app.services.preprocessing.xlsx_table import number_columns

__all__ = [
    "CATEGORICAL_FEATURES",
    "FEATURES",
    "ID_COLUMN",
    "NUMERIC_FEATURES",
    "PREDICTION_COLUMNS",
    "RETRAINING_COLUMNS",
    "SUPPORTED_FORMATS",
    "TARGET_COLUMN",
    "InvalidUpload",
    "PreparedData",
    "TableHead",
    "UploadLimits",
    "coerce_feature",
    "coerce_features",
    "coerce_target",
    "column_key",
    "file_format_for",
    "load_upload",
    "match_columns",
    "number_columns",
    "prepare",
    "read_head",
    "read_table",
]
