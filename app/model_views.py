"""The model pages, registered on both role blueprints.

Which models a person may open is decided by the registry (`models_for`); the two areas share
these thin views and their templates. Only the developer gets the ROC comparison chart.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user

from app.access import role_required
from app.responses import send_chart
from app.services import charts, registry


def register_model_views(bp: Blueprint, role: str, with_roc: bool = False) -> None:
    """Add the model list, model page and chart routes to `bp` for `role`."""
    guard = role_required(role)

    def models():
        return render_template("models/list.html", rows=registry.model_table(current_user))

    def model(model_id: int):
        try:
            overview = registry.model_overview(current_user, model_id)
        except registry.ModelNotAvailable:
            abort(404)
        return render_template("models/detail.html", overview=overview)

    def importance_chart(model_id: int):
        try:
            return send_chart(charts.importance_chart_for(current_user, model_id))
        except registry.ModelNotAvailable:
            abort(404)

    def roc_chart(model_id: int):
        try:
            return send_chart(charts.roc_chart_for(current_user, model_id))
        except registry.ModelNotAvailable:
            abort(404)

    bp.add_url_rule("/models", "models", guard(models))
    bp.add_url_rule("/models/<int:model_id>", "model", guard(model))
    bp.add_url_rule(
        "/models/<int:model_id>/importance.png", "model_importance_chart", guard(importance_chart)
    )
    if with_roc:
        bp.add_url_rule("/models/<int:model_id>/roc.png", "model_roc_chart", guard(roc_chart))
