"""Authentication routes (thin: forms in, one service call, render or redirect)."""

from __future__ import annotations

from flask import Blueprint, abort

bp = Blueprint("auth", __name__)


# Placeholders replaced by the accounts work; they exist so the layout can link to them.
@bp.route("/register/company", methods=["GET", "POST"])
def register_company():
    abort(404)


@bp.route("/register/developer", methods=["GET", "POST"])
def register_developer():
    abort(404)


@bp.route("/register/user", methods=["GET", "POST"])
def register_user():
    abort(404)


@bp.route("/login", methods=["GET", "POST"])
def login():
    abort(404)


@bp.post("/logout")
def logout():
    abort(404)
