"""The app as `make run` serves it, for bench/predict.py: gunicorn (one worker, eight threads,
the Makefile's timeout) on a free loopback port over the benchmark's work folder, warmed up by a
small prediction with the model measured, and measured from outside: the worker's resident and
peak memory (its /proc status), and the peak of any scoring child it starts (a child of its
fork server, sampled every 0.05 s while the measurement runs), so the benchmark's own HTTP
client counts in none of them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]


def bench_app():
    """gunicorn's entry point (`predict_server:bench_app()`): the benchmark's app, its
    templates compiled and its fork server started as wsgi.py does."""
    from predict_setup import make_app

    from app.services import jobs
    from app.web.templating import precompile_in_background

    app = make_app(Path(os.environ["CHURN_BENCH_WORK"]))
    precompile_in_background(app)
    jobs.warm_children(app)
    return app


def _status_mb(pid: int, field: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _cpu_ticks(pid: int) -> int:
    """User + system clock ticks `pid` has used (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(part) for part in text.split()]


class Served:
    """A running gunicorn over `work`; `stop()` ends it."""

    def __init__(self, work: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {**os.environ, "CHURN_BENCH_WORK": str(work), "PYTHONPATH": str(ROOT)}
        self.master = subprocess.Popen(
            [
                *(sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}"),
                *("--workers", "1", "--threads", "8", "--timeout", "120"),
                *("--chdir", str(ROOT / "bench"), "predict_server:bench_app()"),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                requests.get(f"{self.base}/healthz", timeout=60)
                break
            except (requests.ConnectionError, requests.Timeout):
                if time.monotonic() > deadline or self.master.poll() is not None:
                    self.master.kill()
                    raise SystemExit("gunicorn did not start") from None
                time.sleep(0.2)
        self.worker = _children(self.master.pid)[0]
        self._child_peak = 0.0
        self._sampling = threading.Event()

    def settle(self, quiet: float = 1.0, limit: float = 60) -> None:
        """Wait until the worker and its children (the fork server importing the app) use next
        to no CPU (two clock ticks in `quiet` seconds): a server that has been up a while, as
        `make run` serves."""
        deadline = time.monotonic() + limit

        def used() -> int:
            pids = [self.worker, *_children(self.worker)]
            return sum(_cpu_ticks(pid) for pid in pids)

        before = used()
        while time.monotonic() < deadline:
            time.sleep(quiet)
            now = used()
            if now - before <= 2:
                return
            before = now

    def rss_mb(self) -> float:
        return _status_mb(self.worker, "VmRSS")

    def peak_mb(self) -> float:
        return _status_mb(self.worker, "VmHWM")

    def sample_children(self) -> None:
        """Start following the peak of the worker's child processes (a scoring child)."""

        def follow() -> None:
            # The worker's children are the fork server (and Python's resource tracker); a
            # scoring child is a child of the fork server.
            while not self._sampling.wait(0.05):
                for server in _children(self.worker):
                    for child in _children(server):
                        self._child_peak = max(self._child_peak, _status_mb(child, "VmHWM"))

        threading.Thread(target=follow, daemon=True).start()

    def child_peak_mb(self) -> float:
        self._sampling.set()
        return self._child_peak

    def stop(self) -> None:
        self._sampling.set()
        self.master.terminate()
        try:
            self.master.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.master.kill()
