"""Benchmark: train the five default models on the whole DatasetA.csv from scratch.

Prints, per model, the fit + evaluation time (permutation importance included), the held-out
Accuracy/AUC/Precision/Recall/F1 of the fixed stratified 80/20 split (random_state=42), and the
mean AUC of a stratified 5-fold cross-validation (shuffled, random_state=42) of the full pipeline
on the whole data set; then the total training time. Model files go to a temporary MODELS_ROOT.

    .venv/bin/python bench/train.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from sklearn.model_selection import StratifiedKFold, cross_val_score

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app
from app.services import training
from app.services.catalog import KIND_NAMES
from app.services.preprocessing import load_upload
from app.services.registry import default_models
from app.services.storage.original_data import provision_original_dataset

CV_FOLDS = 5


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        root = Path(tmp)
        dataset = Path(create_app("testing").config["ORIGINAL_DATASET"])
        if not dataset.exists():
            dataset = root / "DatasetA.csv"
            provision_original_dataset(dataset)
        app = create_app(
            "testing",
            MODELS_ROOT=str(root / "models"),
            DATASETS_ROOT=str(root / "datasets"),
            CACHE_DIR=str(root / "cache"),
        )
        with app.app_context():
            prepared = load_upload(dataset, "csv", require_target=True)
            features, target = prepared.features, prepared.target
            print(f"DatasetA.csv: {len(features):,} rows, churn rate {target.mean():.3f}")
            header = (
                f"{'model':<20}{'fit+eval s':>11}{'Accuracy':>10}{'AUC':>8}{'Precision':>11}"
                f"{'Recall':>8}{'F1':>8}{'CV AUC':>8}{'CV s':>7}"
            )
            print(header)
            print("-" * len(header))
            total_train = 0.0
            folds = StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=training.SEED)
            for kind, name in KIND_NAMES.items():
                started = time.perf_counter()
                result = training.train(training.build_pipeline(kind), name, features, target)
                model_path, metadata_path = default_models.default_model_paths(kind)
                training.save_model(result, model_path, metadata_path)
                elapsed = time.perf_counter() - started
                total_train += elapsed
                started = time.perf_counter()
                cv = cross_val_score(
                    training.build_pipeline(kind), features, target, cv=folds, scoring="roc_auc"
                )
                cv_elapsed = time.perf_counter() - started
                m = result.metrics
                print(
                    f"{name:<20}{elapsed:>11.1f}{m['Accuracy']:>10.4f}{m['AUC']:>8.4f}"
                    f"{m['Precision']:>11.4f}{m['Recall']:>8.4f}{m['F1 Score']:>8.4f}"
                    f"{cv.mean():>8.4f}{cv_elapsed:>7.1f}",
                    flush=True,
                )
            print(f"Total fit + evaluation + importance of the five: {total_train:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
