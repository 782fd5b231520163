"""In a real browser: the developer retrains the network on customers whose outcomes are wrong,
compares the new version with the live network on the common holdout, is refused when deploying
it, deploys it anyway with a reason, and finds the reason in the deployment history; then
uploads what happened to a prediction's customers and sees the realised figures."""

from __future__ import annotations

import pandas as pd
import pytest

from app.services.monitoring import holdout
from tests.browser.conftest import log_in, make_developer

pytestmark = pytest.mark.browser

UPLOAD_ROWS = 600
NEW_VERSION = "Neural Network v2"
REASON = "The pricing team asked for v2 for the April test"


@pytest.fixture
def wrong_outcomes_file(tmp_path, small_original):
    """Customers under fresh customerIDs outside the common holdout, with Churn flipped: a
    version trained on them is worse than v1 on the holdout."""
    frame = pd.read_csv(small_original, dtype=str, keep_default_na=False)
    sample = frame.sample(n=UPLOAD_ROWS, replace=True, random_state=8).reset_index(drop=True)
    ids = [
        f"B-{n:06d}" for n in range(5 * UPLOAD_ROWS) if holdout.hashed_share(f"B-{n:06d}") >= 0.2
    ]
    sample["customerID"] = ids[:UPLOAD_ROWS]
    sample["Churn"] = sample["Churn"].map({"Yes": "No", "No": "Yes"})
    path = tmp_path / "april outcomes.csv"
    sample.to_csv(path, index=False)
    return path


@pytest.fixture
def prediction_files(tmp_path, small_original):
    frame = pd.read_csv(small_original, dtype=str, keep_default_na=False)
    frame = frame.sample(200, random_state=2)
    customers, outcomes = tmp_path / "may customers.csv", tmp_path / "may outcomes.csv"
    frame.drop(columns=["Churn"]).to_csv(customers, index=False)
    frame[["customerID", "Churn"]].head(150).to_csv(outcomes, index=False)
    return customers, outcomes


def test_retrain_compare_refused_deploy_override_and_history(
    small_live_server, page, wrong_outcomes_file, prediction_files, screenshot
):
    server = small_live_server
    developer = make_developer(server)
    log_in(page, server, developer, "/developer/")

    page.click("nav >> text=Retrain")
    page.fill("input[name=name]", "April outcomes")
    page.set_input_files("input[name=file]", str(wrong_outcomes_file))
    page.click("main button[type=submit]")
    page.wait_for_url("**/developer/retrain/*")
    page.wait_for_selector("h1 .badge-done, h1 .badge-failed", timeout=60_000)
    assert page.inner_text("h1 .badge") == "done", page.inner_text("main")

    page.click("text=Compare with the other versions and deploy")
    page.wait_for_url("**/developer/compare")
    # The page updates itself (it polls its status) until every model is measured on the
    # common holdout.
    page.wait_for_selector("[data-progress-url]", state="detached", timeout=60_000)
    facts = page.inner_text("#holdout")
    assert "Common holdout:" in facts and "customers" in facts and "not measured" not in facts
    row = page.locator("table.compare tbody tr", has_text=NEW_VERSION)
    live = page.locator("table.compare tbody tr", has_text="live network")
    assert "Neural Network" in live.inner_text()
    assert "–" in row.locator("td.num").first.inner_text()  # AUC with its interval
    screenshot("trust_compare")

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        row.locator("button", has_text="Deploy").click()
    assert "was not deployed" in page.inner_text("h1")
    message = page.inner_text(".flash-warning")
    assert NEW_VERSION in message and "live network" in message and "95% CI" in message
    assert page.locator("table.guard tbody tr").count() == 2
    screenshot("trust_refused")

    page.fill("textarea[name=override_reason]", REASON)
    with page.expect_navigation():
        page.click(f"text=Deploy {NEW_VERSION} anyway")
    assert f"{NEW_VERSION} is now available to your users" in page.inner_text(".flash-success")
    history = page.locator("#history + .table-wrap table.history tbody tr").first
    assert f"Deployed {NEW_VERSION}" in history.inner_text()
    assert REASON in history.inner_text() and developer.name in history.inner_text()
    assert "guard overridden" in history.inner_text()
    assert "Roll back to Neural Network" in page.inner_text("#rollback")
    screenshot("trust_history")

    page.click("text=The whole deployment history")
    page.wait_for_url("**/developer/deployments")
    assert REASON in page.inner_text("table.history")

    # What really happened to a prediction's customers.
    customers, outcomes = prediction_files
    page.click("nav >> text=Predict")
    page.fill("input[name=name]", "May")
    page.set_input_files("input[name=file]", str(customers))
    page.click("main button[type=submit]")
    page.wait_for_url("**/developer/predictions/*")
    page.click("text=Upload outcomes")
    page.set_input_files("input[name=file]", str(outcomes))
    page.click("main button[type=submit]")
    page.wait_for_selector("#outcomes .stat, #outcomes .flash-error", timeout=30_000)
    assert page.locator("#outcomes .stat").count() == 4, page.inner_text("#outcomes")
    assert "realised AUC" in page.inner_text("#outcomes")
    assert "50 outcomes are still missing" in page.inner_text("#outcomes")
    screenshot("trust_outcomes")
    page.click("nav >> text=Monitoring")
    page.wait_for_load_state("load")
    assert page.evaluate("document.querySelector('.charts img').naturalWidth") > 0
    assert "May" in page.inner_text("table.realised")
    screenshot("trust_monitoring")
