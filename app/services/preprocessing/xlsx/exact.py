"""The exact worksheet parser (expat): the reference for what a chunk of rows means, used
for every chunk the fast path does not fully understand."""

from __future__ import annotations

import xml.parsers.expat

from app.services.preprocessing.xlsx.errors import XlsxFormatError
from app.services.preprocessing.xlsx.parts import expat_parser
from app.services.preprocessing.xlsx.values import (
    CELL_REF,
    COLUMN_INDEX,
    EXCEL_MAX_COLS,
    MAIN_NS,
    ooxml_unescape,
)

TAG_CODES = {}
for _ns in MAIN_NS:
    for _local, _code in (
        ("row", 1),
        ("c", 2),
        ("v", 3),
        ("is", 4),
        ("t", 5),
        ("rPh", 6),
        ("phoneticPr", 6),
    ):
        TAG_CODES[_ns + "}" + _local] = _code
MAIN_PREFIXES = tuple(ns + "}" for ns in MAIN_NS)


class ExactParsing:
    """The expat half of `SheetReader`."""

    prefix: bytes
    nsdecls: bytes
    name: str

    def _render(self, t: str, s: str, v: str) -> str:
        raise NotImplementedError

    def _text(self, s: str) -> str:
        raise NotImplementedError

    def exact(self, chunk: bytes, wrapped=False):
        if not wrapped:
            p = self.prefix
            chunk = (
                b"<"
                + p
                + (b":" if p else b"")
                + b"sheetData "
                + self.nsdecls
                + b">"
                + chunk
                + b"</"
                + p
                + (b":" if p else b"")
                + b"sheetData>"
            )
        rows = []
        codes = TAG_CODES
        render = self._render
        text_cap = self._text
        depth = 0
        skip = 0  # depth at which an ignored subtree (foreign ns, rPh) started
        row: dict[int, str] | None = None
        prev = -1
        cell = None  # (col, t, s)
        mode = 0  # 1: inside <v>, 2: inside <is>...<t>
        in_is = False
        has_v = has_is = False
        vbuf: list[str] = []
        tbuf: list[str] = []

        def start(tag, attrs):
            nonlocal depth, skip, row, prev, cell, mode, in_is, has_v, has_is, vbuf, tbuf
            depth += 1
            if skip:
                return
            code = codes.get(tag)
            if code is None:
                if not tag.startswith(MAIN_PREFIXES):
                    skip = depth  # foreign namespace: ignore the subtree
                return
            if code == 1:  # row
                if depth == 2:
                    row = {}
                    prev = -1
            elif code == 2:  # c
                if depth == 3 and row is not None:
                    r = attrs.get("r")
                    if r:
                        m = CELL_REF.match(r)
                        if not m:
                            raise XlsxFormatError(f"bad cell reference {r[:20]!r}")
                        c = COLUMN_INDEX.get(m.group(1).upper(), EXCEL_MAX_COLS + 1)
                    else:
                        c = prev + 1
                    prev = c
                    cell = (c, attrs.get("t", ""), attrs.get("s", ""))
                    has_v = has_is = False
                    vbuf = []
                    tbuf = []
            elif cell is not None:
                if code == 3 and depth == 4:  # v
                    mode = 1
                    has_v = True
                elif code == 4 and depth == 4:  # is
                    in_is = True
                    has_is = True
                elif code == 5 and in_is:  # t (directly in is, or in is/r)
                    mode = 2
                elif code == 6:  # rPh / phoneticPr: not part of the text
                    skip = depth

        def end(tag):
            nonlocal depth, skip, row, cell, mode, in_is
            if skip:
                if depth == skip:
                    skip = 0
                depth -= 1
                return
            code = codes.get(tag)
            if code == 3 or code == 5:
                mode = 0
            elif code == 4:
                in_is = False
            elif code == 2 and depth == 3 and cell is not None:
                c, t, s = cell
                cell = None
                if t == "inlineStr" or (has_is and not has_v):
                    val = text_cap(ooxml_unescape("".join(tbuf)))
                elif has_v:
                    v = "".join(vbuf)
                    val = render(t, s, v) if v else ""
                else:
                    val = ""
                if row is not None:
                    row[c] = val
            elif code == 1 and depth == 2:
                if row:
                    rows.append(row)
                row = None
            depth -= 1

        def data_(text):
            if mode == 1:
                vbuf.append(text)
            elif mode == 2:
                tbuf.append(text)

        parser = expat_parser(self.name)
        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parser.CharacterDataHandler = data_
        try:
            parser.Parse(chunk, True)
        except xml.parsers.expat.ExpatError as e:
            raise XlsxFormatError(f"{self.name}: malformed XML: {e}") from None
        return rows
