"""Load benchmark: the mixed scenario at 10, 50 and 100 concurrent users against the production
stack (gunicorn with 4 workers, PostgreSQL, Redis and an RQ worker; APP_ENV=production).

Each virtual user first logs in through the form (all at once; reported on its own line),
then, for the level's time and without pause: browses (home, models, history, a page of
history, one of their predictions: 75 %), predicts 1,000 rows (upload, follow the page until
the result is ready, download it: 15 %), or downloads a result again (10 %). By default uploads
above 500 rows are scored by the RQ worker (`--background-rows`), so every prediction goes
through the queue. Requests carry X-Forwarded-Proto: https (PROXY_COUNT=1), as behind the TLS
proxy of a real installation.

Prints requests/s, p50/p95/p99 latency per kind of request, errors, and the predictions'
turnaround (upload to result). Only 127.0.0.1 is used; the database `churnbuster_bench` and the
RQ queue are the benchmark's own.

    .venv/bin/python bench/load.py [--users 10 50 100] [--duration 30] [--background-rows 500]
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import statistics
import sys
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import stack

DATABASE = "churnbuster_bench"
PASSWORD = "bench password 2024!"  # noqa: S105 - the benchmark accounts' password
UPLOAD_ROWS = 1000
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
MODEL_OPTION = re.compile(r'<option[^>]*value="(\d+)"')
PREDICTION_LINK = re.compile(r'href="/user/predictions/(\d+)"')


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    turnarounds: list[float] = field(default_factory=list)
    submitted: int = 0
    unfinished: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, seconds: float, ok: bool, detail: str = "") -> None:
        with self.lock:
            self.latencies[kind].append(seconds * 1000)
            if not ok:
                self.errors[f"{kind}: {detail}"] += 1


class VirtualUser:
    """One person in a browser: a connection, cookies, and what they did."""

    def __init__(self, port: int, email: str, number: int, results: Results, upload: bytes):
        self.port, self.email, self.results, self.upload = port, email, results, upload
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookies: dict[str, str] = {}
        self.address = f"10.{number // 250}.{number % 250}.1"
        self.predictions: list[int] = []

    def request(self, kind: str, method: str, path: str, body=None, headers=None, expect=(200,)):
        base = f"https://127.0.0.1:{self.port}"
        all_headers = {
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": self.address,
            "Referer": f"{base}/",
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
            **(headers or {}),
        }
        started = time.perf_counter()
        for attempt in (1, 2):
            try:
                self.connection.request(method, path, body=body, headers=all_headers)
                response = self.connection.getresponse()
                data = response.read()
                break
            except (OSError, http.client.HTTPException) as error:
                self.connection.close()
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                # The server closed an idle keep-alive connection just as it was reused: a
                # browser sends the request again on a new connection, and so does this one.
                stale = isinstance(
                    error, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
                )
                if attempt == 1 and stale:
                    continue
                self.results.record(
                    kind, time.perf_counter() - started, False, type(error).__name__
                )
                return None, b"", {}
        self.results.record(
            kind, time.perf_counter() - started, response.status in expect, str(response.status)
        )
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, value = header.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value.strip()
        return response.status, data, response.headers

    def log_in(self) -> None:
        _, page, _ = self.request("login page", "GET", "/auth/login")
        token = CSRF.search(page.decode())
        form = {"email": self.email, "password": PASSWORD, "csrf_token": token and token.group(1)}
        self.request(
            "log in",
            "POST",
            "/auth/login",
            urlencode(form),
            {"Content-Type": "application/x-www-form-urlencoded"},
            expect=(302,),
        )

    def browse(self) -> None:
        pages = ["/user/", "/user/models", "/user/predictions", "/user/predictions?page=2"]
        if self.predictions:
            pages.append(f"/user/predictions/{random.choice(self.predictions)}")
        path = random.choice(pages)
        status, page, _ = self.request("browse", "GET", path)
        if status == 200 and path == "/user/predictions" and not self.predictions:
            self.predictions = [int(i) for i in PREDICTION_LINK.findall(page.decode())]

    def predict(self, deadline: float) -> None:
        _, page, _ = self.request("predict form", "GET", "/user/predict")
        text = page.decode()
        token, models = CSRF.search(text), MODEL_OPTION.findall(text)
        if not token or not models:
            self.results.record("predict", 0, False, "no form")
            return
        boundary = uuid.uuid4().hex
        fields = {"csrf_token": token.group(1), "name": "load test", "model_id": models[0]}
        body = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in fields.items()
        )
        body += (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="customers.csv"\r\nContent-Type: text/csv\r\n\r\n'
            ).encode()
            + self.upload
            + f"\r\n--{boundary}--\r\n".encode()
        )
        started = time.perf_counter()
        status, _, headers = self.request(
            "predict (upload)",
            "POST",
            "/user/predict",
            body,
            {"Content-Type": f"multipart/form-data; boundary={boundary}"},
            expect=(302,),
        )
        if status != 302:
            return
        with self.results.lock:
            self.results.submitted += 1
        location = urlsplit(headers["Location"]).path
        prediction_id = int(location.rstrip("/").rsplit("/", 1)[1])
        while time.monotonic() < deadline + 30:  # a queued job may finish just after the level
            status, page, _ = self.request("prediction page (waiting)", "GET", location)
            if status != 200 or b'http-equiv="refresh"' not in page:
                break
            time.sleep(2)  # the page refreshes itself every 2 s
        if b"/download" not in page:
            with self.results.lock:
                self.results.unfinished += 1  # still queued 30 s after the level ended
            return
        with self.results.lock:
            self.results.turnarounds.append(time.perf_counter() - started)
        self.predictions.append(prediction_id)
        self.request("download", "GET", f"/user/predictions/{prediction_id}/download")

    def download(self) -> None:
        if not self.predictions:
            return self.browse()
        prediction_id = random.choice(self.predictions)
        self.request("download", "GET", f"/user/predictions/{prediction_id}/download")
        return None

    def run(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            roll = random.random()
            if roll < 0.75:
                self.browse()
            elif roll < 0.90:
                self.predict(deadline)
            else:
                self.download()
        self.connection.close()


def run_all(tasks) -> None:
    threads = [threading.Thread(target=task) for task in tasks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def seed_accounts(env: dict[str, str], count: int) -> list[str]:
    """A company, its developer and `count` verified users, the default models deployed."""
    os.environ.update(env)
    from werkzeug.security import generate_password_hash

    from app import create_app
    from app.extensions import db
    from app.schema import Company, Developer, User, utcnow
    from app.services.environment import initialize_developer_environment

    app = create_app()
    with app.app_context():
        company = Company(public_id="BNCH-LOAD-0001", name="Load Co", email="owner@load.example")
        hashed = generate_password_hash(PASSWORD)
        developer = Developer(
            company=company,
            name="Load Dev",
            email="dev@load.example",
            password_hash=hashed,
            email_verified_at=utcnow(),
            approved_at=utcnow(),
        )
        users = [
            User(
                company=company,
                name=f"User {n}",
                email=f"user{n}@load.example",
                password_hash=hashed,
                email_verified_at=utcnow(),
            )
            for n in range(count)
        ]
        db.session.add_all([company, developer, *users])
        db.session.commit()
        initialize_developer_environment(developer)
        emails = [user.email for user in users]
        db.session.remove()
        db.engine.dispose()
    return emails


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def report(users: int, duration: float, results: Results) -> list[str]:
    everything = [v for values in results.latencies.values() for v in values]
    lines = [
        f"{users} users, {duration:.0f} s: {len(everything)} requests, "
        f"{len(everything) / duration:.1f} req/s, p50 {percentile(everything, 50):.0f} ms, "
        f"p95 {percentile(everything, 95):.0f} ms, p99 {percentile(everything, 99):.0f} ms, "
        f"errors {sum(results.errors.values())}"
    ]
    for kind, values in sorted(results.latencies.items()):
        lines.append(
            f"    {kind:<28} {len(values):>6}  p50 {percentile(values, 50):>6.0f}  "
            f"p95 {percentile(values, 95):>6.0f}  p99 {percentile(values, 99):>6.0f} ms"
        )
    turnaround = sorted(results.turnarounds)
    if turnaround:
        lines.append(
            f"    predictions: {len(turnaround)} of {results.submitted} done, upload to result "
            f"p50 {percentile(turnaround, 50):.1f} s, p95 {percentile(turnaround, 95):.1f} s; "
            f"{results.unfinished} still queued 30 s after the level (one RQ worker)"
        )
    lines += [f"    error {name}: {count}" for name, count in sorted(results.errors.items())]
    load = os.getloadavg()[0]
    lines.append(
        f"    machine load average (1 min) at the end: {load:.1f} on {os.cpu_count()} cores"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument("--duration", type=float, default=30, help="seconds per level")
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--background-rows", type=int, default=500)
    args = parser.parse_args()

    database_url = stack.fresh_database(DATABASE)
    env = stack.environment(
        "load", database_url, PREDICTION_BACKGROUND_ROWS=str(args.background_rows)
    )
    out = Path(env["MODELS_ROOT"]).parent
    print(f"Machine: {stack.machine()}")
    print("Setting up (migrations, default models, accounts)…", flush=True)
    stack.setup(env)
    emails = seed_accounts(env, max(args.users))
    frame = pd.read_csv(stack.ROOT / "DatasetA.csv", dtype=str, keep_default_na=False)
    upload = frame.sample(UPLOAD_ROWS, random_state=1).to_csv(index=False).encode()
    port = stack.free_port()
    print(
        f"gunicorn --workers {args.web_workers} --threads 4, 1 RQ worker, PostgreSQL, Redis; "
        f"uploads over {args.background_rows} rows go to the worker",
        flush=True,
    )
    lines = []
    with (
        stack.process(stack.gunicorn(port, args.web_workers), env, out / "web.log"),
        stack.process(stack.worker(), env, out / "worker.log"),
    ):
        stack.wait_for(f"http://127.0.0.1:{port}/healthz")
        for count in args.users:
            logins, results = Results(), Results()
            people = [
                VirtualUser(port, email, n, logins, upload)
                for n, email in enumerate(emails[:count])
            ]
            run_all([person.log_in for person in people])  # sessions first, as at 9 o'clock
            for person in people:
                person.results = results
            started = time.monotonic()
            deadline = started + args.duration
            run_all([lambda p=person, d=deadline: p.run(d) for person in people])
            level = report(count, time.monotonic() - started, results)
            login = logins.latencies["log in"]
            level.insert(
                1,
                f"    (before the timed part: {len(login)} logins through the form, p50 "
                f"{percentile(login, 50):.0f} ms, p95 {percentile(login, 95):.0f} ms, "
                f"errors {sum(logins.errors.values())})",
            )
            print("\n".join(level), flush=True)
            lines += level
    stack.drop_database(DATABASE)


if __name__ == "__main__":
    main()
