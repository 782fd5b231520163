"""Fault benchmark: kill the RQ worker mid-job and restart nothing; how long until every row is
consistent again?

The production processes run as `make prod` runs them (APP_ENV=production, PostgreSQL, Redis,
an RQ worker and `flask sweep --every N`). Two faults, each a SIGKILL of the worker's process
group in the middle of a job (no exception, no clean-up, as when a machine or container dies):

1. a 200,000-row prediction being scored (a partial result file is being written);
2. a retrain being trained (its combined data set has been written and recorded).

After the kill nothing is restarted by hand: the sweep process alone must mark the row failed
and remove what the killed run left (the partial file after the grace period, the combined data
set and its row at once). "Consistent" means: no row queued or running, no combined data set
that no successful run uses, no `.tmp` file and no data file that no row references.

The sweep interval and grace period are shortened for the benchmark (`--interval`, `--grace`;
production defaults: 60 s and JOB_TIMEOUT + 15 min). Only 127.0.0.1 is used; the database
`churnbuster_faults` and the RQ queue are the benchmark's own.

    .venv/bin/python bench/faults.py [--interval 5] [--grace 10]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import stack

DATABASE = "churnbuster_faults"
PREDICTION_ROWS = 200_000
TOKEN = re.compile(r"[0-9a-f]{32}")


def build_app(env: dict[str, str]):
    os.environ.update(env)
    from app import create_app

    return create_app()


def seed(app) -> int:
    from app.extensions import db
    from app.schema import Company, Developer, utcnow
    from app.services.environment import initialize_developer_environment

    with app.app_context():
        company = Company(public_id="BNCH-FLT-0001", name="Faults Co", email="owner@f.example")
        developer = Developer(
            company=company,
            name="Faults Dev",
            email="dev@f.example",
            password_hash="!",  # noqa: S106 - matches no password: never logs in
            email_verified_at=utcnow(),
            approved_at=utcnow(),
        )
        db.session.add_all([company, developer])
        db.session.commit()
        initialize_developer_environment(developer)
        return developer.id


def problems(app) -> list[str]:
    """What is not consistent now (empty when everything is)."""
    from sqlalchemy import select

    from app.extensions import db
    from app.schema import IN_PROGRESS, Dataset, Model, Prediction, WorkStatus
    from app.services import storage

    found: list[str] = []
    with app.app_context():
        for table in (Prediction, Model):
            for row in db.session.scalars(select(table).where(table.status.in_(IN_PROGRESS))):
                found.append(f"{table.__name__} {row.id} is {row.status}")
        used = set(
            db.session.scalars(
                select(Model.training_dataset_id).where(Model.status == WorkStatus.DONE)
            )
        )
        for dataset in db.session.scalars(select(Dataset).filter_by(kind="combined")):
            if dataset.id not in used:
                found.append(f"combined data set {dataset.id} of no successful run")
        paths = list(db.session.scalars(select(Dataset.path)))
        paths += [p for p in db.session.scalars(select(Prediction.result_path)) if p]
        referenced = {m.group() for p in paths if (m := TOKEN.search(p))}
        for root in (storage.datasets_root(), storage.models_root()):
            for path in root.rglob("*"):
                if not path.is_file():
                    continue
                if path.name.endswith(".tmp"):
                    found.append(f"partial file {path.name}")
                elif (
                    root == storage.datasets_root()
                    and (m := TOKEN.search(path.name))
                    and m.group() not in referenced
                ):
                    found.append(f"orphaned file {path.name}")
        db.session.remove()
    return found


def row_state(app, table_name: str, row_id: int) -> tuple[str, int]:
    from app.extensions import db
    from app.schema import Model, Prediction

    table = {"prediction": Prediction, "run": Model}[table_name]
    with app.app_context():
        row = db.session.get(table, row_id)
        state = (row.status, row.progress, row.training_dataset_id if table is Model else None)
        db.session.remove()
    return state


def wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise SystemExit(f"Gave up waiting for {what} after {timeout} s")


def fault(app, env, out, name: str, start_job, running) -> float:
    """Start a job, kill its worker once `running(row_id)`, time until consistent."""
    with stack.process(stack.worker(), env, out / f"worker-{name}.log") as worker:
        row_id = start_job()
        wait(lambda: running(row_id), 300, f"the {name} to be under way")
        killed = time.monotonic()
        stack.stop(worker)  # SIGKILL of the worker and its work horse
    left = problems(app)
    print(f"  killed mid-job; left behind: {'; '.join(left) or 'nothing'}", flush=True)
    wait(lambda: not problems(app), 600, "consistency")
    elapsed = time.monotonic() - killed
    print(f"  consistent again {elapsed:.1f} s after the kill, nothing restarted", flush=True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=int, default=5, help="SWEEP_INTERVAL, seconds")
    parser.add_argument("--grace", type=int, default=10, help="SWEEP_GRACE_SECONDS")
    args = parser.parse_args()

    database_url = stack.fresh_database(DATABASE)
    env = stack.environment(
        "faults",
        database_url,
        SWEEP_INTERVAL=str(args.interval),
        SWEEP_GRACE_SECONDS=str(args.grace),
        PREDICTION_BACKGROUND_ROWS="1000",
        PREDICTION_CHUNK_ROWS="10000",
    )
    out = Path(env["MODELS_ROOT"]).parent
    print(f"Machine: {stack.machine()}")
    print(f"Sweep every {args.interval} s, grace period {args.grace} s", flush=True)
    stack.setup(env)
    app = build_app(env)
    developer_id = seed(app)
    frame = pd.read_csv(stack.ROOT / "DatasetA.csv", dtype=str, keep_default_na=False)

    from werkzeug.datastructures import FileStorage

    from app.extensions import db
    from app.schema import Developer
    from app.services import registry, retraining
    from app.services.prediction import create_prediction

    def upload(data: pd.DataFrame) -> FileStorage:
        import io

        return FileStorage(stream=io.BytesIO(data.to_csv(index=False).encode()), filename="u.csv")

    def start_prediction() -> int:
        big = frame.sample(PREDICTION_ROWS, replace=True, random_state=2)
        with app.app_context():
            developer = db.session.get(Developer, developer_id)
            model = registry.models_for(developer)[0]
            prediction_id = create_prediction(developer, "big", model.id, upload(big)).id
            db.session.remove()
        return prediction_id

    def start_retrain() -> int:
        new = frame.sample(2000, random_state=3).assign(
            customerID=[f"FLT-{i:05d}" for i in range(2000)]
        )
        with app.app_context():
            developer = db.session.get(Developer, developer_id)
            run_id = retraining.start_retrain(developer, "killed", upload(new)).id
            db.session.remove()
        return run_id

    results = {}
    with stack.process(stack.sweeper(args.interval), env, out / "sweep.log"):
        print(f"1. Worker killed while scoring a {PREDICTION_ROWS:,}-row prediction")
        results["prediction"] = fault(
            app,
            env,
            out,
            "prediction",
            start_prediction,
            lambda i: (state := row_state(app, "prediction", i))[0] == "running" and state[1] >= 5,
        )
        print("2. Worker killed while training a retrain (combined data set recorded)")
        results["retrain"] = fault(
            app,
            env,
            out,
            "retrain",
            start_retrain,
            lambda i: (
                (state := row_state(app, "run", i))[0] == "running" and state[1] >= 20 and state[2]
            ),
        )
    print(
        "Summary: consistent again "
        + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in results.items())
        + f" after the kill (sweep every {args.interval} s, grace {args.grace} s)"
    )
    swept = (out / "sweep.log").read_text()
    for line in swept.splitlines():
        if "Sweep: " in line:
            print("  sweep log:", line.split("Sweep: ", 1)[1])
    with app.app_context():
        db.engine.dispose()
    stack.drop_database(DATABASE)


if __name__ == "__main__":
    main()
