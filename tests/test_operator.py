"""What an operator meets: production refuses to start without a way to send mail and never
logs working links, a plain-http production server says why its forms fail, the login limit
counts failures (an office behind one address can log in), create_database says it is done,
and `make run` and the Procfile serve with the same gunicorn flags."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app import create_app
from app.services import accounts
from app.web.links import email_links
from tests import factories
from tests.processes import ROOT


@pytest.fixture
def production(monkeypatch):
    from config import ProductionConfig

    monkeypatch.setattr(ProductionConfig, "SECRET_KEY", "x" * 32)
    monkeypatch.setattr(ProductionConfig, "OUTBOX_DIR", None)
    return ProductionConfig


def test_production_refuses_to_start_with_no_mail_server_and_no_outbox(production):
    with pytest.raises(RuntimeError, match="set MAIL_SERVER .* or OUTBOX_DIR"):
        create_app("production", SQLALCHEMY_DATABASE_URI="sqlite://")


def test_production_with_an_outbox_writes_mail_there_and_never_logs_its_links(
    make_app, tmp_path, caplog
):
    outbox = tmp_path / "operator-outbox"
    app = make_app(MAIL_LOG_LINKS=False, OUTBOX_DIR=str(outbox))  # what ProductionConfig sets
    with caplog.at_level(logging.DEBUG, logger="app.services.mail"):
        accounts.register_company("Quiet Ltd", "boss@quiet.example", email_links)
    message = next(outbox.glob("*.eml")).read_text()
    link = re.search(r"https?://\S+/auth/verify/\S+", message).group()
    info = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert info and not any(link in line for line in info)
    assert app.config["OUTBOX_DIR"] == str(outbox)


def test_a_production_form_posted_over_plain_http_explains_https(make_app):
    app = make_app(WTF_CSRF_ENABLED=True, SESSION_COOKIE_SECURE=True)
    response = app.test_client().post("/auth/login", data={"email": "a@b.example"})
    assert response.status_code == 400
    assert "opened over plain http" in response.text and "PROXY_COUNT" in response.text
    secure = app.test_client().post(
        "/auth/login", data={"email": "a@b.example"}, base_url="https://localhost"
    )
    assert "Form expired" in secure.text  # over https it is the ordinary missing token


def test_successful_logins_from_one_address_do_not_use_up_its_limit(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_AUTH="3 per minute")
    users = [factories.make_user() for _ in range(6)]  # an office behind one NAT address
    for user in users:
        client = app.test_client()
        response = client.post(
            "/auth/login", data={"email": user.email, "password": factories.PASSWORD}
        )
        assert response.status_code == 302, f"{user.email} was refused"
    stranger = app.test_client()
    codes = [
        stranger.post("/auth/login", data={"email": "x@y.example", "password": "nope"}).status_code
        for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429]  # failures still count


def test_create_database_prints_that_the_database_is_ready(tmp_path):
    database = tmp_path / "fresh.sqlite3"
    result = subprocess.run(
        [sys.executable, "create_database.py"],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "DATABASE_URL": f"sqlite:///{database}",
            "INSTANCE_PATH": str(tmp_path / "instance"),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert f"Database ready: sqlite:///{database}" in result.stdout


def test_make_run_and_the_procfile_serve_with_the_same_gunicorn_flags():
    makefile = (ROOT / "Makefile").read_text()
    flags = re.search(r"^GUNICORN_FLAGS := (.+)$", makefile, re.M).group(1)
    assert "$(GUNICORN_FLAGS) wsgi:app" in makefile
    web = re.search(r"^web: (.+)$", (ROOT / "Procfile").read_text(), re.M).group(1)
    assert f"{flags} wsgi:app" in web
    assert "--bind ${HOST:-127.0.0.1}:${PORT:-5000}" in web
    assert Path(ROOT / web.split()[0]).parts[-3:-1] == (".venv", "bin")
