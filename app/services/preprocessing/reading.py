"""Reading uploads: a CSV (plain, or gzip-compressed), a Parquet file or an `.xlsx` workbook,
every cell as text, so the result file can
repeat the upload as it came. Anything unreadable, or over a limit, raises `InvalidUpload` with a
message for the person who sent it.

`read_table` reads a whole file; `read_head` reads what a request needs to decide: a file that
has at most the rows asked for is read and checked whole, a larger one is checked on its header
and its row count only, and the whole read is left to a job. A large workbook's first rows are
streamed, and its declared rows checked against the limit; a large CSV (plain or gzip) or
Parquet file is not parsed at all: its rows are counted (`row_counting`, Parquet's metadata),
and a count clearly over the limit is refused.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from app.services.preprocessing.columns import InvalidUpload, PreparedData, prepare
from app.services.preprocessing.csv_reading import read_csv_table
from app.services.preprocessing.limits import UploadLimits
from app.services.preprocessing.packed_reading import (
    estimate_gzip_csv_rows,
    estimate_parquet_rows,
    read_gzip_csv_table,
    read_parquet_table,
)
from app.services.preprocessing.row_counting import RowEstimate, estimate_csv_rows
from app.services.preprocessing.xlsx_table import read_xlsx_table

# A format is the stored file's extension: "gz" is a gzip-compressed CSV (uploaded as .csv.gz).
SUPPORTED_FORMATS = ("csv", "xlsx", "gz", "parquet")
FORMATS_HINT = "Please upload a .csv, .csv.gz, .parquet or .xlsx file."
# Formats read whole and checked whole, of which only the first rows asked for become a frame;
# and how each counts its rows without reading them.
_TABLE_READERS = {"csv": read_csv_table, "gz": read_gzip_csv_table, "parquet": read_parquet_table}
_ROW_COUNTERS = {
    "csv": estimate_csv_rows,
    "gz": estimate_gzip_csv_rows,
    "parquet": estimate_parquet_rows,
}
_ZIP_MAGIC = b"PK\x03\x04"
_DIMENSION = re.compile(rb'<dimension ref="[A-Z]+\d+:[A-Z]+(\d+)"')
# The rows a workbook that declares more than `rows` rows is read for in the request: enough to
# check its first rows (one declaring fewer rows than it holds is read up to `rows`).
XLSX_GLANCE_ROWS = 100


def file_format_for(filename: str | None) -> str:
    """'csv', 'xlsx', 'gz' (a .csv.gz) or 'parquet' from a client's file name; anything else is
    refused."""
    name = (filename or "").strip().lower()
    if name.endswith(".csv.gz"):
        return "gz"
    suffix = Path(name).suffix.lstrip(".")
    if suffix not in SUPPORTED_FORMATS or suffix == "gz":
        raise InvalidUpload(FORMATS_HINT)
    return suffix


@dataclass
class TableHead:
    """The first rows of an upload: all of them when `complete` (none of a large CSV or Parquet
    file, whose frame is its header)."""

    frame: pd.DataFrame
    complete: bool
    # The rows of a CSV or Parquet file (as counted, if it was not read); a workbook's claim.
    declared_rows: int | None

    @property
    def row_count(self) -> int:
        """The rows read, or (a large file) the rows it declares or was counted to have,
        whichever is larger: shown until the job has read the file."""
        return max(len(self.frame), self.declared_rows or 0)


def read_table(path: Path, file_format: str, limits: UploadLimits | None = None) -> pd.DataFrame:
    """Read the whole upload with every cell as text (so the result file can repeat it as is)."""
    return read_head(path, file_format, limits).frame


def read_head(
    path: Path, file_format: str, limits: UploadLimits | None = None, rows: int | None = None
) -> TableHead:
    """The header and the first `rows` rows (all rows when None) of the upload.

    A CSV (plain or gzip) or Parquet file counted to have at most `rows` rows is read and
    checked whole; a larger one is checked on its header and its row count only, and comes
    back as its header (an empty frame), incomplete, with the count as its declared rows: the
    job that reads it whole refuses what the rows hold. A workbook is read as a stream of rows
    and stops after `rows`, or after its first XLSX_GLANCE_ROWS rows when it declares more
    than `rows` (its dimension), so checking a large one costs little."""
    limits = limits or UploadLimits()
    if path.stat().st_size == 0:
        raise InvalidUpload("The file is empty.")
    declared = None
    if file_format == "xlsx":
        declared = _check_xlsx_archive(path, limits)
        if rows is not None and declared is not None and declared > rows:
            rows = min(rows, XLSX_GLANCE_ROWS)  # too large for the request: the job reads it
        frame, complete = read_xlsx_table(path, limits, rows)
    elif file_format in _TABLE_READERS:
        if rows is not None:
            counted = _ROW_COUNTERS[file_format](path, limits)
            if counted.rows > rows:
                return _header_only(counted, limits)
        frame, declared = _TABLE_READERS[file_format](path, limits, rows)
        complete = declared <= len(frame)
    else:
        raise InvalidUpload(FORMATS_HINT)
    if len(frame.columns) == 0:
        raise InvalidUpload("The file has no columns: it does not look like a table.")
    if len(frame) == 0:
        raise InvalidUpload("The file has a header but no data rows.")
    limits.check_rows(len(frame), len(frame.columns))
    return TableHead(frame, complete, declared)


def _header_only(counted: RowEstimate, limits: UploadLimits) -> TableHead:
    """A file too large to read in the request: its header as an empty frame of text, and its
    rows as counted. A count that is the real one (no cell can span lines) is refused if it is
    over the limits; one that may be above it (a quoted cell may hold a line break) is left to
    the job's whole read."""
    if not counted.header:
        raise InvalidUpload("The file has no columns: it does not look like a table.")
    if counted.exact:
        if counted.rows > limits.max_rows:
            raise InvalidUpload(
                f"The file has about {counted.rows:,} rows; the limit is "
                f"{limits.max_rows:,}. Please split it into smaller files."
            )
        limits.check_rows(counted.rows, len(counted.header))
    names = [f"c{i}" for i in range(len(counted.header))]  # the header's names may repeat ("")
    frame = pd.DataFrame({name: pd.Series(dtype=object) for name in names})
    frame.columns = counted.header
    return TableHead(frame, False, counted.rows)


def _check_xlsx_archive(path: Path, limits: UploadLimits) -> int | None:
    """Refuse a workbook that is not a zip, or whose expanded size is out of proportion;
    return the number of rows its first sheet declares, if it does."""
    with path.open("rb") as handle:
        if handle.read(4) != _ZIP_MAGIC:
            raise InvalidUpload(
                "This file is not an Excel workbook, although its name ends in .xlsx. "
                "If it is a CSV, name it .csv."
            )
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        raise InvalidUpload("This Excel workbook is damaged and cannot be opened.") from error
    with archive:
        names = set(archive.namelist())
        if "xl/workbook.xml" not in names:
            raise InvalidUpload("This file is a zip archive, not an Excel workbook.")
        infos = archive.infolist()
        uncompressed = sum(info.file_size for info in infos)
        compressed = max(sum(info.compress_size for info in infos), 1)
        if uncompressed > limits.xlsx_max_uncompressed_bytes or (
            uncompressed > 10 * 1024 * 1024
            and uncompressed / compressed > limits.xlsx_max_compression_ratio
        ):
            raise InvalidUpload(
                "This workbook expands to far more data than its size suggests, so it was "
                "refused. Please save the data as a plain CSV or a normal .xlsx."
            )
        sheets = sorted(n for n in names if n.startswith("xl/worksheets/sheet"))
        if not sheets:
            return None
        try:
            with archive.open(sheets[0]) as sheet:
                match = _DIMENSION.search(sheet.read(4096))
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as error:
            raise InvalidUpload("This Excel workbook is damaged and cannot be opened.") from error
    declared = int(match.group(1)) - 1 if match else None
    if declared is not None and declared > limits.max_rows:
        raise InvalidUpload(
            f"The workbook has about {declared:,} rows; the limit is "
            f"{limits.max_rows:,}. Please split it into smaller files."
        )
    return declared


def load_upload(
    path: Path, file_format: str, require_target: bool = False, limits: UploadLimits | None = None
) -> PreparedData:
    """Read and validate an upload in one step (raises InvalidUpload with a clear message)."""
    prepared = prepare(read_table(path, file_format, limits), require_target=require_target)
    prepared.file_format = file_format
    return prepared
