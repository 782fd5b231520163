"""In a real browser: a user downloads the prediction template, is refused a file (the error
takes the focus and is tied to the field), and picks a deployed version that the developer
withdraws before the form is sent. axe-core checks each page on the way (conftest)."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest
from sqlalchemy import select

from app.extensions import db
from app.schema import Developer
from app.services.registry import deployment
from tests import factories
from tests.browser.conftest import (
    assert_accessible,
    choose_model,
    log_in,
    make_developer,
    make_user,
    model_labels,
)

pytestmark = pytest.mark.browser

VERSION = "Neural Network v2"


@pytest.fixture
def files(tmp_path, small_original):
    frame = pd.read_csv(small_original, dtype=str, keep_default_na=False).head(40)
    good = tmp_path / "july customers.csv"
    frame.drop(columns=["Churn"]).to_csv(good, index=False)
    bad = tmp_path / "july without tenure.csv"
    frame.drop(columns=["Churn", "tenure"]).to_csv(bad, index=False)
    return good, bad


def deploy_a_version(server, person) -> int:
    with server.app.app_context():
        developer = db.session.scalars(select(Developer).filter_by(email=person.email)).one()
        version = factories.make_version(developer, 2)
        db.session.commit()
        deployment.deploy(developer, version.id, "July data")
        version_id = version.id
        db.session.remove()
    return version_id


def withdraw(server, person, version_id: int) -> None:
    with server.app.app_context():
        developer = db.session.scalars(select(Developer).filter_by(email=person.email)).one()
        deployment.withdraw(developer, version_id)
        db.session.remove()


def test_template_refused_file_and_a_version_withdrawn_meanwhile(
    small_live_server, page, files, screenshot
):
    server = small_live_server
    good, bad = files
    developer = make_developer(server)
    user = make_user(server, developer)
    version_id = deploy_a_version(server, developer)
    log_in(page, server, user, "/user/")
    page.goto(f"{server.url}/user/predict")

    # The recommended model is the deployed version, marked as such.
    selected = page.locator("select[name=model_id] option:checked").inner_text()
    assert selected.startswith(VERSION) and "deployed by your developer" in selected
    assert page.locator("text=default network every company starts with").count() == 1

    with page.expect_download() as download_info:
        page.click("text=Download a template")
    template = download_info.value
    assert template.suggested_filename.endswith(".csv")
    header, example = list(csv.reader(io.StringIO(template.path().read_text())))
    assert "customerID" in header and "tenure" in header and len(header) == 17
    assert len(example) == 17

    # A refused file: the message names it, is announced, and the focus is on the file input.
    page.fill("input[name=name]", "July customers")
    choose_model(page, "Random Forest")
    page.set_input_files("input[name=file]", str(bad))
    page.click("main button[type=submit]")
    page.wait_for_selector(".field.has-error [role=alert]")
    assert_accessible(page)
    error = page.locator("#file-error")
    assert "“july without tenure.csv” was not used" in error.inner_text()
    assert "tenure" in error.inner_text()
    file_input = page.locator("input[name=file]")
    assert file_input.get_attribute("aria-invalid") == "true"
    assert "file-error" in (file_input.get_attribute("aria-describedby") or "").split()
    assert page.evaluate("document.activeElement.name") == "file"
    assert page.input_value("input[name=name]") == "July customers"
    assert (
        page.locator("select[name=model_id] option:checked")
        .inner_text()
        .startswith("Random Forest")
    )
    screenshot("guidance_refused_file")

    # The user picks the deployed version; the developer withdraws it before the form is sent.
    choose_model(page, VERSION)
    page.set_input_files("input[name=file]", str(good))
    withdraw(server, developer, version_id)
    page.click("main button[type=submit]")
    page.wait_for_selector("#model_id-error")
    assert_accessible(page)
    assert (
        page.inner_text("#model_id-error")
        == "This version was withdrawn by your developer; choose another."
    )
    assert page.input_value("input[name=name]") == "July customers"
    assert "july customers.csv" in page.inner_text(".chosen-file")
    assert VERSION not in model_labels(page)
    assert page.evaluate("document.activeElement.name") == "model_id"
    screenshot("guidance_withdrawn_version")

    page.set_input_files("input[name=file]", str(good))
    page.click("main button[type=submit]")
    page.wait_for_url("**/user/predictions/*")
