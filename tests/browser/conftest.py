"""Browser harness: the app served on a loopback port, driven by Debian's Chromium via Playwright.

Fixtures: `live_server` (a per-test app in a background thread, mail written to its outbox),
`browser` (one Chromium per test session) and `page` (a fresh browser context per test).
Without a `chromium` executable the tests are skipped, except under CI, where they fail.
"""

from __future__ import annotations

import email
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.conftest import UNDER_CI, build_app

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path("/tmp/shots")


@dataclass
class LiveServer:
    app: Flask
    url: str
    outbox: Path

    def emails_to(self, address: str) -> list[EmailMessage]:
        messages = [
            email.message_from_bytes(path.read_bytes(), policy=default_policy)
            for path in sorted(self.outbox.glob("*.eml"))
        ]
        return [m for m in messages if address.lower() in m["To"].lower()]

    def last_email_to(self, address: str) -> EmailMessage:
        messages = self.emails_to(address)
        assert messages, f"no email in {self.outbox} for {address}"
        return messages[-1]

    def link_in(self, message: EmailMessage, prefix: str) -> str:
        """The link in `message` whose path starts with `prefix`, pointed at this server."""
        body = message.get_body(preferencelist=("plain",)).get_content()
        for link in re.findall(r"https?://\S+", body):
            if urlsplit(link).path.startswith(prefix):
                return link
        raise AssertionError(f"no {prefix} link in: {body}")


@pytest.fixture
def live_server(
    tmp_path, migrated_sqlite_template, original_dataset, default_models_dir
) -> Iterator[LiveServer]:
    database = tmp_path / "live.sqlite3"
    shutil.copyfile(migrated_sqlite_template, database)
    # No SERVER_NAME: links in emails use the host and port the browser asked for.
    app = build_app(
        tmp_path, f"sqlite:///{database}", original_dataset, default_models_dir, SERVER_NAME=None
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(app, f"http://127.0.0.1:{server.server_port}", tmp_path / "outbox")
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with app.app_context():
            from app.extensions import db

            db.engine.dispose()


@pytest.fixture(scope="session")
def browser():
    executable = shutil.which("chromium")
    if executable is None:
        message = (
            "Chromium is not installed (apt-get install chromium) so browser tests cannot run."
        )
        if UNDER_CI:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def screenshot(page):
    """Save a full-page screenshot as /tmp/shots/<name>.png (for looking at the pages)."""

    def take(name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
