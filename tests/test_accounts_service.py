"""The accounts service without HTTP: company IDs, the outbox, and registration rules."""

from __future__ import annotations

import email
import logging
import math
import re
from email.policy import default as default_policy
from pathlib import Path

import pytest

from app.extensions import db
from app.schema import Company
from app.services import accounts
from app.services.accounts import registration, rules
from app.web.links import email_links
from tests import factories

ID_PATTERN = re.compile(r"CB-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}")


def test_a_company_id_is_grouped_unambiguous_and_carries_at_least_60_bits():
    ids = {accounts.generate_company_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(ID_PATTERN.fullmatch(company_id) for company_id in ids)
    bits = rules.COMPANY_ID_SYMBOLS * math.log2(len(rules.COMPANY_ID_ALPHABET))
    assert bits >= 60
    assert not set("ILOU") & set(rules.COMPANY_ID_ALPHABET)


@pytest.mark.parametrize(
    "typed",
    [
        "CB-7K3M-Q9XP-4HTW",
        "cb-7k3m-q9xp-4htw",
        "CB7K3MQ9XP4HTW",
        " cb 7k3m q9xp 4htw ",
        "7K3M-Q9XP-4HTW",
        "7k3mq9xp4htw",
    ],
)
def test_a_typed_company_id_is_normalized(typed):
    assert accounts.normalize_company_id(typed) == "CB-7K3M-Q9XP-4HTW"


def test_letters_that_look_like_digits_are_read_as_the_digits():
    assert accounts.normalize_company_id("cb-o1il-0000-0000") == "CB-0111-0000-0000"


def test_a_colliding_company_id_is_drawn_again(app, monkeypatch):
    taken = factories.make_company()
    taken.public_id = "CB-AAAA-AAAA-AAAA"
    db.session.commit()
    draws = iter(["CB-AAAA-AAAA-AAAA", "CB-BBBB-BBBB-BBBB"])
    monkeypatch.setattr(registration, "generate_company_id", lambda: next(draws))

    with app.test_request_context():
        company = accounts.register_company("Second", "second@acme.example", email_links)
    assert company.public_id == "CB-BBBB-BBBB-BBBB"
    assert db.session.scalar(db.select(db.func.count(Company.id))) == 2


def test_without_a_mail_server_email_is_written_to_the_outbox_and_its_link_logged(app, caplog):
    with caplog.at_level(logging.INFO, logger="app.services.mail"), app.test_request_context():
        company = accounts.register_company("Outbox Ltd", "boss@outbox.example", email_links)
    outbox = sorted(Path(app.config["OUTBOX_DIR"]).glob("*.eml"))
    assert len(outbox) == 1
    assert re.fullmatch(r"\d{8}T\d{12}Z-[0-9a-f]{8}\.eml", outbox[0].name)
    message = email.message_from_bytes(outbox[0].read_bytes(), policy=default_policy)
    assert message["To"] == "boss@outbox.example"
    body = message.get_body().get_content()
    assert f"Company ID: {company.public_id}" in body
    assert "http://localhost/auth/verify/" in body
    assert "http://localhost/auth/verify/" in caplog.text
    assert not list(outbox[0].parent.glob(".*.tmp"))


def test_a_failing_mail_server_does_not_lose_the_registration(make_app, caplog):
    from tests.mail_server import free_port

    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_SUPPRESS_SEND=False)
    with caplog.at_level(logging.ERROR), app.test_request_context():
        company = accounts.register_company("Offline Inc", "boss@offline.example", email_links)
    assert db.session.get(Company, company.id) is not None
    assert "could not be sent" in caplog.text


def test_the_login_check_refuses_unknown_and_wrong_alike(app):
    user = factories.make_user()
    for address, password in [(user.email, "wrong password"), ("ghost@x.example", "whatever")]:
        with pytest.raises(accounts.LoginRefused) as refused:
            accounts.authenticate(address, password)
        assert refused.value.message == accounts.LOGIN_INCORRECT
        assert refused.value.missing_steps == []


def test_a_developer_waiting_for_approval_is_told_what_is_missing_after_a_right_password(app):
    developer = factories.make_developer(verified=True, approved=False)
    with pytest.raises(accounts.LoginRefused) as refused:
        accounts.authenticate(developer.email, factories.PASSWORD)
    assert len(refused.value.missing_steps) == 1
    assert developer.company.email in refused.value.missing_steps[0]
