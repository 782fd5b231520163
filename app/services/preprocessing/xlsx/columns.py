"""A chunk of worksheet rows read as columns: the cells `tags.scan` found become one Arrow
string array per header column, with no Python work per cell for the common forms (text as
stored, shared strings taken by index, numbers whose stored text already is what the General
format shows). Numbers that General shows otherwise, and date-formatted ones, go through the
row path's own rendering one by one. Anything unusual raises `NeedExact`, and the chunk is read
by the row path instead; both give the same values."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from app.services.preprocessing.xlsx.errors import NeedExact, XlsxError
from app.services.preprocessing.xlsx.tags import DATE, INLINE, NUM, SHARED, TEXT, Cells, scan

ENABLED = True  # False: every chunk goes to the row path (the differential tests' reference)
COUNTS: Counter[str] = Counter()  # "columns": chunks read as columns, "rows": the others
NUMBER_WINDOW = 17  # '-' and 15 digits and '.'
INDEX_WINDOW = 9


class ColumnBlock:
    """The non-blank rows of a chunk, as one Arrow string array per column, and for each
    column the first row holding a number cell and the first holding another non-empty one."""

    __slots__ = ("arrays", "first_number", "first_other", "nrows")

    def __init__(self, nrows: int, arrays: list, first_number, first_other) -> None:
        self.nrows = nrows
        self.arrays = arrays
        self.first_number = first_number
        self.first_other = first_other

    def __len__(self) -> int:
        return self.nrows

    def head(self, rows: int) -> tuple[list, list[bool], list[bool]]:
        """(arrays, all non-empty cells are numbers, some cell is a number) of the first rows."""
        arrays = self.arrays if rows == self.nrows else [a.slice(0, rows) for a in self.arrays]
        numeric = (self.first_other >= rows).tolist()
        seen = (self.first_number < rows).tolist()
        return arrays, numeric, seen


class SharedTable:
    """The shared strings as bytes and offsets (for taking by index), and their lengths in
    characters (the budget counts characters); an over-long string has length -1."""

    def __init__(self, strings: list) -> None:
        array = pa.array(strings, type=pa.large_string())
        self.count = len(strings)
        offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)
        self.offsets = offsets[array.offset : array.offset + len(array) + 1]
        data = array.buffers()[2]
        self.data = (
            np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(1, np.uint8)
        )
        chars = pc.utf8_length(array).fill_null(-1)
        self.chars = chars.to_numpy(zero_copy_only=False).astype(np.int64)


def read_block(reader, chunk: bytes, ncols: int, cells: Cells | None = None) -> ColumnBlock:
    """The chunk's rows as columns, or NeedExact. `reader` is the chunk's SheetReader; its
    shared-string count moves on only when the whole chunk is read. `cells` are the chunk's
    `scan`, when it was scanned already."""
    if reader.prefix:
        raise NeedExact()
    if cells is None:
        cells = scan(chunk, reader.date_styles)
    try:
        return _block(reader, cells, ncols)
    except (ValueError, IndexError, TypeError, KeyError, OverflowError, XlsxError):
        raise NeedExact() from None


def _block(reader, cells: Cells, ncols: int) -> ColumnBlock:
    kind, start, end = cells.kind, cells.start, cells.end
    if (cells.col >= ncols).any():  # refused, or ignored when empty: the row path decides
        raise NeedExact()
    size = (end - start).astype(np.int64)
    text = (kind == TEXT) | (kind == INLINE)
    if (size[text] > reader.max_cell_chars).any():  # bytes >= characters
        raise NeedExact()
    source = np.zeros(len(kind), dtype=np.int64)  # where each value's bytes start
    length = size.copy()
    shared = np.flatnonzero(kind == SHARED)
    table = None
    if len(shared):
        table = _shared_table(reader)
        index = _indexes(cells, shared)
        if (index >= table.count).any():
            raise NeedExact()
        chars = table.chars[index]
        if (chars < 0).any():  # a string over the cell cap
            raise NeedExact()
        used = reader.shared_used + int(chars.sum())
        if used > reader.max_shared_chars:
            raise NeedExact()
        source[shared] = table.offsets[index]
        length[shared] = table.offsets[index + 1] - table.offsets[index]
    number = kind == NUM
    slow = np.flatnonzero(kind == DATE)
    numbers = np.flatnonzero(number)
    if len(numbers):
        plain = _plain_numbers(cells.data, start[numbers], size[numbers])
        slow = np.sort(np.concatenate([slow, numbers[~plain]]))
    blob = b""
    if len(slow):
        render = reader._number
        styles = cells.styles
        data = cells.data
        values = [
            render(data[a:b].tobytes().decode(), styles[s]).encode()
            for a, b, s in zip(
                start[slow].tolist(), end[slow].tolist(), cells.style[slow].tolist(), strict=True
            )
        ]
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
        length[slow] = lengths
        source[slow] = np.cumsum(lengths) - lengths
        blob = b"".join(values)
    spans = np.ones(len(kind), dtype=bool)
    spans[shared] = False
    spans[slow] = False
    source[spans] = start[spans]

    # the rows that hold a non-empty value; the others are blank and skipped, and so are
    # empty values (the column's default)
    filled = length > 0
    keep = np.zeros(cells.rows, dtype=bool)
    keep[cells.row[filled]] = True
    nrows = int(keep.sum())
    if nrows == 0:
        return ColumnBlock(0, [], np.zeros(ncols, np.int64), np.zeros(ncols, np.int64))
    is_shared = np.zeros(len(kind), dtype=bool)
    is_shared[shared] = True
    is_slow = np.zeros(len(kind), dtype=bool)
    is_slow[slow] = True
    col = cells.col[filled]
    row = (np.cumsum(keep) - 1)[cells.row[filled]]
    spans, is_shared, is_slow = spans[filled], is_shared[filled], is_slow[filled]
    number, source, length = number[filled], source[filled], length[filled]
    place = col * nrows + row
    lengths_grid = np.zeros(ncols * nrows, dtype=np.int64)
    lengths_grid[place] = length
    offsets = np.zeros(ncols * nrows + 1, dtype=np.int64)
    np.cumsum(lengths_grid, out=offsets[1:])
    total = int(offsets[-1])
    if total >= 1 << 31:
        raise NeedExact()
    out = np.empty(max(total, 1), dtype=np.uint8)
    target = offsets[place]
    _gather(out, target[spans], cells.data, source[spans], length[spans])
    if table is not None:
        _gather(out, target[is_shared], table.data, source[is_shared], length[is_shared])
    if len(slow):
        blob_bytes = np.frombuffer(blob, np.uint8)
        _gather(out, target[is_slow], blob_bytes, source[is_slow], length[is_slow])
    array = pa.Array.from_buffers(
        pa.string(),
        ncols * nrows,
        [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(out[:total])],
    )
    arrays = [array.slice(c * nrows, nrows) for c in range(ncols)]
    first_number = np.full(ncols, nrows, dtype=np.int64)
    first_other = np.full(ncols, nrows, dtype=np.int64)
    np.minimum.at(first_number, col[number], row[number])
    np.minimum.at(first_other, col[~number], row[~number])
    if table is not None:
        reader.shared_used = used
    return ColumnBlock(nrows, arrays, first_number, first_other)


def _shared_table(reader) -> SharedTable:
    table = getattr(reader, "shared_table", None)
    if table is None:
        table = reader.shared_table = SharedTable(reader.sst.strings)
    return table


def _window(data, start, size, width):
    """Each value's first `width` bytes, zero past its end."""
    j = np.arange(width)
    win = data[start[:, None] + j]
    win[j >= size[:, None]] = 0
    return win, j


def _indexes(cells: Cells, shared):
    """The shared-string indexes: plain decimal digits only, at most 9 of them."""
    size = cells.end[shared] - cells.start[shared]
    if (size > INDEX_WINDOW).any():
        raise NeedExact()
    win, j = _window(cells.data, cells.start[shared], size, INDEX_WINDOW)
    inside = j < size[:, None]
    digit = (win >= 48) & (win <= 57)
    if not (digit | ~inside).all():
        raise NeedExact()
    power = np.where(inside, 10 ** np.clip(size[:, None] - 1 - j, 0, None), 0)
    return ((win.astype(np.int64) - 48) * power).sum(axis=1)


def _plain_numbers(data, start, size):
    """Which stored numbers the General format shows exactly as stored: a plain decimal
    (optional '-', digits, optional '.' and digits) without superfluous zeros, at most 15
    significant digits, and a magnitude General keeps in plain notation (1e-4 <= |x| < 1e15);
    and not '-0'."""
    win, j = _window(data, start, np.minimum(size, NUMBER_WINDOW), NUMBER_WINDOW)
    fits = size <= NUMBER_WINDOW
    inside = j < size[:, None]
    minus = win[:, 0] == 45
    first = minus.astype(np.int64)
    body = inside & (j >= first[:, None])
    digit = (win >= 48) & (win <= 57)
    dot = (win == 46) & body
    dots = dot.sum(axis=1)
    ok = fits & (digit | dot | ~body).all(axis=1) & (dots <= 1)
    has_frac = dots == 1
    d = np.where(has_frac, dot.argmax(axis=1), size)  # the dot, or the end
    int_len = d - first
    frac_len = np.where(has_frac, size - d - 1, 0)
    rows = np.arange(len(size))
    lead = win[rows, np.clip(first, 0, NUMBER_WINDOW - 1)]
    last = win[rows, np.clip(size - 1, 0, NUMBER_WINDOW - 1)]
    ok &= (int_len >= 1) & (~has_frac | (frac_len >= 1))
    ok &= (int_len == 1) | (lead != 48)  # no leading zero
    ok &= ~has_frac | (last != 48)  # no trailing zero in the fraction
    int_zero = (int_len == 1) & (lead == 48)
    ok &= ~(int_zero & ~has_frac & minus)  # '-0' shows as 0
    nonzero = digit & (win != 48) & (j > d[:, None]) & inside
    z = np.where(nonzero.any(axis=1), nonzero.argmax(axis=1) - d - 1, frac_len)
    significant = np.where(int_zero, frac_len - z, int_len + frac_len)
    ok &= significant <= 15
    ok &= ~(int_zero & has_frac) | (z <= 3)  # 0.0001 stays plain, 0.00001 is 1E-05
    return ok


def _gather(out, target, source, start, length) -> None:
    """out[target[i]: target[i] + length[i]] = source[start[i]: start[i] + length[i]]."""
    total = int(length.sum())
    if total == 0:
        return
    begin = np.cumsum(length) - length
    within = np.arange(total) - np.repeat(begin, length)
    out[np.repeat(target, length) + within] = source[np.repeat(start, length) + within]
