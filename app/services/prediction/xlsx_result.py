"""The `.xlsx` result, written one column at a time rather than one cell at a time.

A workbook is a zip of a few XML parts; the sheet's XML is built here with Arrow's string
kernels, a whole column of cells per call (numbers as `<c><v>…</v></c>`, text as inline strings,
a column's repeated values made once per distinct value, blanks left out), each batch's rows
joined with their row numbers in one call, and the rows streamed into the zip batch by batch, so
memory follows the batch and a 100,000-row result takes well under a second.

Each cell keeps the type it came with: the upload's columns whose every cell was a number in the
uploaded workbook are numbers again (a cell of such a column that is not a plain number stays
text), every other upload cell is text as it was ("00123", "1E3"); the added columns are typed by
their Arrow type. Text is XML-escaped, characters XML cannot hold are dropped, a cell is cut to
what a spreadsheet holds, and text a spreadsheet would run as a formula is neutralised.
"""

from __future__ import annotations

import contextlib
import queue
import re
import threading
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

from app.services.prediction.formulas import PLAIN_NUMBER, neutralise, neutralised_text
from app.services.preprocessing.arrow_text import only_bytes
from app.services.preprocessing.limits import SPREADSHEET_MAX_CELL_CHARS

SHEET_NAME = "Predictions"
BATCH_CELLS = 1_000_000  # cells built at once: bounds the memory of one batch
COMPRESS_LEVEL = 1  # deflate level 1: about three times faster than 6, for a slightly larger file
# Characters that XML 1.0 cannot hold (a C0 control other than tab, line feed and carriage
# return; U+FFFE, U+FFFF): dropped, as a spreadsheet would not show them either.
_ILLEGAL_XML = "[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]"
# Text that reads like Excel's escape of a character (_x0041_) is escaped itself, so it comes
# back as written rather than as the character.
_ESCAPE_LOOKALIKE = "_(x[0-9A-Fa-f]{4})_"
_NEEDS_WORK = "[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|_x"
# The bytes of text that needs none of it, at a glance: no byte of `&<>\r`, no control but tab
# and line feed, no `_`, and no 0xEF (the first byte of U+FFFE and U+FFFF in UTF-8).
_PLAIN_XML_BYTES = np.ones(256, dtype=bool)
_PLAIN_XML_BYTES[[*range(32), *b"&<>_", 0xEF]] = False
_PLAIN_XML_BYTES[[9, 10]] = True

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    f'<sheets><sheet name="{SHEET_NAME}" sheetId="1" r:id="rId1"/></sheets>'
    "</workbook>"
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/styles" Target="styles.xml"/>'
    "</Relationships>"
)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_SHEET_START = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
)


def column_letters(index: int) -> str:
    """The spreadsheet name of the 0-based column `index`: A, …, Z, AA, …"""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def xml_text(array: Any) -> Any:
    """Arrow text made safe inside `<t>`: cut to a spreadsheet cell, illegal characters dropped,
    `&`, `<`, `>` and carriage returns escaped, escape look-alikes escaped. Each step runs only
    on a column that needs it (one cheap test each), so the usual column costs a few scans."""
    import pyarrow.compute as pc

    if len(array) == 0 or only_bytes(array, _PLAIN_XML_BYTES, SPREADSHEET_MAX_CELL_CHARS):
        return array
    if pc.max(pc.utf8_length(array)).as_py() > SPREADSHEET_MAX_CELL_CHARS:
        array = pc.utf8_slice_codeunits(array, 0, SPREADSHEET_MAX_CELL_CHARS)
    if pc.any(pc.match_substring_regex(array, _NEEDS_WORK)).as_py():
        if pc.any(pc.match_substring_regex(array, _ILLEGAL_XML)).as_py():
            array = pc.replace_substring_regex(array, _ILLEGAL_XML, "")
        if pc.any(pc.match_substring(array, "_x")).as_py():
            array = pc.replace_substring_regex(array, _ESCAPE_LOOKALIKE, r"_x005F_\1_")
        for raw, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\r", "&#13;")):
            if pc.any(pc.match_substring(array, raw)).as_py():
                array = pc.replace_substring(array, raw, escaped)
    return array


class _CompressingSink:
    """Writes to a zip member (which compresses as it is written) on a thread of its own, so
    the next batch's XML is built while this one is compressed: zlib and the file writes
    release the GIL, and a workbook is written on both cores. At most one batch waits."""

    def __init__(self, member: Any) -> None:
        self._member = member
        self._queue: queue.Queue = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="xlsx-compress", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (pieces := self._queue.get()) is not None:
            if self._error is None:
                try:
                    for data in pieces:
                        self._member.write(data)
                except BaseException as error:  # raised in the writing thread, at its next call
                    self._error = error

    def write(self, *pieces: Any) -> None:
        """Queue `pieces` (buffers), written in order as one item: a batch waits as a whole."""
        self._raise()
        self._queue.put(pieces)

    def close(self) -> None:
        """Wait until everything is written; raise what a write raised."""
        self._queue.put(None)
        self._thread.join()
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error


class XlsxResult:
    """Streams a one-sheet workbook to `path`: a header row, then `write(chunk, added)` for each
    chunk of the upload (a DataFrame of text) and its added columns (an Arrow record batch)."""

    def __init__(
        self,
        path: Path,
        columns: list[str],
        added: list[str],
        number_columns: Iterable[str],
        rows: int | None = None,
    ) -> None:
        self.path = path
        self.header = [*columns, *added]
        numbers = set(number_columns)
        self.numeric = [name in numbers for name in columns]
        self.rows = rows
        self.letters = [column_letters(i) for i in range(len(self.header))]
        self.row = 0  # rows written so far, the header included

    def __enter__(self) -> XlsxResult:
        self._zip = zipfile.ZipFile(
            self.path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL
        )
        self._member = self._zip.open("xl/worksheets/sheet1.xml", "w", force_zip64=True)
        self._sheet = _CompressingSink(self._member)
        start = _SHEET_START
        if self.rows is not None and self.header:
            start += f'<dimension ref="A1:{self.letters[-1]}{self.rows + 1}"/>'
        try:
            self._sheet.write((start + "<sheetData>").encode())
            self._write_header()
        except BaseException:
            with contextlib.suppress(Exception):  # the thread ended, the file closed
                self.__exit__()
            raise
        return self

    def _write_header(self) -> None:
        cells = "".join(
            f'<c r="{letter}1" t="inlineStr"><is><t xml:space="preserve">'
            f"{_escape_one(neutralise(name))}</t></is></c>"
            for letter, name in zip(self.letters, self.header, strict=True)
        )
        self._sheet.write(f'<row r="1">{cells}</row>'.encode())
        self.row = 1

    def write(self, chunk: pd.DataFrame, added: Any) -> None:
        width = max(len(self.header), 1)
        step = max(1, BATCH_CELLS // width)
        for start in range(0, len(chunk), step):
            stop = min(start + step, len(chunk))
            self._write_rows(chunk.iloc[start:stop], added.slice(start, stop - start))

    def _write_rows(self, chunk: pd.DataFrame, added: Any) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        count = len(chunk)
        numbers = np.arange(self.row + 1, self.row + 1 + count)
        rownum = pc.cast(pa.array(numbers), pa.large_string())
        parts = [_large('<row r="'), rownum, _large('">')]
        for i in range(chunk.shape[1]):
            text = pa.array(chunk.iloc[:, i], type=pa.large_string(), from_pandas=True)
            parts += self._cells(i, rownum, *self._upload_tails(i, text.fill_null("")))
        for j, column in enumerate(added.columns, start=chunk.shape[1]):
            parts += self._cells(j, rownum, *_added_tails(column))
        rows = pc.binary_join_element_wise(*parts, _large("</row>"), _large(""))
        self._sheet.write(*_joined_bytes(rows))
        self.row += count

    def _cells(self, index: int, rownum: Any, tails: Any, left_out: Any) -> list[Any]:
        """What the row's join takes for a column's cells: `<c r="B`, the row number and each
        cell's tail; a column with cells to leave out (`left_out`, or None) as whole cells."""
        import pyarrow.compute as pc

        start = _large(f'<c r="{self.letters[index]}')
        if left_out is None:
            return [start, rownum, tails]
        cells = pc.binary_join_element_wise(start, rownum, tails, _large(""))
        return [pc.if_else(left_out, _large(""), cells)]

    def _upload_tails(self, index: int, text: Any) -> tuple[Any, Any]:
        """(each cell's tail, the blank cells or None) of an upload column: a number column's
        plain numbers as numbers, every other cell as text."""
        import pyarrow.compute as pc

        blank = _blanks(text)
        if not self.numeric[index]:
            return _text_tails(text), blank
        trimmed = pc.utf8_trim_whitespace(text)
        number = pc.match_substring_regex(trimmed, PLAIN_NUMBER)
        if not pc.any(number).as_py():
            return _text_tails(text), blank
        number = pc.and_(number, _finite(pc.if_else(number, trimmed, "0")))  # 1e999 stays text
        tails = _number_tails(trimmed)
        if pc.all(number if blank is None else pc.or_(number, blank)).as_py():
            return tails, blank  # no text cell to write (blanks are left out)
        return pc.if_else(number, tails, _text_tails(text)), blank

    def __exit__(self, *_: Any) -> None:
        try:
            self._end_sheet()
            for name, part in (
                ("[Content_Types].xml", _CONTENT_TYPES),
                ("_rels/.rels", _ROOT_RELS),
                ("xl/workbook.xml", _WORKBOOK),
                ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
                ("xl/styles.xml", _STYLES),
            ):
                self._zip.writestr(name, part)
        finally:
            self._zip.close()

    def _end_sheet(self) -> None:
        """End the sheet's XML. The writing thread ends and the member closes even when a write
        failed (a full disk): the zip cannot close while a member is open, and that error would
        hide the first one."""
        try:
            try:
                self._sheet.write(b"</sheetData></worksheet>")
            finally:
                self._sheet.close()
        finally:
            self._member.close()


def _escape_one(text: str) -> str:
    text = text[:SPREADSHEET_MAX_CELL_CHARS]
    text = re.sub(_ILLEGAL_XML, "", text)
    text = re.sub(_ESCAPE_LOOKALIKE, r"_x005F_\1_", text)
    return escape(text, {"\r": "&#13;"})


def _large(text: str) -> Any:
    import pyarrow as pa

    return pa.scalar(text, pa.large_string())


def _blanks(text: Any) -> Any:
    """The empty cells of a text column (left out of the sheet), or None when there are none."""
    import pyarrow.compute as pc

    blank = pc.equal(pc.utf8_length(text), 0)
    return blank if pc.any(blank).as_py() else None


def _added_tails(column: Any) -> tuple[Any, Any]:
    """(each cell's tail, the cells to leave out or None) of an added column: text as text,
    numbers as numbers, a missing or non-finite number left out."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        text = pc.cast(column, pa.large_string()).fill_null("")
        return _text_tails(text), _blanks(text)
    usable = pc.is_finite(pc.cast(column, pa.float64())).fill_null(False)
    tails = _number_tails(pc.cast(column, pa.large_string()).fill_null("0"))
    return tails, None if pc.all(usable).as_py() else pc.invert(usable)


def _number_tails(shown: Any) -> Any:
    import pyarrow.compute as pc

    return pc.binary_join_element_wise(_large('"><v>'), shown, _large("</v></c>"), _large(""))


def _text_tails(text: Any) -> Any:
    """Each text cell's tail, from `"` after its reference to `</c>`. A column whose values
    repeat (a category) is made once per distinct value and taken for each cell."""
    import pyarrow.compute as pc

    if hasattr(text, "combine_chunks"):
        text = text.combine_chunks()
    encoded = pc.dictionary_encode(text)
    if len(encoded.dictionary) * 4 <= len(text):
        return _text_tails_of(encoded.dictionary).take(encoded.indices)
    return _text_tails_of(text)


def _text_tails_of(text: Any) -> Any:
    import pyarrow.compute as pc

    return pc.binary_join_element_wise(
        _large('" t="inlineStr"><is><t xml:space="preserve">'),
        xml_text(neutralised_text(text)),
        _large("</t></is></c>"),
        _large(""),
    )


def _finite(text: Any) -> Any:
    """Which plain-number texts are finite doubles (1e999 is not)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.is_finite(pc.cast(text, pa.float64()))


def _joined_bytes(rows: Any) -> list[memoryview]:
    """The concatenated values of a string array (or each chunk of a chunked one) without
    nulls, as views of its buffers (no copy)."""
    views = []
    for chunk in getattr(rows, "chunks", [rows]):
        if len(chunk) == 0:
            continue
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64)
        first, last = offsets[chunk.offset], offsets[chunk.offset + len(chunk)]
        views.append(memoryview(chunk.buffers()[2])[first:last])
    return views
