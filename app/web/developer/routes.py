"""Developer routes. Every view is for the company's developer only."""

from __future__ import annotations

from collections.abc import Callable

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from app.schema import Developer, Model
from app.services import accounts, charts, comparison, decisions, deployment, retraining
from app.services import datasets as dataset_records
from app.services.catalog import DISPLAY_METRICS
from app.services.errors import DomainError
from app.web.access import role_required
from app.web.developer.forms import ConfirmForm, CostsForm, RetrainForm
from app.web.responses import send_chart
from app.web.shared.forms import field_for_error, requested_page
from app.web.shared.models import register_model_views
from app.web.shared.predictions import register_prediction_views

bp = Blueprint("developer", __name__)
register_prediction_views(bp, "developer")
register_model_views(bp, "developer", with_roc=True)


@bp.get("/")
@role_required("developer")
def home():
    return render_template("developer/home.html")


@bp.get("/users")
@role_required("developer")
def users():
    page = accounts.company_users_page(
        current_user,
        page=requested_page(request.args),
        per_page=current_app.config["HISTORY_PAGE_SIZE"],
    )
    return render_template("developer/users.html", page=page)


@bp.post("/users/<int:user_id>/deactivate")
@role_required("developer")
def deactivate_user(user_id: int):
    user = accounts.deactivate_user(current_user, user_id)
    flash(f"{user.name} is deactivated and has been logged out.", "success")
    return redirect(url_for("developer.users"))


# Retraining ------------------------------------------------------------------------------------


@bp.route("/retrain", methods=["GET", "POST"])
@role_required("developer")
def retrain():
    form = RetrainForm()
    status = 200
    if form.validate_on_submit():
        try:
            run = retraining.start_retrain(
                current_user, (form.name.data or "").strip(), form.file.data
            )
        except DomainError as error:
            field_for_error(form, error, "file")
            status = 400
        else:
            flash(f"Retrain “{run.name}” is queued.", "success")
            return redirect(url_for("developer.retrain_run", run_id=run.id))
    elif form.is_submitted():
        status = 400
    runs = retraining.runs_for(current_user.company_id)
    return render_template("developer/retrain.html", form=form, runs=runs), status


@bp.get("/retrain/<int:run_id>")
@role_required("developer")
def retrain_run(run_id: int):
    run = retraining.run_for(current_user, run_id)
    return render_template(
        "developer/retrain_run.html",
        run=run,
        upload=retraining.upload_of(run),
        lineage=dataset_records.lineage_chain(run.training_dataset) if run.training_dataset else [],
        in_progress=run.in_progress,
    )


# Comparing and deploying ------------------------------------------------------------------------


@bp.get("/compare")
@role_required("developer")
def compare():
    return render_template(
        "developer/compare.html",
        rows=comparison.compare_models(current_user.company_id),
        metric_names=DISPLAY_METRICS,
        confirm_form=ConfirmForm(),
        deployments=deployment.history(current_user.company_id),
    )


@bp.get("/compare/roc.png")
@role_required("developer")
def compare_roc():
    models = [row.model for row in comparison.compare_models(current_user.company_id)]
    return send_chart(charts.roc_comparison_png(models))


def _deployment_action(model_id: int, action: Callable[[Developer, int], Model]) -> Model | None:
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        model = action(current_user, model_id)
    except deployment.DeploymentError as error:
        flash(str(error), "warning")
        return None
    return model


@bp.post("/models/<int:model_id>/deploy")
@role_required("developer")
def deploy(model_id: int):
    model = _deployment_action(model_id, deployment.deploy)
    if model is not None:
        flash(f"{model.label} is now available to your users.", "success")
    return redirect(_back())


@bp.post("/models/<int:model_id>/undeploy")
@role_required("developer")
def undeploy(model_id: int):
    model = _deployment_action(model_id, deployment.withdraw)
    if model is not None:
        flash(f"{model.label} is withdrawn: your users no longer see it.", "success")
    return redirect(_back())


def _back() -> str:
    return url_for("developer.compare")


# Decision costs ---------------------------------------------------------------------------------


@bp.route("/costs", methods=["GET", "POST"])
@role_required("developer")
def costs():
    current = decisions.company_costs(current_user.company)
    form = (
        CostsForm() if request.method == "POST" else CostsForm(data=decisions.form_values(current))
    )
    status = 200
    if form.validate_on_submit():
        try:
            values = {field.name: form[field.name].data for field in decisions.FIELDS}
            decisions.save_costs(current_user, values)
        except DomainError as error:
            field_for_error(form, error)
            status = 400
        else:
            flash("Costs saved. Predictions from now on get Expected Value and Contact.", "success")
            return redirect(url_for("developer.costs"))
    elif form.is_submitted():
        status = 400
    return render_template(
        "shared/costs.html", form=form, costs=current, fields=decisions.FIELDS, editable=True
    ), status


# Data sets ----------------------------------------------------------------------------------------


@bp.get("/datasets")
@role_required("developer")
def datasets():
    page_number = requested_page(request.args)
    page, rows = dataset_records.datasets_page(current_user.company_id, page_number)
    return render_template("developer/datasets.html", page=page, rows=rows)
