"""The outcome page of a prediction ("what really happened"), registered on both role blueprints.

Who may see the prediction is decided by the prediction service: another company's prediction,
or another user's, is a 404 like every page of it.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user

from app.services import prediction as predictions
from app.services.errors import DomainError
from app.services.monitoring import outcomes
from app.web.access import role_required
from app.web.shared.forms import OutcomesForm, field_for_error


def register_outcome_views(bp: Blueprint, role: str) -> None:
    """Add `GET/POST /predictions/<id>/outcomes` to `bp` for `role`."""

    def outcome_page(prediction_id: int):
        prediction = predictions.prediction_for(current_user, prediction_id)
        form = OutcomesForm()
        status = 200
        if form.validate_on_submit():
            try:
                outcomes.record_outcomes(current_user, prediction.id, form.file.data)
            except DomainError as error:
                field_for_error(form, error, "file")
                status = 400
            else:
                flash("Outcomes received: they are being matched to this prediction.", "success")
                page = url_for(f"{bp.name}.prediction", prediction_id=prediction.id)
                return redirect(f"{page}#outcomes")
        elif form.is_submitted():
            status = 400
        return render_template("shared/outcomes.html", prediction=prediction, form=form), status

    bp.add_url_rule(
        "/predictions/<int:prediction_id>/outcomes",
        "prediction_outcomes",
        role_required(role)(outcome_page),
        methods=["GET", "POST"],
    )
