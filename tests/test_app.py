"""The app factory, configuration, health check and security headers."""

import pytest

from app import create_app


def test_home_page_explains_the_product(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Register your company" in response.data


def test_healthz_reports_each_dependency(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "database": "ok",
        "queue": "not used",  # the thread back end runs jobs in-process
        "storage": "ok",
    }


def test_every_response_carries_the_security_headers(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_production_refuses_to_start_without_a_secret_key(monkeypatch):
    from config import ProductionConfig

    monkeypatch.setattr(ProductionConfig, "SECRET_KEY", None)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app("production")


def test_unknown_page_gets_a_friendly_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert b"Not found" in response.data


def test_an_oversized_request_gets_a_friendly_page_not_a_bare_413(make_app):
    app = make_app(MAX_CONTENT_LENGTH=1024)
    response = app.test_client().post(
        "/auth/login", data={"email": "a@b.example", "password": "x" * 4096}
    )
    assert response.status_code == 413
    assert b"File too large" in response.data
    assert b"limited to" in response.data


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(app):
    from sqlalchemy import text

    from app.extensions import db

    with db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 5000


def test_production_cookies_are_secure_httponly_and_samesite_lax(monkeypatch):
    from config import ProductionConfig

    monkeypatch.setattr(ProductionConfig, "SECRET_KEY", "x" * 32)
    app = create_app(
        "production", SQLALCHEMY_DATABASE_URI="sqlite://", MAIL_SERVER="smtp.example.com"
    )
    for prefix in ("SESSION_COOKIE", "REMEMBER_COOKIE"):
        assert app.config[f"{prefix}_SECURE"] is True
        assert app.config[f"{prefix}_HTTPONLY"] is True
        assert app.config[f"{prefix}_SAMESITE"] == "Lax"


def test_the_site_icon_answers_at_the_root(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype == "image/vnd.microsoft.icon"
    assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO file's header


def test_the_pages_templates_are_compiled_before_their_first_visit(app, client, monkeypatch):
    """wsgi.py compiles every page's template in the background at start, so the first visit
    of a page renders it without compiling it."""
    from app.web.templating import precompile_in_background

    environment = app.jinja_env
    compiled: list[str] = []
    compile_ = environment.compile

    def counted(source, name=None, *args, **kwargs):
        compiled.append(name)
        return compile_(source, name, *args, **kwargs)

    monkeypatch.setattr(environment, "compile", counted)
    environment.cache.clear()
    client.get("/auth/login")
    assert "auth/login.html" in compiled  # without it, the first visit compiles its page

    environment.cache.clear()
    precompile_in_background(app).join(timeout=60)
    assert "shared/predict.html" in compiled and "shared/prediction.html" in compiled
    compiled.clear()
    assert client.get("/auth/login").status_code == 200
    assert client.get("/").status_code == 200
    assert compiled == []


def test_the_web_entry_point_starts_the_template_compilation():
    import ast
    from pathlib import Path

    tree = ast.parse((Path(__file__).resolve().parents[1] / "wsgi.py").read_text())
    calls = [
        node.value.func.id
        for node in tree.body
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
    ]
    assert "precompile_in_background" in calls
