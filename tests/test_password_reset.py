"""A forgotten password, over real SMTP: a single-use, expiring link bound to the current
password, the same answer for unknown addresses, and every session ended after the reset."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.schema import User
from app.services.accounts import tokens
from tests import factories
from tests.mail_server import body_of, link_path

NEW = "a fresh and long secret"


def ask(client, email):
    return client.post("/auth/reset", data={"email": email}, follow_redirects=True)


def log_in(client, email, password=factories.PASSWORD):
    return client.post("/auth/login", data={"email": email, "password": password})


def reset(client, path, password=NEW, confirm=None):
    return client.post(path, data={"password": password, "confirm": confirm or password})


def test_the_login_page_links_to_the_forgotten_password_page(client):
    page = client.get("/auth/login").get_data(as_text=True)
    assert 'href="/auth/reset"' in page and "Forgot your password?" in page
    assert client.get("/auth/reset").status_code == 200


def test_a_reset_link_sets_a_new_password_once_and_ends_every_session(smtp_app, mail_server):
    user = factories.make_user()
    elsewhere = smtp_app.test_client()
    assert log_in(elsewhere, user.email).status_code == 302
    client = smtp_app.test_client()

    answer = ask(client, user.email.upper())
    assert b"check your mail" in answer.data
    message = mail_server.last_to(user.email)
    assert "works once" in body_of(message)
    path = link_path(message, "/auth/reset/")

    form = client.get(path)
    assert form.status_code == 200 and user.email in form.get_data(as_text=True)
    assert form.headers["Referrer-Policy"] == "no-referrer"
    done = reset(client, path)
    assert done.status_code == 302 and done.headers["Location"] == "/auth/login"

    assert elsewhere.get("/user/").status_code == 302  # every session ended
    assert b"Email or password is incorrect" in log_in(client, user.email).data
    assert log_in(client, user.email, NEW).status_code == 302
    # The link worked once: the password it was bound to is gone.
    again = smtp_app.test_client()
    second = reset(again, path, "yet another long secret")
    assert second.status_code == 400 and b"already been used" in second.data
    assert log_in(again, user.email, NEW).status_code == 302


def test_an_unknown_address_gets_the_same_answer_and_no_mail(smtp_app, mail_server):
    user = factories.make_user()
    known = ask(smtp_app.test_client(), user.email).get_data(as_text=True)
    unknown = ask(smtp_app.test_client(), "nobody@nowhere.example").get_data(as_text=True)
    assert known.replace(user.email, "X") == unknown.replace("nobody@nowhere.example", "X")
    assert mail_server.messages_to("nobody@nowhere.example") == []
    assert len(mail_server.messages_to(user.email)) == 1


def test_an_expired_reset_link_is_refused_with_a_way_to_ask_again(make_app):
    app = make_app(PASSWORD_RESET_MAX_AGE=-1)
    user = factories.make_user()
    response = app.test_client().get(f"/auth/reset/{tokens.reset_token(user)}")
    assert response.status_code == 400
    assert b"This link has expired" in response.data
    assert b'action="/auth/reset"' in response.data


@pytest.mark.parametrize("mangle", [lambda t: t[:-3], lambda t: t + "x", lambda t: "junk"])
def test_a_tampered_reset_link_is_refused(client, mangle):
    user = factories.make_user()
    path = f"/auth/reset/{mangle(tokens.reset_token(user))}"
    assert client.get(path).status_code == 400
    assert reset(client, path).status_code == 400
    assert log_in(client, user.email).status_code == 302  # the password did not change


def test_a_verification_link_is_not_a_reset_link(client):
    user = factories.make_user()
    path = f"/auth/reset/{tokens.account_verification_token(user)}"
    assert reset(client, path).status_code == 400


def test_the_new_password_follows_the_rules_and_the_link_stays_usable(client):
    user = factories.make_user()
    path = f"/auth/reset/{tokens.reset_token(user)}"
    for weak, message in [
        ("short", b"at least 12"),
        ("qwerty123456", b"most common"),
        (user.email, b"must not be your email"),
        ("x" * 201, b"at most 200"),
    ]:
        response = reset(client, path, weak)
        assert response.status_code == 400 and message in response.data
    assert reset(client, path, NEW, confirm="something else").status_code == 400
    assert reset(client, path).status_code == 302


def test_a_reset_unlocks_a_locked_account(make_app):
    app = make_app(LOGIN_MAX_FAILURES=2)
    user = factories.make_user()
    client = app.test_client()
    for _ in range(2):
        log_in(client, user.email, "wrong password!")
    assert b"locked" in log_in(client, user.email).data
    assert reset(client, f"/auth/reset/{tokens.reset_token(user)}").status_code == 302
    assert log_in(client, user.email, NEW).status_code == 302
    assert db.session.get(User, user.id).failed_logins == 0
