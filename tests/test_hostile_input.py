"""Hostile or absurd input through HTTP: a 4xx or a page with a message, never a 500.

Huge ids in paths and query strings, out-of-range and garbage dates, bad page numbers, very long
names, an .xlsx zip bomb, and files that declare or hold more rows than MAX_UPLOAD_ROWS.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from flask import current_app
from sqlalchemy import func, select
from werkzeug.routing import AnyConverter

from app import create_app
from app.extensions import db
from app.schema import Dataset, Model, Prediction
from app.services import registry
from app.services.environment import initialize_developer_environment
from tests import factories

HUGE = 10**30
HUGE_VALUES = [
    pytest.param(str(HUGE), id="10**30"),
    pytest.param(str(2**63), id="2**63"),
    pytest.param(str(2**63 - 1), id="2**63-1"),
    pytest.param("9" * 400, id="400 nines"),
]


def _rules_with_ids():
    app = create_app("testing")
    found = []
    for rule in app.url_map.iter_rules():
        role = rule.endpoint.partition(".")[0]
        if role not in ("developer", "user") or not rule.arguments:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append(pytest.param(role, method, rule, id=f"{method} {rule.rule}"))
    return found


def _path_with(rule, value: str) -> str:
    """The rule's URL with `value`, digits as sent, for every id (an allowed word otherwise)."""

    def fill(match: re.Match) -> str:
        converter = rule._converters[match.group("name")]
        return sorted(converter.items)[0] if isinstance(converter, AnyConverter) else value

    return re.sub(r"<(?:[^:>]+:)?(?P<name>\w+)>", fill, rule.rule)


@pytest.fixture
def accounts(app, developer, user):
    """role -> (logged-in client, account), both of one company with its default models."""
    return {
        "developer": (factories.log_in(app.test_client(), developer), developer),
        "user": (factories.log_in(app.test_client(), user), user),
    }


def _counts() -> list[int]:
    return [
        db.session.scalar(select(func.count()).select_from(table))
        for table in (Dataset, Prediction, Model)
    ]


def _files() -> list[Path]:
    root = Path(current_app.config["DATASETS_ROOT"])
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# Huge ids in paths ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", HUGE_VALUES)
@pytest.mark.parametrize(("role", "method", "rule"), _rules_with_ids())
def test_a_huge_id_in_a_path_is_not_found(accounts, role, method, rule, value):
    path = _path_with(rule, value)
    assert value in path
    response = accounts[role][0].open(path, method=method)
    assert response.status_code == 404, f"{method} {path} gave {response.status_code}"


# Query strings ---------------------------------------------------------------------------------

HISTORY_QUERIES = [
    f"page={HUGE}",
    f"model={HUGE}",
    f"user={HUGE}",
    f"model={2**63}",
    f"user={2**63}",
    "page=-1",
    "page=0",
    "page=abc",
    "date_to=9999-12-31",
    "date_from=0001-01-01",
    "date_from=garbage",
    "date_to=2025-02-30",
    "date_from=9999-12-31&date_to=9999-12-31",
    "model=abc&user=-5",
    f"page={HUGE}&model={HUGE}&user={HUGE}&date_from=garbage&date_to=9999-12-31",
]


@pytest.mark.parametrize("query", HISTORY_QUERIES)
@pytest.mark.parametrize("role", ["developer", "user"])
def test_history_survives_hostile_query_values(accounts, role, query):
    response = accounts[role][0].get(f"/{role}/predictions?{query}")
    assert response.status_code in (200, 400), response.status_code


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("date_from=garbage", "must be a date"),
        ("date_to=2025-02-30", "must be a date"),
        ("model=abc", "Unknown model filter"),
    ],
)
def test_a_garbage_filter_value_is_ignored_with_a_message(accounts, query, message):
    response = accounts["developer"][0].get(f"/developer/predictions?{query}")
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)


def test_the_last_possible_date_as_to_date_is_accepted_and_keeps_the_predictions(
    app, accounts, user
):
    """date_to=9999-12-31 means 'up to the end of time', not an overflow."""
    _predict_directly(user)
    response = accounts["user"][0].get("/user/predictions?date_to=9999-12-31")
    assert response.status_code == 200
    assert "Hostile-free" in response.get_data(as_text=True)


@pytest.mark.parametrize("page", ["developer/users", "developer/datasets"])
@pytest.mark.parametrize("value", [str(HUGE), str(2**63), "-1", "0", "abc"])
def test_listing_pages_survive_hostile_page_numbers(accounts, page, value):
    response = accounts["developer"][0].get(f"/{page}?page={value}")
    assert response.status_code in (200, 400), response.status_code


# Forms ---------------------------------------------------------------------------------------


def _customers(rows: int) -> pd.DataFrame:
    frame = pd.read_csv(current_app.config["ORIGINAL_DATASET"], dtype=str, keep_default_na=False)
    return frame.head(rows).drop(columns=["Churn"])


def _csv(rows: int) -> bytes:
    return _customers(rows).to_csv(index=False).encode()


def _predict_directly(user) -> None:
    from werkzeug.datastructures import FileStorage

    from app.services import prediction as predictions

    model = registry.models_for(user)[0]
    upload = FileStorage(stream=io.BytesIO(_csv(5)), filename="c.csv")
    predictions.create_prediction(user, "Hostile-free", model.id, upload)


def _post_predict(accounts, role: str, data: bytes, filename: str, name="Ok", model_id=None):
    client, account = accounts[role]
    if model_id is None:
        model_id = registry.models_for(account)[0].id
    return client.post(
        f"/{role}/predict",
        data={"name": name, "model_id": str(model_id), "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


@pytest.mark.parametrize("role", ["developer", "user"])
def test_a_ten_thousand_character_prediction_name_is_refused_with_a_message(accounts, role):
    before, files = _counts(), _files()
    response = _post_predict(accounts, role, _csv(5), "c.csv", name="n" * 10_000)
    assert response.status_code == 400
    assert "200 characters" in response.get_data(as_text=True)
    assert _counts() == before and _files() == files


@pytest.mark.parametrize("role", ["developer", "user"])
@pytest.mark.parametrize("model_id", [str(HUGE), str(2**63), "-1", "abc"])
def test_a_hostile_model_choice_is_refused_with_a_message(accounts, role, model_id):
    before, files = _counts(), _files()
    response = _post_predict(accounts, role, _csv(5), "c.csv", model_id=model_id)
    assert response.status_code == 400
    assert _counts() == before and _files() == files


def test_a_ten_thousand_character_retrain_name_is_refused(accounts):
    before, files = _counts(), _files()
    response = accounts["developer"][0].post(
        "/developer/retrain",
        data={"name": "n" * 10_000, "file": (io.BytesIO(_csv(5)), "more.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert _counts() == before and _files() == files


# Files that are too big ----------------------------------------------------------------------

XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
OOXML = "application/vnd.openxmlformats-officedocument.spreadsheetml"
PACKAGE = "http://schemas.openxmlformats.org/package/2006"
RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
CONTENT_TYPES = (
    f'{XML}<Types xmlns="{PACKAGE}/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{OOXML}.sheet.main+xml"/>'
    f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{OOXML}.worksheet+xml"/>'
    "</Types>"
)
ROOT_RELS = (
    f'{XML}<Relationships xmlns="{PACKAGE}/relationships">'
    f'<Relationship Id="rId1" Type="{RELATIONSHIPS}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
WORKBOOK = (
    f'{XML}<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    f'xmlns:r="{RELATIONSHIPS}">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    f'{XML}<Relationships xmlns="{PACKAGE}/relationships">'
    f'<Relationship Id="rId1" Type="{RELATIONSHIPS}/worksheet" Target="worksheets/sheet1.xml"/>'
    "</Relationships>"
)
SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
)


def _inline_row(number: int, values: list[str]) -> str:
    cells = "".join(
        f'<c r="{_column(i)}{number}" t="inlineStr"><is><t>{v}</t></is></c>'
        for i, v in enumerate(values)
    )
    return f'<row r="{number}">{cells}</row>'


def _column(index: int) -> str:
    return chr(ord("A") + index)


def _workbook(sheet_xml: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        archive.writestr("xl/worksheets/sheet1.xml", sheet_xml)
    return buffer.getvalue()


def _small_sheet(frame: pd.DataFrame, dimension: str | None = None) -> bytes:
    rows = [_inline_row(1, list(frame.columns))]
    rows += [_inline_row(i + 2, list(row)) for i, row in enumerate(frame.itertuples(index=False))]
    head = SHEET_HEAD + (f'<dimension ref="{dimension}"/>' if dimension else "")
    return (head + "<sheetData>" + "".join(rows) + "</sheetData></worksheet>").encode()


def test_the_hand_built_workbook_is_a_real_one(accounts):
    """The control for the refusals below: the same structure with a few rows is scored."""
    data = _workbook(_small_sheet(_customers(5)))
    response = _post_predict(accounts, "developer", data, "c.xlsx")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]


def test_an_xlsx_zip_bomb_is_refused_with_a_message_and_leaves_nothing(accounts):
    header = _inline_row(1, list(_customers(1).columns))
    row = _inline_row(2, ["x"] * len(_customers(1).columns))
    repeated = (row * (50 * 1024 * 1024 // len(row))).encode()
    sheet = (SHEET_HEAD + "<sheetData>" + header).encode() + repeated
    sheet += b"</sheetData></worksheet>"
    data = _workbook(sheet)
    assert len(sheet) > 49 * 1024 * 1024 and len(data) < 1024 * 1024
    before, files = _counts(), _files()
    for role in accounts:
        response = _post_predict(accounts, role, data, "bomb.xlsx")
        assert response.status_code == 400
        assert "expands to far more data" in response.get_data(as_text=True)
    assert _counts() == before and _files() == files


@pytest.mark.parametrize("role", ["developer", "user"])
def test_an_xlsx_declaring_too_many_rows_is_refused_before_reading(make_app, role):
    app = make_app(MAX_UPLOAD_ROWS=10)
    developer = factories.make_developer()
    initialize_developer_environment(developer)
    account = developer if role == "developer" else factories.make_user(developer.company)
    client = factories.log_in(app.test_client(), account)
    # Only 3 rows are there: refusing it shows the declared dimension was read, not the rows.
    data = _workbook(_small_sheet(_customers(3), dimension="A1:T1000001"))
    before, files = _counts(), _files()
    response = client.post(
        f"/{role}/predict",
        data={
            "name": "Declared",
            "model_id": str(registry.models_for(account)[0].id),
            "file": (io.BytesIO(data), "declared.xlsx"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "1,000,000 rows" in page and "the limit is 10" in page
    assert _counts() == before and _files() == files


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_file_with_more_rows_than_the_limit_is_refused_on_the_predict_form(make_app, fmt):
    app = make_app(MAX_UPLOAD_ROWS=10)
    user = factories.make_user()
    developer = factories.make_developer(user.company)
    initialize_developer_environment(developer)
    client = factories.log_in(app.test_client(), user)
    frame = _customers(11)
    data = frame.to_csv(index=False).encode() if fmt == "csv" else _workbook(_small_sheet(frame))
    before, files = _counts(), _files()
    response = client.post(
        "/user/predict",
        data={
            "name": "Too many",
            "model_id": str(registry.models_for(user)[0].id),
            "file": (io.BytesIO(data), f"many.{fmt}"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "the limit is 10" in response.get_data(as_text=True)
    assert _counts() == before and _files() == files


def test_a_csv_with_more_rows_than_the_limit_is_refused_on_the_retrain_form(make_app):
    app = make_app(MAX_UPLOAD_ROWS=10)
    developer = factories.make_developer()
    initialize_developer_environment(developer)
    client = factories.log_in(app.test_client(), developer)
    frame = pd.read_csv(app.config["ORIGINAL_DATASET"], dtype=str, keep_default_na=False)
    data = frame.head(11).to_csv(index=False).encode()
    before, files = _counts(), _files()
    response = client.post(
        "/developer/retrain",
        data={"name": "Too many", "file": (io.BytesIO(data), "many.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "the limit is 10" in response.get_data(as_text=True)
    assert _counts() == before and _files() == files
