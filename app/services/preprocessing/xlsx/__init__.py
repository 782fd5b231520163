"""A bounded, streaming `.xlsx` row reader (the standard library only: zipfile, re, expat).

    header, rows = iter_xlsx_rows(path, max_columns=16_384, max_cell_chars=32_767)
    for row in rows:          # each row: list[str], len(row) == len(header)
        ...

Every value comes back as the text Excel shows for it:
  * text cells (shared, inline, formula strings) exactly as stored: "00123", "1E3", "0.50";
  * number cells as the General format shows them, as `NumberText` (a str): 123, 0.5, 1000,
    29.85 (15 significant digits, so a stored 29.850000000000001 reads 29.85), 1.5E+20;
  * date-formatted numbers as ISO text; booleans TRUE/FALSE; errors as stored (#N/A);
    empty cells as "".

Memory and time follow the real content, never the declared dimension: no grid is allocated,
blank rows are skipped, empty cells far away cost nothing, a non-empty cell beyond the header's
columns or past `max_columns` is refused, and so is a cell longer than `max_cell_chars`, and
cells that expand shared strings beyond `max_shared_chars` characters in all. Caps raise
subclasses of `XlsxLimitError`; a damaged file raises `XlsxFormatError` (both `ValueError`).

The worksheet is inflated in blocks and cut into chunks at row boundaries; `sheet` parses each
chunk (a strict regex fast path, with the expat parser of `exact` for anything unusual). Read as
columns, past the first rows, the chunks are scanned ahead in a small thread pool (`tags.scan`
is NumPy work that lets go of the GIL, and reads nothing of the reader's state); everything that
counts (rows, shared strings) still happens in order, in the reading thread.
"""

from __future__ import annotations

import collections
import itertools
import os
import zipfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from app.services.preprocessing.xlsx.columns import ColumnBlock
from app.services.preprocessing.xlsx.errors import (
    CellTooLong,
    ExtraCellError,
    PartTooLarge,
    SharedStringBudgetExceeded,
    TooManyColumns,
    TooManyRows,
    XlsxError,
    XlsxFormatError,
    XlsxLimitError,
)
from app.services.preprocessing.xlsx.parts import (
    member,
    open_zip,
    prefix_text,
    prolog,
    read_date_styles,
    workbook_parts,
    xml_chunks,
)
from app.services.preprocessing.xlsx.shared_strings import SharedStrings
from app.services.preprocessing.xlsx.sheet import SheetReader, scan_chunk
from app.services.preprocessing.xlsx.values import NumberText

__all__ = [
    "CellTooLong",
    "ColumnBlock",
    "ExtraCellError",
    "NumberText",
    "PartTooLarge",
    "SharedStringBudgetExceeded",
    "TooManyColumns",
    "TooManyRows",
    "XlsxError",
    "XlsxFormatError",
    "XlsxLimitError",
    "iter_xlsx_blocks",
    "iter_xlsx_rows",
]

SHEET_MAX_BYTES = 2 << 30  # the inflated worksheet XML
SHARED_STRINGS_MAX_BYTES = 512 << 20
SHARED_STRINGS_MAX_COUNT = 5_000_000
PART_MAX_BYTES = 32 << 20  # workbook.xml, relationships, styles.xml
PROLOG_MAX_BYTES = 64 << 20
SCAN_THREADS = max(2, os.cpu_count() or 1)  # chunks scanned at once, past the first block
SCAN_AHEAD = SCAN_THREADS + 1  # chunks inflated and handed to the scanners ahead of use


def iter_xlsx_rows(
    path: Path | str,
    max_columns: int = 16_384,
    max_cell_chars: int = 32_767,
    max_rows: int = 1_048_576,
    max_shared_chars: int = 200_000_000,
    max_sheet_bytes: int = SHEET_MAX_BYTES,
) -> tuple[list[str], Iterator[list[str]]]:
    """(header, rows) of the first worksheet: the header is its first non-blank row; `rows`
    yields every following non-blank row as a list of len(header) strings. The file stays
    open until `rows` is exhausted or closed."""
    header, blocks = _open(
        path, max_columns, max_cell_chars, max_rows, max_shared_chars, max_sheet_bytes, False
    )
    return header, _rows(blocks)


def _open(
    path, max_columns, max_cell_chars, max_rows, max_shared_chars, max_sheet_bytes, as_columns
):
    archive = open_zip(path)
    try:
        sheet_part, sst_part, styles_part, date1904 = workbook_parts(archive, None, PART_MAX_BYTES)
        sst = SharedStrings(
            archive,
            sst_part or "xl/sharedStrings.xml",
            max_cell_chars=max_cell_chars,
            max_shared_chars=max_shared_chars,
            max_count=SHARED_STRINGS_MAX_COUNT,
            cap=SHARED_STRINGS_MAX_BYTES,
        )
        date_styles = read_date_styles(archive, styles_part, PART_MAX_BYTES)
        info = member(archive, sheet_part)
        if info is None:
            raise XlsxFormatError(f"missing part {sheet_part}")
        if info.file_size > max_sheet_bytes:
            raise PartTooLarge(f"{sheet_part} inflates to {info.file_size} bytes")
        stream = archive.open(info)
        reader = SheetReader(
            sst=sst,
            date_styles=date_styles,
            date1904=date1904,
            max_columns=max_columns,
            max_cell_chars=max_cell_chars,
            max_rows=max_rows,
            max_shared_chars=max_shared_chars,
            empty="",
            extra_cells="error",
            name=sheet_part,
        )
        prefix, nsdecls, self_closing, rest, _ = prolog(
            stream, "worksheet", "sheetData", min(max_sheet_bytes, PROLOG_MAX_BYTES), sheet_part
        )
        reader.setup(prefix, nsdecls)
        tag = prefix_text(prefix).encode()
        row_end = b"</" + tag + b"row>"
        chunks: Iterator[bytes] = (
            iter(())
            if self_closing
            else xml_chunks(
                stream,
                b"</" + tag + b"sheetData>",
                row_end,
                rest,
                max_sheet_bytes,
                PROLOG_MAX_BYTES,
                sheet_part,
            )
        )
        header, pending, chunks = _header(reader, chunks, max_columns, row_end)
    except zipfile.BadZipFile as error:
        archive.close()
        raise XlsxFormatError(str(error)) from None
    except BaseException:
        archive.close()
        raise
    if header is None:
        archive.close()
        return [], iter(())
    blocks = _blocks(archive, reader, chunks, pending, header, max_rows, as_columns)
    return [str(name) for name in header], blocks


def _header(
    reader: SheetReader, chunks: Iterator[bytes], max_columns: int, row_end: bytes
) -> tuple[list[str] | None, list[list[str]], Iterator[bytes]]:
    """The first non-blank row, the rows that came in the same piece after it, and the chunks
    left. The row path reads a chunk's first row alone, so that the rest of the chunk can be
    read as columns with the chunks that follow; if that row is blank, the rest as well."""
    for chunk in chunks:
        rows: list[list[str]] = []
        cut = chunk.find(row_end) + len(row_end)
        if len(row_end) <= cut < len(chunk):
            rows = reader.chunk_rows(chunk[:cut], None)
            chunk = chunk[cut:]
            if rows:
                chunks = itertools.chain((chunk,), chunks)
        if not rows:
            rows = reader.chunk_rows(chunk, None)
        if not rows:
            continue
        header = rows[0]
        width = len(header)
        if width > max_columns:
            raise TooManyColumns(f"header has {width} columns (cap {max_columns})")
        pending = []
        for row in rows[1:]:
            if len(row) < width:
                row.extend([""] * (width - len(row)))
            elif len(row) > width:
                if any(value != "" for value in row[width:]):
                    raise ExtraCellError(
                        f"a data row has a value in column {len(row)}, beyond the "
                        f"{width} header columns"
                    )
                del row[width:]
            pending.append(row)
        return header, pending, chunks
    return None, [], chunks


def iter_xlsx_blocks(
    path: Path | str,
    max_columns: int = 16_384,
    max_cell_chars: int = 32_767,
    max_rows: int = 1_048_576,
    max_shared_chars: int = 200_000_000,
    max_sheet_bytes: int = SHEET_MAX_BYTES,
) -> tuple[list[str], Iterator[list[list[str]] | ColumnBlock]]:
    """As `iter_xlsx_rows`, but the rows come a chunk at a time: each block is a list of rows
    or, for chunks the column path reads, a `ColumnBlock` (one Arrow array per column) holding
    the same values. Blocks are yielded after the chunk is parsed and the row cap checked."""
    return _open(
        path, max_columns, max_cell_chars, max_rows, max_shared_chars, max_sheet_bytes, True
    )


def _blocks(
    archive: zipfile.ZipFile,
    reader: SheetReader,
    chunks: Iterator[bytes],
    pending: list[list[str]],
    header: list[str],
    max_rows: int,
    as_columns: bool,
) -> Iterator[list[list[str]] | ColumnBlock]:
    pool = None
    try:
        count = 0
        block: list[list[str]] | ColumnBlock = pending
        width = len(header)
        ahead: collections.deque[tuple[bytes, Future]] = collections.deque()
        failure: Exception | None = None  # what inflating a chunk ahead raised
        while True:
            count += len(block)
            if count > max_rows:
                raise TooManyRows(f"more than {max_rows} data rows")
            if len(block):
                yield block
            if as_columns and pool is None and count and reader.scans_apart():
                # Asked for more than the first rows: the chunks that follow are scanned
                # ahead on every core (the scan is NumPy work that lets go of the GIL).
                pool = ThreadPoolExecutor(SCAN_THREADS, thread_name_prefix="xlsx-scan")
            while pool is not None and len(ahead) < SCAN_AHEAD and failure is None:
                try:
                    chunk = next(chunks, None)
                except Exception as error:  # raised at its turn, as without the look-ahead
                    failure = error
                    break
                if chunk is None:
                    break
                ahead.append((chunk, pool.submit(scan_chunk, reader, chunk)))
            if ahead:
                chunk, scanned = ahead.popleft()
            elif failure is not None:
                raise failure
            else:
                chunk, scanned = next(chunks, None), None
            if chunk is None:
                return
            if as_columns:
                block = reader.chunk_block(chunk, width, scanned)
            else:
                block = reader.chunk_rows(chunk, width)
    except zipfile.BadZipFile as error:
        raise XlsxFormatError(str(error)) from None
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        archive.close()


def _rows(blocks: Iterator[list[list[str]] | ColumnBlock]) -> Iterator[list[str]]:
    try:
        for block in blocks:
            assert isinstance(block, list)
            yield from block
    finally:
        close = getattr(blocks, "close", None)
        if close is not None:
            close()
