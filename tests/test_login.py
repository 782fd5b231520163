"""Logging in and out, lockout, remembered sessions, password change and deactivation."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import pytest

from app.extensions import db
from app.schema import Developer, User
from app.services import accounts, environment
from app.services.accounts import tokens
from app.web.links import email_links
from tests import factories

INCORRECT = b"Email or password is incorrect."


def log_in(client, email, password=factories.PASSWORD, **extra):
    return client.post("/auth/login", data={"email": email, "password": password, **extra})


def copy_cookies(source, target):
    """Give `target` every cookie `source` holds, as someone who copied the cookie jar would."""
    for cookie in source._cookies.values():
        target.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
    return target


def test_a_wrong_password_and_an_unknown_email_get_the_same_message(client):
    user = factories.make_user(verified=False)  # its state must not show either
    wrong = log_in(client, user.email, "not the password")
    unknown = log_in(client, "nobody@nowhere.example", "not the password")
    for response in (wrong, unknown):
        assert response.status_code == 200
        assert INCORRECT in response.data
        assert b"Confirm your email" not in response.data


def test_login_lands_on_the_home_of_the_role(client):
    developer = factories.make_developer()
    user = factories.make_user(developer.company)
    assert log_in(client, developer.email).headers["Location"] == "/developer/"
    other = client.application.test_client()
    assert log_in(other, user.email.upper()).headers["Location"] == "/user/"


@pytest.mark.parametrize(
    ("next_url", "landing"),
    [
        ("/developer/users", "/developer/users"),
        ("//evil.example/steal", "/developer/"),
        ("https://evil.example/", "/developer/"),
        ("/\\evil.example", "/developer/"),
    ],
)
def test_login_follows_only_a_next_address_on_this_site(client, next_url, landing):
    developer = factories.make_developer()
    response = client.post(
        "/auth/login",
        query_string={"next": next_url},
        data={"email": developer.email, "password": factories.PASSWORD},
    )
    assert response.headers["Location"] == landing


def test_an_account_is_locked_after_repeated_failures_even_for_the_right_password(make_app):
    app = make_app(LOGIN_MAX_FAILURES=3, LOGIN_LOCK_SECONDS=600)
    client = app.test_client()
    user = factories.make_user()

    for _ in range(2):
        assert INCORRECT in log_in(client, user.email, "wrong password!").data
    third = log_in(client, user.email, "wrong password!")
    assert b"locked" in third.data and b"wait 10 minutes" in third.data
    locked = log_in(client, user.email)
    assert locked.status_code == 200 and b"locked" in locked.data

    db.session.get(User, user.id).locked_until = None
    db.session.commit()
    assert log_in(client, user.email).status_code == 302


def test_an_unknown_email_never_reports_a_lock(make_app):
    client = make_app(LOGIN_MAX_FAILURES=2).test_client()
    for _ in range(4):
        response = log_in(client, "ghost@nowhere.example", "wrong password!")
        assert INCORRECT in response.data
        assert b"locked" not in response.data


def test_a_successful_login_resets_the_failure_count(client):
    user = factories.make_user()
    log_in(client, user.email, "wrong password!")
    assert db.session.get(User, user.id).failed_logins == 1
    log_in(client, user.email)
    assert db.session.get(User, user.id).failed_logins == 0


def test_remember_me_sets_a_protected_remember_cookie(client):
    user = factories.make_user()
    response = log_in(client, user.email, remember="y")
    cookies = response.headers.getlist("Set-Cookie")
    remember = next(c for c in cookies if c.startswith("remember_token="))
    session = next(c for c in cookies if c.startswith("session="))
    for cookie in (remember, session):
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
    expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", remember).group(1))
    days = (expires - datetime.now(UTC)).days
    assert 28 <= days <= 30  # config's 30 days, not Flask-Login's default of a year


def test_a_session_copied_before_logout_is_refused_after_it(client):
    user = factories.make_user()
    log_in(client, user.email, remember="y")
    thief = copy_cookies(client, client.application.test_client())
    assert thief.get("/user/").status_code == 200

    assert client.post("/auth/logout").headers["Location"] == "/auth/login"
    assert client.get("/user/").status_code == 302
    response = thief.get("/user/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")


def test_logout_is_post_only(user_client):
    assert user_client.get("/auth/logout").status_code == 405
    assert user_client.get("/user/").status_code == 200


def test_a_password_change_ends_other_sessions_but_keeps_this_one(client):
    user = factories.make_user()
    log_in(client, user.email)
    other_device = copy_cookies(client, client.application.test_client())

    response = client.post(
        "/auth/password",
        data={
            "current": factories.PASSWORD,
            "new": "a brand new secret",
            "confirm": "a brand new secret",
        },
    )
    assert response.status_code == 302
    assert client.get("/user/").status_code == 200
    assert other_device.get("/user/").status_code == 302
    fresh = client.application.test_client()
    assert INCORRECT in log_in(fresh, user.email).data
    assert log_in(fresh, user.email, "a brand new secret").status_code == 302


def test_a_password_change_needs_the_current_password(user_client, user):
    response = user_client.post(
        "/auth/password",
        data={
            "current": "not it at all",
            "new": "a brand new secret",
            "confirm": "a brand new secret",
        },
    )
    assert b"current password is not correct" in response.data
    assert db.session.get(User, user.id).session_version == user.session_version


def test_the_password_page_needs_a_login(client):
    response = client.get("/auth/password")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")


def test_activation_hook_runs_once_whichever_step_comes_last(app, monkeypatch):
    calls = []
    monkeypatch.setattr(environment, "on_developer_activated", calls.append)

    approved_first = factories.make_developer(verified=False, approved=True)
    verified_first = factories.make_developer(verified=True, approved=False)
    with app.test_request_context():
        approve_token = tokens.approval_token(verified_first)
        verify_token = tokens.account_verification_token(approved_first)
        accounts.verify_email(verify_token)
        accounts.verify_email(verify_token)  # a second click changes nothing
        accounts.approve_developer(approve_token, email_links)
        accounts.approve_developer(approve_token, email_links)
    assert [d.id for d in calls] == [approved_first.id, verified_first.id]


def test_a_failing_activation_hook_is_logged_and_the_approval_stands(app, monkeypatch, caplog):
    def broken(developer):
        raise RuntimeError("model setup failed")

    monkeypatch.setattr(environment, "on_developer_activated", broken)
    developer = factories.make_developer(verified=True, approved=False)
    with app.test_request_context():
        path = f"/auth/approve/{tokens.approval_token(developer)}"
    with caplog.at_level(logging.ERROR):
        response = app.test_client().post(path)
    assert response.status_code == 200
    assert db.session.get(Developer, developer.id).approved_at is not None
    assert "model setup failed" in caplog.text


def test_a_deactivated_user_is_logged_out_and_cannot_log_in(developer_client, company):
    user = factories.make_user(company)
    user_client = factories.log_in(developer_client.application.test_client(), user)
    assert user_client.get("/user/").status_code == 200

    page = developer_client.get("/developer/users")
    assert user.email.encode() in page.data
    assert b"data-confirm=" in page.data
    response = developer_client.post(f"/developer/users/{user.id}/deactivate")
    assert response.status_code == 302

    after = user_client.get("/user/")
    assert after.status_code == 302
    assert after.headers["Location"].startswith("/auth/login")
    assert b"deactivated" in log_in(user_client, user.email).data
    assert db.session.get(User, user.id).deactivated_at is not None


def test_a_developer_cannot_deactivate_a_user_of_another_company(developer_client):
    stranger = factories.make_user(factories.make_company())
    assert developer_client.post(f"/developer/users/{stranger.id}/deactivate").status_code == 404
    assert developer_client.post("/developer/users/999999/deactivate").status_code == 404
    assert db.session.get(User, stranger.id).is_enabled


def test_the_users_page_lists_only_the_company_users_and_pages_through_them(make_app):
    app = make_app(HISTORY_PAGE_SIZE=2)
    developer = factories.make_developer()
    mine = [factories.make_user(developer.company) for _ in range(3)]
    stranger = factories.make_user(factories.make_company())
    client = factories.log_in(app.test_client(), developer)

    first = client.get("/developer/users").get_data(as_text=True)
    second = client.get("/developer/users?page=2").get_data(as_text=True)
    assert "Page 1 of 2" in first
    assert all(u.email in first + second for u in mine)
    assert stranger.email not in first + second


def test_the_users_page_says_so_when_there_are_no_users(developer_client):
    assert b"No users yet" in developer_client.get("/developer/users").data


# One browser or all of them ------------------------------------------------------------------


def test_logout_ends_this_browsers_session_only(client):
    user = factories.make_user()
    other_browser = client.application.test_client()
    for browser in (client, other_browser):
        assert log_in(browser, user.email, remember="y").status_code == 302

    client.post("/auth/logout")
    assert client.get("/user/").status_code == 302
    assert other_browser.get("/user/").status_code == 200


def test_signing_out_everywhere_ends_every_session_and_remember_cookie(client):
    user = factories.make_user()
    other_browser = client.application.test_client()
    for browser in (client, other_browser):
        assert log_in(browser, user.email, remember="y").status_code == 302
    thief = copy_cookies(other_browser, client.application.test_client())

    page = client.get("/auth/account").get_data(as_text=True)
    assert "logged in on 2 devices" in page and "Sign out everywhere" in page
    response = client.post("/auth/logout/everywhere")
    assert response.headers["Location"] == "/auth/login"
    for browser in (client, other_browser, thief):
        assert browser.get("/user/").status_code == 302
    assert log_in(client.application.test_client(), user.email).status_code == 302


def test_the_account_page_needs_a_login_and_holds_the_password_form(client, user_client):
    assert client.get("/auth/account").status_code == 302
    page = user_client.get("/auth/account").get_data(as_text=True)
    assert 'action="/auth/password"' in page and 'action="/auth/logout/everywhere"' in page
    assert user_client.get("/auth/password").headers["Location"] == "/auth/account"


# Password change -----------------------------------------------------------------------------


def _change(client, current, new="a brand new secret"):
    return client.post("/auth/password", data={"current": current, "new": new, "confirm": new})


def test_guessing_the_current_password_locks_the_account_like_login(make_app):
    app = make_app(LOGIN_MAX_FAILURES=3, LOGIN_LOCK_SECONDS=600)
    user = factories.make_user()
    client = factories.log_in(app.test_client(), user)
    for _ in range(2):
        assert b"current password is not correct" in _change(client, "a wrong guess").data
    assert b"locked" in _change(client, "a wrong guess").data
    assert b"locked" in _change(client, factories.PASSWORD).data  # the right one, too late
    assert b"locked" in log_in(app.test_client(), user.email).data
    assert db.session.get(User, user.id).failed_logins == 3


def test_the_password_change_form_is_rate_limited(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_AUTH="3 per minute")
    client = factories.log_in(app.test_client(), factories.make_user())
    codes = [_change(client, "a wrong guess").status_code for _ in range(4)]
    assert codes[:3] == [400, 400, 400] and codes[3] == 429


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ("x" * 201, b"at most 200 characters"),
        ("short one", b"at least 12 characters"),
        ("qwerty123456", b"most common"),
    ],
)
def test_a_new_password_is_held_to_the_rules(user_client, user, new, message):
    response = _change(user_client, factories.PASSWORD, new)
    assert response.status_code == 400 and message in response.data
    if message != b"at least 12 characters":
        assert b"at least" not in response.data


# Same work for every refusal -----------------------------------------------------------------


def test_a_locked_account_answers_after_the_same_work_as_an_unknown_one(make_app, monkeypatch):
    """Each refusal checks exactly one password hash, so none answers sooner than another."""
    from app.services.accounts import authentication

    app = make_app(LOGIN_MAX_FAILURES=1)
    user = factories.make_user()
    log_in(app.test_client(), user.email, "wrong password!")
    checks = []
    real = authentication.check_password_hash

    def counted(hashed, password):
        checks.append(hashed)
        return real(hashed, password)

    monkeypatch.setattr(authentication, "check_password_hash", counted)
    for email in (user.email, "ghost@nowhere.example"):
        checks.clear()
        log_in(app.test_client(), email, "wrong password!")
        assert len(checks) == 1, email


# Reactivation --------------------------------------------------------------------------------


def test_the_developer_reactivates_a_deactivated_user(developer_client, company):
    user = factories.make_user(company)
    developer_client.post(f"/developer/users/{user.id}/deactivate")
    page = developer_client.get("/developer/users").get_data(as_text=True)
    assert f'action="/developer/users/{user.id}/reactivate"' in page

    response = developer_client.post(f"/developer/users/{user.id}/reactivate")
    assert response.status_code == 302
    assert db.session.get(User, user.id).is_enabled
    assert db.session.get(User, user.id).deactivated_at is None
    assert log_in(developer_client.application.test_client(), user.email).status_code == 302
    page = developer_client.get("/developer/users").get_data(as_text=True)
    assert f'action="/developer/users/{user.id}/deactivate"' in page


def test_a_developer_cannot_reactivate_a_user_of_another_company(developer_client):
    stranger = factories.make_user(factories.make_company())
    stranger.is_enabled = False
    db.session.commit()
    assert developer_client.post(f"/developer/users/{stranger.id}/reactivate").status_code == 404
    assert not db.session.get(User, stranger.id).is_enabled
