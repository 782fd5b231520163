"""The shared strings of a workbook, read in chunks within a budget of characters."""

from __future__ import annotations

import re
import xml.parsers.expat

from app.services.preprocessing.xlsx.errors import (
    NeedExact,
    PartTooLarge,
    SharedStringBudgetExceeded,
    XlsxFormatError,
)
from app.services.preprocessing.xlsx.parts import (
    expat_parser,
    member,
    prefix_text,
    prolog,
    xml_chunks,
)
from app.services.preprocessing.xlsx.values import MAIN_NS, ooxml_unescape, xml_text


class SharedStrings:
    def __init__(self, zf, part, *, max_cell_chars, max_shared_chars, max_count, cap):
        self.strings: list[str | None] = []
        self.max_cell_chars = max_cell_chars
        self.max_shared_chars = max_shared_chars
        self.max_count = max_count
        self.total = 0
        self.name = part
        zi = member(zf, part)
        if zi is None:
            return
        if zi.file_size > cap:
            raise PartTooLarge(f"{part} inflates to {zi.file_size} bytes (cap {cap})")
        with zf.open(zi) as f:
            pr = prolog(f, "sst", "sst", cap, part)
            if pr is None:
                return
            prefix, nsdecls, selfclose, rest, _ = pr
            if selfclose:
                return
            self.nsdecls = nsdecls
            p = prefix_text(prefix)
            self.p = p
            pe = re.escape(p)
            self.si_re = re.compile(
                rf"<{pe}si(?:(/)>"
                rf'|><{pe}t(?: xml:space="preserve")?>([^<]+)</{pe}t></{pe}si>'
                rf"|>(.*?)</{pe}si>)",
                re.S,
            )
            for chunk in xml_chunks(
                f, f"</{p}sst>".encode(), f"</{p}si>".encode(), rest, cap, 64 << 20, part
            ):
                self._chunk(chunk)

    def _add(self, s: str):
        s = ooxml_unescape(s)
        n = len(s)
        self.total += n
        if self.total > self.max_shared_chars:
            raise SharedStringBudgetExceeded(
                f"shared strings hold more than {self.max_shared_chars} characters"
            )
        if len(self.strings) >= self.max_count:
            raise SharedStringBudgetExceeded(f"more than {self.max_count} shared strings")
        self.strings.append(None if n > self.max_cell_chars else s)

    def _chunk(self, chunk: bytes):
        text = chunk.decode("utf-8")
        if "<!" not in text and "<?" not in text:
            try:
                out = []
                lt = 0
                for sc, tv, gen in self.si_re.findall(text):
                    if tv:
                        lt += 4
                        out.append(xml_text(tv))
                    elif sc:
                        lt += 1
                        out.append("")
                    else:
                        lt += 2 + gen.count("<")
                        out.append(self._exact_si(gen))
                if lt == text.count("<"):
                    for s in out:
                        self._add(s)
                    return
            except NeedExact:
                pass
        self._exact_chunk(chunk)

    def _exact_si(self, inner: str) -> str:
        res: list[str] = []
        self._exact(
            (
                f"<{self.p}sst {self.nsdecls.decode()}>"
                f"<{self.p}si>{inner}</{self.p}si></{self.p}sst>"
            ).encode(),
            res,
        )
        if len(res) != 1:
            raise NeedExact()
        return res[0]

    def _exact_chunk(self, chunk: bytes):
        res: list[str] = []
        self._exact(
            b"<"
            + self.p.encode()
            + b"sst "
            + self.nsdecls
            + b">"
            + chunk
            + b"</"
            + self.p.encode()
            + b"sst>",
            res,
        )
        for s in res:
            self._add(s)

    def _exact(self, data: bytes, res: list):
        p = expat_parser(self.name)
        stack = []
        buf: list[str] = []
        skip = [0]

        def start(tag, attrs):
            ns, _, local = tag.rpartition("}")
            if ns not in MAIN_NS:
                local = "\0" + local
            stack.append(local)
            if local == "si" and len(stack) == 2:
                buf.clear()
            elif local in ("rPh", "phoneticPr") or (local.startswith("\0")):
                skip[0] += 1

        def end(tag):
            local = stack.pop()
            if local == "si" and len(stack) == 1:
                res.append("".join(buf))
            elif local in ("rPh", "phoneticPr") or local.startswith("\0"):
                skip[0] -= 1

        def data_(s):
            if not skip[0] and stack and stack[-1] == "t" and "si" in stack:
                buf.append(s)
                if len(buf) > 4096:  # keep a single <si> bounded by the chunk anyway
                    buf[:] = ["".join(buf)]

        p.StartElementHandler = start
        p.EndElementHandler = end
        p.CharacterDataHandler = data_
        try:
            p.Parse(data, True)
        except xml.parsers.expat.ExpatError as e:
            raise XlsxFormatError(f"{self.name}: malformed XML: {e}") from None
