"""The tags of a chunk of worksheet XML, found and checked with numpy: every '<' of the chunk
is classified, the sequence must be exactly the canonical grammar writers produce, and the
cells' column letters and attribute shapes are decoded for all cells at once. Anything else
raises `NeedExact` (the row path then reads the chunk)."""

from __future__ import annotations

import re

import numpy as np

from app.services.preprocessing.xlsx.errors import NeedExact

(BAD, ROW, ROW_END, CELL_EMPTY, CELL, V, V_END, C_END, IS, T, T_END, IS_END, ROW_EMPTY) = range(13)
# cell kinds, by the attributes of <c>
EMPTY, NUM, DATE, SHARED, TEXT, INLINE = range(6)

FOLLOWS = np.zeros((16, 16), dtype=bool)
for _tag, _next in {
    ROW: (CELL_EMPTY, CELL, ROW_END),
    CELL_EMPTY: (CELL_EMPTY, CELL, ROW_END),
    CELL: (V, IS),
    V: (V_END,),
    V_END: (C_END,),
    C_END: (CELL_EMPTY, CELL, ROW_END),
    IS: (T,),
    T: (T_END,),
    T_END: (IS_END,),
    IS_END: (C_END,),
    ROW_END: (ROW, ROW_EMPTY),
    ROW_EMPTY: (ROW, ROW_EMPTY),
}.items():
    FOLLOWS[_tag, list(_next)] = True


def _key(tag: bytes) -> int:
    return int.from_bytes(tag.ljust(8, b"\0"), "little")


FIXED = {
    b"</row>": ROW_END,
    b"</c>": C_END,
    b"<v>": V,
    b"</v>": V_END,
    b"<is>": IS,
    b"</is>": IS_END,
    b"<t>": T,
    b"</t>": T_END,
}
FIXED_KEYS = np.array(sorted(_key(tag) for tag in FIXED), dtype=np.uint64)
FIXED_CODES = np.array(
    [dict((_key(t), c) for t, c in FIXED.items())[k] for k in FIXED_KEYS.tolist()]
)
T_PRESERVE = np.frombuffer(b'<t xml:space="preserve">', dtype="<u8")  # three words
REST = re.compile(rb'(?: s="([0-9]{1,6})")?(?: t="([a-zA-Z]{1,9})")?(/?)>')
PAD = 64  # zero bytes after the chunk, so fixed windows never run off its end
REST_WINDOW = 32  # the longest: ' s="123456" t="inlineStr">' (26)
MASKS = np.array([(1 << (8 * i)) - 1 for i in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
HASH = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5],
    dtype=np.uint64,
)


class Cells:
    """The value cells of a chunk (self-closing empty ones dropped), in document order."""

    __slots__ = ("data", "row", "col", "kind", "style", "start", "end", "rows", "styles")

    def __init__(self, data, row, col, kind, style, start, end, rows, styles):
        self.data = data  # the chunk's bytes as uint8, with PAD zeros after
        self.row = row  # row of each cell, 0.. among the chunk's <row> elements
        self.col = col
        self.kind = kind
        self.style = style  # index into `styles` (the cell's s= text)
        self.start = start  # the stored text: data[start:end]
        self.end = end
        self.rows = rows  # <row> elements in the chunk
        self.styles = styles


def scan(chunk: bytes, date_styles) -> Cells:
    """The cells of a chunk in the canonical forms, or NeedExact."""
    if b"&" in chunk or b"\r" in chunk:  # escapes, line ends to normalise: the row path
        raise NeedExact()
    data = np.frombuffer(chunk + bytes(PAD), dtype=np.uint8)
    size = len(chunk)
    body = data[:size]
    if (data[np.flatnonzero(body == 95) + 1] == 120).any():  # '_x': an OOXML escape maybe
        raise NeedExact()
    lt = np.flatnonzero(body == 60)
    gt = np.flatnonzero(body == 62)
    m = len(lt)
    if m == 0 or len(gt) != m or lt[0] != 0 or gt[-1] != size - 1:
        raise NeedExact()
    if not ((lt < gt).all() and (gt[:-1] < lt[1:]).all()):
        raise NeedExact()
    words = np.ndarray(shape=(len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))
    length = gt - lt + 1
    first = words[lt]  # the first 8 bytes of each tag
    key = first & MASKS[np.minimum(length, 8)]
    # a tag's first bytes (up to 8, zero past its end) tell the fixed tags apart
    at = np.minimum(np.searchsorted(FIXED_KEYS, key), len(FIXED_KEYS) - 1)
    code = np.where(FIXED_KEYS[at] == key, FIXED_CODES[at], BAD).astype(np.int8)
    closing = data[gt - 1] == 47  # '/>'
    row_tag = ((first & MASKS[4]) == _key(b"<row")) & (
        ((first >> np.uint64(32)) & np.uint64(0xFF) == 32) | (length == 5)
    )
    code[row_tag] = np.where(closing[row_tag], ROW_EMPTY, ROW)
    cell_tag = (first & MASKS[3]) == _key(b"<c ")
    code[cell_tag] = np.where(closing[cell_tag], CELL_EMPTY, CELL)
    long_t = np.flatnonzero((length == 24) & (key == T_PRESERVE[0]))
    if len(long_t):
        at = lt[long_t]
        same = (words[at + 8] == T_PRESERVE[1]) & (words[at + 16] == T_PRESERVE[2])
        code[long_t[same]] = T
    if (code == BAD).any():
        raise NeedExact()
    if code[0] not in (ROW, ROW_EMPTY) or code[-1] not in (ROW_END, ROW_EMPTY):
        raise NeedExact()
    if not FOLLOWS.ravel()[code[:-1] * 16 + code[1:]].all():
        raise NeedExact()
    gap = lt[1:] - gt[:-1] - 1
    content = (code[:-1] == V) | (code[:-1] == T)
    if (gap[~content] != 0).any() or (gap[content] <= 0).any():
        raise NeedExact()
    rows = np.cumsum((code == ROW) | (code == ROW_EMPTY)) - 1
    where = np.flatnonzero(cell_tag)
    quotes = np.flatnonzero(body == 34)
    col, kind, style, styles = _cell_tags(
        words, quotes, lt[where], first[where], gt[where], date_styles
    )
    row = rows[where]
    same_row = row[1:] == row[:-1]
    if (col[1:] <= col[:-1])[same_row].any():  # out of order or a duplicate reference
        raise NeedExact()
    value = kind != EMPTY
    where, row, col, kind, style = where[value], row[value], col[value], kind[value], style[value]
    nxt = code[where + 1]
    if ((kind == INLINE) != (nxt == IS)).any():
        raise NeedExact()
    step = np.where(kind == INLINE, 2, 1)
    start = gt[where + step] + 1
    end = lt[where + step + 1]
    return Cells(data, row, col, kind, style, start, end, int(rows[-1]) + 1, styles)


def _byte(word, i: int):
    return ((word >> np.uint64(8 * i)) & np.uint64(0xFF)).astype(np.int64)


def _digits(word, count):
    """Whether the first `count` bytes (1..8) of each little-endian word are ASCII digits."""
    mask = MASKS[count]
    high = np.uint64(0xF0F0F0F0F0F0F0F0)
    zeros = np.uint64(0x3030303030303030)
    return ((word & high & mask) == (zeros & mask)) & (
        ((word + np.uint64(0x0606060606060606)) & high & mask) == (zeros & mask)
    )


def _cell_tags(words, quotes, lt, first, gt, date_styles):
    """(column, kind, style index, styles) of the <c r="B7" [s=".."] [t=".."]> tags."""
    if not ((first & MASKS[6]) == _key(b'<c r="')).all():
        raise NeedExact()
    ref = words[lt + 6]
    b0, b1, b2 = _byte(ref, 0), _byte(ref, 1), _byte(ref, 2)
    up0 = (b0 >= 65) & (b0 <= 90)
    up1 = up0 & (b1 >= 65) & (b1 <= 90)
    up2 = up1 & (b2 >= 65) & (b2 <= 90)
    letters = up0.astype(np.int64) + up1 + up2
    at = np.searchsorted(quotes, lt + 6)  # the quote that closes r="..."
    if (letters == 0).any() or (at >= len(quotes)).any():
        raise NeedExact()
    q = quotes[at]
    digits = q - lt - 6 - letters
    if ((digits < 1) | (digits > 7)).any() or (q >= gt).any():
        raise NeedExact()
    if not _digits(words[lt + 6 + letters], digits).all():
        raise NeedExact()
    rest_len = gt - q  # from after the quote to the '>' included
    if (rest_len > REST_WINDOW).any():
        raise NeedExact()
    rest = np.stack([words[q + 1 + 8 * i] for i in range(REST_WINDOW // 8)], axis=1)
    rest &= MASKS[np.clip(rest_len[:, None] - 8 * np.arange(REST_WINDOW // 8), 0, 8)]
    h = (rest * HASH).sum(axis=1, dtype=np.uint64) ^ (rest[:, 0] >> np.uint64(29))
    _, first_of, inverse = np.unique(h, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    if not (rest == rest[first_of][inverse]).all():
        raise NeedExact()
    kinds = []
    styles = []
    for i in first_of:
        text = rest[i].astype("<u8").tobytes()[: rest_len[i]]
        m = REST.fullmatch(text)
        if m is None:
            raise NeedExact()
        s = (m.group(1) or b"").decode()
        t = (m.group(2) or b"").decode()
        if m.group(3):
            kinds.append(EMPTY)
        elif t in ("", "n"):
            kinds.append(DATE if s and s in date_styles else NUM)
        elif t == "s":
            kinds.append(SHARED)
        elif t == "str":
            kinds.append(TEXT)
        elif t == "inlineStr":
            kinds.append(INLINE)
        else:  # booleans, errors, ISO dates...: the row path
            raise NeedExact()
        styles.append(s)
    a, b, c = b0 - 64, b1 - 64, b2 - 64
    col = np.where(letters == 1, a, np.where(letters == 2, a * 26 + b, a * 676 + b * 26 + c)) - 1
    return col, np.array(kinds, dtype=np.int8)[inverse], inverse, styles
