"""Benchmark: the whole HTTP path of a prediction against the bare script and a near-limit.

    .venv/bin/python bench/predict.py [--quick] [--repeat N]      (or BENCH_QUICK=1)

It generates Telco-shaped files by resampling DatasetA.csv with fresh customer IDs (10k, 100k
and 1M-row CSVs; 100k and 350k-row .xlsx, written with numbers as numbers), reads each back to
check that every column is really filled, trains the five default models once, and measures
three sides per case, each in its own subprocess (so each peak memory is that side's own),
interleaved (app, bare, near, app, bare, near, …), and keeps the fastest of `--repeat` (3):

  app:  the real app served over HTTP on a loopback port as `make run` serves it (gunicorn,
        one worker, eight threads: `predict_server.py`; embedded defaults: SQLite, the thread
        job back end, PREDICTION_BACKGROUND_ROWS as shipped), warmed by a 200-row prediction:
        log in, POST the file to /developer/predict, poll the page's JSON status (every 0.05 s,
        an eager client) until it is done, GET the result page, GET the download until its
        last byte. Risk rank, input warnings, drift and (a linear model's, or any model's
        below PREDICTION_REASONS_LATER_ROWS) reasons included, as the product ships. When a
        second job adds the reasons, "+reasons s" is the time until the result with reasons
        has been downloaded too (polled and downloaded again).
  bare: what a data scientist's script does: pandas.read_csv (read_excel) + the same fitted
        pipeline's predict_proba + to_csv (to_excel).
  near: a near-limit: pyarrow's CSV reader + the app's fast encoder and the estimator's
        predict_proba + pyarrow's CSV writer (for .xlsx: calamine + predict_proba + the app's
        column writer).

Every side starts with the fitted pipeline loaded (a web process keeps it cached). It prints
the seconds of each side, app ÷ bare and app ÷ near (≤ 1 means the app is not slower), the
peak resident memory of each side's process (for the app: the gunicorn worker's, plus a scoring
child's when the job ran in one), and the worker's resident memory before the upload and
after the job (it should return close to its idle size).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from predict_server import Served  # noqa: E402  (bench/ is on the path)
from predict_setup import EMAIL, PASSWORD, make_app, setup  # noqa: E402

KINDS = [
    "logistic_regression",
    "gradient_boosting",
    "random_forest",
    "neural_network",
    "decision_tree",
]
ONE_MODEL = "logistic_regression"
SIDES = ("app", "bare", "near")


def memory_mb(field: str) -> float:
    """VmHWM (peak) or VmRSS (now) of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# One side per subprocess ---------------------------------------------------------------------


def pipeline_of(work: Path, kind: str):
    import joblib

    return joblib.load(work / "models" / "default_models" / f"{kind}.pkl")


def run_bare(work: Path, kind: str, path: Path) -> dict:
    import numpy as np
    import pandas as pd

    from app.services.preprocessing import FEATURES

    pipeline = pipeline_of(work, kind)
    started = time.perf_counter()
    is_csv = path.suffix == ".csv"
    frame = pd.read_csv(path) if is_csv else pd.read_excel(path, engine="calamine")
    features = frame[FEATURES].copy()
    features["TotalCharges"] = pd.to_numeric(features["TotalCharges"], errors="coerce")
    features["SeniorCitizen"] = features["SeniorCitizen"].map({0: "No", 1: "Yes"})
    probability = pipeline.predict_proba(features)[:, 1]
    frame["Churn Prediction"] = np.where(probability >= 0.5, "Yes", "No")
    frame["Churn Probability"] = probability.round(4)
    if path.suffix == ".csv":
        frame.to_csv(work / "bare_result.csv", index=False)
    else:
        frame.to_excel(work / "bare_result.xlsx", index=False)
    return {"seconds": time.perf_counter() - started, "rows": len(frame)}


def run_near(work: Path, kind: str, path: Path) -> dict:
    import numpy as np
    import pyarrow as pa

    from app.services.preprocessing import FEATURES, ID_COLUMN
    from app.services.preprocessing.encoding import churn_probabilities

    pipeline = pipeline_of(work, kind)
    mapping = {name: name for name in [ID_COLUMN, *FEATURES]}
    started = time.perf_counter()
    if path.suffix == ".csv":
        from pyarrow import csv as pa_csv

        with path.open(encoding="utf-8") as handle:
            names = handle.readline().strip().split(",")
        table = pa_csv.read_csv(
            path,
            convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(names, pa.string())),
        )
        probability = churn_probabilities(pipeline, table.to_pandas(), mapping)
        table = table.append_column(
            "Churn Prediction", pa.array(np.where(probability >= 0.5, "Yes", "No"))
        ).append_column("Churn Probability", pa.array(probability.round(4)))
        pa_csv.write_csv(table, work / "near_result.csv")
        rows = table.num_rows
    else:
        import pandas as pd

        from app.services.prediction.xlsx_result import XlsxResult

        frame = pd.read_excel(path, engine="calamine")
        features = frame[FEATURES].copy()
        features["SeniorCitizen"] = features["SeniorCitizen"].map({0: "No", 1: "Yes"})
        features["TotalCharges"] = pd.to_numeric(features["TotalCharges"], errors="coerce")
        probability = pipeline.predict_proba(features)[:, 1]
        added = pa.table(
            {
                "Churn Prediction": np.where(probability >= 0.5, "Yes", "No"),
                "Churn Probability": probability.round(4),
            }
        )
        text = frame.astype(str)
        numbers = [c for c in frame.columns if frame[c].dtype.kind in "if"]
        with XlsxResult(
            work / "near_result.xlsx", list(frame.columns), added.column_names, numbers, len(frame)
        ) as out:
            out.write(text, added)
        rows = len(frame)
    return {"seconds": time.perf_counter() - started, "rows": rows}


def run_app(work: Path, kind: str, path: Path) -> dict:
    import requests
    from sqlalchemy import select

    from app.extensions import db
    from app.schema import Developer
    from app.services import registry

    app = make_app(work)
    with app.app_context():
        developer = db.session.scalars(select(Developer)).one()
        model = next(
            m for m in registry.models_for(developer) if m.is_default and m.model_type.key == kind
        )
        model_id = model.id
        db.session.remove()
    server = Served(work)
    try:
        client = requests.Session()
        answer = client.post(
            f"{server.base}/auth/login", data={"email": EMAIL, "password": PASSWORD}
        )
        assert answer.url.endswith("/developer/"), answer.url
        # Warm, as a running server is: templates compiled, the model loaded and cached.
        warm = work / "warm.csv"
        if not warm.exists():
            warm.write_text("".join((work / "DatasetA.csv").open().readlines()[:201]))
        predict(client, server.base, model_id, warm)
        server.settle()
        idle = server.rss_mb()
        server.sample_children()

        started = time.perf_counter()
        page_url = predict(client, server.base, model_id, path)
        status = wait_for(client, page_url, lambda s: s["status"] in ("done", "failed"))
        page = client.get(page_url)
        assert status["status"] == "done" and "Highest-risk customers" in page.text, status
        target = work / f"app_result{path.suffix}"
        download_to(client, page_url, target)
        seconds = time.perf_counter() - started
        with_reasons = None
        if status["reasons"] != "done":  # reasons added by a second job: until downloadable
            status = wait_for(client, page_url, lambda s: s["reasons"] not in ("queued", "running"))
            assert status["reasons"] == "done", status
            download_to(client, page_url, target)
            with_reasons = time.perf_counter() - started
        time.sleep(0.5)
        after, peak, child = server.rss_mb(), server.peak_mb(), server.child_peak_mb()
    finally:
        server.stop()
    return {
        "seconds": seconds,
        "with_reasons": with_reasons,
        "rows": count_rows(target),
        "idle_mb": idle,
        "after_mb": after,
        "peak_mb": peak,
        "child_peak_mb": child,
    }


def predict(client, base: str, model_id: int, path: Path) -> str:
    """POST `path` to the prediction form; the result page's URL."""
    with path.open("rb") as handle:
        posted = client.post(
            f"{base}/developer/predict",
            data={"name": "bench", "model_id": str(model_id)},
            files={"file": (path.name, handle)},
            allow_redirects=False,
        )
    assert posted.status_code == 302, posted.text[:2000]
    location = posted.headers["Location"]
    return f"{base}{location}" if location.startswith("/") else location


def wait_for(client, page_url: str, done) -> dict:
    """Poll the page's JSON status (every 0.05 s, an eager client) until `done(status)`."""
    while True:
        status = client.get(f"{page_url}/status").json()
        if done(status):
            return status
        time.sleep(0.05)


def download_to(client, page_url: str, target: Path) -> None:
    with client.get(f"{page_url}/download", stream=True) as download, target.open("wb") as out:
        download.raise_for_status()
        for block in download.iter_content(1 << 20):
            out.write(block)


def count_rows(path: Path) -> int:
    if path.suffix == ".csv":
        from pyarrow import csv as pa_csv

        return pa_csv.read_csv(path).num_rows
    from python_calamine import CalamineWorkbook

    return len(CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()) - 1


def side(work: Path, name: str, kind: str, path: Path) -> dict:
    command = [sys.executable, __file__, "--side", name, kind, str(path), "--work", str(work)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{name} {kind} {path.name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# The table -----------------------------------------------------------------------------------

COLUMNS = [
    ("model", 19),
    ("file", 18),
    ("app s", 7),
    ("+reasons s", 10),
    ("bare s", 7),
    ("near s", 7),
    ("app÷bare", 8),
    ("app÷near", 8),
    ("app MB", 9),
    ("bare MB", 7),
    ("near MB", 7),
    ("web MB idle→after", 17),
]


def app_peak(app: dict) -> str:
    """The web process's peak, and the scoring child's when the job ran in one."""
    child = app.get("child_peak_mb") or 0
    if child > 50:  # a child that scored (not just a helper process)
        return f"{app['peak_mb']:,.0f}+{child:,.0f}"
    return f"{app['peak_mb']:,.0f}"


def row_line(values: list[str]) -> str:
    return "| " + " | ".join(f"{v:>{w}}" for v, (_, w) in zip(values, COLUMNS, strict=True)) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        default=bool(os.environ.get("BENCH_QUICK")),
        help="LR only, 10k and 100k CSV and the 100k workbook, best of 1",
    )
    parser.add_argument("--repeat", type=int, default=None, help="runs of each side (3)")
    parser.add_argument(
        "--large-repeat", type=int, default=None, help="runs of the 350k and 1M cases (--repeat)"
    )
    parser.add_argument(
        "--cases", default="", help="only these files, e.g. csv1000000,xlsx350000 (all)"
    )
    parser.add_argument("--kinds", default="", help="only these model kinds, comma-separated")
    parser.add_argument("--side", nargs=3, metavar=("SIDE", "KIND", "PATH"))
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()

    if args.side:
        name, kind, path = args.side
        runner = {"app": run_app, "bare": run_bare, "near": run_near}[name]
        result = runner(args.work, kind, Path(path))
        result.setdefault("peak_mb", memory_mb("VmHWM"))
        result.setdefault("child_peak_mb", 0.0)
        print(json.dumps(result))
        return

    repeat = args.repeat or (1 if args.quick else 3)
    large_repeat = args.large_repeat or repeat
    csv_sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    xlsx_sizes = [100_000] if args.quick else [100_000, 350_000]
    kinds = [ONE_MODEL] if args.quick else KINDS
    if args.kinds:
        kinds = [kind for kind in KINDS if kind in args.kinds.split(",")]
    with tempfile.TemporaryDirectory(prefix="churn-bench-") as tmp:
        work = Path(tmp)
        files = setup(work, csv_sizes, xlsx_sizes)
        # The figures that matter most first, so that a run cut short still says the most.
        plan = [(kind, "csv100000") for kind in kinds] + [(ONE_MODEL, "xlsx100000")]
        plan += [(kind, "csv10000") for kind in kinds]
        plan += [(kind, f"csv{rows}") for rows in csv_sizes if rows > 100_000 for kind in kinds]
        plan += [(ONE_MODEL, f"xlsx{rows}") for rows in xlsx_sizes if rows > 100_000]
        if args.cases:
            wanted = set(args.cases.split(","))
            plan = [(kind, key) for kind, key in plan if key in wanted]
        lines = [row_line([name for name, _ in COLUMNS])]
        lines.append("|" + "|".join("-" * (w + 2) for _, w in COLUMNS) + "|")
        print(
            f"{os.cpu_count()} cores; best of {repeat} (of {large_repeat} above 100k rows); "
            "sides interleaved",
            flush=True,
        )
        print(lines[0], flush=True)
        for kind, key in plan:
            path = files[key]
            best: dict[str, dict] = {}
            rows = int(key.lstrip("csvxl"))
            for _ in range(repeat if rows <= 100_000 else large_repeat):
                for name in SIDES:
                    result = side(work, name, kind, path)
                    if name == "app":
                        assert result["rows"] == rows, result
                    if name not in best or result["seconds"] < best[name]["seconds"]:
                        best[name] = result
            app, bare, near = (best[name] for name in SIDES)
            line = row_line(
                [
                    kind,
                    f"{path.name}",
                    f"{app['seconds']:.2f}",
                    "" if app["with_reasons"] is None else f"{app['with_reasons']:.2f}",
                    f"{bare['seconds']:.2f}",
                    f"{near['seconds']:.2f}",
                    f"{app['seconds'] / bare['seconds']:.2f}",
                    f"{app['seconds'] / near['seconds']:.2f}",
                    app_peak(app),
                    f"{bare['peak_mb']:,.0f}",
                    f"{near['peak_mb']:,.0f}",
                    f"{app['idle_mb']:,.0f}→{app['after_mb']:,.0f}",
                ]
            )
            lines.append(line)
            print(line, flush=True)
        print()
        print("\n".join(lines))


if __name__ == "__main__":
    main()
