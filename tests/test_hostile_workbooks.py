"""Small workbooks that claim or point at far more than they hold: each is refused with a
message or read correctly, never by allocating what it claims; nothing is left behind.

Every file is built here, in a few kilobytes. Outcomes are asserted, not timings: a reader that
allocated the bounding box of a far cell would abort the test process instead.
"""

from __future__ import annotations

import html
import io
import zipfile

import pandas as pd
import pytest
from flask import current_app
from sqlalchemy import func, select

from app.extensions import db
from app.schema import Dataset, Prediction
from app.services import jobs, registry
from app.services.preprocessing import InvalidUpload, read_head, read_table
from app.services.preprocessing.reading import XLSX_GLANCE_ROWS
from tests import factories

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
PACKAGE = "http://schemas.openxmlformats.org/package/2006"
RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
OOXML = "application/vnd.openxmlformats-officedocument.spreadsheetml"
XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'


def column_letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def workbook(
    rows: list[str], shared: list[str] | None = None, dimension: str | None = None
) -> bytes:
    """A workbook whose first sheet holds `rows` (row XML), with optional shared strings and
    a declared dimension ("A1:T101")."""
    sst_override = (
        f'<Override PartName="/xl/sharedStrings.xml" ContentType="{OOXML}.sharedStrings+xml"/>'
        if shared is not None
        else ""
    )
    sst_rel = (
        f'<Relationship Id="rId2" Type="{RELATIONSHIPS}/sharedStrings" Target="sharedStrings.xml"/>'
        if shared is not None
        else ""
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr(
            "[Content_Types].xml",
            f'{XML}<Types xmlns="{PACKAGE}/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{OOXML}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{OOXML}.worksheet+xml"/>'
            f"{sst_override}</Types>",
        )
        archive.writestr(
            "_rels/.rels",
            f'{XML}<Relationships xmlns="{PACKAGE}/relationships">'
            f'<Relationship Id="rId1" Type="{RELATIONSHIPS}/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'{XML}<workbook xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}">'
            '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'{XML}<Relationships xmlns="{PACKAGE}/relationships">'
            f'<Relationship Id="rId1" Type="{RELATIONSHIPS}/worksheet" '
            f'Target="worksheets/sheet1.xml"/>{sst_rel}</Relationships>',
        )
        archive.writestr(
            "xl/worksheets/sheet1.xml",
            f'{XML}<worksheet xmlns="{MAIN}">'
            + (f'<dimension ref="{dimension}"/>' if dimension else "")
            + f"<sheetData>{''.join(rows)}</sheetData></worksheet>",
        )
        if shared is not None:
            items = "".join(f"<si><t>{text}</t></si>" for text in shared)
            archive.writestr(
                "xl/sharedStrings.xml",
                f'{XML}<sst xmlns="{MAIN}" count="{len(shared)}" uniqueCount="{len(shared)}">'
                f"{items}</sst>",
            )
    return buffer.getvalue()


def inline_row(number: int, values: list[str], start: int = 0) -> str:
    cells = "".join(
        f'<c r="{column_letters(start + i)}{number}" t="inlineStr"><is><t>{v}</t></is></c>'
        for i, v in enumerate(values)
    )
    return f'<row r="{number}">{cells}</row>'


def customers(rows: int) -> pd.DataFrame:
    frame = pd.read_csv(current_app.config["ORIGINAL_DATASET"], dtype=str, keep_default_na=False)
    return frame.head(rows).drop(columns=["Churn"])


def customer_rows(frame: pd.DataFrame) -> list[str]:
    rows = [inline_row(1, list(frame.columns))]
    rows += [inline_row(i + 2, list(r)) for i, r in enumerate(frame.itertuples(index=False))]
    return rows


def stored_files() -> list:
    root = current_app.config["DATASETS_ROOT"]
    from pathlib import Path

    return sorted(p for p in Path(root).rglob("*") if p.is_file())


def counts() -> list[int]:
    return [db.session.scalar(select(func.count()).select_from(t)) for t in (Dataset, Prediction)]


def post(client, account, data: bytes, name="hostile.xlsx"):
    model = registry.models_for(account)[0]
    return client.post(
        f"/{account.role}/predict",
        data={"name": "Hostile", "model_id": str(model.id), "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def refused(client, account, data: bytes) -> str:
    before, files = counts(), stored_files()
    response = post(client, account, data)
    assert response.status_code == 400, response.status_code
    assert counts() == before and stored_files() == files
    return html.unescape(response.get_data(as_text=True))


# The refusals ---------------------------------------------------------------------------------


def test_one_cell_far_away_is_refused_without_allocating_the_range(developer_client, developer):
    rows = customer_rows(customers(3)) + ['<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>']
    data = workbook(rows)
    assert len(data) < 10_000
    page = refused(developer_client, developer, data)
    assert "beyond the 20 header columns" in page


def test_a_far_header_cell_is_read_as_one_more_column_not_a_grid(app, tmp_path):
    frame = customers(3)
    rows = customer_rows(frame)
    rows[0] = rows[0].replace("</row>", '<c r="XFD1" t="inlineStr"><is><t>Far</t></is></c></row>')
    path = tmp_path / "far-header.xlsx"
    path.write_bytes(workbook(rows))
    table = read_table(path, "xlsx")
    assert list(table.columns)[:20] == list(frame.columns)
    assert table.columns[-1] == "Far" and len(table) == 3


def test_a_far_away_row_is_read_as_one_row_not_a_million(app, tmp_path):
    frame = customers(2)
    rows = customer_rows(frame) + [inline_row(1_048_576, list(customers(3).iloc[2]))]
    path = tmp_path / "far-row.xlsx"
    path.write_bytes(workbook(rows))
    table = read_table(path, "xlsx")
    assert len(table) == 3
    assert list(table["customerID"]) == list(customers(3)["customerID"])


def shared_rows(first: int, last: int, width: int) -> list[str]:
    """Rows `first`..`last` whose `width` cells all point at shared string 0."""
    return [
        f'<row r="{n}">'
        + "".join(f'<c r="{column_letters(i)}{n}" t="s"><v>0</v></c>' for i in range(width))
        + "</row>"
        for n in range(first, last + 1)
    ]


def test_many_cells_pointing_at_one_huge_shared_string_are_refused(developer_client, developer):
    header = inline_row(1, list(customers(1).columns))
    data = workbook([header, *shared_rows(2, 101, 20)], shared=["A" * 1_000_000])
    assert len(data) < 20_000
    page = refused(developer_client, developer, data)
    assert "more than 32,767 characters" in page


def test_cells_that_expand_a_shared_string_beyond_the_budget_are_refused(app, tmp_path):
    header = inline_row(1, list(customers(1).columns))
    # Each cell is within a spreadsheet's limit, but 398 rows × 20 cells × 30,000 characters
    # are 239 million characters in all.
    path = tmp_path / "expand.xlsx"
    path.write_bytes(workbook([header, *shared_rows(2, 399, 20)], shared=["B" * 30_000]))
    assert path.stat().st_size < 50_000
    with pytest.raises(InvalidUpload, match="expands to far more data"):
        read_table(path, "xlsx")


def test_a_cell_longer_than_a_spreadsheet_allows_is_refused(developer_client, developer):
    frame = customers(2)
    rows = customer_rows(frame)
    rows[1] = rows[1].replace("Female", "F" * 40_000, 1)
    page = refused(developer_client, developer, workbook(rows))
    assert "more than 32,767 characters" in page


def test_a_header_wider_than_a_spreadsheet_is_refused(developer_client, developer):
    header = inline_row(1, [f"c{i}" for i in range(16_385)])
    page = refused(developer_client, developer, workbook([header, inline_row(2, ["x"])]))
    assert "16,384" in page


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"PK\x03\x04" + b"\x00" * 200, id="a cut zip"),
        pytest.param(workbook(["<row r='1'><c r='A1'><v>1</v></row>"]), id="broken XML"),
    ],
)
def test_a_workbook_that_crashes_the_reader_leaves_nothing(developer_client, developer, data):
    page = refused(developer_client, developer, data)
    assert "Excel workbook" in page


# A large workbook is read by the job, not the request ----------------------------------------


def test_a_large_workbook_is_checked_on_its_first_rows_and_read_by_the_job(app, developer):
    app.config["PREDICTION_BACKGROUND_ROWS"] = 20
    frame = customers(120)
    data = workbook(customer_rows(frame))
    client = factories.log_in(app.test_client(), developer)
    with jobs.held(app):
        response = post(client, developer, data)
        assert response.status_code == 302
        prediction = db.session.scalars(select(Prediction)).one()
        assert prediction.status == "queued"
    jobs.wait_for_idle(app)
    db.session.expire_all()
    prediction = db.session.get(Prediction, prediction.id)
    assert prediction.status == "done" and prediction.row_count == 120
    assert prediction.input_dataset.row_count == 120


def test_a_problem_past_the_checked_rows_fails_the_job_with_its_message(app, developer):
    """The request reads the first rows (the first few MB of the sheet); a bad cell further on
    is found by the job, which fails the prediction with the message and writes no result."""
    app.config["PREDICTION_BACKGROUND_ROWS"] = 20
    frame = pd.concat([customers(100)] * 80, ignore_index=True)
    rows = customer_rows(frame)
    rows[-2] = rows[-2].replace("</row>", f'<c r="ZZ{len(rows) - 1}"><v>1</v></c></row>')
    client = factories.log_in(app.test_client(), developer)
    response = post(client, developer, workbook(rows))
    assert response.status_code == 302
    jobs.wait_for_idle(app)
    db.session.expire_all()
    prediction = db.session.scalars(select(Prediction)).one()
    assert prediction.status == "failed"
    assert "beyond the 20 header columns" in prediction.error
    assert prediction.result_path is None


def test_reading_the_head_of_a_workbook_stops_after_the_rows_asked_for(app, tmp_path):
    path = tmp_path / "big.xlsx"
    path.write_bytes(workbook(customer_rows(customers(50))))
    head = read_head(path, "xlsx", rows=10)
    assert len(head.frame) == 10 and not head.complete
    whole = read_head(path, "xlsx", rows=100)
    assert len(whole.frame) == 50 and whole.complete


def test_a_workbook_declaring_more_rows_than_asked_for_is_read_for_its_first_rows_only(
    app, tmp_path
):
    path = tmp_path / "big.xlsx"
    rows = customer_rows(customers(XLSX_GLANCE_ROWS + 50))
    path.write_bytes(workbook(rows, dimension=f"A1:T{XLSX_GLANCE_ROWS + 51}"))
    head = read_head(path, "xlsx", rows=XLSX_GLANCE_ROWS + 10)
    assert len(head.frame) == XLSX_GLANCE_ROWS and not head.complete
    assert head.row_count == XLSX_GLANCE_ROWS + 50  # the declaration, until the job counts
    path.write_bytes(workbook(rows))  # no declaration: read up to the rows asked for
    head = read_head(path, "xlsx", rows=XLSX_GLANCE_ROWS + 10)
    assert len(head.frame) == XLSX_GLANCE_ROWS + 10 and not head.complete
    path.write_bytes(workbook(rows[:31], dimension="A1:T100001"))  # a false claim: all 30 read
    head = read_head(path, "xlsx", rows=XLSX_GLANCE_ROWS + 10)
    assert len(head.frame) == 30 and head.complete
