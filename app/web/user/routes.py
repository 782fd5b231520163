"""User routes. Every view is for a logged-in user of a company."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from app.services import decisions
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


@bp.get("/costs")
@role_required("user")
def costs():
    """The company's decision costs, read-only: the developer sets them."""
    return render_template(
        "shared/costs.html",
        form=None,
        costs=decisions.company_costs(current_user.company),
        fields=decisions.FIELDS,
        editable=False,
    )
