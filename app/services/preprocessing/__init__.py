"""The one preprocessing contract used by training, retraining and prediction.

- `columns`: the canonical columns, how an upload's columns match them, how values are typed,
  and the column layout of every pipeline's preprocessor;
- `reading`: CSV and `.xlsx` uploads read as text, within limits;
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
from app.services.preprocessing.reading import (
    SUPPORTED_FORMATS,
    UploadLimits,
    file_format_for,
    load_upload,
    read_table,
)

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
    "UploadLimits",
    "coerce_feature",
    "coerce_features",
    "coerce_target",
    "column_key",
    "file_format_for",
    "load_upload",
    "match_columns",
    "prepare",
    "read_table",
]
