"""Counting a large CSV's rows without parsing it, so a request can check a file of any size in
well under a second and leave reading it to a job: the header is read and checked as always
(`csv_reading.read_csv_header`), then the line breaks are counted in 8 MB blocks, in the file's
own code units (two bytes in UTF-16).

The count is an estimate of the rows Arrow will read: a quoted cell may hold a line break, and a
blank line is no row, so it may say more rows than there are, never fewer (unless one 8 MB block
mixes lines that end in LF and in a lone CR). A file without any quote character cannot have a
line break inside a cell, so its count is `exact` but for blank lines: only such a count
refuses a file as too long.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.services.preprocessing.csv_reading import read_csv_header
from app.services.preprocessing.limits import UploadLimits

BLOCK_BYTES = 8 << 20  # even, so a UTF-16 file's blocks start on a code unit
_LF, _CR, _QUOTE = 0x0A, 0x0D, 0x22


@dataclass(frozen=True)
class RowEstimate:
    """A table's header and how many data rows it has, as counted without reading them."""

    header: list[str]
    rows: int  # the header's own line is not counted
    exact: bool  # no cell can span lines: every line but a blank one is a row


class LineCounter:
    """The line breaks of a text fed block by block in `encoding` (a `text_encoding` name)."""

    def __init__(self, encoding: str) -> None:
        self.wide = encoding.startswith("utf-16")
        self.order = ">u2" if encoding == "utf-16-be" else "<u2"
        self.lf = self.cr = 0
        self.quoted = False
        self.last = -1  # the last code unit seen
        self._carry = b""
        self._started = False

    def add(self, block: bytes) -> None:
        if not block:
            return
        if not self._started and self.wide and block.startswith(codecs.BOM_UTF16_BE):
            self.order = ">u2"  # "utf-16" reads the byte order from the BOM
        self._started = True
        if not self.wide:
            lf = block.count(b"\n")
            self.lf += lf
            if not lf:  # lines may end in a lone CR (counted where no LF is, to save a pass)
                self.cr += block.count(b"\r")
            self.quoted = self.quoted or b'"' in block
            self.last = block[-1]
            return
        data = self._carry + block
        cut = len(data) - len(data) % 2
        self._carry = data[cut:]
        if cut == 0:
            return
        units = np.frombuffer(data, dtype=self.order, count=cut // 2)
        lf = int(np.count_nonzero(units == _LF))
        self.lf += lf
        if not lf:
            self.cr += int(np.count_nonzero(units == _CR))
        self.quoted = self.quoted or bool(np.any(units == _QUOTE))
        self.last = int(units[-1])

    @property
    def lines(self) -> int:
        """The lines of the text: one per line break (LF, CRLF, or a lone CR in a block
        without LF), and a last line that does not end in one."""
        return self.lf + self.cr + (self.last not in (-1, _LF, _CR))


def count_lines(path: Path, encoding: str) -> LineCounter:
    """The line breaks of the file at `path`, read in blocks of `BLOCK_BYTES`."""
    counter = LineCounter(encoding)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(BLOCK_BYTES), b""):
            counter.add(block)
    return counter


def estimate(header: list[str], counter: LineCounter) -> RowEstimate:
    return RowEstimate(header, max(counter.lines - 1, 0), exact=not counter.quoted)


def estimate_csv_rows(path: Path, limits: UploadLimits) -> RowEstimate:
    """The CSV's header, checked as `read_csv_table` checks it, and its rows as counted."""
    encoding, _, header = read_csv_header(path, limits)
    return estimate(header, count_lines(path, encoding))
