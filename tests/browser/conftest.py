"""Browser harness: the app served on a loopback port, driven by Debian's Chromium via Playwright.

Fixtures: `live_server` (a per-test app in a background thread, CSRF on, mail written to its
outbox), `small_live_server` (the same on a 400-row original data set, for quick retrains),
`browser` (one Chromium per test session), `page` and `other_page` (fresh browser contexts).
Helpers: make_developer/make_user create accounts directly; log_in uses the real login form;
assert_accessible runs axe-core on the page and fails on serious or critical violations. Every
page the fixtures hand out runs it after each `goto`, `reload` and `wait_for_url`, so each page a
test visits is checked.
Without a `chromium` executable the tests are skipped, except under CI, where they fail.
"""

from __future__ import annotations

import email
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, sync_playwright
from werkzeug.serving import make_server

from app.extensions import db
from app.schema import Company
from app.services.environment import ensure_company_models, initialize_developer_environment
from app.services.jobs import wait_for_idle
from tests import factories
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


@contextmanager
def serve(tmp_path: Path, template: Path, **config) -> Iterator[LiveServer]:
    """An app on a copy of the migrated template, served on a free loopback port in a thread.

    CSRF protection is on, as in production: the browser submits the forms' real tokens.
    """
    tmp_path.mkdir(parents=True, exist_ok=True)
    database = tmp_path / "live.sqlite3"
    shutil.copyfile(template, database)
    # No SERVER_NAME: links in emails use the host and port the browser asked for.
    config = {"SERVER_NAME": None, "WTF_CSRF_ENABLED": True, **config}
    app = build_app(tmp_path, f"sqlite:///{database}", **config)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(app, f"http://127.0.0.1:{server.server_port}", tmp_path / "outbox")
    finally:
        server.shutdown()
        thread.join(timeout=10)
        wait_for_idle(app)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def live_server(
    tmp_path, migrated_sqlite_template, original_dataset, default_models_dir
) -> Iterator[LiveServer]:
    """The app on the full DatasetA.csv with the session's trained default models."""
    with serve(
        tmp_path,
        migrated_sqlite_template,
        original_dataset=original_dataset,
        default_models=default_models_dir,
    ) as server:
        yield server


@pytest.fixture
def small_live_server(
    tmp_path, migrated_sqlite_template, small_original, default_models_dir
) -> Iterator[LiveServer]:
    """The app whose original data set is a 400-row sample, so a retrain takes about a second."""
    with serve(
        tmp_path,
        migrated_sqlite_template,
        original_dataset=small_original,
        default_models=default_models_dir,
    ) as server:
        yield server


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

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# Accessibility ------------------------------------------------------------------------------------

AXE = Axe()
BLOCKING_IMPACTS = {"serious", "critical"}
# Every rule runs (meta-refresh included: waiting pages poll a status, a <meta> refresh is only
# in <noscript>).
AXE_OPTIONS = {"resultTypes": ["violations"]}


def accessibility_violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one line each."""
    for attempt in range(3):
        try:
            page.wait_for_load_state("load")
            response = AXE.run(page, options=AXE_OPTIONS).response
            break
        except PlaywrightError:  # the page navigated while axe ran (a refresh): run it again
            if attempt == 2:
                raise
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(
            f"{' '.join(node['target'])} [{node.get('failureSummary', '')}]".replace("\n", " ")
            for node in v["nodes"][:5]
        )
        for v in response["violations"]
        if v["impact"] in BLOCKING_IMPACTS
    ]


def assert_accessible(page: Page) -> None:
    """Fail when axe-core finds a serious or critical violation on the page."""
    if page.url.startswith("about:") or not page.url.startswith("http"):
        return
    violations = accessibility_violations(page)
    assert not violations, f"{page.url} has accessibility violations:\n" + "\n".join(violations)


def check_after_navigation(page: Page) -> Page:
    """Make `goto`, `reload` and `wait_for_url` run `assert_accessible` on the page they reach."""
    for name in ("goto", "reload", "wait_for_url"):
        navigate = getattr(page, name)

        def checked(*args, _navigate=navigate, **kwargs):
            result = _navigate(*args, **kwargs)
            assert_accessible(page)
            return result

        setattr(page, name, checked)
    return page


def new_page(browser, width: int = 1200, height: int = 900, checked: bool = True) -> Page:
    """A page in a fresh context; `checked`: axe runs after each navigation (see above)."""
    context = browser.new_context(
        viewport={"width": width, "height": height}, accept_downloads=True
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    return check_after_navigation(page) if checked else page


@pytest.fixture
def page(browser):
    page = new_page(browser)
    yield page
    page.context.close()


@pytest.fixture
def other_page(browser):
    """A second, separate browser (its own cookies): another person at another desk."""
    page = new_page(browser)
    yield page
    page.context.close()


@pytest.fixture
def screenshot(page):
    """Save a full-page screenshot as /tmp/shots/<name>.png (for looking at the pages)."""

    def take(name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


# Accounts ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    company_id: int


def make_developer(server: LiveServer) -> Person:
    """An approved developer of a new company, with the environment set up at first login."""
    with server.app.app_context():
        developer = factories.make_developer()
        initialize_developer_environment(developer)
        person = Person(developer.name, developer.email, developer.company_id)
        db.session.remove()
    return person


def make_user(server: LiveServer, colleague: Person) -> Person:
    """A verified user of `colleague`'s company, whose models are registered."""
    with server.app.app_context():
        company = db.session.get(Company, colleague.company_id)
        user = factories.make_user(company)
        ensure_company_models(company)
        person = Person(user.name, user.email, user.company_id)
        db.session.remove()
    return person


def log_in(page: Page, server: LiveServer, person: Person, home: str) -> None:
    """Log in through the real login form and land on `home` (e.g. "/developer/")."""
    page.goto(f"{server.url}/auth/login")
    page.fill("input[name=email]", person.email)
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{server.url}{home}")


# The prediction form ------------------------------------------------------------------------------


def model_labels(page: Page) -> list[str]:
    """The models offered by the prediction form, by label (each option reads "label · AUC …")."""
    texts = page.locator("select[name=model_id] option").all_inner_texts()
    return [text.split(" · ")[0] for text in texts]


def choose_model(page: Page, label: str) -> None:
    """Select the model `label` in the prediction form."""
    options = page.locator("select[name=model_id] option")
    for index, text in enumerate(options.all_inner_texts()):
        if text.split(" · ")[0] == label:
            page.select_option("select[name=model_id]", index=index)
            return
    raise AssertionError(f"{label} is not offered: {options.all_inner_texts()}")
