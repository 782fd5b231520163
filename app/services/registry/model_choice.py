"""Guidance where a person chooses a model: which one the company recommends, what each option
is worth (its AUC), which versions the developer deployed, who can see each model, and why a
version once chosen may no longer be offered.

The recommended model is the retrained version the developer deployed when there is one (they
chose it for the company), else the default with the best AUC on its held-out split.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.extensions import db
from app.schema import MAX_ID, Developer, Model, User, WorkStatus
from app.services import registry
from app.services.catalog import NETWORK_KIND

NETWORK_VERSIONS_NOTE = (
    "“Neural Network” is the default network every company starts with (v1, trained on the "
    "original data set). “Neural Network v2”, v3, … are versions your developer retrained on "
    "the company's own customers; a user sees one only once the developer deploys it."
)


@dataclass(frozen=True)
class ModelOption:
    model: Model
    auc: float | None
    deployed_version: bool  # a retrained version the developer deployed to the company
    users_see: bool  # the company's users may predict with it
    recommended: bool

    @property
    def text(self) -> str:
        """What the choice reads, e.g. "Neural Network v2 · AUC 0.842 · deployed by your
        developer · recommended"."""
        parts = [self.model.label]
        if self.auc is not None:
            parts.append(f"AUC {self.auc:.3f}")
        if self.deployed_version:
            parts.append("deployed by your developer")
        if self.recommended:
            parts.append("recommended")
        return " · ".join(parts)


def recommended_model(models: list[Model], deployed: set[int]) -> Model | None:
    """The deployed retrained version, else the default with the best AUC, else the first."""
    versions = [m for m in models if not m.is_default and m.id in deployed]
    if versions:
        return max(versions, key=lambda m: m.version or 0)
    defaults = [m for m in models if m.is_default] or models
    if not defaults:
        return None
    return max(defaults, key=lambda m: m.metric("AUC") or float("-inf"))


def model_options(account: Developer | User) -> list[ModelOption]:
    """Every model `account` may predict with, in the registry's order, described for a choice."""
    models = registry.models_for(account)
    deployed = registry.deployed_model_ids(account.company_id)
    recommended = recommended_model(models, deployed)
    return [
        ModelOption(
            model=model,
            auc=model.metric("AUC"),
            deployed_version=not model.is_default and model.id in deployed,
            users_see=model.id in deployed,
            recommended=recommended is not None and model.id == recommended.id,
        )
        for model in models
    ]


def shows_network_versions(options: list[ModelOption]) -> bool:
    """True when the default network and a retrained version are both among the options."""
    networks = [o.model for o in options if o.model.model_type.key == NETWORK_KIND]
    return any(m.is_default for m in networks) and any(not m.is_default for m in networks)


def withdrawn_version(account: Developer | User, model_id: int | None) -> Model | None:
    """The company's retrained version `model_id` when it exists but `account` may no longer
    use it (the developer withdrew it since the form was shown); None otherwise."""
    if model_id is None or not 1 <= model_id <= MAX_ID:
        return None
    model = db.session.scalars(
        select(Model).filter_by(id=model_id, company_id=account.company_id, is_default=False)
    ).one_or_none()
    if model is None or model.status != WorkStatus.DONE:
        return None
    if any(m.id == model.id for m in registry.models_for(account)):
        return None
    return model
