"""Default model files, their metadata, and model_initialization.py's functions."""

from __future__ import annotations

import pickle

import pytest
import sklearn
from sqlalchemy import func, select

import model_initialization as init
from app.extensions import db
from app.schema import Dataset, Model, ModelDeployment, ModelMetric
from app.services import registry, storage, training
from app.services.catalog import DISPLAY_METRICS, KIND_NAMES
from app.services.environment import initialize_developer_environment
from app.services.preprocessing import FEATURES
from app.services.registry import default_models
from tests import factories
from tests.conftest import TRAINING_SAMPLE_ROWS

EXTRA_KEYS = {"sklearn_version", "file_sha256", "feature_importances", "training_rows"}


def _counts() -> list[int]:
    tables = (Dataset, Model, ModelMetric, ModelDeployment)
    return [db.session.scalar(select(func.count()).select_from(t)) for t in tables]


# Metadata ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KIND_NAMES))
def test_metadata_has_the_original_format_plus_the_extra_keys(app, kind):
    metadata = init.load_model_metadata(kind)
    assert metadata["model_type"] == KIND_NAMES[kind]
    assert list(metadata["metrics"]) == ["Accuracy", "AUC", "Precision", "Recall", "F1 Score"]
    assert all(isinstance(v, float) for v in metadata["metrics"].values())
    assert set(metadata) >= EXTRA_KEYS
    assert metadata["sklearn_version"] == sklearn.__version__
    assert list(metadata["feature_importances"]) == sorted(
        FEATURES, key=lambda name: -metadata["feature_importances"][name]
    )


@pytest.fixture(scope="module")
def saved_split(original_dataset):
    """The held-out 20% of the sample the session's default models were trained on."""
    features, target = default_models.default_training_data(original_dataset, TRAINING_SAMPLE_ROWS)
    x_train, x_test, _, y_test = training.split(features, target)
    return len(x_train), x_test, y_test


@pytest.mark.parametrize("kind", list(KIND_NAMES))
def test_metadata_values_match_a_recomputation_from_the_saved_pipeline_on_the_saved_split(
    app, saved_split, kind
):
    metadata = init.load_model_metadata(kind)
    model_path, _ = default_models.default_model_paths(kind)
    pipeline = training.load_pipeline(model_path, default_models.default_model_checksum(kind))
    training_rows, x_test, y_test = saved_split
    assert metadata["model_type"] == KIND_NAMES[kind]
    assert metadata["training_rows"] == training_rows
    assert metadata["test_rows"] == len(x_test)

    recomputed = training.evaluate(pipeline, x_test, y_test)
    assert recomputed["metrics"] == pytest.approx(metadata["metrics"], abs=1e-9)
    assert recomputed["confusion_matrix"] == metadata["confusion_matrix"]
    assert recomputed["churn_precision"] == pytest.approx(metadata["churn_precision"], abs=1e-9)
    assert recomputed["churn_recall"] == pytest.approx(metadata["churn_recall"], abs=1e-9)
    assert recomputed["roc_curve"]["fpr"] == pytest.approx(metadata["roc_curve"]["fpr"])
    assert recomputed["roc_curve"]["tpr"] == pytest.approx(metadata["roc_curve"]["tpr"])

    importances = training.feature_importances(pipeline, x_test, y_test)
    assert list(importances) == list(metadata["feature_importances"])
    assert importances == pytest.approx(metadata["feature_importances"], abs=1e-6)


# Initialization ------------------------------------------------------------------------------


def test_initializing_twice_trains_nothing_and_creates_nothing_twice(app, developer):
    assert set(init.check_existing_models().values()) == {"current"}
    before = _counts()
    statuses = init.initialize_default_models()
    assert [s.trained for s in statuses] == [False] * 5
    init.initialize_developer_environment(developer.id)
    init.initialize_developer_environment(developer.id)
    assert _counts() == before


def test_get_model_metrics_lists_the_company_models_with_all_displayed_metrics(app, developer):
    metrics = init.get_model_metrics(developer.company)
    assert len(metrics) == 5
    assert all(set(values) == set(DISPLAY_METRICS) for values in metrics.values())
    assert set(init.get_model_metrics()) == set(KIND_NAMES.values())


def test_a_second_company_environment_is_independent_of_the_first(app, developer):
    other = factories.make_developer()
    init.initialize_developer_environment(other.id)
    mine = db.session.scalars(select(Dataset).filter_by(company_id=developer.company_id)).all()
    theirs = db.session.scalars(select(Dataset).filter_by(company_id=other.company_id)).all()
    assert len(mine) == len(theirs) == 1
    assert mine[0].path != theirs[0].path
    assert registry.deployed_model_ids(other.company_id).isdisjoint(
        registry.deployed_model_ids(developer.company_id)
    )
    # Withdrawing one company's model leaves the other's deployments alone.
    deployment = db.session.scalars(
        select(ModelDeployment).filter_by(company_id=developer.company_id)
    ).first()
    deployment.is_active = False
    db.session.commit()
    assert len(registry.deployed_model_ids(developer.company_id)) == 4
    assert len(registry.deployed_model_ids(other.company_id)) == 5


def test_repairing_all_environments_sets_up_only_active_developers(app):
    active = factories.make_developer()
    waiting = factories.make_developer(approved=False)
    from app.services.environment import repair_all_environments

    assert [d.id for d in repair_all_environments()] == [active.id]
    assert len(registry.models_for(active)) == 5
    assert (
        db.session.scalar(select(func.count(Model.id)).filter_by(company_id=waiting.company_id))
        == 0
    )


# Integrity and retraining ---------------------------------------------------------------------


def test_a_tampered_model_file_is_refused_with_a_clear_message(private_models_app):
    developer = factories.make_developer()
    initialize_developer_environment(developer)
    model = next(m for m in registry.models_for(developer) if m.model_type.key == "decision_tree")
    path = default_models.default_model_paths("decision_tree")[0]
    path.write_bytes(path.read_bytes() + b"tampered")
    with pytest.raises(training.ModelIntegrityError, match="altered since it was registered"):
        registry.load_model_pipeline(model)
    assert init.check_existing_models()["decision_tree"] == (
        "file does not match its recorded SHA-256"
    )


def test_an_outdated_sklearn_version_in_metadata_triggers_retraining(private_models_app):
    developer = factories.make_developer()
    initialize_developer_environment(developer)
    # The file as an older scikit-learn would have written (and recorded) it.
    _, metadata_path = default_models.default_model_paths("decision_tree")
    metadata = init.load_model_metadata("decision_tree")
    metadata["sklearn_version"] = "0.24.2"
    metadata_path.write_bytes(pickle.dumps(metadata))
    training.record_checksums(
        metadata_path.parent, {metadata_path.name: storage.sha256_of(metadata_path)}
    )
    assert init.check_existing_models()["decision_tree"].startswith("scikit-learn changed")

    statuses = init.initialize_default_models(sample_rows=400)

    assert [s.kind for s in statuses if s.trained] == ["decision_tree"]
    assert init.load_model_metadata("decision_tree")["sklearn_version"] == sklearn.__version__
    assert set(init.check_existing_models().values()) == {"current"}
    # Repairing the environment registers the new file, so it loads again.
    init.initialize_developer_environment(developer.id)
    model = next(m for m in registry.models_for(developer) if m.model_type.key == "decision_tree")
    assert registry.load_model_pipeline(model) is not None
