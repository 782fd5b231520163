"""Nothing in the model folder is unpickled on trust.

Each test swaps a file in a private copy of the default models for a pickle that would create a
marker file when unpickled, and shows the marker never appears, the swap is noticed, and the
prediction is refused with a clear message. Checksums come from what the app recorded when it
wrote the files (the database, the signed manifest), never from a file beside the model.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import pytest
from itsdangerous import Serializer
from sqlalchemy import select

from app.extensions import db
from app.schema import Prediction
from app.services import environment, jobs, registry, storage, training
from app.services.accounts import tokens
from app.services.registry import default_models
from app.services.training.manifest import MANIFEST_NAME
from tests import factories

KIND = "decision_tree"


class _Payload:
    """Unpickling this creates `marker`: what an attacker's pickle would do instead."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _malicious(marker: Path, **extra) -> bytes:
    return pickle.dumps({"model_type": "Decision Tree", "payload": _Payload(marker), **extra})


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "code-ran"


@pytest.fixture
def developer(private_models_app):
    developer = factories.make_developer()
    environment.initialize_developer_environment(developer)
    return developer


def _predict(app, developer, kind: str = KIND):
    model = next(m for m in registry.models_for(developer) if m.model_type.key == kind)
    frame = factories.upload(_customers(app)).stream.read()
    client = factories.log_in(app.test_client(), developer)
    return client.post(
        "/developer/predict",
        data={
            "name": "After the swap",
            "model_id": str(model.id),
            "file": (io.BytesIO(frame), "c.csv"),
        },
        content_type="multipart/form-data",
    )


def _customers(app):
    import pandas as pd

    frame = pd.read_csv(app.config["ORIGINAL_DATASET"], dtype=str, keep_default_na=False)
    return frame.head(5).drop(columns=["Churn"])


def test_the_untouched_files_predict(private_models_app, developer):
    """The control: the same prediction on the intact copy is scored."""
    response = _predict(private_models_app, developer)
    assert response.status_code == 302
    assert db.session.scalars(select(Prediction)).one().status == "done"


def test_a_swapped_model_file_whose_metadata_claims_its_checksum_is_refused_and_never_loaded(
    private_models_app, developer, marker
):
    model_path, metadata_path = default_models.default_model_paths(KIND)
    recorded = default_models.default_model_checksum(KIND)
    model_path.write_bytes(_malicious(marker))
    # The attacker also edits the checksum kept beside the file to match the swapped one.
    metadata = default_models.default_model_metadata(KIND)
    metadata["file_sha256"] = storage.sha256_of(model_path)
    metadata_path.write_bytes(pickle.dumps(metadata))

    response = _predict(private_models_app, developer)
    assert response.status_code == 400
    assert "has been altered since it was registered" in response.text
    assert db.session.scalars(select(Prediction)).all() == []

    # Registering the company's defaults again does not copy the edited checksum...
    with pytest.raises(training.ModelIntegrityError):
        registry.register_default_models(developer.company)
    db.session.rollback()
    row = next(m for m in registry.models_for(developer) if m.model_type.key == KIND)
    assert row.file_sha256 == recorded
    assert _predict(private_models_app, developer).status_code == 400
    # ...and the files are reported for retraining, not trusted.
    assert (
        default_models.default_model_state(KIND) == "metadata does not match its recorded SHA-256"
    )
    assert not marker.exists()


def test_a_swapped_model_file_alone_is_refused_and_never_loaded(
    private_models_app, developer, marker
):
    model_path, _ = default_models.default_model_paths(KIND)
    model_path.write_bytes(_malicious(marker))
    response = _predict(private_models_app, developer)
    assert response.status_code == 400
    assert "has been altered since it was registered" in response.text
    assert default_models.default_model_state(KIND) == "file does not match its recorded SHA-256"
    assert not marker.exists()


def test_a_swapped_metadata_file_runs_nothing_when_an_account_is_verified(
    private_models_app, developer, marker
):
    _, metadata_path = default_models.default_model_paths(KIND)
    metadata_path.write_bytes(_malicious(marker, metrics={}))
    user = factories.make_user(developer.company, verified=False)
    link = f"/auth/verify/{tokens.account_verification_token(user)}"
    with jobs.held(private_models_app):  # the retraining it queues is not this test's concern
        response = private_models_app.test_client().get(link)
        assert response.status_code == 200
        assert default_models.default_model_state(KIND) == (
            "metadata does not match its recorded SHA-256"
        )
        assert not marker.exists()
        with pytest.raises(training.ModelIntegrityError):
            default_models.default_model_metadata(KIND)
    # The queued job trains the model again, which replaces the swapped file.
    jobs.wait_for_idle(private_models_app)
    assert default_models.default_model_state(KIND) == "current"
    assert not marker.exists()


def test_metadata_that_names_any_class_or_function_is_refused_even_with_the_right_checksum(
    private_models_app, marker, tmp_path
):
    path = tmp_path / "metadata.pkl"
    path.write_bytes(_malicious(marker, metrics={}))
    with pytest.raises(training.UnsafeMetadata, match="not in the expected format"):
        training.load_metadata(path, storage.sha256_of(path))
    assert not marker.exists()


def test_the_metadata_written_holds_only_plain_values_in_the_original_format(private_models_app):
    _, metadata_path = default_models.default_model_paths(KIND)
    metadata = training.read_plain_pickle(metadata_path.read_bytes())
    assert metadata["model_type"] == "Decision Tree"
    assert set(metadata["metrics"]) == {"Accuracy", "AUC", "Precision", "Recall", "F1 Score"}
    # A plain pickle.load reads it too: the seed's format is kept.
    assert pickle.loads(metadata_path.read_bytes()) == metadata


@pytest.mark.parametrize("forgery", ["other key", "garbage", "deleted"])
def test_a_manifest_not_signed_by_this_installation_trusts_nothing(
    private_models_app, developer, marker, forgery
):
    model_path, metadata_path = default_models.default_model_paths(KIND)
    model_path.write_bytes(_malicious(marker))
    manifest = storage.default_models_folder() / MANIFEST_NAME
    if forgery == "other key":
        entries = {
            model_path.name: storage.sha256_of(model_path),
            metadata_path.name: storage.sha256_of(metadata_path),
        }
        manifest.write_text(Serializer("not-the-key", salt="model-files-manifest").dumps(entries))
    elif forgery == "garbage":
        manifest.write_text("{}")
    else:
        manifest.unlink()
    assert default_models.default_model_state(KIND) == "not recorded by this installation"
    with pytest.raises(training.ModelIntegrityError, match="not written by this installation"):
        default_models.default_model_checksum(KIND)
    # The row recorded before still guards the prediction.
    response = _predict(private_models_app, developer)
    assert response.status_code == 400 and "has been altered" in response.text
    assert not marker.exists()


def test_retraining_the_defaults_records_the_new_files_and_they_are_trusted_again(
    private_models_app, developer, marker
):
    model_path, _ = default_models.default_model_paths(KIND)
    model_path.write_bytes(_malicious(marker))
    statuses = default_models.ensure_default_model_files(
        Path(private_models_app.config["ORIGINAL_DATASET"]), sample_rows=400
    )
    assert [s.kind for s in statuses if s.trained] == [KIND]
    assert default_models.default_model_state(KIND) == "current"
    environment.initialize_developer_environment(developer)
    assert _predict(private_models_app, developer).status_code == 302
    assert not marker.exists()
