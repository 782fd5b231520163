"""The production stack for the load and fault benchmarks, started the way an operator would:
APP_ENV=production, PostgreSQL (a database of the benchmark's own), Redis with a queue of its
own, gunicorn, RQ workers and the sweep as separate processes, storage under bench/out/<name>/.

Only loopback addresses are used. Nothing of the machine's shared PostgreSQL or Redis is
restarted or emptied: the benchmark creates (and drops) its own database and queue.
"""

from __future__ import annotations

import contextlib
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG_SERVER = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
MODELS_CACHE = ROOT / "bench" / "out" / "default-models"  # trained once, kept between runs


def loopback_only(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"The benchmarks only run against 127.0.0.1 (not {host}).")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fresh_database(name: str) -> str:
    """Drop and create database `name` on the benchmark's PostgreSQL; its SQLAlchemy URL."""
    loopback_only(PG_SERVER)
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{PG_SERVER.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"


def drop_database(name: str) -> None:
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def environment(name: str, database_url: str, **extra: str) -> dict[str, str]:
    """Production settings for every process of the stack."""
    loopback_only(REDIS_URL)
    out = ROOT / "bench" / "out" / name
    shutil.rmtree(out, ignore_errors=True)
    (out / "models").mkdir(parents=True)
    MODELS_CACHE.mkdir(parents=True, exist_ok=True)
    (out / "models" / "default_models").symlink_to(MODELS_CACHE, target_is_directory=True)
    env = dict(os.environ)
    env.update(
        APP_ENV="production",
        SECRET_KEY=secrets.token_hex(32),
        DATABASE_URL=database_url,
        REDIS_URL=REDIS_URL,
        RQ_QUEUE=f"churnbuster-{name}-{os.getpid()}",
        MODELS_ROOT=str(out / "models"),
        DATASETS_ROOT=str(out / "datasets"),
        CACHE_DIR=str(out / "cache"),
        OUTBOX_DIR=str(out / "outbox"),
        INSTANCE_PATH=str(out / "instance"),
        ORIGINAL_DATASET=str(ROOT / "DatasetA.csv"),
        # The load client says it came through a TLS proxy (as production runs).
        PROXY_COUNT="1",
    )
    env.update(extra)
    return env


def setup(env: dict[str, str]) -> None:
    """Migrations and the default models (trained once into bench/out/default-models)."""
    for script in ("create_database.py", "model_initialization.py"):
        subprocess.run([sys.executable, script], cwd=ROOT, env=env, check=True, capture_output=True)


@contextlib.contextmanager
def process(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        stop(proc, signal.SIGTERM)


def stop(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Signal the process's whole group (a worker and its work horse), then reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def gunicorn(port: int, workers: int) -> list[str]:
    """The Procfile's web line."""
    return [
        str(BIN / "gunicorn"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        "4",
        "--timeout",
        "120",
        "wsgi:app",
    ]


def worker() -> list[str]:
    return [sys.executable, "-m", "app.worker"]


def sweeper(every: int) -> list[str]:
    return [str(BIN / "flask"), "--app", "app", "sweep", "--every", str(every)]


def wait_for(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - loopback only
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {timeout} s")


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    with psycopg.connect(f"{PG_SERVER}/postgres") as connection:
        server = connection.execute("SHOW server_version").fetchone()[0]
    return (
        f"{os.cpu_count()} cores ({cpu}){memory}, Python {platform.python_version()}, "
        f"PostgreSQL {server}, {platform.system()} {platform.release()}"
    )
