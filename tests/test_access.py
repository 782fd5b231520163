"""Every protected route says who may open it, and refuses everyone else.

The tests walk `app.url_map`, so routes added later are covered without editing this file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from werkzeug.routing import AnyConverter

from app import create_app
from tests import factories

ROLE_BLUEPRINTS = {"developer", "user"}
# Flask's own static files are the one view nobody declares.
UNDECLARED = {"static"}
DUMMY_ID = 999999


def _protected_rules():
    """(endpoint, method, path) of every route that declares a role."""
    app = create_app("testing")
    found = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if getattr(view, "access", None) not in ROLE_BLUEPRINTS:
            continue
        values = {name: _dummy_value(rule, name) for name in rule.arguments}
        path = rule.build(values, append_unknown=False)[1]
        assert "<" not in path, f"add a dummy value for {rule.rule}"
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append(pytest.param(rule.endpoint, method, path, id=f"{method} {rule.rule}"))
    return found


def _dummy_value(rule, argument: str):
    """A value of the right shape for a URL variable: an id nobody has, or an allowed word."""
    converter = rule._converters[argument]
    if isinstance(converter, AnyConverter):
        return sorted(converter.items)[0]
    return DUMMY_ID


PROTECTED = _protected_rules()
PROTECTED_WITH_IDS = [param for param in PROTECTED if str(DUMMY_ID) in param.values[2]]


def test_the_walk_finds_the_protected_routes():
    endpoints = {param.values[0] for param in PROTECTED}
    assert {"developer.home", "developer.users", "developer.deactivate_user", "user.home"} <= (
        endpoints
    )


@pytest.mark.parametrize(("endpoint", "method", "path"), PROTECTED)
def test_an_anonymous_visitor_is_sent_to_log_in(client, endpoint, method, path):
    response = client.open(path, method=method)
    if response.status_code == 302:
        assert response.headers["Location"].startswith("/auth/login")
    else:
        assert response.status_code in (401, 403)


@pytest.mark.parametrize(("endpoint", "method", "path"), PROTECTED)
def test_the_other_role_is_refused(app, endpoint, method, path):
    company = factories.make_company()
    accounts = {
        "developer": factories.make_developer(company),
        "user": factories.make_user(company),
    }
    owner_role = endpoint.split(".")[0]
    for role, account in accounts.items():
        if role == owner_role:
            continue
        client = factories.log_in(app.test_client(), account)
        response = client.open(path, method=method)
        assert response.status_code in (403, 404), f"{role} opened {method} {path}"


@pytest.mark.parametrize(("endpoint", "method", "path"), PROTECTED_WITH_IDS)
def test_ids_that_are_not_the_company_s_are_not_found(app, endpoint, method, path):
    """With made-up ids the owner role gets 403/404, never a page or a crash."""
    role = endpoint.split(".")[0]
    account = (factories.make_developer if role == "developer" else factories.make_user)()
    response = factories.log_in(app.test_client(), account).open(path, method=method)
    assert response.status_code in (403, 404)


def test_every_view_declares_who_may_open_it():
    app = create_app("testing")
    undeclared = [
        endpoint
        for endpoint, view in app.view_functions.items()
        if endpoint not in UNDECLARED and getattr(view, "access", None) is None
    ]
    assert undeclared == []


def test_every_developer_and_user_view_is_for_its_own_role():
    app = create_app("testing")
    for endpoint, view in app.view_functions.items():
        blueprint = endpoint.rpartition(".")[0]
        if blueprint in ROLE_BLUEPRINTS:
            assert view.access == blueprint, endpoint
        elif blueprint == "api" and endpoint != "api.openapi":
            assert view.access == "api_token", endpoint
        elif endpoint not in UNDECLARED:
            assert view.access in ("public", "signed_in"), endpoint


def _api_rules():
    app = create_app("testing")
    for rule in app.url_map.iter_rules():
        if getattr(app.view_functions[rule.endpoint], "access", None) != "api_token":
            continue
        path = rule.build({name: DUMMY_ID for name in rule.arguments}, append_unknown=False)[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield pytest.param(method, path, id=f"{method} {rule.rule}")


API_RULES = list(_api_rules())


def test_the_walk_finds_the_api_routes():
    assert {param.values[1] for param in API_RULES} >= {"/api/v1/predictions"}


@pytest.mark.parametrize(("method", "path"), API_RULES)
def test_every_api_route_refuses_a_request_without_a_valid_token(app, method, path):
    developer = factories.make_developer()
    # A logged-in browser session is not a token either.
    client = factories.log_in(app.test_client(), developer)
    for headers in ({}, {"Authorization": "Bearer cb_forged-token-0000000000000"}):
        response = client.open(path, method=method, headers=headers)
        assert response.status_code == 401, f"{method} {path}"
        assert response.is_json


def test_a_view_that_declares_nothing_is_caught(app):
    @app.get("/forgotten")
    def forgotten():
        return "open to anyone by accident"

    assert getattr(app.view_functions["forgotten"], "access", None) is None


def test_a_signed_in_only_view_sends_a_visitor_to_log_in(client):
    response = client.get("/auth/password")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")


def test_a_form_without_its_csrf_token_is_refused(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    response = client.post("/auth/login", data={"email": "a@b.example", "password": "x" * 12})
    assert response.status_code == 400
    assert b"security token" in response.data

    developer = factories.make_developer()
    user = factories.make_user(developer.company)
    developer_client = factories.log_in(app.test_client(), developer)
    assert developer_client.post(f"/developer/users/{user.id}/deactivate").status_code == 400
    assert user.is_enabled


def test_a_form_with_its_csrf_token_is_accepted(make_app):
    import re

    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    page = client.get("/auth/resend").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/auth/resend", data={"email": "a@b.example", "csrf_token": token})
    assert response.status_code == 302


def test_too_many_login_attempts_get_the_429_page(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_AUTH="3 per minute")
    client = app.test_client()
    codes = [
        client.post(
            "/auth/login", data={"email": "x@y.example", "password": "whatever"}
        ).status_code
        for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    response = client.post("/auth/login", data={"email": "x@y.example", "password": "whatever"})
    assert b"Too many attempts" in response.data
    assert client.get("/auth/login").status_code == 200  # only POSTs count


@pytest.mark.parametrize("path", ["/auth/register/company", "/auth/register/user", "/auth/resend"])
def test_registration_and_resend_posts_are_rate_limited(make_app, path):
    client = make_app(RATELIMIT_ENABLED=True, RATELIMIT_AUTH="1 per minute").test_client()
    client.post(path, data={})
    assert client.post(path, data={}).status_code == 429


def test_behind_a_proxy_rate_limits_count_each_client_not_the_proxy(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_AUTH="2 per minute", PROXY_COUNT=1)
    client = app.test_client()

    def attempt(address: str) -> int:
        return client.post(
            "/auth/login",
            data={"email": "x@y.example", "password": "whatever"},
            headers={"X-Forwarded-For": address},
        ).status_code

    assert [attempt("203.0.113.1") for _ in range(3)] == [200, 200, 429]
    assert attempt("203.0.113.2") == 200  # another person behind the same proxy


def test_behind_a_proxy_emailed_links_use_the_forwarded_scheme_and_host(make_app):
    app = make_app(PROXY_COUNT=1, SERVER_NAME=None)
    client = app.test_client()
    client.post(
        "/auth/register/company",
        data={"name": "Acme", "email": "owner@acme.example"},
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "churn.acme.example"},
    )
    outbox = sorted(Path(app.config["OUTBOX_DIR"]).glob("*.eml"))
    assert "https://churn.acme.example/auth/verify/" in outbox[-1].read_text()
