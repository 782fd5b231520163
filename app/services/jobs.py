"""Background jobs, so long work never blocks a web request.

Two back ends behind one `enqueue()`:
- "thread" (the embedded default): one worker thread in the web process, jobs run in order;
- "rq" (when REDIS_URL is set): RQ on Redis; `make worker` starts a worker process.

A job is a registered function called with plain arguments (ids) inside an app context. Its
status lives on the database row it works on (a model being trained, a prediction being scored),
never only in the queue, so a page can show it and a restart can repair it.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from flask import Flask, current_app, has_app_context

log = logging.getLogger(__name__)

JobFunction = Callable[..., None]
_registry: dict[str, JobFunction] = {}
_executors: dict[int, ThreadPoolExecutor] = {}
_executors_lock = threading.Lock()


def job(name: str) -> Callable[[JobFunction], JobFunction]:
    """Register `func` as the job called `name`."""

    def decorator(func: JobFunction) -> JobFunction:
        _registry[name] = func
        return func

    return decorator


def _load_job_modules() -> None:
    # Job functions live in their services; importing them registers them.
    from app.services import prediction, retraining  # noqa: F401


def run_job(name: str, *args: Any) -> None:
    """Run job `name` in the current app context, or in a new app (an RQ worker process)."""
    if not has_app_context():
        from app import create_app  # a worker process builds its own app from the environment

        with create_app().app_context():
            run_job(name, *args)
        return
    _load_job_modules()
    try:
        _registry[name](*args)
    finally:
        from app.extensions import db

        db.session.remove()


def enqueue(name: str, *args: Any) -> str:
    """Queue job `name`; returns a job id to store on the row the job works on."""
    app = current_app._get_current_object()
    backend = app.config["JOB_BACKEND"]
    job_id = uuid.uuid4().hex
    if backend == "rq":
        from rq import Queue

        Queue(app.config["RQ_QUEUE"], connection=redis_connection(app)).enqueue(
            run_job, name, *args, job_id=job_id, job_timeout=3600, result_ttl=3600
        )
    elif backend == "thread":
        _executor(app).submit(_run_in_thread, app, name, args)
    else:
        raise ValueError(f"Unknown JOB_BACKEND {backend!r}")
    return job_id


def _run_in_thread(app: Flask, name: str, args: tuple) -> None:
    with app.app_context():
        try:
            run_job(name, *args)
        except Exception:  # the job marks its own row failed; this is the last line of defence
            log.exception("Job %s%r failed", name, args)


def _executor(app: Flask) -> ThreadPoolExecutor:
    with _executors_lock:
        executor = _executors.get(id(app))
        if executor is None:
            executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="churnbuster-job")
            _executors[id(app)] = executor
        return executor


def wait_for_idle(app: Flask, timeout: float = 120) -> None:
    """Block until every job queued so far on the thread back end has finished (tests, scripts)."""
    executor = _executors.get(id(app))
    if executor is not None:
        marker: Future = executor.submit(lambda: None)
        marker.result(timeout=timeout)


def redis_connection(app: Flask):
    from redis import Redis

    return Redis.from_url(app.config["REDIS_URL"])
