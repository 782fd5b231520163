"""The prediction pages, registered on both role blueprints.

The views are thin: they read the request, call the prediction service and render. The service
decides what each account may see (another's prediction is a `PredictionNotFound`, a 404 through
`web.errors`), so the two areas share these views and templates.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from app.services import charts, registry
from app.services import prediction as predictions
from app.services.errors import DomainError
from app.services.jobs import progress
from app.services.training import ModelIntegrityError
from app.web.access import role_required
from app.web.responses import send_chart, send_customer_file, send_status
from app.web.shared.forms import (
    PredictionForm,
    field_for_error,
    requested_limit,
    requested_page,
)


def register_prediction_views(bp: Blueprint, role: str) -> None:
    """Add predict, history, result page, its status, rows, call list, download and chart
    routes to `bp` for `role`."""
    guard = role_required(role)

    def url(endpoint: str, **values: Any) -> str:
        return url_for(f"{bp.name}.{endpoint}", **values)

    def predict():
        form = PredictionForm()
        form.model_id.choices = [(m.id, m.label) for m in registry.models_for(current_user)]
        limit_mb = current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
        form.file.description = f"Up to {limit_mb} MB."
        status = 200
        if form.validate_on_submit():
            try:
                prediction = predictions.create_prediction(
                    current_user, form.name.data or "", form.model_id.data, form.file.data
                )
            except DomainError as error:
                model_error = isinstance(error, (registry.ModelNotAvailable, ModelIntegrityError))
                field_for_error(form, error, "model_id" if model_error else "file")
                status = 400
            else:
                return redirect(url("prediction", prediction_id=prediction.id))
        elif form.is_submitted():
            status = 400
        return render_template("shared/predict.html", form=form), status

    def history():
        filters = predictions.HistoryFilters.from_args(request.args, current_user)
        page = predictions.prediction_history(current_user, filters, requested_page(request.args))
        return render_template(
            "shared/predictions.html",
            page=page,
            filters=filters,
            args=filters.as_args(),
            choices=predictions.history_choices(current_user),
        )

    def show(prediction_id: int):
        prediction = predictions.prediction_for(current_user, prediction_id)
        campaign = None
        if prediction.is_done:
            campaign = predictions.campaign_view(
                prediction, current_user.company, request.args.get("capacity")
            )
        return render_template(
            "shared/prediction.html",
            prediction=prediction,
            formats=predictions.download_formats(prediction),
            campaign=campaign,
        )

    def status(prediction_id: int):
        prediction = predictions.prediction_for(current_user, prediction_id)
        return send_status(progress.prediction_status(prediction))

    def rows(prediction_id: int):
        prediction = predictions.prediction_for(current_user, prediction_id)
        view = predictions.rows_view(prediction, request.args, requested_page(request.args))
        return render_template("shared/prediction_rows.html", prediction=prediction, view=view)

    def calllist(prediction_id: int):
        prediction = predictions.prediction_for(current_user, prediction_id)
        result = predictions.call_list(prediction, requested_limit(request.args))
        response = Response(result.chunks, mimetype="text/csv")
        response.headers["Content-Disposition"] = f'attachment; filename="{result.download_name}"'
        response.cache_control.no_store = True
        return response

    def download(prediction_id: int):
        prediction = predictions.prediction_for(current_user, prediction_id)
        result = predictions.result_file(prediction, request.args.get("format") or None)
        return send_customer_file(result)

    def chart(prediction_id: int, chart: str):
        prediction = predictions.prediction_for(current_user, prediction_id)
        narrow = request.args.get("size") == "narrow"
        return send_chart(charts.prediction_chart_png(prediction, chart, narrow))

    bp.add_url_rule("/predict", "predict", guard(predict), methods=["GET", "POST"])
    bp.add_url_rule("/predictions", "predictions", guard(history))
    bp.add_url_rule("/predictions/<int:prediction_id>", "prediction", guard(show))
    bp.add_url_rule("/predictions/<int:prediction_id>/status", "prediction_status", guard(status))
    bp.add_url_rule(
        "/predictions/<int:prediction_id>/download", "prediction_download", guard(download)
    )
    bp.add_url_rule("/predictions/<int:prediction_id>/rows", "prediction_rows", guard(rows))
    bp.add_url_rule(
        "/predictions/<int:prediction_id>/calllist", "prediction_calllist", guard(calllist)
    )
    bp.add_url_rule(
        "/predictions/<int:prediction_id>/<any(distribution, importance, profit):chart>.png",
        "prediction_chart",
        guard(chart),
    )
