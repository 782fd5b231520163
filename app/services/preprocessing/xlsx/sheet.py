"""The rows of a worksheet, parsed chunk by chunk: a strict regex fast path for the forms
Excel, LibreOffice, XlsxWriter and openpyxl write, which accounts for every '<' of a chunk;
anything it does not understand sends the chunk to the exact expat parser (`exact`). Both give
the same rows."""

from __future__ import annotations

import re
from concurrent.futures import Future

from app.services.preprocessing.xlsx import columns
from app.services.preprocessing.xlsx.errors import (
    CellTooLong,
    ExtraCellError,
    NeedExact,
    SharedStringBudgetExceeded,
    TooManyColumns,
    XlsxFormatError,
    XlsxLimitError,
)
from app.services.preprocessing.xlsx.exact import ExactParsing
from app.services.preprocessing.xlsx.parts import prefix_text
from app.services.preprocessing.xlsx.values import (
    CELL_REF,
    COLUMN_INDEX,
    EXCEL_MAX_COLS,
    NumberText,
    date_text,
    general_number,
    ooxml_unescape,
    parse_attrs,
    xml_text,
)


class SheetReader(ExactParsing):
    def __init__(
        self,
        *,
        sst,
        date_styles,
        date1904,
        max_columns,
        max_cell_chars,
        max_rows,
        max_shared_chars,
        empty,
        extra_cells,
        name,
    ):
        self.sst = sst
        self.date_styles = date_styles
        self.date1904 = date1904
        self.max_columns = max_columns
        self.max_cell_chars = max_cell_chars
        self.max_rows = max_rows
        self.max_shared_chars = max_shared_chars
        self.shared_used = 0
        self.empty = empty
        self.extra_cells = extra_cells
        self.name = name
        self.ncols = None  # set by the header
        self.nrows = 0
        self.num_cache = {}
        self.exact_chunks = 0  # statistics: chunks that needed the exact parser
        self.intern = {}  # dedupe repeated inline strings (categoricals)
        self.xcache = {}  # parsed extra cell attributes
        self.shared_table = None  # the shared strings as Arrow, for the column path

    def setup(self, prefix: bytes, nsdecls: bytes):
        self.prefix = prefix
        self.nsdecls = nsdecls
        p = re.escape(prefix_text(prefix))
        self.row_open = f"<{prefix_text(prefix)}row"
        self.row_close = f"</{prefix_text(prefix)}row>"
        # whitespace and self-closing (empty) rows between rows
        self.lead_re = re.compile(rf"(?:\s+|<{p}row(?:\s[^>]*?)?/>)*")
        self.canon_re = re.compile(
            rf'<{p}c r="([A-Z]{{1,3}})[0-9]{{1,7}}"'
            rf'(?: s="([0-9]{{1,6}})")?(?: t="([a-zA-Z]{{1,9}})")?'
            rf">\s*<{p}v>([^<]+)</{p}v>\s*</{p}c>"
        )
        # generic cell content (tier 2): optional formula then value, or a plain inline string
        self.gen_v_re = re.compile(
            rf"\s*(?:<{p}f\b[^>]*?(?:/>|>[^<]*</{p}f>)\s*)?(?:<{p}v>([^<]*)</{p}v>|<{p}v\s*/>)\s*"
        )
        self.gen_is_re = re.compile(
            rf'\s*<{p}is>\s*<{p}t(?:\s+xml:space="preserve")?>([^<]*)</{p}t>\s*</{p}is>\s*'
        )
        # groups: col, s, t, v | x, sc, isv, fpart, fv, gen
        self.cell_re = re.compile(
            rf'<{p}c(?: r="([A-Z]{{1,3}})[0-9]{{1,7}}")?'
            rf'(?: s="([0-9]{{1,6}})")?(?: t="([a-zA-Z]{{1,9}})")?'
            rf"(?:><{p}v>([^<]+)</{p}v></{p}c>"
            rf"|(\s[^>]*?)?(?:(/)>"
            rf'|><{p}is><{p}t(?: xml:space="preserve")?>([^<]+)</{p}t></{p}is></{p}c>'
            rf"|>(<{p}f\b[^>]*?(?:/>|>[^<]*</{p}f>))<{p}v>([^<]+)</{p}v></{p}c>"
            rf"|>(.*?)</{p}c>))",
            re.S,
        )

    # ---- value rendering (shared by both paths)
    def _number(self, v, s):
        if s and s in self.date_styles:
            return date_text(v, self.date_styles[s], self.date1904)
        r = self.num_cache.get(v)
        if r is None:
            r = NumberText(general_number(v))
            if len(self.num_cache) > 100_000:
                self.num_cache.clear()
            self.num_cache[v] = r
        return r

    def _shared(self, v):
        try:
            s = self.sst.strings[int(v)]
        except (ValueError, IndexError):
            raise XlsxFormatError(f"bad shared string index {v[:20]!r}") from None
        if s is None:
            raise CellTooLong(f"a cell has more than {self.max_cell_chars} characters")
        self.shared_used += len(s)
        if self.shared_used > self.max_shared_chars:
            raise SharedStringBudgetExceeded(
                f"cells expand to more than {self.max_shared_chars} characters of shared strings"
            )
        return s

    def _text(self, s):
        if len(s) > self.max_cell_chars:
            raise CellTooLong(f"a cell has more than {self.max_cell_chars} characters")
        return s

    def _render(self, t, s, v):
        """t: cell type ('' = number), v: decoded <v> text."""
        if not t or t == "n":
            return self._number(v, s)
        if t == "s":
            return self._shared(v)
        if t == "b":
            return "TRUE" if v.strip() in ("1", "true") else "FALSE"
        # str (formula string), e (error), d (ISO date) and unknown types: as stored
        return self._text(v)

    # ---- fast path: returns a list of rows (lists of str) or raises NeedExact
    def fast(self, text: str, ncols):
        if "<!" in text or "<?" in text:
            raise NeedExact()
        pieces = text.split(self.row_close)
        tail = pieces.pop()
        lt = len(pieces)  # one '<' per </row>
        m = self.lead_re.fullmatch(tail)
        if m is None:
            raise NeedExact()
        lt += tail.count("<")
        rows = []
        colidx = COLUMN_INDEX
        render = self._render
        number = self._number
        strings = self.sst.strings
        date_styles = self.date_styles
        num_cache = self.num_cache
        shared_used = self.shared_used
        max_shared = self.max_shared_chars
        empty = self.empty
        blank = [empty] * ncols if ncols is not None else None
        findall = self.cell_re.findall
        canon_findall = self.canon_re.findall
        gen_v = self.gen_v_re.fullmatch
        xcache = self.xcache
        gen_is = self.gen_is_re.fullmatch
        intern = self.intern
        row_open = self.row_open
        ro_len = len(row_open)
        lead_match = self.lead_re.match
        try:
            for piece in pieces:
                if not piece.startswith(row_open):
                    m = lead_match(piece)
                    if m is None:
                        raise NeedExact()
                    k = m.end()
                    lt += piece.count("<", 0, k)
                    piece = piece[k:]
                    if not piece.startswith(row_open):
                        raise NeedExact()
                gt = piece.find(">")
                if gt < 0 or piece[gt - 1] == "/" or piece[ro_len] not in " \t\r\n>":
                    raise NeedExact()
                inner = piece[gt + 1 :]
                out = [] if ncols is None or blank is None else blank[:]
                cells = canon_findall(inner)
                n4 = 4 * len(cells)
                if inner.count("<") == n4:
                    # tier 1: every tag of the row is a canonical <c r= [s=] [t=]><v>..</v></c>
                    lt += 1 + n4
                    for col, s, t, v in cells:
                        if t == "s":
                            val = strings[int(v)]
                            shared_used += len(val)  # TypeError for an over-long string
                        elif not t:
                            if s and s in date_styles:
                                val = number(v, s)
                            else:
                                val = num_cache.get(v)
                                if val is None:
                                    val = number(v, s)
                        else:
                            self.shared_used = shared_used
                            val = render(t, s, xml_text(v))
                            shared_used = self.shared_used
                        try:
                            out[colidx[col]] = val
                        except IndexError:
                            self._overflow(out, colidx[col], val, ncols)
                    if shared_used > max_shared:
                        raise NeedExact()
                    if ncols is None:
                        if out.count(empty) != len(out):
                            rows.append(out)
                    elif out != blank:
                        rows.append(out)
                    continue
                # tier 2: any mix of cell forms (inline strings, formulas, empty cells,
                # attributes in another order, cells without r=, pretty-printed XML...)
                cells = findall(inner)
                lt += 1 + 4 * len(cells)
                prev = -1
                for col, s, t, v, x, sc, isv, fpart, fv, gen in cells:
                    if x:
                        a = xcache.get(x)  # e.g. ' cm="1"' (no r= inside): cacheable
                        if a is None:
                            a = parse_attrs(x)
                            if "r" not in a and len(xcache) < 10_000:
                                xcache[x] = a
                        r = a.get("r")
                        if r is not None:
                            m = CELL_REF.match(r)
                            if m is None:
                                raise NeedExact()
                            c = colidx.get(m.group(1).upper(), EXCEL_MAX_COLS + 1)
                        elif col:
                            c = colidx[col]
                        else:
                            c = prev + 1
                        s = a.get("s", s)
                        t = a.get("t", t)
                    elif col:
                        c = colidx[col]
                    else:
                        c = prev + 1
                    prev = c
                    if v:
                        self.shared_used = shared_used
                        val = render(t, s, xml_text(v))
                        shared_used = self.shared_used
                    elif sc:
                        lt -= 3
                        continue
                    elif isv:
                        lt += 2
                        val = intern.get(isv)
                        if val is None:
                            val = ooxml_unescape(xml_text(isv))
                            if len(val) > self.max_cell_chars:
                                raise NeedExact()
                            if len(intern) < 100_000 and len(val) < 256:
                                intern[isv] = val
                    elif fv:
                        lt += fpart.count("<")
                        self.shared_used = shared_used
                        val = render(t, s, xml_text(fv))
                        shared_used = self.shared_used
                    else:
                        lt += gen.count("<") - 2
                        if not gen or gen.isspace():
                            continue
                        self.shared_used = shared_used
                        m = gen_v(gen)
                        if m is not None:  # <f>..</f><v>..</v> with whitespace, <v/>...
                            gv = m.group(1)
                            val = render(t, s, xml_text(gv)) if gv else ""
                        else:
                            m = gen_is(gen)
                            if m is not None and (t == "inlineStr" or not t):
                                val = self._text(ooxml_unescape(xml_text(m.group(1))))
                            else:
                                val = self._exact_cell(t, s, gen)
                        shared_used = self.shared_used
                    try:
                        out[c] = val
                    except IndexError:
                        self._overflow(out, c, val, ncols)
                if shared_used > max_shared:
                    raise NeedExact()
                if ncols is None:
                    if out.count(empty) != len(out):
                        rows.append(out)
                elif out != blank:
                    rows.append(out)
        except (ValueError, IndexError, TypeError, KeyError, XlsxLimitError):
            raise NeedExact() from None
        if lt != text.count("<"):
            raise NeedExact()
        self.shared_used = shared_used
        return rows

    def _overflow(self, out, c, val, ncols):
        if not val:
            return
        if c >= self.max_columns:
            raise TooManyColumns(f"a cell in column {c + 1} (cap {self.max_columns})")
        if ncols is None:  # header chunk: rows grow as needed
            out.extend([self.empty] * (c + 1 - len(out)))
            out[c] = val
        elif self.extra_cells == "error":
            raise ExtraCellError(
                f"a data row has a value in column {c + 1}, beyond the {ncols} header columns"
            )

    def _to_lists(self, drows, ncols):
        res = []
        for d in drows:
            out = [] if ncols is None else [self.empty] * ncols
            for c, val in d.items():
                try:
                    out[c] = val
                except IndexError:
                    self._overflow(out, c, val, ncols)
            if out.count(self.empty) != len(out):
                res.append(out)
        return res

    def _exact_cell(self, t, s, inner):
        p = prefix_text(self.prefix)
        attrs = (f' t="{t}"' if t else "") + (f' s="{s}"' if s else "")
        data = (
            f"<{p}sheetData {self.nsdecls.decode()}><{p}row><{p}c{attrs}>{inner}</{p}c>"
            f"</{p}row></{p}sheetData>"
        ).encode()
        rows = self.exact(data, wrapped=True)
        if not rows:
            return ""
        if len(rows) != 1 or len(rows[0]) != 1:
            raise NeedExact()
        return next(iter(rows[0].values()))

    # ---- exact path (expat): the reference semantics; the fast path must agree with it

    def chunk_rows(self, chunk: bytes, ncols):
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError as e:
            raise XlsxFormatError(f"{self.name}: invalid UTF-8: {e}") from None
        base = self.shared_used
        try:
            return self.fast(text, ncols)
        except NeedExact:
            pass
        self.shared_used = base
        self.exact_chunks += 1
        return self._to_lists(self.exact(chunk), ncols)

    def scans_apart(self) -> bool:
        """Whether chunks can be scanned ahead, away from the reader (`scan_chunk`)."""
        return columns.ENABLED and not self.prefix

    def chunk_block(self, chunk: bytes, ncols: int, scanned: Future | None = None):
        """The chunk's rows as a `columns.ColumnBlock` when the column path reads it, else
        as the row path's list of rows; the same values either way. `scanned` is the chunk's
        `scan_chunk` already under way, if it is."""
        if columns.ENABLED:
            try:
                chunk.decode("utf-8")
            except UnicodeDecodeError as e:
                raise XlsxFormatError(f"{self.name}: invalid UTF-8: {e}") from None
            try:
                cells = None if scanned is None else scanned.result()
                block = columns.read_block(self, chunk, ncols, cells)
            except NeedExact:
                pass
            else:
                columns.COUNTS["columns"] += 1
                return block
        columns.COUNTS["rows"] += 1
        return self.chunk_rows(chunk, ncols)


def scan_chunk(reader: SheetReader, chunk: bytes):
    """The chunk's cells (`tags.scan`), or NeedExact: the part of the column path that reads
    nothing of the reader's state, so it can run in another thread."""
    return columns.scan(chunk, reader.date_styles)
