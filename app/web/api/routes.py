"""API routes: token auth on every view but the document, JSON in and out, CSRF-exempt (a
token in a header is not sent by a browser on its own, so there is no cross-site request to
forge), rate-limited per token. Errors are JSON with the status of the error (`web.errors`)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request, url_for

from app.extensions import csrf, limiter
from app.schema import Prediction
from app.services import prediction as predictions
from app.services.api import predictions as api_predictions
from app.services.api.tokens import digest
from app.web.access import api_account, api_token, bearer_token, public
from app.web.api.openapi import document
from app.web.responses import send_customer_file

bp = Blueprint("api", __name__)
csrf.exempt(bp)


def api_rate_limit() -> str:
    return current_app.config["RATELIMIT_API"]


def per_token() -> str:
    """Rate limits count per token (a request without one counts for its address)."""
    token = bearer_token()
    return f"token:{digest(token)[:24]}" if token else f"addr:{request.remote_addr}"


limiter.limit(api_rate_limit, key_func=per_token)(bp)


def _iso(moment: Any) -> str | None:
    return f"{moment.isoformat(timespec='seconds')}Z" if moment else None


def _representation(prediction: Prediction) -> dict[str, Any]:
    done = prediction.status == "done"
    return {
        "id": prediction.id,
        "name": prediction.name,
        "status": prediction.status,
        "progress": prediction.progress,
        "error": prediction.error,
        "model": {"id": prediction.model.id, "label": prediction.model.label},
        "rows": prediction.row_count,
        "churn_count": prediction.churn_count if done else None,
        "created_at": _iso(prediction.created_at),
        "finished_at": _iso(prediction.finished_at),
        "status_url": url_for("api.prediction", prediction_id=prediction.id, _external=True),
        "result_url": url_for("api.result", prediction_id=prediction.id, _external=True)
        if done
        else None,
        "reasons": prediction.reasons_state,
    }


@bp.post("/predictions")
@api_token
def create():
    upload: Any = request.files.get("file")  # werkzeug's FileStorage is an Upload
    prediction = api_predictions.submit_prediction(
        api_account(), upload, request.form.get("model"), request.form.get("name")
    )
    body = _representation(prediction)
    return body, 202, {"Location": body["status_url"]}


@bp.get("/predictions/<int:prediction_id>")
@api_token
def prediction(prediction_id: int):
    return _representation(predictions.prediction_for(api_account(), prediction_id))


@bp.get("/predictions/<int:prediction_id>/result")
@api_token
def result(prediction_id: int):
    prediction = predictions.prediction_for(api_account(), prediction_id)
    result = predictions.result_file(prediction, request.args.get("format") or "csv")
    return send_customer_file(result)


@bp.get("/openapi.json")
@public
def openapi():
    return document()
