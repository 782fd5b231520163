"""Training: the scikit-learn pipelines, their evaluation, and model files on disk.

- `pipelines`: the preprocessor (laid out as the upload contract says), the estimators, the split;
- `evaluation`: fitting on the 80% part and measuring on the held-out 20%;
- `files`: atomic model files, checked by SHA-256 before they are loaded; plain metadata;
- `forests`: a loaded forest predicts on every core, the same bits on every run;
- `manifest`: the signed record of the checksums of the files the app wrote in a folder;
- `measures`: figures of probabilities against outcomes, with a bootstrap interval of the AUC.
"""

# Model files pickled before this package existed name `app.services.training.log1p_nonnegative`.
from app.services.preprocessing.columns import log1p_nonnegative
from app.services.training.evaluation import (
    RECORDED_KEYS,
    SKLEARN_VERSION,
    ProgressCallback,
    TrainingResult,
    evaluate,
    feature_importances,
    train,
)
from app.services.training.files import (
    ModelIntegrityError,
    SavedModel,
    UnsafeMetadata,
    load_metadata,
    load_pipeline,
    read_plain_pickle,
    save_model,
)
from app.services.training.manifest import record_checksums, recorded_checksums
from app.services.training.measures import auc_interval, figures
from app.services.training.pipelines import (
    RETRAIN_MLP_PARAMS,
    SEED,
    TEST_SIZE,
    build_calibrated,
    build_estimator,
    build_pipeline,
    build_preprocessor,
    build_retrain_pipeline,
    split,
)

__all__ = [
    "RECORDED_KEYS",
    "RETRAIN_MLP_PARAMS",
    "SEED",
    "SKLEARN_VERSION",
    "TEST_SIZE",
    "ModelIntegrityError",
    "ProgressCallback",
    "SavedModel",
    "TrainingResult",
    "UnsafeMetadata",
    "auc_interval",
    "build_calibrated",
    "build_estimator",
    "build_pipeline",
    "build_preprocessor",
    "build_retrain_pipeline",
    "evaluate",
    "feature_importances",
    "figures",
    "load_metadata",
    "load_pipeline",
    "log1p_nonnegative",
    "read_plain_pickle",
    "record_checksums",
    "recorded_checksums",
    "save_model",
    "split",
    "train",
]
