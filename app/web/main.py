"""Public pages that belong to no role: the home page, the health check and the site icon."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, send_from_directory, url_for
from flask_login import current_user

from app.services import health
from app.web.access import public

bp = Blueprint("main", __name__)


@bp.get("/")
@public
def index():
    if current_user.is_authenticated:
        return redirect(url_for(f"{current_user.role}.home"))
    return render_template("index.html")


@bp.get("/healthz")
@public
def healthz():
    """Each dependency's state; 503 when one that this configuration needs is down."""
    report = health.check(current_app._get_current_object())  # type: ignore[attr-defined]
    return report.as_json(), 200 if report.ok else 503


@bp.get("/favicon.ico")
@public
def favicon():
    """The icon browsers ask for at the root whatever the page links (a week in their cache)."""
    return send_from_directory(
        current_app.static_folder or "static",
        "favicon.ico",
        mimetype="image/vnd.microsoft.icon",
        max_age=7 * 24 * 3600,
    )
