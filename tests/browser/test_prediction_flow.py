"""A user predicts churn for a customer file in a real browser: the result page, its charts, the
download, a refused file, and the history; the developer then sees it in the company's history."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from tests import factories
from tests.browser.conftest import choose_model, log_in, make_developer, make_user, model_labels

pytestmark = pytest.mark.browser

ROWS = 300
ALL_IMAGES_LOADED = """() => {
  const images = [...document.querySelectorAll('.charts img')];
  return images.length > 0 && images.every(i => i.complete);
}"""


@pytest.fixture
def customers(tmp_path, original_dataset):
    """A customer file of ROWS rows sampled from DatasetA.csv, and one missing two columns."""
    frame = pd.read_csv(original_dataset, dtype=str, keep_default_na=False)
    sample = frame.sample(n=ROWS, random_state=7)
    good = tmp_path / "march customers.csv"
    sample.to_csv(good, index=False)
    bad = tmp_path / "incomplete.csv"
    sample.drop(columns=["tenure", "Contract"]).to_csv(bad, index=False)
    return good, bad


def test_a_user_predicts_downloads_is_refused_a_bad_file_and_finds_it_in_history(
    live_server, page, other_page, customers, screenshot
):
    good, bad = customers
    developer = make_developer(live_server)
    user = make_user(live_server, developer)
    log_in(page, live_server, user, "/user/")

    page.click("nav >> text=Predict")
    page.wait_for_url("**/user/predict")
    page.fill("input[name=name]", "March customers")
    options = model_labels(page)
    assert "Random Forest" in options and "Neural Network" in options
    choose_model(page, "Random Forest")
    page.set_input_files("input[name=file]", str(good))
    page.click("main button[type=submit]")

    page.wait_for_url("**/user/predictions/*")
    assert "March customers" in page.inner_text("h1")
    assert "done" in page.inner_text("h1 .badge")
    stats = dict(
        zip(
            page.locator(".card .stat-label").all_inner_texts(),
            page.locator(".card .stat").all_inner_texts(),
            strict=True,
        )
    )
    assert stats["customers scored"] == str(ROWS)
    churn, stay = int(stats["predicted to churn"]), int(stats["predicted to stay"])
    assert churn + stay == ROWS and churn > 0
    page.wait_for_function(ALL_IMAGES_LOADED)
    widths = page.evaluate("[...document.querySelectorAll('.charts img')].map(i => i.naturalWidth)")
    assert len(widths) == 2 and all(w > 0 for w in widths), widths
    assert page.locator("h2", has_text="Highest-risk customers").is_visible()
    assert page.locator("table tbody tr").count() > 0
    screenshot("prediction_result")

    with page.expect_download() as download_info:
        page.click("text=Download CSV")
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    result = pd.read_csv(io.BytesIO(download.path().read_bytes()), dtype=str)
    assert len(result) == ROWS
    assert list(result.columns[-len(factories.RESULT_COLUMNS) :]) == factories.RESULT_COLUMNS
    assert (result["Churn Prediction"] == "Yes").sum() == churn

    page.click("nav >> text=Predict")
    page.fill("input[name=name]", "Incomplete file")
    page.set_input_files("input[name=file]", str(bad))
    page.click("main button[type=submit]")
    error = page.inner_text(".field.has-error .error")
    assert "tenure" in error and "Contract" in error, error
    assert page.input_value("input[name=name]") == "Incomplete file"
    screenshot("prediction_missing_columns")

    page.click("nav >> text=History")
    page.wait_for_url("**/user/predictions")
    rows = page.locator("table tbody tr")
    assert rows.count() == 1
    assert "Random Forest" in rows.first.inner_text()
    rows.first.locator("a", has_text="March customers").click()
    page.wait_for_url("**/user/predictions/*")
    assert "March customers" in page.inner_text("h1")

    log_in(other_page, live_server, developer, "/developer/")
    other_page.goto(f"{live_server.url}/developer/predictions")
    row = other_page.locator("table tbody tr", has_text="March customers")
    assert user.name in row.inner_text()


def test_a_background_predictions_page_shows_the_result_as_soon_as_the_job_finishes(
    live_server, page, customers
):
    from app.services import jobs

    good, _ = customers
    live_server.app.config["PREDICTION_BACKGROUND_ROWS"] = 50  # this file goes to the job
    user = make_user(live_server, make_developer(live_server))
    log_in(page, live_server, user, "/user/")
    page.goto(f"{live_server.url}/user/predict")
    page.fill("input[name=name]", "Background customers")
    page.set_input_files("input[name=file]", str(good))
    with jobs.held(live_server.app):  # the job waits until the page showed it waiting
        page.click("main button[type=submit]")
        page.wait_for_url("**/user/predictions/*")
        assert page.locator("progress[data-progress-bar]").is_visible()
        assert "updates itself when the work is done" in page.inner_text("main")
        # With JavaScript on, the <noscript> refresh is inert: only the script reloads.
        assert page.locator("meta[http-equiv=refresh]").count() == 0
        page.evaluate("window.stillTheWaitingPage = true")
    # No reload by hand: the page asks for its status and reloads itself once it is done.
    page.wait_for_selector("h2:has-text('Highest-risk customers')", timeout=15_000)
    assert "done" in page.inner_text("h1 .badge")
    assert page.evaluate("window.stillTheWaitingPage === undefined")  # the page reloaded itself
    stats = page.locator(".card .stat-label").all_inner_texts()
    assert "customers scored" in stats
