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
from app.services.preprocessing import upload_templates
from app.services.registry import model_choice
from app.services.training import ModelIntegrityError
from app.web.access import role_required
from app.web.responses import send_chart, send_customer_file, send_status, send_upload_template
from app.web.shared.forms import (
    PredictionForm,
    chosen_filename,
    field_for_error,
    name_the_refused_file,
    requested_limit,
    requested_page,
)

WITHDRAWN = "This version was withdrawn by your developer; choose another."


def register_prediction_views(bp: Blueprint, role: str) -> None:
    """Add predict, history, result page, its status, rows, call list, download and chart
    routes to `bp` for `role`."""
    guard = role_required(role)

    def url(endpoint: str, **values: Any) -> str:
        return url_for(f"{bp.name}.{endpoint}", **values)

    def predict():
        form = PredictionForm()
        options = model_choice.model_options(current_user)
        form.model_id.choices = [(o.model.id, o.text) for o in options]
        limit_mb = current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
        form.file.description = f"Up to {limit_mb} MB. Start from the template below if unsure."
        recommended = next((o.model.id for o in options if o.recommended), None)
        if not form.is_submitted() and recommended is not None:
            form.model_id.data = recommended
        filename = chosen_filename(request.files)
        status = 200
        if form.validate_on_submit():
            try:
                prediction = predictions.create_prediction(
                    current_user, form.name.data or "", form.model_id.data, form.file.data
                )
            except DomainError as error:
                model_error = isinstance(error, (registry.ModelNotAvailable, ModelIntegrityError))
                field_for_error(form, error, "model_id" if model_error else "file")
                name_the_refused_file(form, filename)
                status = 400
            else:
                return redirect(url("prediction", prediction_id=prediction.id))
        elif form.is_submitted():
            status = 400
        if form.is_submitted() and model_choice.withdrawn_version(current_user, form.model_id.data):
            form.model_id.errors = [WITHDRAWN]
            form.model_id.data = recommended
        return render_template(
            "shared/predict.html",
            form=form,
            options=options,
            network_note=model_choice.shows_network_versions(options)
            and model_choice.NETWORK_VERSIONS_NOTE,
            template=upload_templates.upload_template("predict"),
            chosen_file=filename if form.errors else None,
        ), status

    def predict_template():
        return send_upload_template(upload_templates.upload_template("predict"))

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
    bp.add_url_rule("/predict/template.csv", "predict_template", guard(predict_template))
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
