"""The files and the app `bench/predict.py` measures: a database with one developer and the five
default models trained on the full DatasetA.csv, Telco-shaped files resampled from it with fresh
customer IDs (CSV, and .xlsx with numbers as numbers), each read back to check it is filled."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

EMAIL, PASSWORD = "dev@bench.example", "bench-password-not-common-42"


def secret_key(work: Path) -> str:
    """The benchmark's signing key: SECRET_KEY from the environment, else one generated into
    the work folder on first use, so every side's process signs (and checks) alike."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = work / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()


def make_app(work: Path):
    from app import create_app

    return create_app(
        "testing",
        SECRET_KEY=secret_key(work),  # the same in every side's process
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{work / 'bench.sqlite3'}",
        MODELS_ROOT=str(work / "models"),
        DATASETS_ROOT=str(work / "datasets"),
        CACHE_DIR=str(work / "cache"),
        ORIGINAL_DATASET=str(work / "DatasetA.csv"),
        PREDICTION_BACKGROUND_ROWS=20_000,  # as shipped: larger files go to the job
    )


def setup(work: Path, csv_sizes: list[int], xlsx_sizes: list[int]) -> dict[str, Path]:
    import numpy as np
    import pandas as pd
    from werkzeug.security import generate_password_hash

    from app.extensions import db
    from app.schema import Company, Developer, utcnow
    from app.services.database import upgrade_database
    from app.services.environment import initialize_developer_environment
    from app.services.registry.default_models import ensure_default_model_files
    from app.services.storage.original_data import provision_original_dataset

    dataset = work / "DatasetA.csv"
    provision_original_dataset(dataset)
    app = make_app(work)
    with app.app_context():
        upgrade_database()
        started = time.perf_counter()
        ensure_default_model_files(dataset)  # the five defaults, trained on the full data set
        print(f"default models trained in {time.perf_counter() - started:.0f} s", flush=True)
        company = Company(public_id="BENCH-0001", name="Bench", email="bench@example.com")
        developer = Developer(
            company=company,
            name="Bench",
            email=EMAIL,
            password_hash=generate_password_hash(PASSWORD),
            email_verified_at=utcnow(),
            approved_at=utcnow(),
        )
        db.session.add_all([company, developer])
        db.session.commit()
        initialize_developer_environment(developer)

    source = pd.read_csv(dataset, dtype=str, keep_default_na=False)
    rng = np.random.default_rng(42)
    files: dict[str, Path] = {}
    for rows in sorted(set(csv_sizes) | set(xlsx_sizes)):
        frame = source.iloc[rng.integers(0, len(source), rows)].reset_index(drop=True)
        frame["customerID"] = [f"{i:07d}-BNCH" for i in range(rows)]
        if rows in csv_sizes:
            path = work / f"telco_{rows}.csv"
            frame.to_csv(path, index=False)
            files[f"csv{rows}"] = check_filled(path, rows)
        if rows in xlsx_sizes:
            files[f"xlsx{rows}"] = check_filled(write_workbook(work, frame), rows)
    return files


def write_workbook(work: Path, frame):
    """A workbook as a spreadsheet would hold it: numbers as numbers, the rest as text."""
    import pyarrow as pa

    from app.services.prediction.xlsx_result import XlsxResult

    path = work / f"telco_{len(frame)}.xlsx"
    numbers = ["SeniorCitizen", "tenure", "MonthlyCharges", "TotalCharges"]
    nothing_added = pa.table({})
    with XlsxResult(path, list(frame.columns), [], numbers, len(frame)) as out:
        for start in range(0, len(frame), 100_000):
            out.write(frame.iloc[start : start + 100_000], nothing_added)
    return path


def check_filled(path: Path, rows: int) -> Path:
    """Read the generated file back: every row there and every column filled (DatasetA's few
    blank TotalCharges aside)."""
    if path.suffix == ".csv":
        from pyarrow import csv as pa_csv

        table = pa_csv.read_csv(path).to_pandas()
    else:
        import pandas as pd

        table = pd.read_excel(path, engine="calamine")
    assert len(table) == rows, (path, len(table))
    for name in table.columns:
        filled = (table[name].astype(str).str.strip() != "") & table[name].notna()
        assert filled.mean() > 0.99, f"{path.name}: column {name} is not filled"
    print(f"{path.name}: {rows:,} rows, {len(table.columns)} columns, all filled", flush=True)
    return path
