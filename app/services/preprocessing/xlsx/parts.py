"""The parts of a workbook package: zip members read within caps, small XML parts, the
relationships that lead to the first sheet, the chunker that cuts a big part into pieces at
element boundaries, and the styles that make numbers dates."""

from __future__ import annotations

import contextlib
import posixpath
import re
import xml.parsers.expat
import zipfile
from collections.abc import Iterator

from app.services.preprocessing.xlsx.errors import PartTooLarge, XlsxFormatError
from app.services.preprocessing.xlsx.values import (
    BLOCK,
    BUILTIN_DATE,
    BUILTIN_TIME,
    CHUNK_TARGET,
    DOCREL_NS,
    MAIN_NS,
    classify_format,
)


def open_zip(src) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(src)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise XlsxFormatError(f"not an .xlsx (zip) file: {e}") from None


def member(zf: zipfile.ZipFile, name: str) -> zipfile.ZipInfo | None:
    try:
        return zf.getinfo(name)
    except KeyError:
        low = name.lower()
        for zi in zf.infolist():
            if zi.filename.lower() == low:
                return zi
    return None


def read_small(zf, name, cap) -> bytes:
    zi = member(zf, name)
    if zi is None:
        raise XlsxFormatError(f"missing part {name}")
    if zi.file_size > cap:
        raise PartTooLarge(f"{name} inflates to {zi.file_size} bytes (cap {cap})")
    if zi.flag_bits & 0x1:
        raise XlsxFormatError("encrypted zip member")
    try:
        with zf.open(zi) as f:
            data = f.read(cap + 1)
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError) as e:
        raise XlsxFormatError(f"cannot inflate {name}: {e}") from None
    if len(data) > cap:
        raise PartTooLarge(f"{name} larger than {cap} bytes")
    return data


def no_doctype(data: bytes, name: str):
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise XlsxFormatError(f"{name}: DOCTYPE/ENTITY declarations are not allowed")


class MiniTree:
    """Parse a small XML part into a list of (depth, ns, local, attrs) via expat."""

    def __init__(self, data: bytes, name: str):
        no_doctype(data, name)
        self.items: list[tuple[int, str, str, dict[str, str]]] = []
        self.text: list[str] = []
        depth = [0]
        p = xml.parsers.expat.ParserCreate(namespace_separator="}")

        def start(tag, attrs):
            ns, _, local = tag.rpartition("}")
            self.items.append((depth[0], ns, local, attrs))
            depth[0] += 1

        def end(tag):
            depth[0] -= 1

        def forbid(*a):
            raise XlsxFormatError(f"{name}: DTD not allowed")

        p.StartElementHandler = start
        p.EndElementHandler = end
        p.StartDoctypeDeclHandler = forbid
        p.EntityDeclHandler = forbid
        try:
            p.Parse(data, True)
        except xml.parsers.expat.ExpatError as e:
            raise XlsxFormatError(f"{name}: malformed XML: {e}") from None


def resolve_target(base_dir: str, target: str) -> str:
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    return posixpath.normpath(posixpath.join(base_dir, target))


def relationships(zf, part: str, cap) -> dict:
    d, b = posixpath.split(part)
    name = posixpath.join(d, "_rels", b + ".rels")
    if member(zf, name) is None:
        return {}
    out = {}
    for _, _ns, local, a in MiniTree(read_small(zf, name, cap), name).items:
        if local == "Relationship" and a.get("TargetMode") != "External":
            out[a.get("Id")] = (a.get("Type", ""), resolve_target(d, a.get("Target", "")))
    return out


# --------------------------------------------------------------------------- chunker
def xml_chunks(
    f, end_tag: bytes, cut_tag: bytes, start: bytes, cap: int, max_chunk: int, name: str
) -> Iterator[bytes]:
    """Yield pieces of the member cut right after `cut_tag`, stopping at `end_tag`.
    `start` is already-read data following the container's start tag."""
    buf = start
    total = len(start)
    done = False
    while True:
        e = buf.find(end_tag)
        if e >= 0:
            if e:
                yield buf[:e]
            return
        cut = buf.rfind(cut_tag)
        if cut >= 0 and (len(buf) >= CHUNK_TARGET or done):
            cut += len(cut_tag)
            yield buf[:cut]
            buf = buf[cut:]
            continue
        if done:
            raise XlsxFormatError(f"{name}: truncated XML (no {end_tag.decode()})")
        if len(buf) > max_chunk:
            raise PartTooLarge(f"{name}: a single element exceeds {max_chunk} bytes")
        try:
            b = f.read(BLOCK)
        except (zipfile.BadZipFile, EOFError, OSError, RuntimeError) as ex:
            raise XlsxFormatError(f"cannot inflate {name}: {ex}") from None
        if not b:
            done = True
            continue
        total += len(b)
        if total > cap:
            raise PartTooLarge(f"{name} inflates to more than {cap} bytes")
        buf += b


def prolog(f, root_local: str, cont_local: str, cap: int, name: str):
    """Read until the start tag of `cont_local` (sheetData / sst).  Returns
    (prefix, nsdecls bytes, self_closing, rest_bytes, bytes_read)."""
    buf = b""
    cont_re = re.compile(
        rb"<(?:([A-Za-z_][\w.-]*):)?" + cont_local.encode() + rb"((?:\s[^>]*?)?)(/?)>"
    )
    while True:
        m = cont_re.search(buf)
        if m:
            break
        b = f.read(BLOCK)
        if not b:
            if root_local == "sst":
                return None
            raise XlsxFormatError(f"{name}: no <{cont_local}> element")
        buf += b
        if len(buf) > cap:
            raise PartTooLarge(f"{name}: more than {cap} bytes before <{cont_local}>")
    head = buf[: m.start()]
    no_doctype(head, name)
    if b"<?xml" in head:
        decl = head[head.find(b"<?xml") : head.find(b"?>") + 2]
        em = re.search(rb"encoding\s*=\s*[\"']([^\"']+)", decl)
        if em and em.group(1).lower().replace(b"-", b"") not in (b"utf8",):
            raise XlsxFormatError(f"{name}: unsupported encoding {em.group(1)!r}")
    rm = re.search(
        rb"<(?:[\w.-]+:)?" + root_local.encode() + rb"(\s[^>]*)?>",
        head if root_local != cont_local else b"",
    )
    attrs = (rm.group(1) or b"") if rm else b""
    attrs += b" " + (m.group(2) or b"")
    decls = dict(re.findall(rb"\bxmlns(?::([\w.-]+))?\s*=\s*[\"']([^\"']*)[\"']", attrs))
    prefix = m.group(1) or b""
    ns = decls.get(prefix)
    if ns is None or ns.decode() not in MAIN_NS:
        raise XlsxFormatError(f"{name}: <{cont_local}> is not in the SpreadsheetML namespace")
    nsdecls = b" ".join(
        (b"xmlns:" + k if k else b"xmlns") + b'="' + v + b'"' for k, v in decls.items()
    )
    return prefix, nsdecls, bool(m.group(3)), buf[m.end() :], len(buf)


def expat_parser(name):
    p = xml.parsers.expat.ParserCreate(namespace_separator="}")
    p.buffer_text = True

    def forbid(*a):
        raise XlsxFormatError(f"{name}: DTD not allowed")

    p.StartDoctypeDeclHandler = forbid
    p.EntityDeclHandler = forbid
    return p


def prefix_text(prefix: bytes) -> str:
    return (prefix.decode() + ":") if prefix else ""


def read_date_styles(zf, part, cap):
    """Return {style index (str): 'date'|'time'} for number formats that are dates."""
    if not part or member(zf, part) is None:
        return {}
    fmts = {}
    xfs = []
    in_cellxfs = None
    for depth, _ns, local, a in MiniTree(read_small(zf, part, cap), part).items:
        if local == "numFmt":
            with contextlib.suppress(ValueError):
                fmts[int(a.get("numFmtId", "-1"))] = a.get("formatCode", "")
        elif local == "cellXfs":
            in_cellxfs = depth
        elif local == "xf" and in_cellxfs is not None and depth == in_cellxfs + 1:
            try:
                xfs.append(int(a.get("numFmtId", "0")))
            except ValueError:
                xfs.append(0)
        elif in_cellxfs is not None and depth <= in_cellxfs:
            in_cellxfs = None
    out = {}
    for i, fid in enumerate(xfs):
        kind = None
        if fid in fmts:
            kind = classify_format(fmts[fid])
        elif fid in BUILTIN_DATE:
            kind = "date"
        elif fid in BUILTIN_TIME:
            kind = "time"
        if kind:
            out[str(i)] = kind
    return out


def workbook_parts(zf, sheet, cap_small):
    rels = relationships(zf, "", cap_small)  # _rels/.rels
    wb_part = None
    for typ, target in rels.values():
        if typ.endswith("/officeDocument"):
            wb_part = target
    wb_part = wb_part or "xl/workbook.xml"
    wb = MiniTree(read_small(zf, wb_part, cap_small), wb_part)
    sheets = []
    date1904 = False
    for _, _ns, local, a in wb.items:
        if local == "sheet":
            rid = None
            for k, v in a.items():
                kns, _, kl = k.rpartition("}")
                if kl == "id" and kns in DOCREL_NS:
                    rid = v
            sheets.append((a.get("name", ""), rid))
        elif local == "workbookPr":
            date1904 = a.get("date1904", "0").lower() in ("1", "true")
    if not sheets:
        raise XlsxFormatError("workbook has no sheets")
    wrels = relationships(zf, wb_part, cap_small)
    if sheet is None:
        sname, rid = sheets[0]
    elif isinstance(sheet, int):
        if not 0 <= sheet < len(sheets):
            raise XlsxFormatError(f"no sheet #{sheet}")
        sname, rid = sheets[sheet]
    else:
        m = [s for s in sheets if s[0] == sheet]
        if not m:
            raise XlsxFormatError(f"no sheet named {sheet!r}")
        sname, rid = m[0]
    if rid not in wrels:
        raise XlsxFormatError(f"sheet {sname!r} has no target")
    typ, sheet_part = wrels[rid]
    if not typ.endswith("/worksheet"):
        raise XlsxFormatError(f"sheet {sname!r} is not a worksheet ({typ.rsplit('/', 1)[-1]})")
    sst_part = styles_part = None
    for typ, target in wrels.values():
        if typ.endswith("/sharedStrings"):
            sst_part = target
        elif typ.endswith("/styles"):
            styles_part = target
    return sheet_part, sst_part, styles_part, date1904
