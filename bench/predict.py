"""Benchmark: the app's prediction service against the bare pandas + scikit-learn pipeline.

    .venv/bin/python bench/predict.py [--quick]

It generates Telco-shaped files by resampling DatasetA.csv with fresh customer IDs (10k, 100k
and 1M rows, and a 100k-row .xlsx) in a temporary folder, trains the five default models on the
full data set once, and measures each case in its own subprocess (so peak memory is the case's):

  (a) bare: pandas.read_csv + the model's predict_proba + DataFrame.to_csv;
  (b) app:  prediction.create_prediction end to end: upload stored and validated, scored in
            chunks, result file written, summary and charts rendered, database rows committed.

Both sides start with the fitted pipeline already loaded (a web process keeps it cached).
It prints rows/s for each, the ratio of times b/a (≤ 1.0 means the app is not slower), and the
peak resident memory of each subprocess.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KINDS = [
    "decision_tree",
    "gradient_boosting",
    "logistic_regression",
    "random_forest",
    "neural_network",
]
ONE_MODEL = "logistic_regression"


def peak_mb() -> float:
    # VmHWM belongs to this process's memory map; ru_maxrss would carry the parent's peak
    # across fork + exec.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# Setup ---------------------------------------------------------------------------------------


def make_app(work: Path):
    from app import create_app

    return create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{work / 'bench.sqlite3'}",
        MODELS_ROOT=str(work / "models"),
        DATASETS_ROOT=str(work / "datasets"),
        CACHE_DIR=str(work / "cache"),
        ORIGINAL_DATASET=str(work / "DatasetA.csv"),
        PREDICTION_BACKGROUND_ROWS=10_000_000,  # measure the service itself, not a queue wait
    )


def setup(work: Path, sizes: list[int]) -> dict[str, Path]:
    import numpy as np
    import pandas as pd

    from app.extensions import db
    from app.schema import Company, Developer, utcnow
    from app.services.database import upgrade_database
    from app.services.environment import initialize_developer_environment
    from app.services.storage.original_data import provision_original_dataset

    dataset = work / "DatasetA.csv"
    provision_original_dataset(dataset)
    app = make_app(work)
    with app.app_context():
        upgrade_database()
        company = Company(public_id="BENCH-0001", name="Bench", email="bench@example.com")
        db.session.add(company)
        developer = Developer(
            company=company,
            name="Bench",
            email="dev@bench.example",
            password_hash="!",  # noqa: S106 - this account never logs in
            email_verified_at=utcnow(),
            approved_at=utcnow(),
        )
        db.session.add(developer)
        db.session.commit()
        started = time.perf_counter()
        initialize_developer_environment(developer)  # trains the defaults on the full data set
        print(f"default models trained in {time.perf_counter() - started:.0f} s", flush=True)

    source = pd.read_csv(dataset, dtype=str, keep_default_na=False)
    rng = np.random.default_rng(42)
    files: dict[str, Path] = {}
    for rows in sizes:
        frame = source.iloc[rng.integers(0, len(source), rows)].reset_index(drop=True)
        frame["customerID"] = [f"{i:07d}-BNCH" for i in range(rows)]
        path = work / f"telco_{rows}.csv"
        frame.to_csv(path, index=False)
        files[f"csv{rows}"] = path
        if rows == 100_000:
            xlsx = work / f"telco_{rows}.xlsx"
            with pd.ExcelWriter(
                xlsx, engine="xlsxwriter", engine_kwargs={"options": {"constant_memory": True}}
            ) as writer:
                frame.to_excel(writer, index=False)
            files[f"xlsx{rows}"] = xlsx
    return files


# One case per subprocess ---------------------------------------------------------------------


def run_bare(work: Path, kind: str, path: Path) -> dict:
    import joblib
    import numpy as np
    import pandas as pd

    from app.services.preprocessing import FEATURES

    pipeline = joblib.load(work / "models" / "default_models" / f"{kind}.pkl")
    started = time.perf_counter()
    frame = pd.read_csv(path)
    features = frame[FEATURES].copy()
    features["TotalCharges"] = pd.to_numeric(features["TotalCharges"], errors="coerce")
    features["SeniorCitizen"] = features["SeniorCitizen"].map({0: "No", 1: "Yes"})
    probability = pipeline.predict_proba(features)[:, 1]
    frame["Churn Prediction"] = np.where(probability >= 0.5, "Yes", "No")
    frame["Churn Probability"] = probability.round(4)
    frame.to_csv(work / "bare_result.csv", index=False)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": len(frame), "peak_mb": peak_mb()}


def run_app(work: Path, kind: str, path: Path) -> dict:
    import matplotlib.figure  # noqa: F401 - a web process has imported it already
    from sqlalchemy import select
    from werkzeug.datastructures import FileStorage

    from app.schema import Developer
    from app.services import prediction, registry

    app = make_app(work)
    with app.app_context():
        from app.extensions import db

        developer = db.session.scalars(select(Developer)).one()
        model = next(
            m for m in registry.models_for(developer) if m.is_default and m.model_type.key == kind
        )
        registry.load_model_pipeline(model)  # cached per process, as in a running server
        started = time.perf_counter()
        with path.open("rb") as handle:
            upload = FileStorage(stream=handle, filename=path.name)
            result = prediction.create_prediction(developer, "bench", model.id, upload)
        seconds = time.perf_counter() - started
        if result.status != "done":
            raise SystemExit(f"prediction {result.status}: {result.error}")
        return {"seconds": seconds, "rows": result.row_count, "peak_mb": peak_mb()}


def case(work: Path, side: str, kind: str, path: Path) -> dict:
    command = [sys.executable, __file__, "--case", side, kind, str(path), "--work", str(work)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the 1M-row case")
    parser.add_argument("--case", nargs=3, metavar=("SIDE", "KIND", "PATH"))
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()

    if args.case:
        side, kind, path = args.case
        runner = run_bare if side == "bare" else run_app
        print(json.dumps(runner(args.work, kind, Path(path))))
        return

    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    with tempfile.TemporaryDirectory(prefix="churn-bench-") as tmp:
        work = Path(tmp)
        files = setup(work, sizes)
        plan = [(kind, "csv100000") for kind in KINDS]
        plan += [(ONE_MODEL, "csv10000"), (ONE_MODEL, "xlsx100000")]
        if not args.quick:
            plan.append((ONE_MODEL, "csv1000000"))
        out = io.StringIO()
        header = (
            f"| {'model':<20} | {'file':<12} | {'rows':>9} | {'bare rows/s':>11} | "
            f"{'app rows/s':>10} | {'ratio b/a':>9} | {'bare peak MB':>12} | {'app peak MB':>11} |"
        )
        print(header, file=out)
        print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|", file=out)
        for kind, key in plan:
            path = files[key]
            is_csv = key.startswith("csv")
            bare = case(work, "bare", kind, path) if is_csv else None
            app = case(work, "app", kind, path)
            rows = app["rows"]
            ratio = f"{app['seconds'] / bare['seconds']:.2f}" if bare else "—"
            bare_rate = f"{rows / bare['seconds']:,.0f}" if bare else "—"
            bare_peak = f"{bare['peak_mb']:,.0f}" if bare else "—"
            line = (
                f"| {kind:<20} | {path.name:<12} | {rows:>9,} | {bare_rate:>11} | "
                f"{rows / app['seconds']:>10,.0f} | {ratio:>9} | {bare_peak:>12} | "
                f"{app['peak_mb']:>11,.0f} |"
            )
            print(line, file=out)
            print(line, flush=True)
        print()
        print(out.getvalue())


if __name__ == "__main__":
    main()
