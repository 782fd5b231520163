"""User routes. Every view is for a logged-in user of a company."""

from __future__ import annotations

from flask import Blueprint, render_template

from app.web.access import role_required
from app.web.shared.models import register_model_views
from app.web.shared.outcomes import register_outcome_views
from app.web.shared.predictions import register_prediction_views

bp = Blueprint("user", __name__)
register_prediction_views(bp, "user")
register_outcome_views(bp, "user")
register_model_views(bp, "user")


@bp.get("/")
@role_required("user")
def home():
    return render_template("user/home.html")
