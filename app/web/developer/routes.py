"""Developer routes. Every view is for the company's developer only."""

from __future__ import annotations

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

from app.services import accounts, charts, decisions, retraining
from app.services.api import tokens as api_tokens
from app.services.errors import DomainError
from app.services.jobs import progress
from app.services.monitoring import performance
from app.services.preprocessing import upload_templates
from app.services.registry import comparison, deployment, deployment_history
from app.services.storage import datasets as dataset_records
from app.web.access import role_required
from app.web.developer.forms import (
    ConfirmForm,
    CostsForm,
    DeployForm,
    RetrainForm,
    RollbackForm,
    TokenForm,
    WithdrawForm,
)
from app.web.responses import send_chart, send_data_file, send_status, send_upload_template
from app.web.shared.forms import (
    chosen_filename,
    field_for_error,
    name_the_refused_file,
    requested_page,
)
from app.web.shared.models import register_model_views
from app.web.shared.outcomes import register_outcome_views
from app.web.shared.predictions import register_prediction_views

bp = Blueprint("developer", __name__)
register_prediction_views(bp, "developer")
register_outcome_views(bp, "developer")
register_model_views(bp, "developer", with_roc=True)


HOME_DRIFT_ROWS = 5
MONITORING_DRIFT_ROWS = 25


@bp.get("/")
@role_required("developer")
def home():
    drifting = performance.recent_drifting(current_user.company_id, limit=HOME_DRIFT_ROWS)
    return render_template("developer/home.html", drifting=drifting)


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


@bp.post("/users/<int:user_id>/reactivate")
@role_required("developer")
def reactivate_user(user_id: int):
    user = accounts.reactivate_user(current_user, user_id)
    flash(f"{user.name} is active again and can log in.", "success")
    return redirect(url_for("developer.users"))


# Retraining ------------------------------------------------------------------------------------


@bp.route("/retrain", methods=["GET", "POST"])
@role_required("developer")
def retrain():
    form = RetrainForm()
    filename = chosen_filename(request.files)
    status = 200
    if form.validate_on_submit():
        try:
            run = retraining.start_retrain(
                current_user, (form.name.data or "").strip(), form.file.data
            )
        except DomainError as error:
            field_for_error(form, error, "file")
            name_the_refused_file(form, filename)
            status = 400
        else:
            flash(f"Retrain “{run.name}” is queued.", "success")
            return redirect(url_for("developer.retrain_run", run_id=run.id))
    elif form.is_submitted():
        status = 400
    runs = retraining.runs_for(current_user.company_id)
    return render_template(
        "developer/retrain.html",
        form=form,
        runs=runs,
        template=upload_templates.upload_template("retrain"),
        chosen_file=filename if form.errors else None,
    ), status


@bp.get("/retrain/template.csv")
@role_required("developer")
def retrain_template():
    return send_upload_template(upload_templates.upload_template("retrain"))


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


@bp.get("/retrain/<int:run_id>/status")
@role_required("developer")
def retrain_run_status(run_id: int):
    return send_status(progress.retrain_status(retraining.run_for(current_user, run_id)))


# Comparing and deploying ------------------------------------------------------------------------

HISTORY_ON_COMPARE = 8


@bp.get("/compare")
@role_required("developer")
def compare():
    return render_template(
        "developer/compare.html",
        page=comparison.comparison_page(current_user.company_id),
        events=deployment_history.events(current_user.company_id)[:HISTORY_ON_COMPARE],
        confirm_form=ConfirmForm(),
        rollback_form=RollbackForm(),
    )


@bp.get("/compare/status")
@role_required("developer")
def compare_status():
    return send_status(progress.comparison_status(current_user.company_id))


@bp.get("/compare/roc.png")
@role_required("developer")
def compare_roc():
    models = [row.model for row in comparison.compare_models(current_user.company_id)]
    return send_chart(
        charts.roc_comparison_png(models, narrow=request.args.get("size") == "narrow")
    )


@bp.get("/deployments")
@role_required("developer")
def deployments():
    page = deployment_history.events_page(
        current_user.company_id,
        requested_page(request.args),
        current_app.config["HISTORY_PAGE_SIZE"],
    )
    return render_template("developer/deployments.html", page=page)


@bp.post("/models/<int:model_id>/deploy")
@role_required("developer")
def deploy(model_id: int):
    form = DeployForm()  # CSRF is checked for every POST; the service checks the reason
    try:
        model = deployment.deploy(current_user, model_id, form.override_reason.data)
    except deployment.GuardRefusal as refusal:
        return render_template("developer/deploy_refused.html", refusal=refusal, form=form), 400
    except (deployment.DeploymentError, deployment.ReasonRequired) as error:
        flash(str(error), "warning")
        return redirect(_back())
    flash(f"{model.label} is now available to your users.", "success")
    return redirect(_back("history"))


@bp.post("/models/<int:model_id>/rollback")
@role_required("developer")
def rollback(model_id: int):
    form = RollbackForm()  # CSRF is checked for every POST; the service checks the reason
    try:
        model = deployment.roll_back(current_user, model_id, form.override_reason.data)
    except (deployment.DeploymentError, deployment.ReasonRequired) as error:
        flash(str(error), "warning")
        return redirect(_back("rollback"))
    flash(f"Rolled back: your users now have {model.label}.", "success")
    return redirect(_back("history"))


@bp.post("/models/<int:model_id>/undeploy")
@role_required("developer")
def undeploy(model_id: int):
    form = WithdrawForm()  # CSRF is checked for every POST; the service checks the reason
    try:
        model = deployment.withdraw(current_user, model_id, form.reason.data)
    except (deployment.DeploymentError, deployment.ReasonRequired) as error:
        flash(str(error), "warning")
        return redirect(_back())
    flash(f"{model.label} is withdrawn: your users no longer see it.", "success")
    return redirect(_back("history"))


def _back(anchor: str | None = None) -> str:
    return url_for("developer.compare", _anchor=anchor)


# Monitoring --------------------------------------------------------------------------------------


@bp.get("/monitoring")
@role_required("developer")
def monitoring():
    company_id = current_user.company_id
    return render_template(
        "developer/monitoring.html",
        series=performance.realised_performance(company_id),
        drifting=performance.recent_drifting(company_id, limit=MONITORING_DRIFT_ROWS),
    )


@bp.get("/monitoring/realised.png")
@role_required("developer")
def monitoring_chart():
    narrow = request.args.get("size") == "narrow"
    return send_chart(performance.realised_chart(current_user.company_id, narrow))


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
    company_id = current_user.company_id
    kind = request.args.get("kind") or None
    kind = kind if kind in dataset_records.KIND_LABELS else None
    page, rows = dataset_records.datasets_page(company_id, requested_page(request.args), kind=kind)
    return render_template(
        "developer/datasets.html",
        page=page,
        rows=rows,
        kind=kind,
        kinds=dataset_records.kind_counts(company_id),
        steps=dataset_records.lineage_steps(company_id),
    )


@bp.get("/datasets/<int:dataset_id>/download")
@role_required("developer")
def dataset_download(dataset_id: int):
    dataset = dataset_records.company_dataset(current_user.company_id, dataset_id)
    return send_data_file(dataset.path, dataset_records.download_name(dataset))


# API tokens ---------------------------------------------------------------------------------------


@bp.route("/tokens", methods=["GET", "POST"])
@role_required("developer")
def tokens():
    form = TokenForm()
    created, status = None, 200
    if form.validate_on_submit():
        try:
            created = api_tokens.create_token(current_user, form.name.data)
        except DomainError as error:
            field_for_error(form, error, "name")
            status = 400
        else:
            form = TokenForm(formdata=None)
    elif form.is_submitted():
        status = 400
    return render_template(
        "developer/tokens.html",
        form=form,
        created=created,
        tokens=api_tokens.tokens_for(current_user),
        confirm_form=ConfirmForm(),
    ), status


@bp.post("/tokens/<int:token_id>/revoke")
@role_required("developer")
def revoke_token(token_id: int):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    token = api_tokens.revoke_token(current_user, token_id)
    flash(
        f"The token “{token.name}” is revoked: requests with it are refused from now on.", "success"
    )
    return redirect(url_for("developer.tokens"))
