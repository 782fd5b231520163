"""Per-developer environment: set up when a developer's account becomes active.

It creates the folder tree, registers the original data set as the root of the company's lineage,
and registers and deploys the five default models. Running it again creates nothing twice.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.schema import Company, Dataset, Developer, Model, User, utcnow
from app.services import registry, storage
from app.services.original_data import EXPECTED_SHA256

log = logging.getLogger(__name__)


class EnvironmentError_(Exception):
    """The environment cannot be set up; the message says what the operator must do."""


def original_dataset_path() -> Path:
    return Path(current_app.config["ORIGINAL_DATASET"])


def ensure_default_models(
    progress: Callable[[str], None] | None = None, sample_rows: int | None = None
) -> list[registry.DefaultModelStatus]:
    """Train the default models whose files are missing or outdated, from DatasetA.csv."""
    source = original_dataset_path()
    if not source.exists():
        raise EnvironmentError_(
            f"The original data set {source} is missing. Run `make dataset` (or `make run`)."
        )
    return registry.ensure_default_model_files(source, sample_rows=sample_rows, progress=progress)


def initialize_original_dataset(company: Company, developer: Developer | None = None) -> Dataset:
    """Copy DatasetA.csv for the company and register it as the root of its lineage (no commit)."""
    existing = db.session.execute(
        select(Dataset).filter_by(company_id=company.id, kind="original")
    ).scalar_one_or_none()
    if existing is not None and storage.dataset_file(existing.path).exists():
        return existing
    source = original_dataset_path()
    if not source.exists():
        raise EnvironmentError_(
            f"The original data set {source} is missing. Run `make dataset` (or `make run`)."
        )
    relative = storage.original_dataset_copy_path(company.public_id)
    target = storage.dataset_file(relative)
    with storage.atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
    dataset = existing or Dataset(company_id=company.id, kind="original")
    dataset.name = "Original data set (DatasetA.csv)"
    dataset.path = relative
    dataset.original_filename = "DatasetA.csv"
    dataset.file_format = "csv"
    dataset.row_count = _count_rows(target)
    dataset.column_count = 21
    dataset.size_bytes = target.stat().st_size
    dataset.sha256 = EXPECTED_SHA256
    dataset.uploaded_by_developer_id = developer.id if developer else None
    db.session.add(dataset)
    return dataset


def _count_rows(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip()) - 1


def _ensure_default_model_files() -> None:
    storage.ensure_layout()
    if not all(registry.default_model_is_current(kind) for kind in registry.training.MODEL_KINDS):
        ensure_default_models()


def ensure_company_models(company: Company) -> None:
    """Register (or refresh) and deploy the five default models for the company (commits).

    Users can predict with the defaults as soon as they are verified, developer or not.
    Refreshing matters after the default files were retrained: the recorded checksums follow.
    """
    _ensure_default_model_files()
    registry.register_default_models(company)
    db.session.commit()


def initialize_developer_environment(developer: Developer) -> None:
    """Folders, original data set, default models and their deployment (idempotent, commits)."""
    _ensure_default_model_files()
    company = developer.company
    initialize_original_dataset(company, developer)
    registry.register_default_models(company)
    developer.environment_ready_at = developer.environment_ready_at or utcnow()
    db.session.commit()
    log.info("Environment ready for developer %s of company %s", developer.id, company.public_id)


def on_developer_activated(developer: Developer) -> None:
    """Called once the developer is both verified and approved (idempotent)."""
    initialize_developer_environment(developer)


def on_user_activated(user: User) -> None:
    """Called once a user has verified their email (idempotent)."""
    ensure_company_models(user.company)


def active_developers() -> list[Developer]:
    """Developers whose accounts are active (verified and approved, not disabled)."""
    candidates = db.session.scalars(
        select(Developer)
        .where(Developer.email_verified_at.is_not(None), Developer.approved_at.is_not(None))
        .order_by(Developer.id)
    )
    return [developer for developer in candidates if developer.is_active]


def developer_by_id(developer_id: int) -> Developer:
    developer = db.session.get(Developer, developer_id)
    if developer is None:
        raise EnvironmentError_(f"There is no developer with id {developer_id}.")
    return developer


def repair_all_environments() -> list[Developer]:
    """Initialize (or repair) the environment of every active developer, and refresh the default
    models of every company that has them, developer or not (idempotent)."""
    developers = active_developers()
    for developer in developers:
        initialize_developer_environment(developer)
    served = {developer.company_id for developer in developers}
    for company in companies_with_default_models():
        if company.id not in served:
            ensure_company_models(company)
    return developers


def companies_with_default_models() -> list[Company]:
    with_defaults = select(Model.company_id).where(Model.is_default.is_(True))
    return list(db.session.scalars(select(Company).where(Company.id.in_(with_defaults))))
