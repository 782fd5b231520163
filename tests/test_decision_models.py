"""The models behind the decisions: calibration of clearly-off defaults, and default model files
that predate the recorded baselines."""

from __future__ import annotations

import pickle

from sklearn.calibration import CalibratedClassifierCV
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier

from app.services import storage, training
from app.services.preprocessing import FEATURES
from app.services.preprocessing.encoding import encode
from app.services.registry import default_models


def test_a_default_model_whose_probabilities_are_clearly_off_is_calibrated_on_its_training_part(
    original_dataset,
):
    features, target = default_models.default_training_data(original_dataset, None)  # all 7,043
    # An unpruned tree answers 0 or 1: far from the diagonal on unseen customers.
    overconfident = Pipeline(
        [
            ("preprocess", training.build_preprocessor()),
            ("model", DecisionTreeClassifier(random_state=0)),
        ]
    )
    result = training.train(
        overconfident, "Decision Tree", features, target, calibrate_when_off=True
    )
    calibration = result.metadata["calibration"]
    assert calibration["method"] == "isotonic"
    assert calibration["before"]["ece"] >= 0.05
    assert calibration["held_out"]["brier"] < calibration["before"]["brier"]
    assert isinstance(result.pipeline.named_steps["model"], CalibratedClassifierCV)
    # Scoring still reads the pipeline with the fast encoder.
    frame = features.head(20).astype(str)
    assert encode(result.pipeline, frame, {name: name for name in FEATURES}) is not None
    # The same tree without the option is left as it is.
    plain = training.train(
        Pipeline(
            [
                ("preprocess", training.build_preprocessor()),
                ("model", DecisionTreeClassifier(random_state=0)),
            ]
        ),
        "Decision Tree",
        features,
        target,
    )
    assert plain.metadata["calibration"]["method"] is None
    assert plain.metadata["calibration"]["before"] is None
    # Too few held-out customers to judge: left as it is too.
    small_features, small_target = default_models.default_training_data(original_dataset, 1500)
    small = training.train(
        Pipeline(
            [
                ("preprocess", training.build_preprocessor()),
                ("model", DecisionTreeClassifier(random_state=0)),
            ]
        ),
        "Decision Tree",
        small_features,
        small_target,
        calibrate_when_off=True,
    )
    assert small.metadata["calibration"]["held_out"]["ece"] >= 0.05
    assert small.metadata["calibration"]["method"] is None


def test_default_model_files_without_a_baseline_are_trained_again(
    private_models_app, original_dataset
):
    _, metadata_path = default_models.default_model_paths("decision_tree")
    metadata = default_models.default_model_metadata("decision_tree")
    assert {"baseline", "calibration"} <= set(metadata)
    del metadata["baseline"]
    # The file as the app wrote it before baselines were recorded (and recorded it).
    metadata_path.write_bytes(pickle.dumps(metadata))
    training.record_checksums(
        metadata_path.parent, {metadata_path.name: storage.sha256_of(metadata_path)}
    )
    assert "baseline" in default_models.default_model_state("decision_tree")
    statuses = default_models.ensure_default_model_files(original_dataset, sample_rows=400)
    assert [s.kind for s in statuses if s.trained] == ["decision_tree"]
    assert default_models.default_model_is_current("decision_tree")
