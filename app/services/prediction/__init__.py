"""Batch prediction: one service for both roles.

- `intake`: the form's values and the upload, checked before any work, then scored or queued;
- `scoring`: the scoring job, in bounded chunks;
- `slices`: its first pass, a one-chunk file's slices side by side on every core;
- `results`: the result files and their downloads;
- `rowstore`: every scored row's decision columns, memory-mapped for pages and call lists;
- `browse`: every row paged, sorted and searched; the call list; the page's campaign part;
- `summary`: the figures a prediction page shows;
- `history`: who may see which prediction, and the filtered history.
"""

from app.services.prediction.browse import (
    CallList,
    Campaign,
    RowsView,
    call_list,
    campaign_view,
    rows_view,
    scored_costs,
)
from app.services.prediction.history import (
    HistoryFilters,
    history_choices,
    prediction_for,
    prediction_history,
)
from app.services.prediction.intake import InvalidPrediction, create_prediction
from app.services.prediction.results import (
    PREDICTION_COLUMN,
    PROBABILITY_COLUMN,
    PredictionNotFound,
    ResultFile,
    download_formats,
    neutralise,
    result_file,
)
from app.services.prediction.scoring import score_prediction, score_to_files

__all__ = [
    "PREDICTION_COLUMN",
    "PROBABILITY_COLUMN",
    "CallList",
    "Campaign",
    "RowsView",
    "call_list",
    "campaign_view",
    "rows_view",
    "scored_costs",
    "HistoryFilters",
    "InvalidPrediction",
    "PredictionNotFound",
    "ResultFile",
    "create_prediction",
    "download_formats",
    "history_choices",
    "neutralise",
    "prediction_for",
    "prediction_history",
    "result_file",
    "score_prediction",
    "score_to_files",
]
