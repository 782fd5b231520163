"""Benchmark: one retrain on DatasetA.csv plus a 1,000-row upload, and the web's latency meanwhile.

Everything lives in a temporary folder (database, storage roots); the default models, which this
benchmark does not measure, are trained on a 1,500-row sample to get there quickly. A real HTTP
server (werkzeug, threaded, loopback port) serves /developer/datasets to 4 threads x 50 requests,
once idle and once while the retrain runs on the in-process job thread.

    .venv/bin/python bench/retrain.py
"""

from __future__ import annotations

import http.client
import io
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from werkzeug.datastructures import FileStorage
from werkzeug.security import generate_password_hash
from werkzeug.serving import make_server

from app import create_app
from app.extensions import db
from app.schema import Company, Developer, Model, utcnow
from app.services import jobs, retraining
from app.services.accounts import open_session
from app.services.database import upgrade_database
from app.services.environment import initialize_developer_environment
from app.services.registry.default_models import ensure_default_model_files
from app.services.storage.original_data import provision_original_dataset

UPLOAD_ROWS = 1_000
REPEATED_IDS = 50
THREADS, REQUESTS = 4, 50
PAGE = "/developer/datasets"


def upload_bytes(original: Path) -> bytes:
    frame = pd.read_csv(original, dtype=str, keep_default_na=False)
    sample = frame.sample(n=UPLOAD_ROWS, random_state=7).reset_index(drop=True)
    fresh = [f"BENCH-{i:05d}" for i in range(UPLOAD_ROWS)]
    sample["customerID"] = list(sample["customerID"][:REPEATED_IDS]) + fresh[REPEATED_IDS:]
    return sample.to_csv(index=False).encode()


def load(port: int, cookie: str) -> list[float]:
    """THREADS x REQUESTS GETs of PAGE; returns every latency in milliseconds."""
    latencies: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(REQUESTS):
            start = time.perf_counter()
            connection.request("GET", PAGE, headers={"Cookie": cookie})
            response = connection.getresponse()
            response.read()
            assert response.status == 200, response.status
            with lock:
                latencies.append((time.perf_counter() - start) * 1000)
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-retrain-"))
    original = root / "DatasetA.csv"
    provision_original_dataset(original)
    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{root / 'bench.sqlite3'}",
        MODELS_ROOT=str(root / "models"),
        DATASETS_ROOT=str(root / "datasets"),
        CACHE_DIR=str(root / "cache"),
        ORIGINAL_DATASET=str(original),
        JOB_BACKEND="thread",
    )
    with app.app_context():
        upgrade_database()
        ensure_default_model_files(original, sample_rows=1500)
        company = Company(public_id="BENCH-0001", name="Bench Co", email="owner@bench.example")
        developer = Developer(
            company=company,
            name="Bench Dev",
            email="dev@bench.example",
            password_hash=generate_password_hash("bench password"),
            email_verified_at=utcnow(),
            approved_at=utcnow(),
        )
        db.session.add_all([company, developer])
        db.session.commit()
        initialize_developer_environment(developer)
        serializer = app.session_interface.get_signing_serializer(app)
        session_id = open_session(developer).get_id()
        session = serializer.dumps({"_user_id": session_id, "_fresh": True})
        cookie = f"{app.config['SESSION_COOKIE_NAME']}={session}"
        data = upload_bytes(original)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_port
    try:
        load(port, cookie)  # warm-up
        idle = load(port, cookie)

        with app.app_context():
            started = time.perf_counter()
            run = retraining.start_retrain(
                developer, "bench", FileStorage(stream=io.BytesIO(data), filename="upload.csv")
            )
            run_id = run.id
        busy: list[float] = []
        while True:
            busy.extend(load(port, cookie))
            with app.app_context():
                status = db.session.get(Model, run_id).status
                db.session.remove()
            if status not in ("queued", "running"):
                break
        with app.app_context():
            jobs.wait_for_idle(app)
            run = db.session.get(Model, run_id)
            elapsed = time.perf_counter() - started
            print(f"retrain: status {run.status}, v{run.version}, {elapsed:.1f} s end to end")
            print(
                f"  combined data set: {run.training_dataset.row_count:,} rows "
                f"({run.training_dataset.replaced_rows} replaced), "
                f"AUC {run.metric('AUC'):.3f}, accuracy {run.metric('Accuracy'):.3f}"
            )
    finally:
        server.shutdown()
    print(f"GET {PAGE}, {THREADS} threads x {REQUESTS} requests:")
    print(f"  idle:            p95 {p95(idle):6.1f} ms  median {statistics.median(idle):6.1f} ms")
    print(
        f"  during retrain:  p95 {p95(busy):6.1f} ms  median {statistics.median(busy):6.1f} ms"
        f"  ({len(busy)} requests)"
    )
    print(f"(files under {root})")


if __name__ == "__main__":
    main()
