"""The row store of a result: every scored row's decision columns beside the result files, so a
page of rows, a search or the call list reads only what it shows.

Three files share the result's stem:

- `<stem>.rows.arrow`: an uncompressed Arrow IPC file, one record batch per scored chunk, in the
  upload's row order (row number, customerID, probability, reasons, warnings, expected value,
  contact). It is memory-mapped: reading rows touches only their bytes, whatever the file's size.
- `<stem>.ranks.npy`: each row's risk rank (int32);
- `<stem>.order.npy`: the row at each rank (int32), so a page in risk order is a slice.

A page therefore costs the same for a thousand rows as for a million: two small slices of
memory-mapped arrays and a take of the page's rows. Only a search scans one column (customerID).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.services.decisions import REASON_COUNT, DecisionColumns

TABLE_SUFFIX = ".rows.arrow"
RANKS_SUFFIX = ".ranks.npy"
ORDER_SUFFIX = ".order.npy"
REASON_FIELDS = tuple(f"reason_{n}" for n in range(1, REASON_COUNT + 1))


def row_store_paths(stem: str) -> dict[str, str]:
    """The row store's relative paths for a result whose files are `<stem>.csv`, …"""
    return {
        "table": f"{stem}{TABLE_SUFFIX}",
        "ranks": f"{stem}{RANKS_SUFFIX}",
        "order": f"{stem}{ORDER_SUFFIX}",
    }


def _schema():
    import pyarrow as pa

    return pa.schema(
        [
            ("row", pa.int32()),
            ("customerID", pa.string()),
            ("probability", pa.float64()),
            *[(name, pa.string()) for name in REASON_FIELDS],
            ("warnings", pa.string()),
            ("expected_value", pa.float64()),
            ("contact", pa.bool_()),
        ]
    )


class RowStoreWriter:
    """Writes the table chunk by chunk (while scoring), then the rank files."""

    def __init__(self, table: Path) -> None:
        import pyarrow as pa

        self.path = table
        self.schema = _schema()
        self._sink = pa.OSFile(str(table), "wb")
        self._writer = pa.ipc.new_file(self._sink, self.schema)
        self.rows = 0

    def write(self, ids: Any, probability: np.ndarray, columns: DecisionColumns) -> None:
        import pyarrow as pa

        count = len(probability)
        ids = pa.array(ids, from_pandas=True)
        if isinstance(ids, pa.ChunkedArray):  # Arrow-backed text read in several blocks
            ids = ids.combine_chunks()
        rows = np.arange(self.rows + 1, self.rows + count + 1, dtype=np.int32)
        arrays = [
            pa.array(rows),
            ids.cast(pa.string()),
            pa.array(probability, type=pa.float64()),
            *[reasons.cast(pa.string()) for reasons in columns.reasons],
            pa.array(columns.warnings, type=pa.string()),
            pa.array(columns.expected_value, type=pa.float64())
            if columns.expected_value is not None
            else pa.nulls(count, pa.float64()),
            pa.array(columns.contact, type=pa.bool_())
            if columns.contact is not None
            else pa.nulls(count, pa.bool_()),
        ]
        self._writer.write_batch(pa.record_batch(arrays, schema=self.schema))
        self.rows += count

    def close(self) -> None:
        self._writer.close()
        self._sink.close()


def write_ranks(path: Path, values: np.ndarray) -> None:
    with path.open("wb") as handle:
        np.save(handle, np.ascontiguousarray(values, dtype=np.int32))


@dataclass
class RowPage:
    rows: list[dict[str, Any]]  # the table's fields and `rank`, in the requested order
    total: int  # rows matching the search (all rows without one)


SORTS = ("rank", "-rank", "row")  # by risk (1 first), lowest risk first, the file's order


class RowStore:
    """A finished row store, memory-mapped for reading."""

    def __init__(self, table: Path, ranks: Path, order: Path) -> None:
        import pyarrow as pa

        self._reader = pa.ipc.open_file(pa.memory_map(str(table), "r"))
        sizes = [self._reader.get_batch(i).num_rows for i in range(self._reader.num_record_batches)]
        self.starts = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
        self.ranks = np.load(ranks, mmap_mode="r")
        self.order = np.load(order, mmap_mode="r")

    @property
    def rows(self) -> int:
        return int(self.starts[-1])

    @property
    def batches(self) -> int:
        return len(self.starts) - 1

    def batch(self, index: int):
        """Record batch `index` (the rows of one scored chunk), zero-copy."""
        return self._reader.get_batch(index)

    def take_table(self, positions: np.ndarray):
        """The rows at 0-based `positions`, in that order, as an Arrow table."""
        import pyarrow as pa

        positions = np.asarray(positions, dtype=np.int64)
        if not len(positions):
            return _schema().empty_table()
        owners = np.searchsorted(self.starts, positions, side="right") - 1
        parts, placed = [], []
        for owner in np.unique(owners):
            inside = np.flatnonzero(owners == owner)
            local = pa.array(positions[inside] - self.starts[owner])
            parts.append(self.batch(int(owner)).take(local))
            placed.append(inside)
        table = pa.Table.from_batches(parts)
        if len(parts) == 1 and np.array_equal(placed[0], np.arange(len(positions))):
            return table
        back = np.empty(len(positions), dtype=np.int64)
        back[np.concatenate(placed)] = np.arange(len(positions))
        return table.take(pa.array(back))

    def take(self, positions: np.ndarray) -> list[dict[str, Any]]:
        """The rows at 0-based `positions` (in that order), each with its `rank`."""
        positions = np.asarray(positions, dtype=np.int64)
        rows = self.take_table(positions).to_pylist()
        for row, position in zip(rows, positions.tolist(), strict=True):
            row["rank"] = int(self.ranks[position])
        return rows

    def matching(self, query: str) -> np.ndarray:
        """0-based positions of the rows whose customerID contains `query` (any case)."""
        import pyarrow.compute as pc

        hits = []
        for index in range(self.batches):
            column = self.batch(index).column("customerID")
            mask = pc.match_substring(column, query, ignore_case=True).fill_null(False)
            hits.append(np.flatnonzero(mask.to_numpy(zero_copy_only=False)) + self.starts[index])
        return np.concatenate(hits) if hits else np.zeros(0, dtype=np.int64)

    def page(self, sort: str, query: str, offset: int, limit: int) -> RowPage:
        """`limit` rows from `offset` in the order `sort` (see SORTS), those whose customerID
        contains `query` when it is not empty."""
        if query:
            positions = self.matching(query)
            if sort != "row":
                positions = positions[np.argsort(self.ranks[positions], kind="stable")]
                if sort == "-rank":
                    positions = positions[::-1]
            return RowPage(self.take(positions[offset : offset + limit]), len(positions))
        stop = min(offset + limit, self.rows)
        if sort == "row":
            positions = np.arange(offset, stop)
        elif sort == "-rank":
            positions = self.order[::-1][offset:stop]  # views of the memory map: no copy
        else:
            positions = self.order[offset:stop]
        return RowPage(self.take(np.asarray(positions)), self.rows)

    def column(self, name: str, positions: np.ndarray) -> np.ndarray:
        """One numeric column's values at 0-based `positions` (in that order)."""
        import pyarrow as pa

        positions = np.asarray(positions, dtype=np.int64)
        values = np.empty(len(positions), dtype=np.float64)
        owners = np.searchsorted(self.starts, positions, side="right") - 1
        for owner in np.unique(owners):
            inside = owners == owner
            local = pa.array(positions[inside] - self.starts[owner])
            taken = self.batch(int(owner)).column(name).take(local)
            values[inside] = taken.to_numpy(zero_copy_only=False)
        return values

    def expected_gain(self, count: int) -> float:
        """The sum of the expected values of the `count` highest-ranked rows."""
        count = max(0, min(count, self.rows))
        return float(np.nansum(self.column("expected_value", self.order[:count])))
