"""The model pages, registered on both role blueprints.

Which models a person may open is decided by the registry (`models_for`); the two areas share
these thin views and their templates. Only the developer gets the ROC comparison chart. A model
the viewer may not use is a 404 (`ModelNotAvailable`, mapped in `web.errors`).
"""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user

from app.services import charts, decisions, environment, registry
from app.services.registry import model_choice
from app.web.access import role_required
from app.web.responses import send_chart


def register_model_views(bp: Blueprint, role: str, with_roc: bool = False) -> None:
    """Add the model list, model page and chart routes to `bp` for `role`."""
    guard = role_required(role)

    def models():
        rows = registry.model_table(current_user)
        options = model_choice.model_options(current_user)
        return render_template(
            "models/list.html",
            rows=rows,
            users_see={o.model.id for o in options if o.users_see},
            network_note=model_choice.shows_network_versions(options)
            and model_choice.NETWORK_VERSIONS_NOTE,
            preparing=environment.models_being_prepared(current_user.company),
        )

    def model(model_id: int):
        overview = registry.model_overview(current_user, model_id)
        notes = decisions.model_notes(overview.model)
        return render_template("models/detail.html", overview=overview, notes=notes)

    def importance_chart(model_id: int):
        model = registry.model_for(current_user, model_id)
        return send_chart(
            charts.feature_importance_png(model, request.args.get("size") == "narrow")
        )

    def calibration_chart(model_id: int):
        model = registry.model_for(current_user, model_id)
        return send_chart(charts.reliability_png(model, request.args.get("size") == "narrow"))

    def roc_chart(model_id: int):
        overview = registry.model_overview(current_user, model_id)
        models = [overview.model, *overview.compared_with]
        narrow = request.args.get("size") == "narrow"
        return send_chart(charts.roc_comparison_png(models, overview.model, narrow))

    bp.add_url_rule("/models", "models", guard(models))
    bp.add_url_rule("/models/<int:model_id>", "model", guard(model))
    bp.add_url_rule(
        "/models/<int:model_id>/importance.png", "model_importance_chart", guard(importance_chart)
    )
    bp.add_url_rule(
        "/models/<int:model_id>/calibration.png",
        "model_calibration_chart",
        guard(calibration_chart),
    )
    if with_roc:
        bp.add_url_rule("/models/<int:model_id>/roc.png", "model_roc_chart", guard(roc_chart))
