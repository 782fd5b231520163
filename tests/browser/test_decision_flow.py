"""The developer sets the company's costs, predicts, reads the warnings and the profit curve,
asks whom to call with a capacity of 25, browses and searches every row, and downloads the call
list, in a real browser; screenshots at desktop and phone width."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from tests.browser.conftest import choose_model, log_in, make_developer

pytestmark = pytest.mark.browser

ROWS = 400
IMAGES_LOADED = """() => {
  const images = [...document.querySelectorAll('main img')];
  return images.length > 0 && images.every(i => i.complete && i.naturalWidth > 0);
}"""


@pytest.fixture
def customers(tmp_path, original_dataset):
    frame = pd.read_csv(original_dataset, dtype=str, keep_default_na=False)
    sample = frame.drop(columns=["Churn"]).sample(n=ROWS, random_state=21).reset_index(drop=True)
    sample.loc[[2, 50, 51], "tenure"] = "abc"
    path = tmp_path / "april customers.csv"
    sample.to_csv(path, index=False)
    return path, sample


def test_a_developer_walks_a_prediction_to_its_call_list(live_server, page, customers, screenshot):
    path, sample = customers
    developer = make_developer(live_server)
    log_in(page, live_server, developer, "/developer/")

    page.click("nav >> text=Costs")
    page.wait_for_url("**/developer/costs")
    page.fill("input[name=customer_value]", "500")
    page.fill("input[name=offer_cost]", "50")
    page.fill("input[name=contact_cost]", "5")
    page.fill("input[name=acceptance_rate]", "30%")
    page.click("main button[type=submit]")
    assert "Costs saved" in page.inner_text(".flash")
    assert "29.7%" in page.inner_text("main")
    screenshot("decision_costs")

    page.click("nav >> text=Predict")
    page.fill("input[name=name]", "April customers")
    choose_model(page, "Logistic Regression")
    page.set_input_files("input[name=file]", str(path))
    page.click("main button[type=submit]")
    page.wait_for_url("**/developer/predictions/*")
    assert "3 rows have input warnings" in page.inner_text(".warnings h2")
    assert "tenure 'abc' is not a number" in page.inner_text(".warnings")
    page.wait_for_function(IMAGES_LOADED)
    profit = page.locator("img[src*='profit.png']")
    assert profit.evaluate("i => i.naturalWidth") > 0
    worth = int(page.locator(".card .stat").nth(2).inner_text().replace(",", ""))
    assert 25 < worth < ROWS

    page.fill("input[name=capacity]", "25")
    page.click("text=Show whom to call")
    answer = page.inner_text(".answer")
    assert "If you can call 25, call these 25" in answer
    screenshot("decision_prediction_desktop")
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_function(IMAGES_LOADED)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot("decision_prediction_phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    with page.expect_download() as limited_info:
        page.click("text=Download these 25 as a call list")
    limited = pd.read_csv(limited_info.value.path(), dtype=str, keep_default_na=False)
    assert len(limited) == 25

    page.click("text=Browse all")
    page.wait_for_url("**/rows")
    assert page.locator("table.rows tbody tr").count() == 50
    wanted = sample.loc[123, "customerID"]
    page.fill("input[name=q]", wanted.lower())
    page.click("main button[type=submit]")
    page.wait_for_url("**q=*")
    assert page.locator("table.rows tbody tr").count() == 1
    assert wanted in page.inner_text("table.rows tbody")
    screenshot("decision_rows")
    page.go_back()
    page.go_back()

    with page.expect_download() as result_info:
        page.click("text=Download CSV")
    result = pd.read_csv(io.BytesIO(result_info.value.path().read_bytes()), dtype=str)
    with page.expect_download() as calls_info:
        page.click("text=Download the call list")
    calls = pd.read_csv(calls_info.value.path(), dtype=str, keep_default_na=False)
    chosen = result[result["Contact"] == "Yes"]
    assert len(calls) == len(chosen) == worth
    by_rank = chosen.assign(rank=chosen["Risk Rank"].astype(int)).sort_values("rank")
    assert calls["customerID"].tolist() == by_rank["customerID"].tolist()
    assert calls["customerID"].head(25).tolist() == limited["customerID"].tolist()

    page.click("nav >> text=Models")
    page.click("main a:text-is('Logistic Regression')")
    page.wait_for_url("**/developer/models/*")
    assert "Brier score" in page.inner_text("main")
    page.wait_for_function(IMAGES_LOADED)
    screenshot("decision_model_calibration")
