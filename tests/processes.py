"""Real processes for the production-path tests: a free or dead port, Redis, an RQ worker and
gunicorn started from an app's settings (the same database and storage roots as the test)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import UNDER_CI

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def dead_redis_url() -> str:
    """A Redis URL where nothing listens: Redis is "down"."""
    return f"redis://127.0.0.1:{free_port()}/0"


def live_redis_url() -> str:
    """The test Redis (TEST_REDIS_URL); the test skips locally when it is not running."""
    from redis import Redis
    from redis.exceptions import RedisError

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        Redis.from_url(url, socket_connect_timeout=2).ping()
    except RedisError as error:
        if UNDER_CI:
            pytest.fail(f"CI must provide Redis at {url}: {error}")
        pytest.skip(f"Redis is not reachable at {url} ({error}); set TEST_REDIS_URL.")
    return url


def unique_queue(prefix: str = "test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


SETTINGS = (
    "MODELS_ROOT",
    "DATASETS_ROOT",
    "CACHE_DIR",
    "OUTBOX_DIR",
    "ORIGINAL_DATASET",
    "REDIS_URL",
    "RQ_QUEUE",
    "JOB_BACKEND",
    "PREDICTION_BACKGROUND_ROWS",
    "PREDICTION_CHUNK_ROWS",
    "SWEEP_INTERVAL",
    "SWEEP_GRACE_SECONDS",
)


def environment_of(app: Flask, **extra: str) -> dict[str, str]:
    """The environment that gives a new process the same settings as `app`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "COV_"))}
    env.update(
        APP_ENV="development",
        SECRET_KEY=app.config["SECRET_KEY"],
        DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        INSTANCE_PATH=str(Path(app.config["DATASETS_ROOT"]).parent / "instance"),
    )
    for name in SETTINGS:
        if app.config.get(name) is not None:
            env[name] = str(app.config[name])
    env.update(extra)
    return env


@contextlib.contextmanager
def started(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """Run `command` in its own process group; kill the group when the block ends."""
    with log.open("ab") as output:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        kill_group(process)


def kill_group(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Kill the process and every child (an RQ worker's work horse), as a crash would."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def worker_command() -> list[str]:
    return [sys.executable, "-m", "app.worker"]


def gunicorn_command(port: int, workers: int = 1) -> list[str]:
    return [
        str(BIN / "gunicorn"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--timeout",
        "60",
        "wsgi:app",
    ]


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - a loopback URL of the test
            return
        except urllib.error.HTTPError:
            return  # it answers (with an error status, which the test looks at)
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def wait_until(condition, timeout: float = 60, interval: float = 0.1, what: str = "it"):
    """Poll `condition()` until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what} did not happen within {timeout} s")
