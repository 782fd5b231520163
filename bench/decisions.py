"""Benchmark: what a score-to-decision costs.

    .venv/bin/python bench/decisions.py [--quick]

1. Reasons at 100k rows, per model type (the five defaults trained on the whole DatasetA.csv,
   and a network with the retrained versions' fixed settings): the time to encode and score a
   100k-row chunk, the time of its decision columns on top (reasons, input warnings, expected
   value), and the whole prediction service end to end (upload stored and read, scored, reasons,
   result file and row store written, summary committed) until the result can be downloaded.
2. Paging: the time to open a result's row store and read one page of 50 rows (risk order at the
   start and in the middle, lowest risk first, file order) and to search by customerID, for a
   1,000-row and a 1,000,000-row result (`--quick`: 100,000). A page must cost the same for both.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KINDS = [
    "logistic_regression",
    "decision_tree",
    "gradient_boosting",
    "random_forest",
    "neural_network",
    "retrained_network",
]
CHUNK = 100_000


def make_app(work: Path):
    from app import create_app

    return create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{work / 'bench.sqlite3'}",
        MODELS_ROOT=str(work / "models"),
        DATASETS_ROOT=str(work / "datasets"),
        CACHE_DIR=str(work / "cache"),
        ORIGINAL_DATASET=str(work / "DatasetA.csv"),
        PREDICTION_BACKGROUND_ROWS=10_000_000,
    )


def reasons_table(work: Path) -> None:
    import pandas as pd
    from werkzeug.datastructures import FileStorage

    from app.extensions import db
    from app.schema import Company, Developer, Model, utcnow
    from app.services import decisions, registry, training
    from app.services import prediction as predictions
    from app.services.database import model_type_by_key, upgrade_database
    from app.services.environment import ensure_default_models, initialize_developer_environment
    from app.services.preprocessing import FEATURES, load_upload, match_columns
    from app.services.preprocessing.encoding import encode, estimator_of
    from app.services.storage.original_data import provision_original_dataset

    dataset = work / "DatasetA.csv"
    provision_original_dataset(dataset)
    app = make_app(work)
    with app.app_context():
        upgrade_database()
        company = Company(public_id="BENCH-0002", name="Bench", email="bench@example.com")
        developer = Developer(
            company=company,
            name="Bench",
            email="dev@bench.example",
            password_hash="!",  # noqa: S106 - this account never logs in
            email_verified_at=utcnow(),
            approved_at=utcnow(),
        )
        db.session.add_all([company, developer])
        db.session.commit()
        started = time.perf_counter()
        ensure_default_models()
        initialize_developer_environment(developer)
        print(f"default models trained in {time.perf_counter() - started:.0f} s", flush=True)
        decisions.save_costs(
            developer,
            {
                "customer_value": "500",
                "offer_cost": "50",
                "contact_cost": "5",
                "acceptance_rate": "30%",
            },
        )
        # A network with the retrained versions' settings, registered as version 2.
        prepared = load_upload(dataset, "csv", require_target=True)
        result = training.train(
            training.build_retrain_pipeline(), "Neural Network", prepared.features, prepared.target
        )
        model_path = work / "models" / "retrained_models" / "bench" / "v2.pkl"
        digest = training.save_model(result, model_path, model_path.with_suffix(".meta.pkl"))
        version = Model(
            company_id=company.id,
            model_type=model_type_by_key("neural_network"),
            name="v2",
            version=2,
            file_path=str(model_path.relative_to(work / "models")),
            file_sha256=digest,
            details=registry.details_from_metadata(result.metadata),
            status="done",
        )
        db.session.add(version)
        db.session.commit()

        source = pd.read_csv(dataset, dtype=str, keep_default_na=False).drop(columns=["Churn"])
        rng = np.random.default_rng(42)
        frame = source.iloc[rng.integers(0, len(source), CHUNK)].reset_index(drop=True)
        frame["customerID"] = [f"{i:07d}-BNCH" for i in range(CHUNK)]
        csv_path = work / "telco_100000.csv"
        frame.to_csv(csv_path, index=False)
        chunk = pd.read_csv(csv_path, dtype=str, keep_default_na=False, engine="pyarrow")
        chunk = chunk.astype("string[pyarrow]")
        mapping = match_columns(list(chunk.columns), FEATURES)
        costs = decisions.company_costs(company)

        header = (
            f"| {'model':<20} | {'method':<12} | {'score s':>8} | {'decisions s':>11} | "
            f"{'end to end s':>12} | {'rows/s end to end':>17} |"
        )
        print(header)
        print("|" + "|".join("-" * len(c) for c in header.split("|")[1:-1]) + "|")
        models = {m.model_type.key: m for m in registry.models_for(developer) if m.is_default}
        models["retrained_network"] = version
        for kind in KINDS:
            model = models[kind]
            pipeline = registry.load_model_pipeline(model)
            decider = decisions.Decider(pipeline, model.details, costs)
            started = time.perf_counter()
            encoded = encode(pipeline, chunk, mapping, decider.layout)
            probability = estimator_of(pipeline).predict_proba(encoded.matrix)[:, 1]
            scored = time.perf_counter() - started
            started = time.perf_counter()
            decider.decide(chunk, mapping, encoded, probability)
            decided = time.perf_counter() - started
            started = time.perf_counter()
            with csv_path.open("rb") as handle:
                upload = FileStorage(stream=handle, filename=csv_path.name)
                done = predictions.create_prediction(developer, kind, model.id, upload)
            whole = time.perf_counter() - started
            assert done.status == "done", done.error
            print(
                f"| {kind:<20} | {decider.method:<12} | {scored:>8.2f} | {decided:>11.2f} | "
                f"{whole:>12.2f} | {CHUNK / whole:>17,.0f} |",
                flush=True,
            )


def paging_table(work: Path, sizes: list[int]) -> None:
    from app.services.decisions import DecisionColumns, risk_ranks
    from app.services.prediction.rowstore import RowStore, RowStoreWriter, write_ranks

    rng = np.random.default_rng(7)
    reasons = [
        "Contract = Month-to-month (+18 pts)",
        "tenure = 2 (+15 pts)",
        "InternetService = Fiber optic (+9 pts)",
    ]
    header = (
        f"| {'rows':>9} | {'open ms':>7} | {'first page ms':>13} | {'middle page ms':>14} | "
        f"{'lowest first ms':>15} | {'file order ms':>13} | {'search ms':>9} |"
    )
    print(header)
    print("|" + "|".join("-" * len(c) for c in header.split("|")[1:-1]) + "|")
    for rows in sizes:
        folder = work / f"store{rows}"
        folder.mkdir()
        paths = [folder / "t.rows.arrow", folder / "t.ranks.npy", folder / "t.order.npy"]
        writer = RowStoreWriter(paths[0])
        probability = rng.random(rows)
        for start in range(0, rows, CHUNK):
            count = min(CHUNK, rows - start)
            columns = DecisionColumns(
                reasons=[[text] * count for text in reasons],
                warnings=[""] * count,
                warned=np.zeros(count, dtype=bool),
                warned_inputs={},
                expected_value=probability[start : start + count] * 185 - 55,
                contact=probability[start : start + count] > 0.3,
            )
            ids = [f"{i:07d}-BNCH" for i in range(start, start + count)]
            writer.write(ids, probability[start : start + count], columns)
        writer.close()
        ranks, order = risk_ranks(probability)
        write_ranks(paths[1], ranks)
        write_ranks(paths[2], order)

        store = RowStore(*paths)
        opened = _timed(partial(RowStore, *paths))
        first = _timed(partial(store.page, "rank", "", 0, 50))
        middle = _timed(partial(store.page, "rank", "", rows // 2, 50))
        lowest = _timed(partial(store.page, "-rank", "", 0, 50))
        in_file = _timed(partial(store.page, "row", "", rows // 2, 50))
        search = _timed(partial(store.page, "rank", "0001234", 0, 50), repeat=5)
        print(
            f"| {rows:>9,} | {opened:>7.2f} | {first:>13.2f} | {middle:>14.2f} | "
            f"{lowest:>15.2f} | {in_file:>13.2f} | {search:>9.1f} |",
            flush=True,
        )


def _timed(action, repeat: int = 15) -> float:
    """The median time of `action` in milliseconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="page a 100k-row result, not 1M")
    parser.add_argument("--paging-only", action="store_true", help="skip the reasons table")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="churn-bench-decisions-") as tmp:
        work = Path(tmp)
        if not args.paging_only:
            reasons_table(work)
            print()
        paging_table(work, [1_000, 100_000 if args.quick else 1_000_000])


if __name__ == "__main__":
    main()
