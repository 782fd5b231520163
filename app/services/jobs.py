"""Background jobs, so long work never blocks a web request.

Two back ends behind one `enqueue()`:
- "thread" (the embedded default): one worker thread in the web process, jobs run in order;
- "rq" (when REDIS_URL is set): RQ on Redis; `make worker` starts a worker process.

A job is a function registered under a name (by `app.tasks`, the one entry module that the
factory and the worker import) and called with plain arguments (ids) inside an app context. The
runner knows no services: its status lives on the database row the job works on (see
`services.lifecycle`), never only in the queue, so a page can show it and a restart can repair it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from flask import Flask, current_app, has_app_context

log = logging.getLogger(__name__)

JobFunction = Callable[..., None]
_registry: dict[str, JobFunction] = {}
_executors: dict[int, ThreadPoolExecutor] = {}
_executors_lock = threading.Lock()


def register(name: str, func: JobFunction) -> None:
    """Make `func` the job called `name` (done once, by `app.tasks`)."""
    _registry[name] = func


def registered() -> set[str]:
    return set(_registry)


_worker_app: Flask | None = None
_worker_app_pid: int | None = None


def use_worker_app(app: Flask) -> None:
    """Let RQ jobs of this process run in `app` (built once by `app.worker`)."""
    global _worker_app, _worker_app_pid
    _worker_app, _worker_app_pid = app, os.getpid()


def run_job(name: str, *args: Any) -> None:
    """Run job `name`: in the current app context, or in the worker's app (an RQ work horse)."""
    if has_app_context():
        _registry[name](*args)
        return
    app = _worker_app
    if app is None:
        raise RuntimeError("Start workers with `python -m app.worker` (make worker).")
    with app.app_context():
        if _worker_app_pid != os.getpid():
            # A forked work horse must not share the parent's database connections.
            app.extensions["sqlalchemy"].engine.dispose(close=False)
        _registry[name](*args)


def enqueue(name: str, *args: Any) -> str:
    """Queue job `name`; returns a job id to store on the row the job works on."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    backend = app.config["JOB_BACKEND"]
    # A thread job's owner process is part of its id, so recovery can tell it from an orphan.
    job_id = thread_job_id() if backend == "thread" else uuid.uuid4().hex
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


@contextlib.contextmanager
def held(app: Flask, timeout: float = 30) -> Iterator[None]:
    """Keep the thread back end's worker busy until the block ends: jobs queued inside it wait
    (tests use it to look at queued work deterministically)."""
    gate = threading.Event()
    _executor(app).submit(gate.wait, timeout)
    try:
        yield
    finally:
        gate.set()


def wait_for_idle(app: Flask, timeout: float = 120) -> None:
    """Block until every job queued so far on the thread back end has finished (tests, scripts)."""
    executor = _executors.get(id(app))
    if executor is not None:
        marker: Future = executor.submit(lambda: None)
        marker.result(timeout=timeout)


def redis_connection(app: Flask):
    from redis import Redis

    return Redis.from_url(app.config["REDIS_URL"])


# Is a job alive? (for recovery) --------------------------------------------------------------

THREAD_PREFIX = "t:"


def _host() -> str:
    return socket.gethostname()[:20]


def _process_start(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot, from /proc), or None if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; the start time is field 22.
    return stat.rsplit(")", 1)[1].split()[19]


def _process_identity(pid: int) -> str:
    """The pid plus its start time: a pid reused by a later process is a different identity."""
    start = _process_start(pid)
    return f"{pid}.{start}" if start else str(pid)


def thread_job_id(owner: str | None = None) -> str:
    """A thread back end's job id, owned by process `owner` ("pid.start"; this one by default)."""
    owner = owner or _process_identity(os.getpid())
    return f"{THREAD_PREFIX}{_host()}:{owner}:{uuid.uuid4().hex[:16]}"


def _thread_job_alive(job_id: str) -> bool:
    """A thread job lives as long as its process (on this host) does."""
    try:
        host, identity, _ = job_id[len(THREAD_PREFIX) :].split(":", 2)
        pid_text, _, start = identity.partition(".")
        pid = int(pid_text)
    except ValueError:
        return False
    if host != _host():
        return True  # another machine's process: not ours to judge
    if start:
        return _process_start(pid) == start  # same pid, other start time: a reused pid
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _rq_job_alive(job_id: str, connection, live_jobs: set[str]) -> bool:
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    try:
        status = Job.fetch(job_id, connection=connection).get_status(refresh=True)
    except NoSuchJobError:
        return False
    if status in (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED, JobStatus.CREATED):
        return True
    if status == JobStatus.STARTED:
        return job_id in live_jobs  # started by a worker that has since died: abandoned
    return status == JobStatus.FINISHED  # finished: the row was (or is being) updated


def _live_rq_jobs(app: Flask, connection) -> set[str]:
    from rq import Queue, Worker
    from rq.registry import StartedJobRegistry

    queue = Queue(app.config["RQ_QUEUE"], connection=connection)
    StartedJobRegistry(queue=queue).cleanup()  # moves jobs whose heartbeat stopped to "failed"
    return {
        job_id
        for worker in Worker.all(connection=connection)
        if (job_id := worker.get_current_job_id())
    }


def liveness(app: Flask) -> Callable[[str], bool]:
    """A function telling whether the job with a stored id is still alive (queued or running)."""
    connection = live_jobs = None
    if app.config["JOB_BACKEND"] == "rq":
        connection = redis_connection(app)
        live_jobs = _live_rq_jobs(app, connection)

    def alive(job_id: str) -> bool:
        if job_id.startswith(THREAD_PREFIX):
            return _thread_job_alive(job_id)
        if connection is None:
            return False  # an RQ job, but this process has no queue to ask: it was lost
        return _rq_job_alive(job_id, connection, live_jobs or set())

    return alive
