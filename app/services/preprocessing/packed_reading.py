"""Uploads packed for size: a gzip-compressed CSV (`.csv.gz`) and a Parquet file, read under the
same rules as a CSV (every cell as text, the same caps on rows, columns, cells and the length of
a cell, repeated column names refused). Resource use follows the real content: a gzip stream is
expanded to a temporary file beside the upload, up to a limit, and removed whatever happens; a
Parquet file's own metadata is checked against the caps before any row is read.

A large file can be checked without reading its rows (`estimate_*_rows`): the header and the row
count of the CSV inside a gzip stream (expanded and counted, never kept whole), or of a Parquet
file (its metadata).
"""

from __future__ import annotations

import contextlib
import gzip
import os
import tempfile
import zlib
from collections.abc import Generator, Iterator
from pathlib import Path

import pandas as pd

from app.services.preprocessing.columns import InvalidUpload
from app.services.preprocessing.csv_reading import read_csv_header, read_csv_table, table_frame
from app.services.preprocessing.limits import (
    UploadLimits,
    check_cells,
    check_column_count,
    printable,
    refuse_duplicate_columns,
)
from app.services.preprocessing.row_counting import RowEstimate, count_lines, estimate

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
BLOCK = 1 << 20
_EXPANDS_TOO_MUCH = (
    "This file expands to more than {limit:,} MB of text, more than the app accepts, so it was "
    "refused. Please split it into smaller files."
)


def read_gzip_csv_table(
    path: Path, limits: UploadLimits, rows: int | None = None
) -> tuple[pd.DataFrame, int]:
    """A gzip-compressed CSV, read exactly as the CSV inside it would be (`read_csv_table`)."""
    with _expanded(path, limits) as text:
        return read_csv_table(text, limits, rows)


def estimate_gzip_csv_rows(path: Path, limits: UploadLimits) -> RowEstimate:
    """The header of the CSV inside, checked as `read_csv_table` checks it, and its rows as
    counted (`row_counting`). The stream is expanded once, block by block, under the same
    limits as a whole read; only its start, enough to hold the longest header allowed, is
    written beside the upload (and removed): the rest is counted and dropped."""
    head_bytes = 4 * (limits.header_max_chars + 2)  # a character takes at most 4 bytes
    with contextlib.closing(_gzip_blocks(path, limits)) as blocks, _beside(path) as start:
        with start.open("wb") as out:
            for block in blocks:
                out.write(block)
                if out.tell() >= head_bytes:
                    break
        encoding, _, header = read_csv_header(start, limits)
        counter = count_lines(start, encoding)
        start.unlink()
        for block in blocks:
            counter.add(block)
    return estimate(header, counter)


@contextlib.contextmanager
def _expanded(path: Path, limits: UploadLimits) -> Iterator[Path]:
    """The decompressed CSV as a temporary file beside `path`, removed when the block ends."""
    with _beside(path) as target:
        with target.open("wb") as out:
            for block in _gzip_blocks(path, limits):
                out.write(block)
        yield target


@contextlib.contextmanager
def _beside(path: Path) -> Iterator[Path]:
    """A temporary file beside `path`, removed when the block ends, whatever happens."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".csv")
    os.close(fd)
    target = Path(name)
    try:
        yield target
    finally:
        target.unlink(missing_ok=True)


def _gzip_blocks(path: Path, limits: UploadLimits) -> Generator[bytes, None, None]:
    """The gzip stream's text block by block; a file that is no gzip, is damaged or cut short,
    expands to nothing or past `limits.max_expanded_bytes` is refused."""
    with path.open("rb") as handle:
        if handle.read(2) != GZIP_MAGIC:
            raise InvalidUpload(
                "This file is not gzip-compressed, although its name ends in .gz. If it is a "
                "plain CSV, name it .csv."
            )
    written = 0
    try:
        with gzip.open(path, "rb") as source:
            for block in iter(lambda: source.read(BLOCK), b""):
                written += len(block)
                if written > limits.max_expanded_bytes:
                    raise InvalidUpload(
                        _EXPANDS_TOO_MUCH.format(limit=limits.max_expanded_bytes >> 20)
                    )
                yield block
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise InvalidUpload(
            "This gzip file is damaged or cut short, so it cannot be read. Please compress "
            "the CSV again and upload it."
        ) from error
    if written == 0:
        raise InvalidUpload("The file is empty.")


def read_parquet_table(
    path: Path, limits: UploadLimits, rows: int | None = None
) -> tuple[pd.DataFrame, int]:
    """Every cell of the Parquet file's table as text (numbers as written by Arrow, blanks as
    empty text), under the names of its columns, at most its first `rows`; and its row count."""
    import pyarrow as pa

    file, header = _open_parquet(path, limits)
    try:
        table = file.read()
    except (pa.ArrowException, OSError) as error:
        raise InvalidUpload("This Parquet file is damaged and cannot be read.") from error
    limits.check_rows(table.num_rows, len(header))
    columns = [_as_text(table.column(i), name) for i, name in enumerate(header)]
    text = pa.table(columns, names=[f"c{i}" for i in range(len(header))])
    check_cells(text, header, limits)
    return table_frame(text, header, rows), text.num_rows


def estimate_parquet_rows(path: Path, limits: UploadLimits) -> RowEstimate:
    """The Parquet file's header and its exact row count, from its metadata (checked as
    `read_parquet_table` checks it); no row is read."""
    file, header = _open_parquet(path, limits)
    return RowEstimate(header, file.metadata.num_rows, exact=True)


def _open_parquet(path: Path, limits: UploadLimits):
    """The Parquet file, and its column names, once its metadata is checked against the caps."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    _check_parquet_magic(path)
    try:
        file = pq.ParquetFile(path)
        metadata = file.metadata
        schema = file.schema_arrow
    except (pa.ArrowException, OSError) as error:
        raise InvalidUpload("This Parquet file is damaged and cannot be read.") from error
    header = list(schema.names)
    check_column_count(len(header), limits)
    refuse_duplicate_columns(header)
    limits.check_rows(metadata.num_rows, len(header))
    expanded = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    if expanded > limits.max_expanded_bytes:
        raise InvalidUpload(_EXPANDS_TOO_MUCH.format(limit=limits.max_expanded_bytes >> 20))
    for field in schema:
        if pa.types.is_nested(field.type):
            raise InvalidUpload(
                f"Column {printable(field.name, 60)!r} holds lists or records, not single "
                "values, so this does not look like a table of customers."
            )
    return file, header


def _check_parquet_magic(path: Path) -> None:
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(4)
        handle.seek(max(size - 4, 0))
        tail = handle.read(4)
    if size < 12 or head != PARQUET_MAGIC or tail != PARQUET_MAGIC:
        raise InvalidUpload(
            "This file is not a Parquet file, although its name ends in .parquet. If it is a "
            "CSV, name it .csv."
        )


def _as_text(column, name: str):
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
            column = column.cast(pa.string())  # checked to be UTF-8
        text = column if pa.types.is_string(column.type) else pc.cast(column, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise InvalidUpload(
            f"Column {printable(name, 60)!r} cannot be read as text: {printable(str(error), 120)}"
        ) from error
    return text.fill_null("")
