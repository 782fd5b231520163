"""Developer routes. Every view is for the company's developer only."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.access import role_required
from app.services import accounts

bp = Blueprint("developer", __name__)


@bp.get("/")
@role_required("developer")
def home():
    return render_template("developer/home.html")


@bp.get("/users")
@role_required("developer")
def users():
    page = accounts.company_users_page(
        current_user,
        page=request.args.get("page", 1, type=int),
        per_page=current_app.config["HISTORY_PAGE_SIZE"],
    )
    return render_template("developer/users.html", page=page)


@bp.post("/users/<int:user_id>/deactivate")
@role_required("developer")
def deactivate_user(user_id: int):
    try:
        user = accounts.deactivate_user(current_user, user_id)
    except accounts.AccountNotFound:
        abort(404)
    flash(f"{user.name} is deactivated and has been logged out.", "success")
    return redirect(url_for("developer.users"))
