"""Registration of companies, developers and users end to end, with the emails they receive."""

from __future__ import annotations

import re

import pytest

from app.extensions import db
from app.schema import Company, Developer, User
from app.services.accounts import tokens
from tests import factories
from tests.mail_server import body_of, link_path

PASSWORD = "a long enough password"


def register_company(client, name="Acme Corp", email="owner@acme.example") -> str:
    response = client.post(
        "/auth/register/company", data={"name": name, "email": email}, follow_redirects=True
    )
    assert response.status_code == 200
    match = re.search(
        r'class="id-box"[^>]*>\s*(CB-[0-9A-Z-]+)\s*<', response.get_data(as_text=True)
    )
    assert match, "the company ID is shown in its box"
    return match.group(1)


def sign_up(client, role, company_id, email, name="Pat Doe", password=PASSWORD, confirm=None):
    return client.post(
        f"/auth/register/{role}",
        data={
            "company_id": company_id,
            "name": name,
            "email": email,
            "password": password,
            "confirm": confirm if confirm is not None else password,
        },
        follow_redirects=True,
    )


def log_in(client, email, password=PASSWORD, **extra):
    return client.post("/auth/login", data={"email": email, "password": password, **extra})


def test_a_company_gets_its_id_on_screen_and_by_email_and_can_verify_its_email(
    smtp_app, mail_server
):
    client = smtp_app.test_client()
    company_id = register_company(client)

    assert re.fullmatch(r"CB-[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){2}", company_id)
    message = mail_server.last_to("owner@acme.example")
    assert f"Company ID: {company_id}" in body_of(message)
    response = client.get(link_path(message, "/auth/verify/"))
    assert response.status_code == 200
    assert b"Company email confirmed" in response.data
    company = db.session.scalars(db.select(Company)).one()
    assert company.email_verified_at is not None


def test_a_developer_logs_in_only_after_verifying_and_being_approved_by_the_company(
    smtp_app, mail_server
):
    client = smtp_app.test_client()
    company_id = register_company(client)
    typed_id = company_id.lower().replace("-", " ")  # people type IDs sloppily

    response = sign_up(client, "developer", typed_id, "Dev@Acme.example", name="Dana Dev")
    assert b"confirmation link" in response.data

    refused = log_in(client, "dev@acme.example").get_data(as_text=True)
    assert "Confirm your email address" in refused
    assert "Your company must approve you" in refused

    client.get(link_path(mail_server.last_to("dev@acme.example"), "/auth/verify/"))
    refused = log_in(client, "dev@acme.example").get_data(as_text=True)
    assert "Confirm your email address" not in refused
    assert "Your company must approve you" in refused

    approval = mail_server.last_to("owner@acme.example")
    assert "Dana Dev" in body_of(approval)
    approve_path = link_path(approval, "/auth/approve/")
    page = client.get(approve_path)
    assert page.status_code == 200
    assert b"Approve Dana Dev?" in page.data
    assert db.session.scalars(db.select(Developer)).one().approved_at is None  # GET changes nothing
    assert b"Developer approved" in client.post(approve_path).data

    response = log_in(client, "dev@acme.example")
    assert response.status_code == 302
    assert response.headers["Location"] == "/developer/"
    assert b"Welcome, Dana Dev" in client.get("/developer/").data


def test_a_user_signs_up_with_the_company_id_verifies_and_logs_in(smtp_app, mail_server):
    company = factories.make_company()
    client = smtp_app.test_client()

    sign_up(client, "user", company.public_id, "uma@acme.example", name="Uma User")
    assert log_in(client, "uma@acme.example").status_code == 200  # not verified yet

    client.get(link_path(mail_server.last_to("uma@acme.example"), "/auth/verify/"))
    response = log_in(client, "uma@acme.example")
    assert response.headers["Location"] == "/user/"
    user = db.session.scalars(db.select(User)).one()
    assert user.company_id == company.id
    assert user.password_hash.startswith("scrypt:")
    # Verification gave the company its five default models, deployed to its users.
    from app.services.registry import models_for

    assert len(models_for(user)) == 5


def test_an_unverified_user_can_ask_for_the_verification_email_again(smtp_app, mail_server):
    user = factories.make_user(verified=False)
    client = smtp_app.test_client()

    response = log_in(client, user.email, factories.PASSWORD)
    assert b"Confirm your email address" in response.data
    assert b"/auth/resend" in response.data

    response = client.post("/auth/resend", data={"email": user.email}, follow_redirects=True)
    assert b"a new email is on its way" in response.data
    client.get(link_path(mail_server.last_to(user.email), "/auth/verify/"))
    assert log_in(client, user.email, factories.PASSWORD).status_code == 302


def test_resend_answers_the_same_for_an_unknown_address_and_sends_nothing(smtp_app, mail_server):
    client = smtp_app.test_client()
    response = client.post(
        "/auth/resend", data={"email": "nobody@nowhere.example"}, follow_redirects=True
    )
    assert b"a new email is on its way" in response.data
    assert mail_server.messages == []


def test_a_second_developer_for_the_same_company_is_refused(client):
    developer = factories.make_developer()
    response = sign_up(client, "developer", developer.company.public_id, "second@dev.example")
    assert response.status_code == 200
    assert b"already has a developer" in response.data
    assert db.session.scalar(db.select(db.func.count(Developer.id))) == 1


def test_the_database_refuses_a_second_developer_even_if_the_check_is_bypassed(app):
    from sqlalchemy.exc import IntegrityError

    developer = factories.make_developer()
    db.session.add(
        Developer(
            company_id=developer.company_id,
            name="Racer",
            email="racer@dev.example",
            password_hash=factories.password_hash(),
        )
    )
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def _flash(response) -> str:
    match = re.search(r'class="flash flash-success"[^>]*>([^<]*)<', response.get_data(as_text=True))
    assert match, "the sign-up answer is shown"
    return match.group(1)


@pytest.mark.parametrize("existing_role", ["developer", "user"])
@pytest.mark.parametrize("new_role", ["developer", "user"])
def test_an_address_in_use_gets_the_ordinary_answer_and_its_owner_a_mail(
    smtp_app, mail_server, existing_role, new_role
):
    """Signing up with a taken address tells nobody but the owner that it has an account."""
    make = factories.make_developer if existing_role == "developer" else factories.make_user
    existing = make()
    client = smtp_app.test_client()
    company = factories.make_company()
    taken = sign_up(client, new_role, company.public_id, existing.email.upper(), name="Pat Doe")
    fresh = sign_up(client, new_role, company.public_id, "fresh@new.example", name="Pat Doe")

    assert taken.status_code == fresh.status_code == 200
    assert _flash(taken).replace(existing.email, "ADDRESS") == _flash(fresh).replace(
        "fresh@new.example", "ADDRESS"
    )
    assert "check your mail" in _flash(taken).lower()
    notice = " ".join(body_of(mail_server.last_to(existing.email)).split())
    assert "already has an account" in notice and "/auth/reset" in notice
    assert db.session.scalar(db.select(db.func.count(User.id))) == (
        (existing_role == "user") + (new_role == "user")
    )
    assert db.session.scalar(db.select(db.func.count(Developer.id))) == (
        (existing_role == "developer") + (new_role == "developer")
    )
    # The existing account is untouched: it still logs in with its own password.
    assert log_in(client, existing.email, factories.PASSWORD).status_code == 302


def test_an_unknown_company_id_is_refused_and_the_form_keeps_its_values(client):
    response = sign_up(client, "user", "CB-0000-0000-0000", "kim@acme.example", name="Kim Lee")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "No company has this company ID" in page
    assert 'value="kim@acme.example"' in page
    assert 'value="Kim Lee"' in page
    assert PASSWORD not in page


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "at least 12 characters"),
        ("eleven char", "at least 12 characters"),
        ("x" * 201, "at most 200 characters"),
        ("qwerty123456", "most common"),
        ("1QAZ2WSX3EDC", "most common"),  # whatever its case
        ("long.name.here@b.example", "must not be your email"),
        ("LONG.NAME.HERE", "must not be your email"),  # the part before the @ alone
        ("long.name.here and more", None),
    ],
)
def test_the_password_rules_are_told_as_they_are(client, password, message):
    company = factories.make_company()
    email = "long.name.here@b.example"
    response = sign_up(client, "user", company.public_id, email, password=password)
    page = response.get_data(as_text=True)
    if message is None:
        assert "Check your mail" in page
        return
    assert message in page
    assert "at least" not in page or message.startswith("at least")
    assert db.session.scalar(db.select(db.func.count(User.id))) == 0


def test_a_mismatched_password_is_refused(client):
    company = factories.make_company()
    mismatch = sign_up(client, "user", company.public_id, "a@b.example", confirm="something else")
    assert b"do not match" in mismatch.data
    assert db.session.scalar(db.select(db.func.count(User.id))) == 0


def test_an_expired_verification_link_shows_a_page_to_ask_for_a_new_one(make_app):
    app = make_app(EMAIL_TOKEN_MAX_AGE=-1)
    user = factories.make_user(verified=False)
    url = f"/auth/verify/{tokens.account_verification_token(user)}"
    response = app.test_client().get(url)
    assert response.status_code == 400
    assert b"This link has expired" in response.data
    assert b'action="/auth/resend"' in response.data
    assert db.session.get(User, user.id).email_verified_at is None


@pytest.mark.parametrize("path", ["/auth/verify/", "/auth/approve/"])
def test_a_tampered_link_shows_a_clear_page_not_an_error(app, client, path):
    developer = factories.make_developer(verified=False, approved=False)
    with app.test_request_context():
        make = tokens.account_verification_token if "verify" in path else tokens.approval_token
        token = make(developer)
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    for bad in (tampered, "not-a-token", token.replace(".", "", 1)):
        response = client.get(path + bad)
        assert response.status_code == 400
        assert b"This link is not valid" in response.data
    if path == "/auth/approve/":
        assert client.post(path + tampered).status_code == 400
    developer = db.session.get(Developer, developer.id)
    assert developer.approved_at is None and developer.email_verified_at is None


def test_a_verification_link_cannot_be_used_as_an_approval_link(app, client):
    developer = factories.make_developer(verified=False, approved=False)
    token = tokens.account_verification_token(developer)
    assert client.post(f"/auth/approve/{token}").status_code == 400
    assert db.session.get(Developer, developer.id).approved_at is None


def test_a_line_break_in_a_name_cannot_inject_mail_headers(smtp_app, mail_server):
    client = smtp_app.test_client()
    company_id = register_company(client, name="Acme\r\nBcc: victim@evil.example")

    response = sign_up(
        client, "developer", company_id, "eve@acme.example", name="Eve\r\nBcc: victim@evil.example"
    )
    assert response.status_code == 200
    request = mail_server.last_to("owner@acme.example")
    assert request["Bcc"] is None
    assert request["Subject"] == (
        "Approve Eve Bcc: victim@evil.example as developer of Acme Bcc: victim@evil.example"
    )
    assert not mail_server.messages_to("victim@evil.example")
    developer = db.session.scalars(db.select(Developer)).one()
    assert developer.name == "Eve Bcc: victim@evil.example"


def test_the_company_can_reject_a_stranger_and_its_real_developer_then_signs_up(
    smtp_app, mail_server
):
    client = smtp_app.test_client()
    company_id = register_company(client)
    sign_up(client, "developer", company_id, "stranger@evil.example", name="Stranger")
    approve_path = link_path(mail_server.last_to("owner@acme.example"), "/auth/approve/")

    response = client.post(approve_path, data={"reject": "Reject"})
    assert b"Request rejected" in response.data
    assert db.session.scalars(db.select(Developer)).all() == []
    assert log_in(client, "stranger@evil.example").status_code == 200  # refused: no account
    assert b"no longer exists" in client.get(approve_path).data

    sign_up(client, "developer", company_id, "dana@acme.example", name="Dana Dev")
    assert db.session.scalars(db.select(Developer)).one().email == "dana@acme.example"


def test_an_approved_developer_cannot_be_rejected_with_the_old_link(smtp_app, mail_server):
    client = smtp_app.test_client()
    company_id = register_company(client)
    sign_up(client, "developer", company_id, "dana@acme.example", name="Dana Dev")
    approve_path = link_path(mail_server.last_to("owner@acme.example"), "/auth/approve/")
    client.post(approve_path)

    response = client.post(approve_path, data={"reject": "Reject"})
    assert b"already approved" in response.data
    assert db.session.scalars(db.select(Developer)).one().approved_at is not None


def test_the_approval_email_offers_reject_and_the_page_after_approving_says_it_is_done(
    smtp_app, mail_server
):
    client = smtp_app.test_client()
    company_id = register_company(client)
    sign_up(client, "developer", company_id, "dev@acme.example", name="Dana Dev")
    approval = body_of(mail_server.last_to("owner@acme.example"))
    assert '"Approve"' in approval and '"Reject"' in approval
    approve_path = link_path(mail_server.last_to("owner@acme.example"), "/auth/approve/")
    assert b"stays" in client.get(approve_path).data  # before: the account stays locked
    client.post(approve_path)
    after = client.get(approve_path).get_data(as_text=True)
    assert "Dana Dev is approved" in after and "stays" not in after and "locked" not in after
