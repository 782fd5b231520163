"""The column path of the workbook reader (`xlsx.columns`) against the row path: every workbook
of a corpus (XlsxWriter's, hand-built XML for the odd forms, random ones from hypothesis) reads
to the same frame, attrs, `complete` flag and refusals with the column path on and off."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.services.preprocessing.columns import InvalidUpload
from app.services.preprocessing.limits import UploadLimits
from app.services.preprocessing.xlsx import columns, parts
from app.services.preprocessing.xlsx.values import general_number
from app.services.preprocessing.xlsx_table import read_xlsx_table

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
STYLES = (
    f'<styleSheet xmlns="{MAIN}"><numFmts count="1"><numFmt numFmtId="164" formatCode="0.00"/>'
    '</numFmts><cellXfs count="4"><xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="164"/>'
    '<xf numFmtId="20"/></cellXfs></styleSheet>'
)


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    """Chunks of a few rows, so that small workbooks have many chunks after the header's."""
    monkeypatch.setattr(parts, "BLOCK", 700)
    monkeypatch.setattr(parts, "CHUNK_TARGET", 700)


def write_xml_workbook(path: Path, rows: list[str], shared: list[str] | None = None) -> Path:
    sheet = f'<?xml version="1.0"?><worksheet xmlns="{MAIN}"><sheetData>{"".join(rows)}'
    sheet += "</sheetData></worksheet>"
    rels = f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    rels += f'<Relationship Id="rId2" Type="{REL}/styles" Target="styles.xml"/>'
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" '
            f'Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        z.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>'
            '<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        if shared is not None:
            rels += f'<Relationship Id="rId3" Type="{REL}/sharedStrings" Target="ss.xml"/>'
            items = "".join(f'<si><t xml:space="preserve">{s}</t></si>' for s in shared)
            z.writestr("xl/ss.xml", f'<sst xmlns="{MAIN}">{items}</sst>')
        z.writestr(
            "xl/_rels/workbook.xml.rels", f'<Relationships xmlns="{PKG}">{rels}</Relationships>'
        )
        z.writestr("xl/styles.xml", STYLES)
        z.writestr("xl/worksheets/sheet1.xml", sheet)
    return path


def letters(i: int) -> str:
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


def row(r: int, cells: list[str]) -> str:
    return f'<row r="{r}">{"".join(cells)}</row>'


def num(ref: str, v: str, s: str = "") -> str:
    style = f' s="{s}"' if s else ""
    return f'<c r="{ref}"{style}><v>{v}</v></c>'


def inline(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def outcome(path: Path, enabled: bool, limits: UploadLimits, stop_after: int | None):
    old = columns.ENABLED
    columns.ENABLED = enabled
    try:
        frame, complete = read_xlsx_table(path, limits, stop_after)
    except InvalidUpload as error:
        return ("refused", str(error), repr(error.__cause__))
    finally:
        columns.ENABLED = old
    return frame, complete


def assert_same(path: Path, limits: UploadLimits | None = None, stop_after: int | None = None):
    limits = limits or UploadLimits()
    columns.COUNTS.clear()
    fast = outcome(path, True, limits, stop_after)
    used = columns.COUNTS["columns"]
    slow = outcome(path, False, limits, stop_after)
    if isinstance(fast[0], str) or isinstance(slow[0], str):
        assert fast == slow
        return used
    (frame, complete), (reference, reference_complete) = fast, slow
    assert complete == reference_complete
    pd.testing.assert_frame_equal(frame, reference)
    assert list(frame.columns) == list(reference.columns)
    assert frame.attrs == reference.attrs
    assert frame.dtypes.tolist() == reference.dtypes.tolist()
    return used


NUMBERS = [
    "29.85", "1889.5", "0", "-3", "0.30000000000000004", "1E+20", "1e20",
    "123456789012345678", "-0", "-0.0", "1E-7", "0.0001", "0.00001", "1.50", "007",
    "123456789012345", "1234567890123456", "0.1", "-0.5", "1e-5", "99999999999999.9",
    "2.5E-3", "+4", "4.", ".5", "0.000123", "44927", "44927.5",
]  # fmt: skip


def odd_rows() -> list[str]:
    rows = [row(1, [inline(f"{letters(i)}1", f"h{i}") for i in range(5)])]
    r = 2
    for i, v in enumerate(NUMBERS):
        rows.append(row(r, [num(f"A{r}", v), inline(f"B{r}", f"t{i}"), num(f"C{r}", v, "2")]))
        r += 1
    rows.append(row(r, [num(f"D{r}", "44927.25", "1"), num(f"E{r}", "0.75", "3")]))
    rows.append('<row r="40"/>')  # a self-closing (blank) row
    rows.append(row(41, ['<c r="A41" s="2"/>', '<c r="C41"/>']))  # styled empty cells: blank
    rows.append(row(42, [num("B42", "5"), num("D42", "6")]))  # missing cells
    rows.append(row(43, [inline("A43", "AT&amp;T"), inline("B43", "a_x000D_b")]))  # escapes
    rows.append(row(44, ['<c r="A44" t="b"><v>1</v></c>', '<c r="B44" t="e"><v>#N/A</v></c>']))
    rows.append(row(45, ['<c r="A45" t="str"><v>formula text</v></c>', num("C45", "1")]))
    rows.append(row(46, [inline("A46", "x"), '<c r="B46" s="1"/>', inline("E46", "é ü")]))
    rows.append(row(47, [num("B47", "2"), num("A47", "1")]))  # out of order
    rows.append(row(48, [num("A48", "1"), num("A48", "2")]))  # duplicate reference
    rows.append(row(49, ['<c r="A49" t="inlineStr"><is><t xml:space="preserve"> sp </t></is></c>']))
    rows.append(row(50, ['<c t="n" r="A50"><v>3</v></c>']))  # attributes in another order
    rows.append(row(51, [inline("A51", ""), num("B51", "1")]))
    rows += [row(60 + i, [num(f"A{60 + i}", str(i)), inline(f"C{60 + i}", "z")]) for i in range(30)]
    return rows


def test_odd_forms_read_the_same_with_and_without_the_column_path(tmp_path):
    path = write_xml_workbook(tmp_path / "odd.xlsx", odd_rows())
    assert assert_same(path) > 0


@pytest.mark.parametrize("stop_after", [0, 1, 5, 17, 30, 60, 1000])
def test_stop_after_reads_the_same(tmp_path, stop_after):
    path = write_xml_workbook(tmp_path / "odd.xlsx", odd_rows())
    assert_same(path, stop_after=stop_after)


def test_shared_strings_and_their_budget(tmp_path):
    shared = ["", "Yes", "No", "a longer shared string", "x" * 40]
    rows = [row(1, [inline("A1", "a"), inline("B1", "b")])]
    for r in range(2, 80):
        cells = [
            f'<c r="A{r}" t="s"><v>{r % 5}</v></c>',
            f'<c r="B{r}" t="s"><v>{(r * 3) % 5}</v></c>',
        ]
        rows.append(row(r, cells))
    rows.append(row(80, ['<c r="A80" t="s"><v>0</v></c>']))  # a row of one empty string
    path = write_xml_workbook(tmp_path / "shared.xlsx", rows, shared)
    assert assert_same(path) > 0
    for budget in (10, 500, 1500, 2000, 3000):
        assert_same(path, UploadLimits(xlsx_max_expanded_chars=budget))
    assert_same(path, UploadLimits(max_cell_chars=30))
    bad = write_xml_workbook(
        tmp_path / "bad.xlsx", [*rows, row(81, ['<c r="A81" t="s"><v>9</v></c>'])], shared
    )
    assert_same(bad)


def test_caps_are_enforced_alike(tmp_path):
    rows = [row(1, [inline("A1", "a"), inline("B1", "b")])]
    rows += [row(r, [inline(f"A{r}", "v" * (r % 13)), num(f"B{r}", str(r))]) for r in range(2, 90)]
    path = write_xml_workbook(tmp_path / "caps.xlsx", rows)
    for limits in (
        UploadLimits(max_rows=50),
        UploadLimits(max_rows=87),
        UploadLimits(max_rows=88),
        UploadLimits(max_cells=101),
        UploadLimits(max_cell_chars=11),
        UploadLimits(max_columns=1),
    ):
        assert_same(path, limits)
        assert_same(path, limits, stop_after=40)
    extra = write_xml_workbook(
        tmp_path / "extra.xlsx", [*rows, row(95, [num("C95", "1")]), row(96, [num("A96", "1")])]
    )
    assert_same(extra)
    far = write_xml_workbook(tmp_path / "far.xlsx", [*rows, row(95, [num("XFD95", "1")])])
    assert_same(far, UploadLimits(max_columns=100))
    empty_extra = write_xml_workbook(tmp_path / "ee.xlsx", [*rows, row(95, ['<c r="D95" s="1"/>'])])
    assert_same(empty_extra)


def test_xlsxwriter_workbook(tmp_path):
    import datetime

    import xlsxwriter

    path = tmp_path / "xw.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    date = book.add_format({"num_format": "yyyy-mm-dd"})
    grey = book.add_format({"bg_color": "#cccccc"})
    sheet.write_row(0, 0, ["id", "name", "amount", "when", "flag", "note"])
    values = [0.1 + 0.2, 1e20, 123456789012345678, -0.0, 1e-7, 29.85, 3, -12.5, 1 / 3, 2**53]
    for r in range(1, 200):
        sheet.write_number(r, 0, r)
        sheet.write_string(r, 1, ["Yes", "No", "Fiber optic", "R&D", "tab\there"][r % 5])
        sheet.write_number(r, 2, values[r % len(values)])
        if r % 7 == 0:
            sheet.write_datetime(r, 3, datetime.datetime(2024, 1, r % 28 + 1), date)
        if r % 11 == 0:
            sheet.write_boolean(r, 4, r % 2 == 0)
        if r % 3 == 0:
            sheet.write_blank(r, 5, None, grey)
    sheet.write_row(220, 0, [1, "after a gap"])
    book.close()
    assert_same(path)
    for stop_after in (0, 10, 198, 199, 200):
        assert_same(path, stop_after=stop_after)


def plain_workbook(path: Path) -> Path:
    """XlsxWriter's workbook of 299 customers: text, numbers and a repeated category."""
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["customerID", "gender", "tenure", "MonthlyCharges"])
    for r in range(1, 300):
        sheet.write_row(r, 0, [f"{r:07d}-X", ["Male", "Female"][r % 2], r % 72, 18.25 + r / 4])
    book.close()
    return path


def test_the_rows_after_the_header_in_its_chunk_take_the_column_path(tmp_path, monkeypatch):
    from app.services.preprocessing.xlsx import values

    monkeypatch.setattr(parts, "BLOCK", values.BLOCK)  # the shipped sizes: one chunk in all
    monkeypatch.setattr(parts, "CHUNK_TARGET", values.CHUNK_TARGET)
    path = plain_workbook(tmp_path / "one-chunk.xlsx")
    columns.COUNTS.clear()
    frame, complete = read_xlsx_table(path, UploadLimits())
    assert complete and len(frame) == 299 and frame["tenure"].iloc[-1] == str(299 % 72)
    # the header row alone was read by the row path, the 299 rows after it as columns
    assert columns.COUNTS == {"columns": 1}
    assert_same(path)
    for stop_after in (0, 1, 298):
        assert_same(path, stop_after=stop_after)


def test_the_plain_workbook_takes_the_column_path(tmp_path):
    path = plain_workbook(tmp_path / "plain.xlsx")
    columns.COUNTS.clear()
    frame, complete = read_xlsx_table(path, UploadLimits())
    assert complete and len(frame) == 299
    assert columns.COUNTS["rows"] == 0 and columns.COUNTS["columns"] > 10
    assert frame.attrs["number_columns"] == ["tenure", "MonthlyCharges"]
    assert_same(path)


def test_the_bench_shaped_workbook_takes_the_column_path(tmp_path):
    import pyarrow as pa

    from app.services.prediction.xlsx_result import XlsxResult

    frame = pd.DataFrame(
        {
            "customerID": [f"{i:07d}-BNCH" for i in range(400)],
            "Contract": ["Month-to-month", "One year", "Two year", " "] * 100,
            "tenure": [str(i % 72) for i in range(400)],
            "MonthlyCharges": [f"{20 + i * 0.35:.2f}".rstrip("0").rstrip(".") for i in range(400)],
        }
    )
    path = tmp_path / "bench.xlsx"
    with XlsxResult(path, list(frame.columns), [], ["tenure", "MonthlyCharges"], 400) as out:
        out.write(frame, pa.table({}))
    columns.COUNTS.clear()
    read_xlsx_table(path, UploadLimits())
    assert columns.COUNTS["rows"] == 0 and columns.COUNTS["columns"] > 10
    assert_same(path)


DECIMAL = st.builds(
    lambda sign, whole, frac: sign + whole + ("." + frac if frac is not None else ""),
    st.sampled_from(["", "-"]),
    st.from_regex(r"[0-9]{1,17}", fullmatch=True),
    st.none() | st.from_regex(r"[0-9]{1,17}", fullmatch=True),
)


@given(DECIMAL | st.floats(allow_nan=False, allow_infinity=False).map(repr))
@settings(max_examples=400, deadline=None)
def test_plain_numbers_are_exactly_those_general_shows_as_stored(text):
    data = np.frombuffer(text.encode() + bytes(64), dtype=np.uint8)
    plain = columns._plain_numbers(data, np.array([0]), np.array([len(text)]))[0]
    if plain:
        assert general_number(text) == text


CELL = st.one_of(
    st.none(),
    st.text(alphabet="abcXYZ 0123456789&<>_-é\t", min_size=0, max_size=8),
    st.floats(allow_nan=False, allow_infinity=False, width=64).map(repr),
    st.integers(-(10**18), 10**18).map(str),
    DECIMAL,
)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@given(st.lists(st.lists(st.tuples(st.booleans(), CELL), min_size=3, max_size=3), max_size=40))
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_random_workbooks_read_the_same(tmp_path, data):
    rows = [row(1, [inline("A1", "a"), inline("B1", "b"), inline("C1", "c")])]
    shared: list[str] = []
    for r, cells in enumerate(data, start=2):
        out = []
        for c, (as_text, value) in enumerate(cells):
            ref = f"{letters(c)}{r}"
            if value is None:
                continue
            if as_text or not value or not value.lstrip("-").replace(".", "").isdigit():
                if c == 2:
                    shared.append(_escape(value))
                    out.append(f'<c r="{ref}" t="s"><v>{len(shared) - 1}</v></c>')
                else:
                    out.append(inline(ref, _escape(value)))
            else:
                out.append(num(ref, value, "1" if r % 9 == 0 and c == 1 else ""))
        rows.append(row(r, out))
    path = write_xml_workbook(tmp_path / "random.xlsx", rows, shared)
    assert_same(path)
    assert_same(path, stop_after=len(data) // 2)
