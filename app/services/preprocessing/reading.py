"""Reading uploads: a CSV (delimiter sniffed, UTF-8 with or without BOM) or an `.xlsx` workbook,
every cell as text, so the result file can repeat the upload as it came. Anything unreadable or
too large raises `InvalidUpload` with a message for the person who sent it.
"""

from __future__ import annotations

import codecs
import csv
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from app.services.preprocessing.columns import (
    InvalidUpload,
    PreparedData,
    column_key,
    prepare,
)

SUPPORTED_FORMATS = ("csv", "xlsx")
SNIFF_BYTES = 64 * 1024
CSV_DELIMITERS = ",;\t|"
_ZIP_MAGIC = b"PK\x03\x04"
_DIMENSION = re.compile(rb'<dimension ref="[A-Z]+\d+:[A-Z]+(\d+)"')


@dataclass(frozen=True)
class UploadLimits:
    max_rows: int = 2_000_000
    xlsx_max_uncompressed_bytes: int = 800 * 1024 * 1024
    xlsx_max_compression_ratio: int = 100

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> UploadLimits:
        """The limits an app's settings give (MAX_UPLOAD_ROWS, XLSX_MAX_*)."""
        return cls(
            max_rows=config["MAX_UPLOAD_ROWS"],
            xlsx_max_uncompressed_bytes=config["XLSX_MAX_UNCOMPRESSED_BYTES"],
            xlsx_max_compression_ratio=config["XLSX_MAX_COMPRESSION_RATIO"],
        )


def file_format_for(filename: str | None) -> str:
    """'csv' or 'xlsx' from a client's file name; anything else is refused."""
    suffix = Path(filename or "").suffix.lower().lstrip(".")
    if suffix not in SUPPORTED_FORMATS:
        raise InvalidUpload("Please upload a .csv or .xlsx file.")
    return suffix


# Reading -------------------------------------------------------------------------------------


def read_table(path: Path, file_format: str, limits: UploadLimits | None = None) -> pd.DataFrame:
    """Read the whole upload with every cell as text (so the result file can repeat it as is)."""
    limits = limits or UploadLimits()
    if path.stat().st_size == 0:
        raise InvalidUpload("The file is empty.")
    if file_format == "xlsx":
        frame = _read_xlsx(path, limits)
    elif file_format == "csv":
        frame = _read_csv(path)
    else:
        raise InvalidUpload("Please upload a .csv or .xlsx file.")
    if len(frame.columns) == 0:
        raise InvalidUpload("The file has no columns: it does not look like a table.")
    if len(frame) == 0:
        raise InvalidUpload("The file has a header but no data rows.")
    if len(frame) > limits.max_rows:
        raise InvalidUpload(
            f"The file has {len(frame):,} rows; the limit is {limits.max_rows:,}. "
            "Please split it into smaller files."
        )
    return frame


def _sniff_csv(path: Path) -> tuple[str, list[str]]:
    """Return the delimiter and the header names, refusing what is not UTF-8 text."""
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if head.startswith(_ZIP_MAGIC):
        raise InvalidUpload(
            "This file is a zip archive or an Excel workbook, not a CSV. "
            "If it is an Excel file, save it with the .xlsx extension."
        )
    if b"\x00" in head:
        raise InvalidUpload("This file is not a text table (it holds binary data).")
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8) :]
    # The sample may end inside a multi-byte character: decode incrementally.
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as error:
        raise InvalidUpload(
            "The file is not UTF-8 text. Please save the CSV as UTF-8 and upload it again."
        ) from error
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise InvalidUpload("The file has no header row: it does not look like a table.")
    sample = "\n".join(lines[:50])
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=CSV_DELIMITERS).delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in CSV_DELIMITERS}
        delimiter = max(counts, key=lambda d: counts[d])
        if counts[delimiter] == 0:
            raise InvalidUpload(
                "The file has a single column: it does not look like a table of customers."
            ) from None
    header = next(csv.reader([lines[0]], delimiter=delimiter))
    return delimiter, header


def _read_csv(path: Path) -> pd.DataFrame:
    import pyarrow as pa
    from pyarrow import csv as pa_csv

    delimiter, header = _sniff_csv(path)
    _refuse_duplicate_columns(header)
    try:
        table = pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(block_size=8 << 20),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=False),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as error:
        raise InvalidUpload(f"The CSV could not be read: {_arrow_reason(error)}") from error
    frame = table.to_pandas()
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _arrow_reason(error: Exception) -> str:
    message = str(error).split("\n")[0]
    if "Expected" in message and "columns" in message:
        return "some rows have a different number of fields than the header. " + message
    if "UTF8" in message or "utf8" in message.lower():
        return "it is not UTF-8 text. Please save it as UTF-8."
    return message


def _check_xlsx_archive(path: Path, limits: UploadLimits) -> None:
    """Refuse a workbook that is not a zip, or whose expanded size is out of proportion."""
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
        if sheets:
            with archive.open(sheets[0]) as sheet:
                match = _DIMENSION.search(sheet.read(4096))
            if match and int(match.group(1)) - 1 > limits.max_rows:
                raise InvalidUpload(
                    f"The workbook has about {int(match.group(1)) - 1:,} rows; the limit is "
                    f"{limits.max_rows:,}. Please split it into smaller files."
                )


def _read_xlsx(path: Path, limits: UploadLimits) -> pd.DataFrame:
    _check_xlsx_archive(path, limits)
    try:
        frame = pd.read_excel(path, engine="calamine", dtype=object, header=0)
    except Exception as error:
        raise InvalidUpload("This Excel workbook could not be read. Is it damaged?") from error
    frame.columns = [str(c) for c in frame.columns]
    _refuse_duplicate_columns(list(frame.columns))
    frame = frame.dropna(how="all")
    # Cells come back as numbers, text or empty; the result file shows them as text.
    return frame.apply(_cells_as_text).reset_index(drop=True)


def _cells_as_text(column: pd.Series) -> pd.Series:
    def one(value: object) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return ""
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    return column.map(one).astype(str)


def _refuse_duplicate_columns(header: list[str]) -> None:
    seen: dict[str, str] = {}
    for name in header:
        key = column_key(name)
        if key in seen and key:
            raise InvalidUpload(
                f"The columns {seen[key]!r} and {name!r} have the same name; please keep one."
            )
        seen[key] = name


def load_upload(
    path: Path, file_format: str, require_target: bool = False, limits: UploadLimits | None = None
) -> PreparedData:
    """Read and validate an upload in one step (raises InvalidUpload with a clear message)."""
    prepared = prepare(read_table(path, file_format, limits), require_target=require_target)
    prepared.file_format = file_format
    return prepared
