"""Developer routes. Every view is for the company's developer only."""

from __future__ import annotations

from flask import Blueprint, render_template

from app.access import role_required
from app.prediction_views import register_prediction_views

bp = Blueprint("developer", __name__)
register_prediction_views(bp, "developer")


@bp.get("/")
@role_required("developer")
def home():
    return render_template("developer/home.html")
