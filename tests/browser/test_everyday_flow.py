"""In a real browser: an old link past the end of the history shows its last page, the developer
searches it and filters to their own runs; deactivates and reactivates a user, who can then log in
again; on a phone the navigation opens from its Menu button and the skip link leads past it.
axe-core checks each page on the way (conftest)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.schema import Company, Developer
from app.services import registry
from tests import factories
from tests.browser.conftest import (
    SCREENSHOTS,
    assert_accessible,
    log_in,
    make_developer,
    make_user,
    new_page,
)

pytestmark = pytest.mark.browser


def add_predictions(server, person, count: int) -> None:
    with server.app.app_context():
        developer = db.session.scalars(select(Developer).filter_by(email=person.email)).one()
        model = registry.models_for(developer)[0]
        dataset = factories.make_dataset(developer.company_id, "inputs")
        start = datetime(2025, 1, 1)
        for n in range(count):
            factories.make_prediction(
                developer, model, dataset, f"Run {n:02d}", start + timedelta(n)
            )
        colleague = factories.make_user(db.session.get(Company, developer.company_id))
        factories.make_prediction(colleague, model, dataset, "Colleague's run", start)
        db.session.commit()
        db.session.remove()


def test_history_past_the_end_search_and_own_runs(live_server, page, screenshot):
    developer = make_developer(live_server)
    add_predictions(live_server, developer, 30)
    log_in(page, live_server, developer, "/developer/")

    page.goto(f"{live_server.url}/developer/predictions?page=99")
    assert "Page 2 of 2" in page.inner_text(".pagination")
    rows = page.locator("main table tbody tr")
    assert rows.count() == 6  # the 5 oldest runs and the colleague's
    screenshot("history_past_the_end")

    page.fill("input[name=q]", "run 2")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/developer/predictions?*")
    names = page.locator("main table tbody tr td:first-child").all_inner_texts()
    assert sorted(names) == [f"Run {n}" for n in range(20, 30)]

    page.goto(f"{live_server.url}/developer/predictions")
    page.select_option("select[name=user]", "me")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/developer/predictions?*")
    assert "Colleague's run" not in page.inner_text("main table")
    assert "Page 1 of 2 · 30 in all" in page.inner_text(".pagination")
    labels = page.locator("form.filters label").evaluate_all(
        "labels => labels.map(l => Math.round(l.getBoundingClientRect().top))"
    )
    assert len(set(labels)) == 1, labels  # the filter labels line up


def test_a_developer_deactivates_and_reactivates_a_user(live_server, page, other_page):
    developer = make_developer(live_server)
    user = make_user(live_server, developer)
    log_in(page, live_server, developer, "/developer/")
    page.goto(f"{live_server.url}/developer/users")
    row = page.locator("main table tbody tr", has_text=user.email)
    assert "never" in row.inner_text()  # no login yet

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        row.locator("button", has_text="Deactivate").click()
    assert_accessible(page)
    assert "is deactivated" in page.inner_text(".flash-success")
    assert "deactivated" in row.locator(".badge-failed").inner_text()

    other_page.goto(f"{live_server.url}/auth/login")
    other_page.fill("input[name=email]", user.email)
    other_page.fill("input[name=password]", factories.PASSWORD)
    other_page.click("input[type=submit]")
    assert "/auth/login" in other_page.url  # refused while deactivated

    with page.expect_navigation():
        row.locator("button", has_text="Reactivate").click()
    assert_accessible(page)
    assert "is active again" in page.inner_text(".flash-success")
    assert row.locator(".badge-active", has_text="active").count() >= 1
    log_in(other_page, live_server, user, "/user/")
    page.reload()
    assert "never" not in row.locator("td[data-label='Last login']").inner_text()


def test_on_a_phone_the_menu_opens_and_the_skip_link_leads_past_it(live_server, browser):
    developer = make_developer(live_server)
    phone = new_page(browser, 390, 844)
    try:
        log_in(phone, live_server, developer, "/developer/")
        nav = phone.locator("#site-nav")
        assert not nav.is_visible()
        phone.click("button.nav-toggle")
        assert nav.is_visible()
        assert phone.get_attribute("button.nav-toggle", "aria-expanded") == "true"
        assert nav.locator("a", has_text="Predict").is_visible()
        phone.screenshot(path=str(SCREENSHOTS / "phone_menu_open.png"))
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390

        phone.goto(f"{live_server.url}/developer/predictions")
        phone.keyboard.press("Tab")
        skip = phone.locator(".skip-link")
        assert skip.evaluate("link => link === document.activeElement")
        assert skip.is_visible()
        phone.keyboard.press("Enter")
        assert phone.evaluate("document.activeElement.id") == "content"
    finally:
        phone.context.close()
