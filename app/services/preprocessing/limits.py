"""What an upload may hold, and the checks every reader shares: rows, columns, cells, the
length of a cell, and column names that repeat. Each refusal is an `InvalidUpload` whose
message names the problem, so a person can fix the file.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.services.preprocessing.arrow_text import longest_bytes
from app.services.preprocessing.columns import InvalidUpload, column_key

# What a spreadsheet itself allows: Excel's 16,384 columns and 32,767 characters in a cell.
SPREADSHEET_MAX_COLUMNS = 16_384
SPREADSHEET_MAX_CELL_CHARS = 32_767


@dataclass(frozen=True)
class UploadLimits:
    max_rows: int = 2_000_000
    max_columns: int = SPREADSHEET_MAX_COLUMNS
    max_cells: int = 64_000_000  # rows × columns of the table, blank cells included
    max_cell_chars: int = SPREADSHEET_MAX_CELL_CHARS
    header_max_chars: int = 4 * 1024 * 1024
    # Characters that cells referring to shared strings expand to (a workbook can point many
    # cells at one long string; this bounds what reading it makes of it).
    xlsx_max_expanded_chars: int = 200_000_000
    xlsx_max_uncompressed_bytes: int = 800 * 1024 * 1024
    xlsx_max_compression_ratio: int = 100
    # What a compressed upload (.csv.gz, Parquet) may expand to.
    max_expanded_bytes: int = 1024 * 1024 * 1024

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> UploadLimits:
        """The limits an app's settings give (MAX_UPLOAD_ROWS, MAX_UPLOAD_CELLS, XLSX_MAX_*)."""
        return cls(
            max_rows=config["MAX_UPLOAD_ROWS"],
            max_cells=config.get("MAX_UPLOAD_CELLS", cls.max_cells),
            xlsx_max_uncompressed_bytes=config["XLSX_MAX_UNCOMPRESSED_BYTES"],
            xlsx_max_compression_ratio=config["XLSX_MAX_COMPRESSION_RATIO"],
            max_expanded_bytes=config.get("MAX_EXPANDED_BYTES", cls.max_expanded_bytes),
        )

    def check_rows(self, rows: int, columns: int) -> None:
        """Refuse a table with more rows, or more cells, than the limits allow."""
        if rows > self.max_rows:
            raise InvalidUpload(
                f"The file has more than {self.max_rows:,} rows; the limit is "
                f"{self.max_rows:,}. Please split it into smaller files."
            )
        if rows * columns > self.max_cells:
            raise InvalidUpload(
                f"The file has {columns:,} columns and more than {rows:,} rows: more than "
                f"{self.max_cells:,} cells, the limit. Please remove the columns you do not "
                "need, or split the file."
            )


def check_column_count(columns: int, limits: UploadLimits) -> None:
    if columns > limits.max_columns:
        raise too_many_columns(limits)


def too_many_columns(limits: UploadLimits) -> InvalidUpload:
    return InvalidUpload(
        f"The file has more than {limits.max_columns:,} columns, more than a spreadsheet "
        "allows, so it does not look like a table of customers."
    )


def cell_too_long(limits: UploadLimits, column: str | None = None) -> InvalidUpload:
    where = f" in column {printable(column, 60)!r}" if column else ""
    return InvalidUpload(
        f"A cell{where} holds more than {limits.max_cell_chars:,} characters, more than a "
        "spreadsheet allows. Please shorten it."
    )


def check_cells(table: Any, header: list[str], limits: UploadLimits) -> None:
    """Refuse an Arrow table of text with a cell longer than a spreadsheet allows."""
    import pyarrow.compute as pc

    for name, column in zip(header, table.columns, strict=True):
        if len(column) == 0:
            continue
        most_bytes = longest_bytes(column)
        if most_bytes is not None and most_bytes <= limits.max_cell_chars:
            continue  # a character takes at least one byte: no cell can be too long
        longest = pc.max(pc.utf8_length(column)).as_py()
        if longest is not None and longest > limits.max_cell_chars:
            raise cell_too_long(limits, name)


def refuse_duplicate_columns(header: list[str]) -> None:
    """Refuse column names that are the same once case and surrounding spaces are ignored,
    naming every such group (blank names are not compared)."""
    groups: dict[str, list[str]] = {}
    for name in header:
        key = column_key(name)
        if key:
            groups.setdefault(key, []).append(name)
    repeated = [names for names in groups.values() if len(names) > 1]
    if not repeated:
        return
    described = "; ".join(
        " and ".join(repr(printable(name, 60)) for name in names) for names in repeated[:5]
    )
    more = f" (and {len(repeated) - 5} more)" if len(repeated) > 5 else ""
    raise InvalidUpload(
        "Some columns have the same name (ignoring case and surrounding spaces): "
        f"{described}{more}. Please keep one column of each name."
    )


def printable(text: str, limit: int = 200) -> str:
    """`text` safe to show in a message: control characters (a NUL, a line break) shown as
    escapes, and cut to `limit` characters."""
    cleaned = "".join(
        ch
        if unicodedata.category(ch)[0] != "C"
        else f"\\x{ord(ch):02x}"
        if ord(ch) < 0x100
        else "\ufffd"
        for ch in text
    )
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"
