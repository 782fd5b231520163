"""Reading a finished result beyond its summary: every row (paged, sorted, searched), the call
list, and the campaign part of the prediction page (costs then and now, the capacity question).

All of it reads the row store (`rowstore`): a page or a call list touches only its own rows.
The caller has already checked that the viewer may see the prediction (`prediction_for`).
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.schema import Company, Prediction
from app.services import storage
from app.services.decisions import CapacityPlan, Costs, capacity_plan, company_costs
from app.services.prediction.results import (
    EXPECTED_VALUE_COLUMN,
    PROBABILITY_COLUMN,
    RANK_COLUMN,
    REASON_COLUMNS,
    WARNINGS_COLUMN,
    PredictionNotFound,
    neutralise,
    safe_download_stem,
)
from app.services.prediction.rowstore import REASON_FIELDS, RowStore
from app.services.preprocessing import ID_COLUMN

ROWS_PER_PAGE = 50
QUERY_MAX = 64
MAX_CAPACITY = 10_000_000
CALL_LIST_BATCH = 20_000
CAPACITY_PREVIEW = 10
# The row store keeps one order (risk): these sorts read it forwards or backwards.
SORTS = {
    "rank": ("Highest risk first (Risk Rank 1 first)", "rank"),
    "-rank": ("Lowest risk first", "-rank"),
    "probability": ("Highest probability first", "rank"),
    "-probability": ("Lowest probability first", "-rank"),
    "expected_value": ("Highest expected value first", "rank"),
    "-expected_value": ("Lowest expected value first", "-rank"),
    "row": ("Order of the file", "row"),
}
COST_SORTS = {"expected_value", "-expected_value"}


def row_store(prediction: Prediction) -> RowStore | None:
    """The prediction's row store, or None for a result scored before row stores existed."""
    if prediction.status != "done" or not prediction.summary:
        raise PredictionNotFound("This prediction has no result yet.")
    relative = prediction.summary.get("row_store")
    if not relative:
        return None
    paths = {name: storage.dataset_file(path) for name, path in relative.items()}
    if not all(path.exists() for path in paths.values()):
        raise PredictionNotFound("The result's rows are missing.")
    return RowStore(paths["table"], paths["ranks"], paths["order"])


def scored_costs(prediction: Prediction) -> Costs | None:
    """The costs the prediction was scored with (None: it was scored without costs)."""
    return Costs.from_dict((prediction.summary or {}).get("costs"))


# Every row ----------------------------------------------------------------------------------------


@dataclass
class RowsView:
    available: bool  # False for a result scored before row stores existed
    rows: list[dict[str, Any]] = field(default_factory=list)
    page: int = 1
    pages: int = 1
    total: int = 0
    sort: str = "rank"
    query: str = ""
    with_costs: bool = False
    sorts: list[tuple[str, str]] = field(default_factory=list)

    @property
    def first(self) -> int:
        return (self.page - 1) * ROWS_PER_PAGE + 1 if self.total else 0

    @property
    def last(self) -> int:
        return min(self.page * ROWS_PER_PAGE, self.total)

    def args(self, **changes: object) -> dict[str, str]:
        """The query string of this view with `changes`, for links that keep the rest."""
        values: dict[str, object] = {"sort": self.sort, "q": self.query, "page": self.page}
        values.update(changes)
        return {key: str(value) for key, value in values.items() if value not in ("", None)}


def rows_view(prediction: Prediction, args: Mapping[str, str], page: int) -> RowsView:
    """One page of the prediction's rows, as the query `args` (sort, q) asks."""
    with_costs = scored_costs(prediction) is not None
    sorts = [
        (key, label) for key, (label, _) in SORTS.items() if with_costs or key not in COST_SORTS
    ]
    sort = args.get("sort") or "rank"
    if sort not in dict(sorts):
        sort = "rank"
    query = " ".join((args.get("q") or "").split())[:QUERY_MAX]
    store = row_store(prediction) if prediction.is_done and prediction.summary else None
    if store is None:
        return RowsView(available=False, sort=sort, query=query, sorts=sorts)
    order = SORTS[sort][1]
    page = max(page, 1)
    shown = store.page(order, query, (page - 1) * ROWS_PER_PAGE, ROWS_PER_PAGE)
    pages = max(1, math.ceil(shown.total / ROWS_PER_PAGE))
    if page > pages:  # past the end: the last page
        page = pages
        shown = store.page(order, query, (page - 1) * ROWS_PER_PAGE, ROWS_PER_PAGE)
    return RowsView(
        available=True,
        rows=[_shown_row(row) for row in shown.rows],
        page=page,
        pages=pages,
        total=shown.total,
        sort=sort,
        query=query,
        with_costs=with_costs,
        sorts=sorts,
    )


def _shown_row(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row["reasons"] = [row.pop(name) for name in REASON_FIELDS]
    row["reasons"] = [reason for reason in row["reasons"] if reason]
    return row


# The call list ------------------------------------------------------------------------------------

CALL_LIST_COLUMNS = [
    RANK_COLUMN,
    "Row",
    ID_COLUMN,
    PROBABILITY_COLUMN,
    EXPECTED_VALUE_COLUMN,
    *REASON_COLUMNS,
    WARNINGS_COLUMN,
]


@dataclass
class CallList:
    download_name: str
    rows: int
    chunks: Iterator[bytes]


def worth_calling(prediction: Prediction) -> int:
    """How many of the prediction's customers have a positive expected value."""
    campaign = (prediction.summary or {}).get("campaign") or {}
    return int(campaign.get("best", 0))


def call_list(prediction: Prediction, limit: int | None = None) -> CallList:
    """The customers with `Contact = Yes`, best expected value first (the best `limit` of them
    when given), as CSV with their reasons. With constant costs the expected value falls along
    the risk ranks, so they are the first ranks."""
    if scored_costs(prediction) is None:
        raise PredictionNotFound(
            "This prediction was scored without costs, so it has no call list. Set the costs "
            "and run the prediction again."
        )
    store = row_store(prediction)
    if store is None:
        raise PredictionNotFound("This prediction was scored before call lists existed.")
    count = worth_calling(prediction)
    if limit is not None:
        count = min(count, max(limit, 0))
    name = f"{safe_download_stem(prediction.name)}-call-list.csv"
    return CallList(name, count, _call_list_csv(store, count))


def _call_list_csv(store: RowStore, count: int) -> Iterator[bytes]:
    import pyarrow as pa
    from pyarrow import csv as pa_csv

    first = True
    for start in range(0, count, CALL_LIST_BATCH) if count else [0]:
        stop = min(start + CALL_LIST_BATCH, count)
        table = store.take_table(store.order[start:stop])
        ranks = pa.array(range(start + 1, stop + 1), type=pa.int32())
        columns = [
            ranks,
            table.column("row"),
            _neutralised(table.column("customerID")),
            table.column("probability"),
            table.column("expected_value"),
            *[_neutralised(table.column(name)) for name in REASON_FIELDS],
            _neutralised(table.column("warnings")),
        ]
        out = io.BytesIO()
        options = pa_csv.WriteOptions(include_header=first)
        pa_csv.write_csv(pa.table(columns, names=CALL_LIST_COLUMNS), out, options)
        first = False
        yield out.getvalue()


def _neutralised(column: Any) -> Any:
    import pyarrow as pa

    return pa.array([neutralise(v) if v else v for v in column.to_pylist()], type=pa.string())


# The campaign part of the prediction page ---------------------------------------------------------


@dataclass
class Campaign:
    """What the prediction page says about contacting customers."""

    state: str  # "scored" (with costs), "costs_later" (scored before they were set), "no_costs"
    costs: Costs | None = None  # the costs the prediction was scored with
    current: Costs | None = None  # the company's costs now
    changed_since: bool = False  # the company's costs differ from those it was scored with
    curve: dict[str, Any] | None = None
    plan: CapacityPlan | None = None
    plan_rows: list[dict[str, Any]] = field(default_factory=list)
    capacity_error: str | None = None


def campaign_view(prediction: Prediction, company: Company, capacity: str | None) -> Campaign:
    """The campaign of a finished prediction; `capacity` is the page's "we can call N" answer."""
    current = company_costs(company)
    costs = scored_costs(prediction)
    if costs is None:
        return Campaign(state="costs_later" if current else "no_costs", current=current)
    view = Campaign(
        state="scored",
        costs=costs,
        current=current,
        changed_since=current is not None and current != costs,
        curve=(prediction.summary or {}).get("campaign"),
    )
    if capacity is None or not capacity.strip():
        return view
    try:
        wanted = int(capacity.strip().replace(",", ""))
    except ValueError:
        wanted = 0
    if not 1 <= wanted <= MAX_CAPACITY:
        view.capacity_error = "Enter how many customers you can contact, as a whole number."
        return view
    store = row_store(prediction)
    if store is None:
        return view
    calls = min(wanted, worth_calling(prediction))
    view.plan = capacity_plan(wanted, worth_calling(prediction), store.expected_gain(calls))
    view.plan_rows = [
        _shown_row(row) for row in store.take(store.order[: min(calls, CAPACITY_PREVIEW)])
    ]
    return view
