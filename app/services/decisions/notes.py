"""What a model's page says about reading its outputs: how well its probabilities are
calibrated on its held-out customers (Brier score, reliability, one sentence), and how its
reasons are computed. Read from the figures stored with the model at training time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.schema import Model
from app.services.decisions.baselines import IMPUTER, RECORDED, SOURCE_TEXT
from app.services.decisions.reasons import EXACT, METHOD_TEXT, SUBSTITUTION

LINEAR_KINDS = {"logistic_regression"}
CLOSE = 0.03  # average distance from the diagonal (points of probability / 100) read as "matches"
OFF = 0.05  # and from here on "clearly off" (the rule training calibrates defaults by)


@dataclass(frozen=True)
class CalibrationNote:
    brier: float
    reference_brier: float  # always predicting the held-out churn rate
    ece: float
    rows: int
    sentence: str
    method: str | None  # how it was calibrated, when it was
    brier_before: float | None
    ece_before: float | None


@dataclass(frozen=True)
class ModelNotes:
    calibration: CalibrationNote | None  # None: trained before calibration was recorded
    reason_method: str  # decisions.reasons.EXACT or SUBSTITUTION
    reason_method_text: str
    baseline_text: str


def reason_method(model: Model) -> str:
    """Which method explains `model`'s predictions (the Decider finds the same from the fitted
    estimator: a logistic regression is linear in the log-odds unless it was calibrated)."""
    calibrated = ((model.details or {}).get("calibration") or {}).get("method")
    # A retrained network has linear hidden layers (RETRAIN_MLP_PARAMS): linear in the log-odds.
    linear = model.model_type.key in LINEAR_KINDS or (
        model.model_type.key == "neural_network" and not model.is_default
    )
    return EXACT if linear and not calibrated else SUBSTITUTION


def _direction(table: dict[str, Any]) -> str:
    """'too high' when the model says more than happened where it matters most, else 'too low'."""
    bins = [b for b in table["bins"] if b["count"]]
    gap = sum(b["count"] * (b["mean_probability"] - b["churn_rate"]) for b in bins)
    return "too high" if gap > 0 else "too low"


def _sentence(table: dict[str, Any], method: str | None, before: dict[str, Any] | None) -> str:
    points = table["ece"] * 100
    if table["ece"] < CLOSE:
        sentence = (
            f"On its {table['rows']:,} held-out customers its probabilities match what happened "
            f"(on average within {points:.1f} points): when it says 30 %, about 30 % of such "
            "customers churned, so you can read its probabilities as chances."
        )
    elif table["ece"] < OFF:
        sentence = (
            f"Its probabilities are roughly right on its held-out customers (on average "
            f"{points:.1f} points off): read them as approximate chances."
        )
    else:
        sentence = (
            f"Its probabilities are {_direction(table)} by {points:.1f} points on average on its "
            "held-out customers: read them as a ranking of risk rather than as chances."
        )
    if method and before:
        sentence += (
            f" Its raw probabilities were {before['ece'] * 100:.1f} points off, so it was "
            f"calibrated ({method}, fitted on its training part only); the page shows both."
        )
    return sentence


def model_notes(model: Model) -> ModelNotes:
    details = model.details or {}
    calibration = details.get("calibration") or {}
    table = calibration.get("held_out")
    note = None
    if table and table.get("rows"):
        before = calibration.get("before")
        rate = table["churn_rate"] or 0.0
        note = CalibrationNote(
            brier=table["brier"],
            reference_brier=round(rate * (1 - rate), 4),
            ece=table["ece"],
            rows=table["rows"],
            sentence=_sentence(table, calibration.get("method"), before),
            method=calibration.get("method"),
            brier_before=before["brier"] if before else None,
            ece_before=before["ece"] if before else None,
        )
    method = reason_method(model)
    source = RECORDED if details.get("baseline") else IMPUTER
    return ModelNotes(
        calibration=note,
        reason_method=method,
        reason_method_text=METHOD_TEXT[method],
        baseline_text=SOURCE_TEXT[source],
    )
