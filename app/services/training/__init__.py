"""Training: the scikit-learn pipelines, their evaluation, and model files on disk.

- `pipelines`: the preprocessor (laid out as the upload contract says), the estimators, the split;
- `evaluation`: fitting on the 80% part and measuring on the held-out 20%;
- `files`: atomic model files, checked by SHA-256 before they are loaded.
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
    load_metadata,
    load_pipeline,
    save_model,
)
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
    "TrainingResult",
    "build_calibrated",
    "build_estimator",
    "build_pipeline",
    "build_preprocessor",
    "build_retrain_pipeline",
    "evaluate",
    "feature_importances",
    "load_metadata",
    "load_pipeline",
    "log1p_nonnegative",
    "save_model",
    "split",
    "train",
]
