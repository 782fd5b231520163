"""The developer retrains the network in a real browser, watches the run finish, compares and
deploys v2 (a dismissed confirmation deploys nothing); a user of the company can then pick it."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.browser.conftest import choose_model, log_in, make_developer, make_user, model_labels

pytestmark = pytest.mark.browser

UPLOAD_ROWS = 80
NEW_VERSION = "Neural Network v2"


@pytest.fixture
def retrain_file(tmp_path, small_original):
    """Customers with their outcome, sampled from the original data under fresh customerIDs."""
    frame = pd.read_csv(small_original, dtype=str, keep_default_na=False)
    sample = frame.sample(n=UPLOAD_ROWS, random_state=3)
    sample["customerID"] = [f"NEW-{i:05d}" for i in range(UPLOAD_ROWS)]
    path = tmp_path / "april outcomes.csv"
    sample.to_csv(path, index=False)
    return path


def model_options(page) -> list[str]:
    options = model_labels(page)
    assert "Neural Network" in options, options  # the Predict page, not some other page
    return options


def test_a_developer_retrains_compares_and_deploys_and_a_user_can_then_use_it(
    small_live_server, page, other_page, retrain_file, screenshot
):
    server = small_live_server
    developer = make_developer(server)
    user = make_user(server, developer)
    log_in(page, server, developer, "/developer/")
    log_in(other_page, server, user, "/user/")
    other_page.click("nav >> text=Predict")
    other_page.wait_for_url("**/user/predict")
    assert NEW_VERSION not in model_options(other_page)

    page.click("nav >> text=Retrain")
    page.fill("input[name=name]", "April outcomes")
    page.set_input_files("input[name=file]", str(retrain_file))
    page.click("main button[type=submit]")
    page.wait_for_url("**/developer/retrain/*")
    assert "is queued" in page.inner_text(".flash-success")
    # The run page updates itself (it polls its status) until the run is over.
    page.wait_for_selector("h1 .badge-done, h1 .badge-failed", timeout=60_000)
    assert page.inner_text("h1 .badge") == "done", page.inner_text("main")
    assert NEW_VERSION in page.inner_text("main")
    assert page.locator(".lineage .node").count() == 2
    screenshot("retrain_run_ready")

    page.click("text=Compare with the other versions and deploy")
    page.wait_for_url("**/developer/compare")
    # The page updates itself (it polls its status) until every model is measured on the
    # common holdout.
    page.wait_for_selector("[data-progress-url]", state="detached", timeout=60_000)
    row = page.locator("table.compare tbody tr", has_text=NEW_VERSION)
    assert "not deployed" in row.inner_text()
    page.wait_for_function("document.querySelector('.charts img').naturalWidth > 0")
    screenshot("compare_before_deploy")

    # Dismissing the confirmation sends nothing: v2 stays undeployed.
    posts: list[str] = []
    page.on("request", lambda request: request.method == "POST" and posts.append(request.url))
    questions: list[str] = []

    def dismiss(dialog):
        questions.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    row.locator("button", has_text="Deploy").click()
    assert questions and questions[0].startswith(f"Deploy {NEW_VERSION} to your users?")
    page.reload()  # any submission would have been requested before this navigation
    assert posts == []
    assert "not deployed" in row.inner_text()
    other_page.reload()
    assert NEW_VERSION not in model_options(other_page)

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        row.locator("button", has_text="Deploy").click()
    if "was not deployed" in page.inner_text("h1"):
        # v2 happens to do worse than v1 on the common holdout (the guard: test_trust_flow.py).
        page.fill("textarea[name=override_reason]", "The April data is what users need")
        with page.expect_navigation():
            page.click(f"text=Deploy {NEW_VERSION} anyway")
    assert set(url.rsplit("/", 1)[-1] for url in posts) == {"deploy"}
    assert f"{NEW_VERSION} is now available to your users" in page.inner_text(".flash-success")
    assert "deployed" in row.locator(".badge").last.inner_text()
    assert "not deployed" not in row.inner_text()
    assert row.locator("button", has_text="Withdraw").is_visible()
    screenshot("compare_after_deploy")

    other_page.reload()
    assert NEW_VERSION in model_options(other_page)
    choose_model(other_page, NEW_VERSION)
