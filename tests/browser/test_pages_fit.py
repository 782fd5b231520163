"""Every main page, for a developer and a user of a company that has predicted and retrained,
fits a phone (390 px: nothing scrolls sideways) and passes axe-core at phone and desktop width.

Pages are screenshotted to /tmp/shots/fit-<width>-<page>.png for looking at them.
"""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import select

from app.extensions import db
from app.schema import Developer
from app.services.registry import deployment
from tests.browser.conftest import (
    SCREENSHOTS,
    accessibility_violations,
    log_in,
    make_developer,
    make_user,
    new_page,
)

pytestmark = pytest.mark.browser

PHONE = (390, 844)
DESKTOP = (1280, 900)
DEVELOPER_PAGES = [
    ("home", "/developer/"),
    ("predict", "/developer/predict"),
    ("prediction", "{prediction}"),
    ("prediction-rows", "{prediction}/rows"),
    ("models", "/developer/models"),
    ("model", "{model}"),
    ("compare", "/developer/compare"),
    ("deployments", "/developer/deployments"),
    ("datasets", "/developer/datasets"),
    ("history", "/developer/predictions"),
    ("users", "/developer/users"),
    ("retrain", "/developer/retrain"),
    ("retrain-run", "{run}"),
    ("monitoring", "/developer/monitoring"),
    ("costs", "/developer/costs"),
    ("tokens", "/developer/tokens"),
    ("account", "/auth/account"),
]
USER_PAGES = [
    ("user-home", "/user/"),
    ("user-predict", "/user/predict"),
    ("user-models", "/user/models"),
    ("user-history", "/user/predictions"),
]
PUBLIC_PAGES = [
    ("index", "/"),
    ("login", "/auth/login"),
    ("register-company", "/auth/register/company"),
    ("register-developer", "/auth/register/developer"),
    ("register-user", "/auth/register/user"),
]


@pytest.fixture
def files(tmp_path, small_original):
    frame = pd.read_csv(small_original, dtype=str, keep_default_na=False)
    customers = tmp_path / "june customers.csv"
    frame.sample(120, random_state=4).drop(columns=["Churn"]).to_csv(customers, index=False)
    outcomes = frame.sample(150, random_state=5)
    outcomes["customerID"] = [f"FIT-{i:04d}" for i in range(len(outcomes))]
    retrain = tmp_path / "june outcomes.csv"
    outcomes.to_csv(retrain, index=False)
    return customers, retrain


def problems_on(page, name: str, width: int) -> list[str]:
    """What is wrong with the page as it is: sideways scrolling at phone width, axe violations."""
    page.wait_for_load_state("load")
    page.wait_for_function("[...document.images].every(i => i.complete)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"fit-{width}-{name}.png"), full_page=True)
    found = [f"{name} at {width} px: {v}" for v in accessibility_violations(page)]
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    if scroll_width > width:
        found.append(f"{name} at {width} px scrolls sideways ({scroll_width} px wide)")
    return found


def walk(browser, server, person, home: str, pages, values) -> list[str]:
    found = []
    for width, height in (PHONE, DESKTOP):
        page = new_page(browser, width, height, checked=False)
        if person is not None:
            log_in(page, server, person, home)
        for name, path in pages:
            page.goto(server.url + path.format(**values))
            found += problems_on(page, name, width)
        page.context.close()
    return found


def test_every_main_page_fits_a_phone_and_passes_axe(small_live_server, browser, files):
    server = small_live_server
    customers, retrain = files
    developer = make_developer(server)
    user = make_user(server, developer)
    page = new_page(browser, checked=False)  # the walk below reports every page's problems
    log_in(page, server, developer, "/developer/")

    page.goto(f"{server.url}/developer/predict")
    page.fill("input[name=name]", "June customers")
    page.set_input_files("input[name=file]", str(customers))
    page.click("main button[type=submit]")
    page.wait_for_url("**/developer/predictions/*")
    page.wait_for_selector("h1 .badge-done", timeout=60_000)
    prediction = page.url.removeprefix(server.url)

    page.goto(f"{server.url}/developer/retrain")
    page.fill("input[name=name]", "June outcomes")
    page.set_input_files("input[name=file]", str(retrain))
    page.click("main button[type=submit]")
    page.wait_for_url("**/developer/retrain/*")
    page.wait_for_selector("h1 .badge-done", timeout=60_000)
    run = page.url.removeprefix(server.url)
    page.goto(f"{server.url}/developer/models")
    model = page.locator("main table a", has_text="Neural Network v2").first.get_attribute("href")
    page.goto(f"{server.url}/developer/compare")
    page.wait_for_selector("meta[http-equiv=refresh]", state="detached", timeout=60_000)
    page.context.close()
    with server.app.app_context():  # a deployment, so the deployment history has a row
        account = db.session.scalars(select(Developer).filter_by(email=developer.email)).one()
        deployment.deploy(account, int(model.rsplit("/", 1)[-1]), "The June data is newer")
        db.session.remove()

    values = {"prediction": prediction, "run": run, "model": model}
    found = walk(browser, server, developer, "/developer/", DEVELOPER_PAGES, values)
    found += walk(browser, server, user, "/user/", USER_PAGES, values)
    found += walk(browser, server, None, "/", PUBLIC_PAGES, values)
    assert not found, "\n".join(found)
