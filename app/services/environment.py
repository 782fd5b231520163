"""A company's environment: its original data set (the root of its lineage) and its five default
models, registered and deployed, set up when its first account becomes active.

Training never happens inside a web request: the default model files are trained by
`model_initialization.py` (which `make run` runs first). When an account becomes active and the
files are missing or outdated (a new storage root, a new scikit-learn), the setup is queued as
the `prepare_company_models` job instead, and the pages say the models are being prepared.
Running any of it again creates nothing twice.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.schema import Company, Dataset, Developer, Model, User, utcnow
from app.services import jobs, registry, storage
from app.services.catalog import MODEL_KINDS
from app.services.errors import DomainError
from app.services.registry import default_models
from app.services.storage import datasets
from app.services.storage.original_data import EXPECTED_SHA256

log = logging.getLogger(__name__)

JOB_NAME = "prepare_company_models"


class EnvironmentError_(DomainError):
    """The environment cannot be set up; the message says what the operator must do."""


ORIGINAL_AREA = "dev/combinedDataset"


def original_dataset_path() -> Path:
    return Path(current_app.config["ORIGINAL_DATASET"])


def ensure_default_models(
    progress: Callable[[str], None] | None = None, sample_rows: int | None = None
) -> list[default_models.DefaultModelStatus]:
    """Train the default models whose files are missing or outdated, from DatasetA.csv."""
    source = original_dataset_path()
    if not source.exists():
        raise EnvironmentError_(
            f"The original data set {source} is missing. Run `make dataset` (or `make run`)."
        )
    return default_models.ensure_default_model_files(
        source, sample_rows=sample_rows, progress=progress
    )


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
    relative = storage.new_dataset_path(ORIGINAL_AREA, "csv")
    target = storage.dataset_file(relative)
    with storage.atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
    with storage.removed_on_failure(target):
        dataset = datasets.record_dataset(
            company.id,
            "original",
            "Original data set (DatasetA.csv)",
            relative,
            row_count=_count_rows(target),
            column_count=21,
            account=developer,
            original_filename="DatasetA.csv",
            sha256=EXPECTED_SHA256,
            dataset=existing,
        )
        db.session.flush()
    return dataset


def _count_rows(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip()) - 1


def default_model_files_current() -> bool:
    return all(default_models.default_model_is_current(kind.key) for kind in MODEL_KINDS)


def ensure_company_models(company: Company) -> None:
    """Register (or refresh) and deploy the five default models for the company (commits).

    Users can predict with the defaults as soon as they are verified, developer or not.
    Refreshing matters after the default files were retrained: the recorded checksums follow.
    The files must be current (see `default_model_files_current`).
    """
    registry.register_default_models(company)
    db.session.commit()


def initialize_developer_environment(developer: Developer) -> None:
    """Folders, original data set, default models and their deployment (idempotent, commits).

    The default model files must be current; `on_developer_activated` makes sure of it."""
    storage.ensure_layout()
    company = developer.company
    initialize_original_dataset(company, developer)
    registry.register_default_models(company)
    developer.environment_ready_at = developer.environment_ready_at or utcnow()
    db.session.commit()
    log.info("Environment ready for developer %s of company %s", developer.id, company.public_id)


def _set_up_now_or_later(company: Company) -> None:
    """Set the company up now when the model files are current (milliseconds), else queue the
    job that trains them first, so the request that activated the account stays quick."""
    if default_model_files_current():
        prepare_company_models(company.id)
        return
    log.info(
        "Default models are not trained yet: preparing company %s in the background",
        company.public_id,
    )
    jobs.enqueue(JOB_NAME, company.id)


def prepare_company_models(company_id: int) -> None:
    """The job (or its quick path): train outdated default files, then set the company up."""
    company = db.session.get(Company, company_id)
    if company is None:
        return
    if not default_model_files_current():
        ensure_default_models()
    developer = company.developer
    if developer is not None and developer.is_active:
        initialize_developer_environment(developer)
    else:
        ensure_company_models(company)


def models_being_prepared(company: Company) -> bool:
    """True while a company that has an active account waits for its default models."""
    return not registry.check_existing_models(company)


def on_developer_activated(developer: Developer) -> None:
    """Called once the developer is both verified and approved (idempotent)."""
    _set_up_now_or_later(developer.company)


def on_user_activated(user: User) -> None:
    """Called once a user has verified their email (idempotent)."""
    _set_up_now_or_later(user.company)


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
    models of every company that has them, developer or not (idempotent). The default model
    files must be current (model_initialization.py trains them first)."""
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


def companies_waiting_for_models(activated_before: datetime) -> list[Company]:
    """Companies with an account active since before `activated_before` that still lack their
    default models (their setup job could not be queued, or died): the sweep sets them up."""
    developer_active = select(Developer.company_id).where(
        Developer.is_enabled.is_(True),
        Developer.email_verified_at < activated_before,
        Developer.approved_at < activated_before,
    )
    user_active = select(User.company_id).where(
        User.is_enabled.is_(True), User.email_verified_at < activated_before
    )
    candidates = db.session.scalars(
        select(Company).where(Company.id.in_(developer_active.union(user_active).scalar_subquery()))
    )
    return [company for company in candidates if models_being_prepared(company)]
