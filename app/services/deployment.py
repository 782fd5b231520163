"""Deployment: which of the company's models its users may predict with.

Deploying a model adds an active `ModelDeployment` row; withdrawing it sets that row inactive with
`withdrawn_at` (history is kept, nothing is deleted). The rule for the network:

- the five default models (the default network is v1) are always available to users and cannot
  be withdrawn;
- at most one retrained version of the network is deployed at a time: deploying v3 withdraws an
  active v2, so users never have to guess which network is current. Deploying an older version
  again is a rollback, recorded as a new deployment row.

Users' model lists (`registry.models_for`) read the active rows, so they follow at once.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from app.extensions import db
from app.schema import Developer, Model, ModelDeployment, WorkStatus, utcnow
from app.services.errors import Conflict, NotFound


class DeploymentError(Conflict):
    """The deployment change cannot be made; the message says why."""


class ModelNotFound(NotFound):
    """No ready model with that id belongs to the developer's company."""


def _own_model(developer: Developer, model_id: int) -> Model:
    model = db.session.get(Model, model_id)
    if model is None or model.company_id != developer.company_id or model.status != WorkStatus.DONE:
        raise ModelNotFound("There is no such model.")
    return model


def _active_rows(company_id: int, model_ids: list[int] | None = None) -> list[ModelDeployment]:
    statement = select(ModelDeployment).filter_by(company_id=company_id, is_active=True)
    if model_ids is not None:
        statement = statement.where(ModelDeployment.model_id.in_(model_ids))
    return list(db.session.scalars(statement))


def _withdraw_rows(rows: list[ModelDeployment]) -> None:
    now = utcnow()
    for row in rows:
        row.is_active = False
        row.withdrawn_at = now


def deploy(developer: Developer, model_id: int) -> Model:
    """Make `model_id` available to the company's users (commits)."""
    model = _own_model(developer, model_id)
    if _active_rows(developer.company_id, [model.id]):
        raise DeploymentError(f"{model.label} is already deployed.")
    if not model.is_default:
        others = db.session.scalars(
            select(Model.id).filter_by(
                company_id=model.company_id, model_type_id=model.model_type_id, is_default=False
            )
        ).all()
        _withdraw_rows(_active_rows(developer.company_id, [i for i in others if i != model.id]))
    db.session.add(
        ModelDeployment(
            model_id=model.id,
            company_id=model.company_id,
            deployed_by_developer_id=developer.id,
            is_active=True,
            deployed_at=utcnow(),
        )
    )
    db.session.commit()
    return model


def withdraw(developer: Developer, model_id: int) -> Model:
    """Stop offering `model_id` to the company's users; the deployment row is kept (commits)."""
    model = _own_model(developer, model_id)
    if model.is_default:
        raise DeploymentError("The default models are always available to your users.")
    rows = _active_rows(developer.company_id, [model.id])
    if not rows:
        raise DeploymentError(f"{model.label} is not deployed.")
    _withdraw_rows(rows)
    db.session.commit()
    return model


def history(company_id: int) -> list[ModelDeployment]:
    """Every deployment of a retrained version in the company, newest first (the defaults are
    deployed once, when the company is set up, and never change)."""
    return list(
        db.session.scalars(
            select(ModelDeployment)
            .join(ModelDeployment.model)
            .where(ModelDeployment.company_id == company_id, Model.is_default.is_(False))
            .options(contains_eager(ModelDeployment.model).joinedload(Model.model_type))
            .order_by(ModelDeployment.deployed_at.desc(), ModelDeployment.id.desc())
        )
    )
