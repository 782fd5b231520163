"""A workbook's first sheet as a table of text, read as a stream of rows within the upload
limits, and built into Arrow columns a batch at a time so memory follows the real content.

Text cells stay exactly as stored ("00123", "1E3", "0.50"); number cells read as Excel shows
them. The columns whose every cell was a number are listed in the frame's
`attrs["number_columns"]`, so an `.xlsx` result can write them back as numbers and everything
else as text.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from app.services.preprocessing.columns import InvalidUpload
from app.services.preprocessing.limits import (
    UploadLimits,
    cell_too_long,
    check_column_count,
    printable,
    refuse_duplicate_columns,
    too_many_columns,
)
from app.services.preprocessing.xlsx import (
    CellTooLong,
    ColumnBlock,
    NumberText,
    PartTooLarge,
    SharedStringBudgetExceeded,
    TooManyColumns,
    TooManyRows,
    XlsxError,
    XlsxLimitError,
    iter_xlsx_blocks,
)

NUMBER_COLUMNS = "number_columns"
BATCH_CELLS = 1_000_000  # cells gathered as Python lists before they become Arrow arrays


def number_columns(frame: pd.DataFrame) -> list[str]:
    """The columns of an upload read from a workbook whose every cell was a number."""
    return list(frame.attrs.get(NUMBER_COLUMNS, []))


def read_xlsx_table(
    path: Path, limits: UploadLimits, stop_after: int | None = None
) -> tuple[pd.DataFrame, bool]:
    """(the table, whether every row was read): at most `stop_after` rows when given."""
    try:
        header, blocks = iter_xlsx_blocks(
            path,
            max_columns=limits.max_columns,
            max_cell_chars=limits.max_cell_chars,
            max_rows=limits.max_rows,
            max_shared_chars=limits.xlsx_max_expanded_chars,
        )
        check_column_count(len(header), limits)
        refuse_duplicate_columns(header)
        width = len(header)
        columns = _Columns(width)
        complete = True
        count = 0
        try:
            for block in blocks:
                take = len(block)
                if stop_after is not None and count + take > stop_after:
                    take = stop_after - count
                    complete = False
                if isinstance(block, ColumnBlock):
                    columns.add_block(block, take)
                    _check_rows(limits, count, count + take, width)
                    count += take
                else:
                    for row in block[:take]:
                        count += 1
                        columns.add(row)
                        limits.check_rows(count, width)
                if not complete:
                    break
        finally:
            close = getattr(blocks, "close", None)  # a generator: closing it closes the file
            if close is not None:
                close()
    except XlsxLimitError as error:
        raise _limit_refusal(error, limits) from error
    except XlsxError as error:
        raise InvalidUpload("This Excel workbook could not be read. Is it damaged?") from error
    frame = columns.frame(header)
    return frame, complete


def _check_rows(limits: UploadLimits, done: int, count: int, width: int) -> None:
    """`limits.check_rows` for each of the rows done+1..count, in order (a limit once passed
    stays passed, so only the last needs checking unless it fails)."""
    try:
        limits.check_rows(count, width)
    except InvalidUpload:
        for rows in range(done + 1, count + 1):
            limits.check_rows(rows, width)
        raise


def _limit_refusal(error: XlsxLimitError, limits: UploadLimits) -> InvalidUpload:
    if isinstance(error, CellTooLong):
        return cell_too_long(limits)
    if isinstance(error, TooManyColumns):
        return too_many_columns(limits)
    if isinstance(error, TooManyRows):
        return InvalidUpload(
            f"The workbook has more than {limits.max_rows:,} rows; the limit is "
            f"{limits.max_rows:,}. Please split it into smaller files."
        )
    if isinstance(error, (SharedStringBudgetExceeded, PartTooLarge)):
        return InvalidUpload(
            "This workbook expands to far more data than its size suggests, so it was "
            "refused. Please save the data as a plain CSV or a normal .xlsx."
        )
    return InvalidUpload(
        f"This workbook cannot be used as a table: {printable(str(error), 160)}. Please keep "
        "one table on the first sheet, with a header above every column that holds values."
    )


class _Columns:
    """The table's columns: recent rows as Python lists, older ones as Arrow arrays."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.pending: list[list[str]] = [[] for _ in range(width)]
        self.arrays: list[list] = [[] for _ in range(width)]
        self.numeric = [True] * width  # every non-empty cell so far was a number
        self.seen_number = [False] * width
        self.batch_rows = max(1, BATCH_CELLS // max(width, 1))

    def add(self, row: list[str]) -> None:
        for column, value in zip(self.pending, row, strict=True):
            column.append(value)
        if len(self.pending[0]) >= self.batch_rows:
            self._flush()

    def add_block(self, block: ColumnBlock, rows: int) -> None:
        """The first `rows` rows of a block, after the rows added before."""
        if not rows:
            return
        self._flush()
        arrays, numeric, seen = block.head(rows)
        for i, array in enumerate(arrays):
            self.arrays[i].append(array)
            self.numeric[i] = self.numeric[i] and numeric[i]
            self.seen_number[i] = self.seen_number[i] or seen[i]

    def _flush(self) -> None:
        import pyarrow as pa

        for i, values in enumerate(self.pending):
            if self.numeric[i]:
                for value in values:
                    if value:
                        if type(value) is not NumberText:
                            self.numeric[i] = False
                            break
                        self.seen_number[i] = True
            self.arrays[i].append(pa.array(values, type=pa.string()))
        self.pending = [[] for _ in range(self.width)]

    def frame(self, header: list[str]) -> pd.DataFrame:
        import pyarrow as pa

        self._flush()
        table = pa.table(
            [pa.chunked_array(arrays, type=pa.string()) for arrays in self.arrays],
            names=[f"c{i}" for i in range(self.width)],
        )
        frame = table.to_pandas()
        frame.columns = header
        frame.attrs[NUMBER_COLUMNS] = [
            name
            for name, numeric, seen in zip(header, self.numeric, self.seen_number, strict=True)
            if numeric and seen
        ]
        return frame
