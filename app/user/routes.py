"""User routes. Every view is for a logged-in user of a company."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, send_file
from flask_login import current_user

from app.access import role_required
from app.prediction_views import register_prediction_views
from app.services import charts, registry

bp = Blueprint("user", __name__)
register_prediction_views(bp, "user")


@bp.get("/")
@role_required("user")
def home():
    return render_template("user/home.html")


@bp.get("/models")
@role_required("user")
def models():
    return render_template("models/list.html", rows=registry.model_table(current_user))


@bp.get("/models/<int:model_id>")
@role_required("user")
def model(model_id: int):
    try:
        overview = registry.model_overview(current_user, model_id)
    except registry.ModelNotAvailable:
        abort(404)
    return render_template("models/detail.html", overview=overview)


@bp.get("/models/<int:model_id>/importance.png")
@role_required("user")
def model_importance_chart(model_id: int):
    try:
        return send_file(charts.importance_chart_for(current_user, model_id), mimetype="image/png")
    except registry.ModelNotAvailable:
        abort(404)
