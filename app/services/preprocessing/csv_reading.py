"""CSV uploads: the encoding (UTF-8 with or without BOM, or UTF-16), the delimiter sniffed on a
sample, the header read whole (however long), then every row as text, streamed with caps on
rows and cells so memory follows the file's real content.
"""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

import pandas as pd

from app.services.preprocessing.columns import InvalidUpload
from app.services.preprocessing.limits import (
    UploadLimits,
    check_cells,
    check_column_count,
    printable,
    refuse_duplicate_columns,
)

SNIFF_BYTES = 64 * 1024
CSV_DELIMITERS = ",;\t|"
BLOCK_BYTES = 8 << 20  # the longest row a file may hold
FAST_BLOCK_BYTES = 1 << 20
_ZIP_MAGIC = b"PK\x03\x04"


def read_csv_table(
    path: Path, limits: UploadLimits, rows: int | None = None
) -> tuple[pd.DataFrame, int]:
    """Every cell of the CSV as text, under the names of its header, and how many rows it has.

    Every row is read and checked; with `rows`, only the first `rows` become the frame (the
    rest stays in Arrow's compact text, never a frame of Python strings)."""
    encoding, delimiter, header = read_csv_header(path, limits)
    table = _read_rows(path, encoding, delimiter, header, limits)
    check_cells(table, header, limits)
    return table_frame(table, header, rows), table.num_rows


def read_csv_header(path: Path, limits: UploadLimits) -> tuple[str, str, list[str]]:
    """The CSV's encoding, delimiter and header, checked (a header of repeated names, or too
    many of them, is refused); no row past the header is read."""
    encoding = text_encoding(path)
    delimiter = sniff_delimiter(path, encoding)
    header = read_header(path, encoding, delimiter, limits)
    refuse_duplicate_columns(header)
    return encoding, delimiter, header


def table_frame(table, header: list[str], rows: int | None = None) -> pd.DataFrame:
    """The Arrow table of text (at most its first `rows`) as a frame named by `header`."""
    frame = (table if rows is None else table.slice(0, rows)).to_pandas()
    frame.columns = header
    return frame


def text_encoding(path: Path) -> str:
    """The encoding to read the file with; refuses what is not a text table."""
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if head.startswith(_ZIP_MAGIC):
        raise InvalidUpload(
            "This file is a zip archive or an Excel workbook, not a CSV. "
            "If it is an Excel file, save it with the .xlsx extension."
        )
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"  # the codec reads the byte order from the BOM
    if b"\x00" in head:
        # UTF-16 without a BOM: ASCII text has a NUL beside every character.
        even, odd = head[0::2], head[1::2]
        if odd and odd.count(0) > 0.9 * len(odd) and even.count(0) == 0:
            return "utf-16-le"
        if even and even.count(0) > 0.9 * len(even) and odd.count(0) == 0:
            return "utf-16-be"
        raise InvalidUpload(
            "This file is not a text table (it holds binary data). "
            "Please upload a CSV saved as UTF-8, or an .xlsx workbook."
        )
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:  # the sample may end inside a multi-byte character: decode incrementally
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as error:
        raise InvalidUpload(
            "The file is not UTF-8 text. Please save the CSV as UTF-8 and upload it again."
        ) from error
    return "utf-8"


def _sample(path: Path, encoding: str, chars: int) -> str:
    with path.open(encoding=encoding, errors="replace", newline="") as handle:
        return handle.read(chars)


def sniff_delimiter(path: Path, encoding: str) -> str:
    """The delimiter, found on a sample of the file (the header may be longer than it)."""
    text = _sample(path, encoding, SNIFF_BYTES)
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise InvalidUpload("The file has no header row: it does not look like a table.")
    try:
        return csv.Sniffer().sniff("\n".join(lines[:50]), delimiters=CSV_DELIMITERS).delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in CSV_DELIMITERS}
        delimiter = max(counts, key=lambda d: counts[d])
        if counts[delimiter] == 0:
            raise InvalidUpload(
                "The file has a single column: it does not look like a table of customers."
            ) from None
        return delimiter


def read_header(path: Path, encoding: str, delimiter: str, limits: UploadLimits) -> list[str]:
    """The whole first record, however long (up to `limits.header_max_chars`).

    It is looked for in the file's first `SNIFF_BYTES` characters, and only when it does not
    end there in the first `limits.header_max_chars` + 1: a record that ends inside a sample
    reads the same from any longer one."""
    whole = limits.header_max_chars + 1
    short = min(SNIFF_BYTES, whole)
    text = _sample(path, encoding, short)
    if len(text) == short < whole and not _ends_within(text, delimiter, limits):
        text = _sample(path, encoding, whole)
    header, ended = _header_record(text, delimiter, limits)
    if not ended and len(text) > limits.header_max_chars:
        raise InvalidUpload(
            f"The header row is longer than {limits.header_max_chars:,} characters, "
            "so this does not look like a table of customers."
        )
    if not any(name.strip() for name in header):
        raise InvalidUpload("The file has no header row: it does not look like a table.")
    check_column_count(len(header), limits)
    return header


def _header_record(text: str, delimiter: str, limits: UploadLimits) -> tuple[list[str], bool]:
    try:
        return _first_record(text, delimiter, limits)
    except csv.Error as error:
        raise InvalidUpload(
            f"The header row cannot be read: {printable(str(error))}. "
            f"A column name may hold at most {limits.max_cell_chars:,} characters."
        ) from error


def _ends_within(text: str, delimiter: str, limits: UploadLimits) -> bool:
    """Whether the first record of `text` reads without error and ends before its end."""
    try:
        return _first_record(text, delimiter, limits)[1]
    except csv.Error:
        return False


def _first_record(text: str, delimiter: str, limits: UploadLimits) -> tuple[list[str], bool]:
    """The first CSV record of `text`, and whether it ended before the end of `text`."""
    stream = io.StringIO(text, newline="")
    reader = csv.reader(stream, delimiter=delimiter)
    previous = csv.field_size_limit(limits.max_cell_chars)
    try:
        header = next(reader, [])
    finally:
        csv.field_size_limit(previous)
    return header, stream.tell() < len(text)


def _read_rows(path: Path, encoding: str, delimiter: str, header: list[str], limits: UploadLimits):
    """The rows as an Arrow table of text, read block by block; refused as soon as a cap is
    passed, so a file far over a limit is never held whole.

    Blocks of `FAST_BLOCK_BYTES` parse about twice as fast as larger ones (they stay in the
    processor's cache). A file they cannot read whole (a row longer than a block, a cap passed,
    anything unreadable) is read again in blocks of `BLOCK_BYTES`, so what it is refused with,
    and the rows it may hold, are exactly those of that read."""
    import pyarrow as pa

    try:
        return _read_blocks(path, encoding, delimiter, header, limits, FAST_BLOCK_BYTES)
    except (pa.ArrowException, UnicodeError, InvalidUpload):
        pass
    try:
        return _read_blocks(path, encoding, delimiter, header, limits, BLOCK_BYTES)
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:
        raise InvalidUpload(f"The CSV could not be read: {arrow_reason(error)}") from error


def _read_blocks(
    path: Path,
    encoding: str,
    delimiter: str,
    header: list[str],
    limits: UploadLimits,
    block_bytes: int,
):
    import pyarrow as pa
    from pyarrow import csv as pa_csv

    names = [f"c{i}" for i in range(len(header))]  # the header's own names may repeat ("")
    reader = pa_csv.open_csv(
        path,
        read_options=pa_csv.ReadOptions(
            block_size=block_bytes,
            column_names=names,
            encoding="utf-8" if encoding == "utf-8-sig" else encoding,
        ),
        parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    batches = []
    rows = -1  # the header is read as the first row
    for batch in reader:
        rows += batch.num_rows
        limits.check_rows(rows, len(header))
        batches.append(batch)
    table = pa.Table.from_batches(batches, schema=reader.schema)
    return table.slice(1)


def arrow_reason(error: Exception) -> str:
    """Arrow's message for a person: its first line, without control characters, and
    without more than a short piece of the offending row."""
    message = str(error).split("\n")[0]
    if "Expected" in message and "columns" in message:
        return "some rows have a different number of fields than the header. " + printable(
            message, 160
        )
    if "UTF8" in message or "utf8" in message.lower() or isinstance(error, UnicodeDecodeError):
        return "it is not UTF-8 text. Please save it as UTF-8."
    if "straddling" in message or "block" in message.lower():
        return f"a row is longer than {BLOCK_BYTES >> 20} MB."
    return printable(message, 160)
