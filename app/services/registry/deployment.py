"""Deployment: which of the company's models its users may predict with, guarded and recorded.

Deploying a model adds an active `ModelDeployment` row; withdrawing it sets that row inactive
(history is kept, nothing is deleted). The rules for the network:

- the five default models (the default network is v1) are always available to users and cannot
  be withdrawn;
- at most one retrained version is live at a time: deploying v3 withdraws an active v2. The
  database holds it (a partial unique index on the active retrained rows of a company, and one
  on the active rows of a model); every change first locks the company's row, so concurrent
  requests run one after the other and a double submit finds the version "already deployed";
- the deploy guard: a version whose AUC on the company's common holdout is lower, by any amount,
  than the live network's (the deployed version, or v1 when none is) is deployed only with an
  `override_reason`; so is one whose figures are not measured yet. The comparison is recorded
  on the deployment row;
- rolling back is its own action: back to the version live before the current one (or to v1),
  always with a reason.

Users' model lists (`registry.models_for`) read the active rows, so they follow at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.schema import Company, Developer, Model, ModelDeployment, WorkStatus, utcnow
from app.services.catalog import NETWORK_KIND
from app.services.database import lock_row, model_type_by_key
from app.services.errors import Conflict, DomainError, NotFound
from app.services.monitoring import holdout

REASON_MAX = 1000


class DeploymentError(Conflict):
    """The deployment change cannot be made; the message says why."""


class ModelNotFound(NotFound):
    """No ready model with that id belongs to the developer's company."""


class ReasonRequired(DomainError):
    """The action needs a reason from the developer."""


@dataclass(frozen=True)
class HoldoutFigure:
    """A model's AUC on the common holdout, with its 95 % bootstrap interval."""

    label: str
    auc: float | None
    low: float | None
    high: float | None

    @classmethod
    def of(cls, model: Model) -> HoldoutFigure:
        figures = model.holdout or {}
        return cls(model.label, figures.get("auc"), figures.get("auc_low"), figures.get("auc_high"))

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "auc": self.auc, "low": self.low, "high": self.high}

    def describe(self, digits: int = 3) -> str:
        if self.auc is None:
            return f"{self.label} (not measured)"
        interval = "" if self.low is None else f", 95% CI {self.low:.3f}–{self.high:.3f}"
        return f"{self.label} (AUC {self.auc:.{digits}f}{interval})"


class GuardRefusal(DomainError):
    """The deploy guard refused the version; deploying it needs an `override_reason`."""

    def __init__(
        self, message: str, model: Model, candidate: HoldoutFigure, live: HoldoutFigure
    ) -> None:
        super().__init__(message, field="override_reason")
        self.model = model
        self.candidate = candidate
        self.live = live


# Reading ---------------------------------------------------------------------------------------


def _own_model(developer: Developer, model_id: int) -> Model:
    model = db.session.get(Model, model_id, populate_existing=True)
    if model is None or model.company_id != developer.company_id or model.status != WorkStatus.DONE:
        raise ModelNotFound("There is no such model.")
    return model


def _active_rows(company_id: int, model_ids: list[int] | None = None) -> list[ModelDeployment]:
    statement = select(ModelDeployment).filter_by(company_id=company_id, is_active=True)
    if model_ids is not None:
        statement = statement.where(ModelDeployment.model_id.in_(model_ids))
    return list(db.session.scalars(statement.execution_options(populate_existing=True)))


def _live_row(company_id: int) -> ModelDeployment | None:
    return db.session.scalars(
        select(ModelDeployment)
        .filter_by(company_id=company_id, is_active=True, is_retrained=True)
        .execution_options(populate_existing=True)
    ).first()


def default_network(company_id: int) -> Model | None:
    network = model_type_by_key(NETWORK_KIND)
    return db.session.scalars(
        select(Model).filter_by(company_id=company_id, model_type_id=network.id, is_default=True)
    ).first()


def live_network(company_id: int) -> Model | None:
    """The network the company's users have now: the deployed version, else v1."""
    row = _live_row(company_id)
    return row.model if row is not None else default_network(company_id)


# Changing --------------------------------------------------------------------------------------


def _lock_company(company_id: int) -> None:
    """Deployment changes of one company never interleave: each holds the company's row."""
    lock_row(Company, company_id)


def _clean_reason(reason: str | None) -> str | None:
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX:
        raise ReasonRequired(
            f"The reason is too long (at most {REASON_MAX} characters).", field="override_reason"
        )
    return reason or None


def _withdraw_rows(
    rows: list[ModelDeployment], developer: Developer, action: str, reason: str | None = None
) -> None:
    now = utcnow()
    for row in rows:
        row.is_active = False
        row.withdrawn_at = now
        row.withdrawn_by_developer_id = developer.id
        row.withdraw_action = action
        row.withdraw_reason = reason


def _commit_change(model: Model) -> None:
    try:
        db.session.commit()
    except IntegrityError as error:  # the database's one-of rules: another change won
        db.session.rollback()
        raise DeploymentError(
            f"Another deployment change was made at the same moment, so {model.label} was not "
            "changed. Reload the page to see what is live now."
        ) from error


def _guard(model: Model, live: Model | None, reason: str | None) -> dict[str, Any]:
    """The comparison the guard makes (recorded on the row); raises GuardRefusal."""
    candidate = HoldoutFigure.of(model)
    current = HoldoutFigure.of(live) if live is not None else HoldoutFigure("v1", None, None, None)
    company = db.session.get(Company, model.company_id)
    dataset_id = holdout.holdout_dataset(company).id if company is not None else None
    measured = (
        live is not None
        and dataset_id is not None
        and holdout.is_current(model, dataset_id)
        and holdout.is_current(live, dataset_id)
        and candidate.auc is not None
        and current.auc is not None
    )
    record = {
        "candidate": candidate.as_dict(),
        "live": current.as_dict(),
        "measured": measured,
        "rows": (model.holdout or {}).get("rows") if measured else None,
        "overridden": False,
    }
    if not measured:
        if reason is None:
            raise GuardRefusal(
                f"The common-holdout figures of {model.label} and of the live network, "
                f"{current.label}, are not measured yet, so the two cannot be compared. They are "
                "being measured now: try again in a moment, or deploy anyway with a reason.",
                model,
                candidate,
                current,
            )
        record["overridden"] = True
        return record
    assert candidate.auc is not None and current.auc is not None
    if candidate.auc < current.auc:
        if reason is None:
            digits = _digits_to_tell_apart(candidate.auc, current.auc)
            raise GuardRefusal(
                f"{candidate.describe(digits)} does worse on the common holdout than the live "
                f"network, {current.describe(digits)}, on the same {record['rows']:,} customers. "
                "It was not deployed. To deploy it anyway, give a reason.",
                model,
                candidate,
                current,
            )
        record["overridden"] = True
    return record


def _digits_to_tell_apart(a: float, b: float) -> int:
    """Decimals that show two different AUCs as different numbers (3 unless they look equal)."""
    for digits in range(3, 9):
        if f"{a:.{digits}f}" != f"{b:.{digits}f}":
            return digits
    return 9


def deploy(
    developer: Developer, model_id: int, override_reason: str | None = None, action: str = "deploy"
) -> Model:
    """Make `model_id` available to the company's users (commits).

    A retrained version replaces the live one, if the guard lets it (else GuardRefusal);
    `action` is "deploy" or "rollback" (see `roll_back`)."""
    reason = _clean_reason(override_reason)
    company_id = developer.company_id
    try:
        _lock_company(company_id)
        model = _own_model(developer, model_id)
        if _active_rows(company_id, [model.id]):
            raise DeploymentError(f"{model.label} is already deployed.")
        guard = None
        if not model.is_default:
            live = _live_row(company_id)
            guard = _guard(model, live.model if live else default_network(company_id), reason)
            if live is not None:
                _withdraw_rows([live], developer, "replaced")
                guard["replaced"] = live.model.label
        db.session.add(
            ModelDeployment(
                model_id=model.id,
                company_id=company_id,
                is_retrained=not model.is_default,
                deployed_by_developer_id=developer.id,
                is_active=True,
                deployed_at=utcnow(),
                action=action,
                reason=reason,
                guard=guard,
            )
        )
    except GuardRefusal:
        db.session.rollback()
        holdout.request_measurement(company_id)  # so that "try again in a moment" holds
        raise
    except BaseException:
        db.session.rollback()
        raise
    _commit_change(model)
    return model


def withdraw(
    developer: Developer, model_id: int, reason: str | None = None, action: str = "withdraw"
) -> Model:
    """Stop offering `model_id` to the company's users; the deployment row is kept (commits)."""
    reason = _clean_reason(reason)
    try:
        _lock_company(developer.company_id)
        model = _own_model(developer, model_id)
        if model.is_default:
            raise DeploymentError("The default models are always available to your users.")
        rows = _active_rows(developer.company_id, [model.id])
        if not rows:
            raise DeploymentError(f"{model.label} is not deployed.")
        _withdraw_rows(rows, developer, action, reason)
    except BaseException:
        db.session.rollback()
        raise
    _commit_change(model)
    return model


def roll_back(developer: Developer, model_id: int, reason: str | None) -> Model:
    """Go back to version `model_id`, which was live before the current one (or to the default
    network, v1, which withdraws the live version). A rollback always says why (commits)."""
    target = _own_model(developer, model_id)
    if _clean_reason(reason) is None:
        raise ReasonRequired("Please say why you roll back.", field="override_reason")
    if target.is_default:
        live = _live_row(developer.company_id)
        if live is None:
            raise DeploymentError(f"{target.label} is already the live network.")
        withdraw(developer, live.model_id, reason, action="rollback")
        return target
    return deploy(developer, model_id, reason, action="rollback")


def rollback_target(company_id: int) -> Model | None:
    """Where a rollback goes: the version live before the current one, else the default
    network; None when no retrained version is live."""
    live = _live_row(company_id)
    if live is None:
        return None
    earlier = db.session.scalars(
        select(ModelDeployment)
        .join(ModelDeployment.model)
        .where(
            ModelDeployment.company_id == company_id,
            ModelDeployment.is_retrained.is_(True),
            ModelDeployment.model_id != live.model_id,
            ModelDeployment.deployed_at <= live.deployed_at,
            Model.status == WorkStatus.DONE,
        )
        .order_by(ModelDeployment.deployed_at.desc(), ModelDeployment.id.desc())
    ).first()
    return earlier.model if earlier is not None else default_network(company_id)


# History ---------------------------------------------------------------------------------------


def history(company_id: int) -> list[ModelDeployment]:
    """Every deployment of a retrained version in the company, newest first (the defaults are
    deployed once, when the company is set up, and never change)."""
    return list(
        db.session.scalars(
            select(ModelDeployment)
            .where(ModelDeployment.company_id == company_id, ModelDeployment.is_retrained)
            .options(
                joinedload(ModelDeployment.model).joinedload(Model.model_type),
                joinedload(ModelDeployment.deployed_by),
                joinedload(ModelDeployment.withdrawn_by),
            )
            .order_by(ModelDeployment.deployed_at.desc(), ModelDeployment.id.desc())
        )
    )
