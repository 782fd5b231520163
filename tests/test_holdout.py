"""The common holdout: who belongs to it, that no model trains on it, its measurement job, the
bootstrap interval of the AUC, and change arrows that agree with the numbers they sit beside."""

from __future__ import annotations

import random
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from flask import current_app
from sklearn.metrics import roc_auc_score

from app.extensions import db
from app.schema import Model
from app.services import jobs, registry, retraining, storage, training
from app.services.catalog import MODEL_KINDS, NETWORK_KIND
from app.services.environment import initialize_developer_environment
from app.services.monitoring import holdout
from app.services.preprocessing import load_upload
from app.services.registry import default_models
from app.services.registry.comparison import change, shown
from tests import factories


def settle() -> None:
    app = current_app._get_current_object()
    jobs.wait_for_idle(app)
    jobs.wait_for_idle(app)


# Membership ------------------------------------------------------------------------------------


def test_membership_keeps_the_defaults_split_and_hashes_everyone_else(app):
    split = holdout.seed_split()
    assert split.trained and split.held_out and not split.trained & split.held_out
    seed_train, seed_test = sorted(split.trained)[:50], sorted(split.held_out)[:50]
    new = [f"NEW-{i:05d}" for i in range(20_000)]
    ids = pd.Series([*seed_train, *seed_test, *new, "", "   "])
    mask = holdout.holdout_mask(ids, split)
    assert not mask[:50].any()  # the defaults trained on them: never held out
    assert mask[50:100].all()  # the defaults' own held-out 20 %: always held out
    new_share = mask[100:20_100].mean()
    assert abs(new_share - 0.2) < 0.01  # the seed's proportion for new customers
    assert not mask[-2:].any()  # a blank customerID cannot be recognised later
    # Stable: the same answer in any order, in any data set, every time.
    again = holdout.holdout_mask(ids.iloc[::-1].reset_index(drop=True), split)[::-1]
    assert (again == mask).all()
    assert holdout.hashed_share("NEW-00001") == holdout.hashed_share(" NEW-00001".strip())


def test_the_default_models_record_their_split_and_the_seed_metrics_stay_as_they_were(app):
    for kind in (k.key for k in MODEL_KINDS):
        metadata = default_models.default_model_metadata(kind)
        assert list(metadata["metrics"]) == ["Accuracy", "AUC", "Precision", "Recall", "F1 Score"]
        recorded = metadata["split_customers"]
        assert len(recorded["train"]) == metadata["training_rows"]
        assert len(recorded["test"]) == metadata["test_rows"]
        assert default_models.default_model_state(kind) == "current"


def test_default_models_trained_before_the_split_was_recorded_are_retrained(
    tmp_path, migrated_sqlite_template, original_dataset, default_models_dir
):
    import shutil

    import joblib

    from tests.conftest import sqlite_app

    models = tmp_path / "models" / "default_models"
    shutil.copytree(default_models_dir, models)
    metadata_path = models / "neural_network_metadata.pkl"
    metadata = joblib.load(metadata_path)
    del metadata["split_customers"], metadata["training_profile"]
    joblib.dump(metadata, metadata_path)
    for _ in sqlite_app(tmp_path, migrated_sqlite_template, original_dataset, None):
        # As the app would have written it then: its checksum recorded in the signed manifest.
        training.record_checksums(
            storage.default_models_folder(), {metadata_path.name: storage.sha256_of(metadata_path)}
        )
        assert default_models.default_model_state(NETWORK_KIND).startswith(
            "trained before its split"
        )
        with pytest.raises(holdout.HoldoutUnavailable, match="make models"):
            holdout.seed_split()


# No model trains on it -------------------------------------------------------------------------


def test_a_retrained_version_never_trains_on_a_holdout_customer(
    small_app, small_original, monkeypatch
):
    developer = factories.make_developer()
    initialize_developer_environment(developer)
    fitted: dict[str, pd.Index] = {}
    build = training.build_retrain_pipeline

    def spying_pipeline():
        pipeline = build()
        fit = pipeline.fit

        def recording_fit(x, y, **kwargs):
            fitted["rows"] = x.index
            del pipeline.fit  # the saved file holds the ordinary pipeline
            return fit(x, y, **kwargs)

        pipeline.fit = recording_fit
        return pipeline

    monkeypatch.setattr(training, "build_retrain_pipeline", spying_pipeline)
    frame = pd.read_csv(small_original, dtype=str, keep_default_na=False).sample(
        n=300, random_state=4
    )
    frame["customerID"] = [f"SPY-{i:04d}" for i in range(len(frame))]
    run = retraining.start_retrain(developer, "spied", factories.upload(frame))
    settle()
    db.session.expire_all()
    run = db.session.get(Model, run.id)
    assert run.status == "done", run.error

    combined = load_upload(storage.dataset_file(run.training_dataset.path), "csv", True)
    held_out = holdout.holdout_mask(combined.customer_ids)
    trained_on = set(combined.customer_ids.iloc[fitted["rows"]])
    holdout_customers = set(combined.customer_ids[held_out])
    assert trained_on and not trained_on & holdout_customers
    assert trained_on | holdout_customers == set(combined.customer_ids)
    assert run.training_rows == (~held_out).sum() and run.details["holdout_safe"]
    # Every model of the company is then measured on exactly those held-out customers.
    for model in holdout.company_models(developer.company_id):
        assert holdout.is_current(model, run.training_dataset_id), model.holdout
        assert model.holdout["rows"] == held_out.sum()


def test_the_measurement_job_measures_every_model_on_the_same_customers(any_db_app):
    developer = factories.make_developer()
    initialize_developer_environment(developer)
    assert holdout.request_measurement(developer.company_id) is True
    assert holdout.request_measurement(developer.company_id) is False  # already queued
    settle()
    db.session.expire_all()
    company = developer.company
    expected = holdout.common_holdout(company)
    split = holdout.seed_split()
    original = load_upload(storage.dataset_file(expected.dataset.path), "csv", True)
    ids = set(original.customer_ids[holdout.holdout_mask(original.customer_ids)])
    assert split.held_out <= set(original.customer_ids) and split.held_out <= ids
    assert not split.trained & ids
    models = holdout.company_models(developer.company_id)
    assert len(models) == 5
    for model in models:
        figures = model.holdout
        assert model.holdout_status == "done"
        assert figures["rows"] == expected.rows == len(ids)
        assert figures["churned"] == expected.churned
        pipeline = registry.load_model_pipeline(model)
        probability = pipeline.predict_proba(expected.features)[:, 1]
        assert figures["auc"] == pytest.approx(roc_auc_score(expected.target, probability))
    assert holdout.request_measurement(developer.company_id) is False  # all current


# The interval and the arrows -------------------------------------------------------------------


def test_the_bootstrap_interval_resamples_customers_like_sklearn_with_weights():
    rng = np.random.default_rng(3)
    actual = rng.integers(0, 2, 300)
    probability = np.round(np.clip(actual * 0.3 + rng.random(300) * 0.7, 0, 1), 1)  # many ties
    for seed in (1, 2, 3):
        low, high = training.auc_interval(actual, probability, resamples=1, seed=seed)
        weights = np.random.default_rng(seed).multinomial(300, np.full(300, 1 / 300), 1)[0]
        assert (
            low
            == high
            == pytest.approx(roc_auc_score(actual, probability, sample_weight=weights), abs=1e-12)
        )
    low, high = training.auc_interval(actual, probability)
    assert low < roc_auc_score(actual, probability) < high
    assert (low, high) == training.auc_interval(actual, probability)  # the same every time
    assert training.auc_interval(np.ones(10), probability[:10]) is None


def test_a_change_arrow_always_agrees_with_the_two_numbers_shown():
    generator = random.Random(5)
    values = [generator.random() for _ in range(3000)]
    values += [0.8124, 0.8126, 0.81249, 0.81251, 0.8125, 0.8135]  # near a rounding edge
    for value, previous in zip(values, values[1:] + values[:1], strict=True):
        delta = Decimal(shown(value)) - Decimal(shown(previous))
        found = change(value, previous)
        assert found.direction == ("up" if delta > 0 else "down" if delta < 0 else "same")
        assert Decimal(found.text.split()[1]) == abs(delta)
        assert found.text[0] == {"up": "▲", "down": "▼", "same": "="}[found.direction]
    assert change(0.8124, 0.8126).text == "▼ 0.001"  # 0.812 against 0.813
    assert change(0.8121, 0.8124).text == "= 0.000"  # both shown as 0.812
