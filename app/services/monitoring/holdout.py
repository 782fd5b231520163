"""The company's one common holdout: the customers every model is compared on and none trains on.

Membership is decided by customerID alone, so it survives every new combined data set:
- a customer of the default models' training data keeps the side of their stratified 80/20
  split (`random_state=42`, recorded in the default models' metadata as `split_customers`): the
  held-out 20 % is in the holdout, the 80 % the defaults trained on never is;
- any other customer is in the holdout when a stable hash of their customerID falls in the
  lowest 20 % (the seed's proportion);
- a blank customerID cannot be recognised later, so it is never held out.

Retrained versions train only on customers outside the holdout (`retraining` passes the mask to
training). The holdout itself is the held-out customers of the company's latest data set (the
newest combined data set a version was trained on, or the original data set), so it grows as new
customers arrive; every model is then measured again on it, by the `measure_holdout` job, whose
state and figures live on each model's row (`Model.holdout_status`, `Model.holdout`).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from app.extensions import db
from app.schema import IN_PROGRESS, MEASURING_TIMEOUT, Company, Dataset, Model, WorkStatus, utcnow
from app.services import jobs, registry, storage, training
from app.services.catalog import NETWORK_KIND
from app.services.errors import DomainError
from app.services.preprocessing import FEATURES, load_upload
from app.services.registry import default_models
from app.services.retraining import lineage
from app.services.storage.uploads import upload_limits

log = logging.getLogger(__name__)

JOB_NAME = "measure_holdout"
SHARE = training.TEST_SIZE
SALT = b"churn-buster common holdout 1:"
# A measurement still queued or running after this long lost its job: it is asked for again.
STUCK_AFTER = MEASURING_TIMEOUT


class HoldoutUnavailable(DomainError):
    """The common holdout cannot be built; the message says what the operator must do."""

    status = 409


# Membership ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedSplit:
    """The customers of the default models' own 80/20 split."""

    trained: frozenset[str]
    held_out: frozenset[str]


_seed_cache: dict[tuple[str, int, int], SeedSplit] = {}
_seed_lock = threading.Lock()


def seed_split() -> SeedSplit:
    """The default models' split, as recorded in the default network's metadata."""
    path = default_models.default_model_paths(NETWORK_KIND)[1]
    try:
        stat = path.stat()
    except OSError as error:
        raise HoldoutUnavailable(
            "The default models are not trained yet, so there is no common holdout."
        ) from error
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    with _seed_lock:
        cached = _seed_cache.get(key)
    if cached is not None:
        return cached
    recorded = default_models.default_model_metadata(NETWORK_KIND).get("split_customers")
    if not recorded:
        raise HoldoutUnavailable(
            "The default models were trained before their split was recorded, so the common "
            "holdout cannot be built. Ask the operator to run `make models`."
        )
    split = SeedSplit(frozenset(recorded["train"]), frozenset(recorded["test"]))
    with _seed_lock:
        _seed_cache.clear()
        _seed_cache[key] = split
    return split


def hashed_share(customer_id: str) -> float:
    """Where the customerID's hash falls in [0, 1): the same on every machine, every time."""
    digest = hashlib.sha256(SALT + customer_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def holdout_mask(customer_ids: pd.Series, split: SeedSplit | None = None) -> np.ndarray:
    """True for the customers of the common holdout (see the module's rules)."""
    split = split or seed_split()
    ids = customer_ids.astype(str).str.strip()
    hashed = np.fromiter((hashed_share(i) < SHARE for i in ids), dtype=bool, count=len(ids))
    seed_held_out = ids.isin(split.held_out).to_numpy()
    seed_trained = ids.isin(split.trained).to_numpy()
    blank = (ids == "").to_numpy()
    return (seed_held_out | (hashed & ~seed_trained)) & ~blank


# The holdout of a company ----------------------------------------------------------------------


@dataclass
class CommonHoldout:
    dataset: Dataset
    features: pd.DataFrame
    target: pd.Series

    @property
    def rows(self) -> int:
        return len(self.target)

    @property
    def churned(self) -> int:
        return int(self.target.sum())


def holdout_dataset(company: Company) -> Dataset:
    """The data set whose held-out customers are the company's common holdout now."""
    return lineage.latest_dataset(company)


def common_holdout(company: Company) -> CommonHoldout:
    """The held-out customers of the company's latest data set, with what happened to them."""
    dataset = holdout_dataset(company)
    path = storage.dataset_file(dataset.path)
    if not path.exists():
        raise HoldoutUnavailable(f"The data set “{dataset.name}” is missing from storage.")
    prepared = load_upload(path, dataset.file_format, require_target=True, limits=upload_limits())
    assert prepared.target is not None
    mask = holdout_mask(prepared.customer_ids)
    features = prepared.features[FEATURES][mask].reset_index(drop=True)
    target = prepared.target[mask].reset_index(drop=True)
    if len(target) == 0:
        raise HoldoutUnavailable("The common holdout has no customers.")
    return CommonHoldout(dataset, features, target)


# Figures on a model's row ----------------------------------------------------------------------


def is_current(model: Model, dataset_id: int) -> bool:
    """True when the model's figures were measured on this holdout with its current file."""
    figures = model.holdout or {}
    return (
        model.holdout_status == WorkStatus.DONE
        and figures.get("dataset_id") == dataset_id
        and figures.get("file_sha256") == model.file_sha256
    )


def _needs_measuring(model: Model, dataset_id: int, now: datetime) -> bool:
    figures = model.holdout or {}
    if model.holdout_status in IN_PROGRESS:
        requested = figures.get("requested_at")
        return requested is None or now - datetime.fromisoformat(requested) > STUCK_AFTER
    if model.holdout_status == WorkStatus.FAILED:  # tried on this holdout and file: not again
        return (figures.get("dataset_id"), figures.get("file_sha256")) != (
            dataset_id,
            model.file_sha256,
        )
    return not is_current(model, dataset_id)


def company_models(company_id: int) -> list[Model]:
    """The company's ready models: the five defaults and every registered version."""
    return list(
        db.session.scalars(
            select(Model)
            .filter_by(company_id=company_id, status=WorkStatus.DONE)
            .order_by(Model.is_default.desc(), Model.model_type_id, Model.version)
        )
    )


def request_measurement(company_id: int) -> bool:
    """Queue the measuring job for the company's models whose figures are not current (commits).

    Returns True when a job was queued. Never measures in the caller: a page stays quick."""
    company = db.session.get(Company, company_id)
    if company is None:
        return False
    try:
        dataset_id = holdout_dataset(company).id
    except DomainError:
        return False
    now = utcnow()
    stale = [m for m in company_models(company_id) if _needs_measuring(m, dataset_id, now)]
    for model in stale:
        model.holdout_status = WorkStatus.QUEUED
        model.holdout = {**(model.holdout or {}), "requested_at": now.isoformat()}
    db.session.commit()
    if not stale:
        return False
    try:
        jobs.enqueue(JOB_NAME, company_id)
    except jobs.QueueUnavailable:
        log.exception("Could not queue the holdout measurement of company %s", company_id)
        for model in stale:
            model.holdout_status = WorkStatus.FAILED
            model.holdout = {**(model.holdout or {}), "error": "The job could not be queued."}
        db.session.commit()
        return False
    return True


def measure_holdout(company_id: int) -> None:
    """The job: measure every queued model of the company on its common holdout."""
    company = db.session.get(Company, company_id)
    if company is None:
        return
    waiting = [m for m in company_models(company_id) if m.holdout_status in IN_PROGRESS]
    if not waiting:
        return
    for model in waiting:
        model.holdout_status = WorkStatus.RUNNING
    db.session.commit()
    try:
        holdout = common_holdout(company)
    except DomainError as error:
        for model in waiting:
            _record_failure(model, str(error), None)
        db.session.commit()
        return
    for model in waiting:
        try:
            model.holdout = measure(model, holdout)
            model.holdout_status = WorkStatus.DONE
        except DomainError as error:  # e.g. a model file altered since it was registered
            _record_failure(model, str(error), holdout.dataset.id)
        except Exception:  # the outer edge of one model's measurement: logged, on its row
            log.exception("Holdout measurement of model %s failed", model.id)
            _record_failure(model, "The measurement failed unexpectedly.", holdout.dataset.id)
        db.session.commit()


def _record_failure(model: Model, message: str, dataset_id: int | None) -> None:
    model.holdout_status = WorkStatus.FAILED
    model.holdout = {
        **(model.holdout or {}),
        "error": message,
        "dataset_id": dataset_id,
        "file_sha256": model.file_sha256,
    }


def measure(model: Model, holdout: CommonHoldout) -> dict[str, Any]:
    """The model's figures on `holdout` (what `Model.holdout` holds)."""
    pipeline = registry.load_model_pipeline(model)
    probability = pipeline.predict_proba(holdout.features)[:, 1]
    actual = holdout.target.to_numpy()
    values = training.figures(actual, probability)
    interval = training.auc_interval(actual, probability)
    return {
        "dataset_id": holdout.dataset.id,
        "file_sha256": model.file_sha256,
        "rows": holdout.rows,
        "churned": holdout.churned,
        "auc": values["AUC"],
        "auc_low": interval[0] if interval else None,
        "auc_high": interval[1] if interval else None,
        "metrics": {name: values[name] for name in ("Accuracy", "Precision", "Recall", "F1 Score")}
        | {"AUC": values["AUC"]},
        "measured_at": utcnow().isoformat(timespec="seconds"),
    }


@dataclass
class HoldoutState:
    """What the comparison page says about the holdout."""

    dataset: Dataset | None
    rows: int | None  # customers in the holdout (None until a model was measured on it)
    churned: int | None
    measuring: bool  # some model's figures are queued or being measured
    problem: str | None  # why there is no holdout, or why a measurement failed


def state(company_id: int, models: list[Model]) -> HoldoutState:
    company = db.session.get(Company, company_id)
    try:
        dataset = holdout_dataset(company) if company is not None else None
        seed_split()
    except DomainError as error:
        return HoldoutState(None, None, None, False, str(error))
    current = [m for m in models if dataset is not None and is_current(m, dataset.id)]
    failed = [m for m in models if m.holdout_status == WorkStatus.FAILED]
    first = (current[0].holdout or {}) if current else {}
    return HoldoutState(
        dataset=dataset,
        rows=first.get("rows"),
        churned=first.get("churned"),
        measuring=any(m.holdout_status in IN_PROGRESS for m in models),
        problem=(failed[0].holdout or {}).get("error") if failed else None,
    )
