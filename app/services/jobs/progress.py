"""What a page that waits for work asks, in JSON: is the work still going, and how far along.

A prediction page (its scoring, then any reasons being added or outcomes being measured), a
retrain run page and the comparison page (models being measured on the common holdout) each
poll one of these small answers (`app/static/progress.js`) and reload themselves once `busy`
turns false, so a result is on screen the moment it exists. The caller has already checked
who may see the row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.schema import IN_PROGRESS, Model, Prediction, QueuedWorkMixin


def work_status(row: QueuedWorkMixin, step: str | None = None) -> dict[str, Any]:
    """Status, progress (percent) and whether `row`'s work still goes on."""
    return {
        "status": row.status,
        "progress": row.progress or 0,
        "step": step,
        "busy": row.in_progress,
    }


def prediction_status(prediction: Prediction) -> dict[str, Any]:
    """The prediction's own status, and whether its page still waits for anything (scoring,
    or outcomes being matched to its customers)."""
    answer = work_status(prediction)
    answer["outcomes"] = prediction.outcomes_status
    late = prediction.late_reasons
    answer["reasons"] = prediction.reasons_state
    if prediction.reasons_in_progress:
        answer["progress"] = late.get("progress") or 0
        answer["step"] = "reasons"
    answer["busy"] = (
        prediction.in_progress or prediction.outcomes_in_progress or prediction.reasons_in_progress
    )
    return answer


def retrain_status(run: Model) -> dict[str, Any]:
    return work_status(run, step=run.status_step)


def comparison_status(company_id: int) -> dict[str, Any]:
    """Whether any of the company's models is still queued or being measured on the holdout
    (a superset of what the page shows as measuring, so a reload never finds it still busy)."""
    measuring = db.session.scalar(
        select(Model.id)
        .where(Model.company_id == company_id, Model.holdout_status.in_(IN_PROGRESS))
        .limit(1)
    )
    busy = measuring is not None
    return {"status": "running" if busy else "done", "progress": None, "step": None, "busy": busy}
