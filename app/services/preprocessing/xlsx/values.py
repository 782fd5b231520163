"""Cell text as Excel shows it: column letters, XML text and OOXML escapes, numbers in the
General format, dates, and which number formats are dates."""

from __future__ import annotations

import datetime as _dt
import math
import re

from app.services.preprocessing.xlsx.errors import NeedExact, XlsxFormatError

MAIN_NS = (
    "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "http://purl.oclc.org/ooxml/spreadsheetml/main",
)
DOCREL_NS = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "http://purl.oclc.org/ooxml/officeDocument/relationships",
)
PKGREL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
EXCEL_MAX_COLS = 16384
BLOCK = 1 << 20  # inflate block size
CHUNK_TARGET = 1 << 21  # parse chunks of ~2 MiB of XML


def column_index_table():
    t = {}
    i = 0
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for a in letters:
        t[a] = i
        i += 1
    for a in letters:
        for b in letters:
            t[a + b] = i
            i += 1
    for a in letters:
        for b in letters:
            for c in letters:
                t[a + b + c] = i
                i += 1
    return t


COLUMN_INDEX = column_index_table()  # 'A' -> 0 ... 'XFD' -> 16383 ... 'ZZZ' -> 18277
CELL_REF = re.compile(r"([A-Za-z]{1,3})([0-9]+)$")

ENTITY = re.compile(r"&(?:(amp|lt|gt|quot|apos)|#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6}));")
ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
OOXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def entity_replacement(m):
    name, dec, hx = m.groups()
    if name:
        return ENTITIES[name]
    cp = int(dec) if dec else int(hx, 16)
    if not (
        cp in (0x9, 0xA, 0xD)
        or 0x20 <= cp <= 0xD7FF
        or 0xE000 <= cp <= 0xFFFD
        or 0x10000 <= cp <= 0x10FFFF
    ):
        raise NeedExact()
    return chr(cp)


def xml_text(s: str) -> str:
    if "\r" in s:
        s = s.replace("\r\n", "\n").replace("\r", "\n")
    if "&" in s:
        amps = s.count("&")
        s, n = ENTITY.subn(entity_replacement, s)
        if n != amps:  # an undefined / malformed entity: let expat decide
            raise NeedExact()
    return s


ATTRIBUTE = re.compile(r"""\s+([\w:.-]+)\s*=\s*(?:"([^"<&]*)"|'([^'<&]*)')""")
ATTRIBUTES_FULL = re.compile(r"""(?:\s+[\w:.-]+\s*=\s*(?:"[^"<&]*"|'[^'<&]*'))*\s*""")


def parse_attrs(x: str) -> dict:
    """Attributes the canonical cell regex did not consume (other order, cm=, vm=...)."""
    if ATTRIBUTES_FULL.fullmatch(x) is None:
        raise NeedExact()
    return {k: (a or b) for k, a, b in ATTRIBUTE.findall(x)}


def ooxml_escape_replacement(m):
    cp = int(m.group(1), 16)
    if 0xD800 <= cp <= 0xDFFF:
        return "\ufffd"
    return chr(cp)


def ooxml_unescape(s: str) -> str:
    """OOXML's _xHHHH_ escapes (e.g. _x000D_ for CR) in shared / inline strings."""
    if "_x" in s:
        return OOXML_ESCAPE.sub(ooxml_escape_replacement, s)
    return s


# --------------------------------------------------------------------------- numbers
def general_number(raw: str) -> str:
    """Render a stored number the way Excel's General format shows it."""
    try:
        x = float(raw)
    except ValueError:
        raise XlsxFormatError(f"invalid number {raw[:40]!r}") from None
    if not math.isfinite(x):
        raise XlsxFormatError(f"invalid number {raw[:40]!r}")
    if x == 0:
        return "0"
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    s = f"{x:.15g}"
    if "e" in s:
        mant, exp = s.split("e")
        s = f"{mant}E{exp[0]}{exp[1:].zfill(2)}"
    return s


EPOCH_1900 = _dt.datetime(1899, 12, 30)
EPOCH_1904 = _dt.datetime(1904, 1, 1)


def date_text(raw: str, kind: str, date1904: bool) -> str:
    try:
        x = float(raw)
    except ValueError:
        raise XlsxFormatError(f"invalid number {raw[:40]!r}") from None
    if not math.isfinite(x) or x < 0 or x > 2958466:  # outside Excel's date range
        return general_number(raw)
    if kind == "time" and x < 1:
        secs = int(round(x * 86400))
        if secs >= 86400:
            secs = 86399
        return f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"
    if date1904:
        base = EPOCH_1904
    else:
        if x < 60:  # Lotus 1-2-3 leap-year bug: serial 60 is 1900-02-29
            base = _dt.datetime(1899, 12, 31)
        elif x < 61:
            return "1900-02-29"
        else:
            base = EPOCH_1900
    d = base + _dt.timedelta(seconds=round(x * 86400))
    if d.hour == 0 and d.minute == 0 and d.second == 0:
        return d.strftime("%Y-%m-%d")
    return d.strftime("%Y-%m-%d %H:%M:%S")


BUILTIN_DATE = {14, 15, 16, 17, 22, 27, 28, 29, 30, 31, 34, 35, 36, 50, 51, 52, 53, 54, 57, 58}
BUILTIN_TIME = {18, 19, 20, 21, 32, 33, 45, 46, 47, 55, 56}
FORMAT_STRIP = re.compile(r'"[^"]*"|\\.|_.|\*.|\[(?!h\]|hh\]|m\]|mm\]|s\]|ss\])[^\]]*\]', re.I)


def classify_format(code: str) -> str | None:
    c = FORMAT_STRIP.sub("", code.split(";")[0]).lower()
    if "general" in c:
        return None
    has_date = any(ch in c for ch in "dy") or (
        "m" in c and "h" not in c and "s" not in c and not any(ch in c for ch in "0#?")
    )
    has_time = any(ch in c for ch in "hs")
    if has_date:
        return "date"
    if has_time:
        return "time"
    return None


class NumberText(str):
    """The text of a cell that was a number in the workbook (as the General format shows it),
    so a result can write it back as a number while text cells stay text."""

    __slots__ = ()
