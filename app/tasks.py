"""Every background job, registered by name: the one entry module of the job runner.

The factory and the worker import this module; the runner (`services.jobs`) imports no service,
and a service queues its work by name (`jobs.enqueue("score_prediction", id)`).
"""

from __future__ import annotations

from app.services import environment, jobs, retraining
from app.services.monitoring import holdout, outcomes
from app.services.prediction import late_reasons, scoring

JOBS = {
    scoring.JOB_NAME: scoring.score_prediction,
    retraining.JOB_NAME: retraining.retrain_model,
    environment.JOB_NAME: environment.prepare_company_models,
    holdout.JOB_NAME: holdout.measure_holdout,
    outcomes.JOB_NAME: outcomes.measure_outcomes,
    late_reasons.JOB_NAME: late_reasons.add_reasons,
}


def register_jobs() -> None:
    """Register every job with the runner (idempotent)."""
    for name, func in JOBS.items():
        jobs.register(name, func)
    # With the thread back end, a large prediction is scored in a child process, and reasons
    # added later always are.
    jobs.isolate(scoring.JOB_NAME, when=scoring.scores_apart, on_lost=scoring_child_lost)
    jobs.isolate(
        late_reasons.JOB_NAME, when=late_reasons.reasons_apart, on_lost=late_reasons.child_lost
    )


def scoring_child_lost(prediction_id: int) -> None:
    """The scoring child died: during the scoring (the row is failed), or after it, while it
    added the reasons it had queued for itself (the reasons are failed, the result kept)."""
    scoring.child_lost(prediction_id)
    late_reasons.child_lost(prediction_id)
