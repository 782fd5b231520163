"""A company, its developer and the approval, all the way through a real browser."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

PASSWORD = "browser test password"


def test_a_company_registers_its_developer_gets_approved_and_logs_in(live_server, page, screenshot):
    page.goto(f"{live_server.url}/")
    page.click("text=Register your company")
    page.fill("input[name=name]", "Browser Bikes")
    page.fill("input[name=email]", "owner@bikes.example")
    page.click("input[type=submit]")

    company_id = page.inner_text(".id-box").strip()
    assert company_id.startswith("CB-")
    screenshot("register_company_result")

    company_mail = live_server.last_email_to("owner@bikes.example")
    assert f"Company ID: {company_id}" in company_mail.get_body().get_content()
    page.goto(live_server.link_in(company_mail, "/auth/verify/"))
    assert page.inner_text("h1") == "Company email confirmed"

    page.goto(f"{live_server.url}/auth/register/developer")
    page.fill("input[name=company_id]", "CB-0000-0000-0000")
    page.fill("input[name=name]", "Bea Browser")
    page.fill("input[name=email]", "bea@bikes.example")
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=confirm]", PASSWORD)
    page.click("input[type=submit]")
    assert "No company has this company ID" in page.inner_text(".field.has-error")
    assert page.input_value("input[name=email]") == "bea@bikes.example"
    screenshot("register_developer_bad_id")

    page.fill("input[name=company_id]", company_id.lower())
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=confirm]", PASSWORD)
    page.click("input[type=submit]")
    assert "confirmation link" in page.inner_text(".flash-success")

    page.goto(live_server.link_in(live_server.last_email_to("bea@bikes.example"), "/auth/verify/"))
    assert "your company must approve you" in page.inner_text("main")

    approval = live_server.last_email_to("owner@bikes.example")
    page.goto(live_server.link_in(approval, "/auth/approve/"))
    assert page.inner_text("h1") == "Approve Bea Browser?"
    page.click("input[type=submit][value=Approve]")
    assert page.inner_text("h1") == "Developer approved"

    page.goto(f"{live_server.url}/auth/login")
    screenshot("login")
    page.fill("input[name=email]", "bea@bikes.example")
    page.fill("input[name=password]", PASSWORD)
    page.check("input[name=remember]")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/developer/")
    assert "Welcome, Bea Browser" in page.inner_text("h1")
    assert company_id in page.inner_text("main")
    page.click("text=Your company's users")
    assert "No users yet" in page.inner_text("main")
    screenshot("developer_users_empty")
