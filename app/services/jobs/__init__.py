"""Background jobs, so long work never blocks a web request.

This package: the runner (here), `claims` (which thread jobs this process runs), `lifecycle`
(the one lifecycle of queued work), `liveness` (is a stored job id alive?), `sweep` (the
periodic repair and clean-up) and `progress` (what a waiting page polls).

Two back ends behind one `enqueue()`:
- "thread" (the embedded default): one worker thread in the web process, jobs run in order;
- "rq" (when REDIS_URL is set): RQ on Redis; `make worker` starts a worker process.

A job is a function registered under a name (by `app.tasks`, the one entry module that the
factory and the worker import) and called with plain arguments (ids) inside an app context. The
runner knows no services: its status lives on the database row the job works on (see
`services.lifecycle`), never only in the queue, so a page can show it and the sweep can repair
it. Whether a stored job id is still alive is `services.liveness`'s question.

A heavy job of the thread back end (a large prediction) can run in a child process instead of the
web process's thread (`isolate`): the thread starts a child process (forked from a fork server
that has imported the app once) with the app's settings, waits for it, and calls the job's
failure handler when the child dies without finishing, so the web process gives its memory back
after the job. Its status still lives on the row.

Work that runs in this process (a thread job, or a small prediction scored inside its request)
is "claimed here": its id names this process, and this process knows which of its ids are still
running, so the sweep can tell a run that ended without recording it from one that goes on.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing
import os
import pickle
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from flask import Flask, current_app, g, has_app_context

from app.services.errors import Unavailable
from app.services.jobs import claims

# This process's claims (`claims`), answered here as ever.
THREAD_PREFIX = claims.THREAD_PREFIX
_claim = claims._claim
claim_here = claims.claim_here
parse_thread_job_id = claims.parse_thread_job_id
process_start = claims.process_start
release = claims.release
running_here = claims.running_here
this_host = claims.this_host
thread_job_id = claims.thread_job_id

log = logging.getLogger(__name__)

JobFunction = Callable[..., None]
_registry: dict[str, JobFunction] = {}
# name -> (whether a call should run in a child process, what to do when the child dies)
_isolated: dict[str, tuple[Callable[..., bool], JobFunction]] = {}
_executors: dict[int, ThreadPoolExecutor] = {}
_executors_lock = threading.Lock()

QUEUE_DOWN = (
    "The background job queue is not answering, so this work could not be started. Nothing "
    "was lost: please try again in a few minutes (the operator has been told in the log)."
)


class QueueUnavailable(Unavailable):
    """The job queue (Redis) does not answer."""


def register(name: str, func: JobFunction) -> None:
    """Make `func` the job called `name` (done once, by `app.tasks`)."""
    _registry[name] = func


def isolate(name: str, when: Callable[..., bool], on_lost: JobFunction) -> None:
    """Run job `name` of the thread back end in a child process whenever `when(*args)` says so
    (in an app context; it must end its database transaction). `on_lost(*args)` runs in the
    web process when the child exits without finishing (killed, out of memory)."""
    _isolated[name] = (when, on_lost)


def registered() -> set[str]:
    return set(_registry)


def init_app(app: Flask) -> None:
    """Release the work claimed by an app context (a request, a job) when the context ends."""

    @app.teardown_appcontext
    def _release_claims(_error: BaseException | None) -> None:
        for job_id in g.pop("_claimed_jobs", ()):
            release(job_id)


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
            _die_with_parent(_worker_app_pid)
            # A forked work horse must not share the parent's database connections.
            app.extensions["sqlalchemy"].engine.dispose(close=False)
        _registry[name](*args)


def _die_with_parent(parent_pid: int | None) -> None:
    """A work horse whose worker is killed is killed too (Linux): the sweep judges a job by its
    worker, and a horse left running alone would write a result after its row was failed."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)  # the worker died before the line above took effect


def enqueue(name: str, *args: Any) -> str:
    """Queue job `name`; returns a job id to store on the row the job works on.

    Raises QueueUnavailable when the RQ back end's Redis does not answer."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    backend = app.config["JOB_BACKEND"]
    if backend == "rq":
        from redis.exceptions import RedisError
        from rq import Queue

        job_id = uuid.uuid4().hex
        try:
            Queue(app.config["RQ_QUEUE"], connection=redis_connection(app)).enqueue(
                run_job,
                name,
                *args,
                job_id=job_id,
                job_timeout=app.config["JOB_TIMEOUT"],
                result_ttl=3600,
                failure_ttl=24 * 3600,
            )
        except RedisError as error:
            log.warning("Could not queue job %s%r: Redis does not answer (%s)", name, args, error)
            raise QueueUnavailable(QUEUE_DOWN) from error
        return job_id
    if backend == "thread":
        # A thread job's owner process is part of its id, so recovery can tell it from an orphan.
        job_id = thread_job_id()
        if _child_backlog is not None:  # in a job's child process: run after it, in it
            _child_backlog.append((name, args))
            return job_id
        _claim(job_id)
        _executor(app).submit(_run_in_thread, app, name, args, job_id)
        return job_id
    raise ValueError(f"Unknown JOB_BACKEND {backend!r}")


def _run_in_thread(app: Flask, name: str, args: tuple, job_id: str) -> None:
    try:
        with app.app_context():
            rule = _isolated.get(name)
            if rule is not None and app.config.get("ISOLATED_JOB_ENTRY") and rule[0](*args):
                _run_in_child(app, name, args, rule[1])
            else:
                run_job(name, *args)
    except Exception:  # the job marks its own row failed; this is the last line of defence
        log.exception("Job %s%r failed", name, args)
    finally:
        release(job_id)
        give_memory_back()


def give_memory_back() -> None:
    """Return what a finished job freed to the system: the allocators (glibc's, Arrow's) keep
    freed memory for reuse otherwise, and the web process would stay at the job's peak. (No
    garbage collection: a job's frames and arrays are freed as they go out of use, and a full
    collection of a large process costs more than it finds.)"""
    import ctypes

    with contextlib.suppress(ImportError):
        import pyarrow

        pyarrow.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _run_in_child(app: Flask, name: str, args: tuple, on_lost: JobFunction) -> None:
    """Run job `name` in a child forked from the fork server (`child_context`: nothing of this
    process is shared), its app built from this app's settings, and wait for it; `on_lost` if
    it dies without finishing."""
    settings = {key: value for key, value in app.config.items() if key.isupper()}
    settings = {key: value for key, value in settings.items() if _picklable(value)}
    context = child_context(app)
    # The child's lifeline: it ends itself when this end closes (this process died).
    lifeline, held_end = context.Pipe(duplex=False)
    child = context.Process(
        target=_child_main,
        args=(app.config["ISOLATED_JOB_ENTRY"], settings, name, args, lifeline),
        name=f"churnbuster-{name}",
        daemon=True,
    )
    child.start()
    lifeline.close()
    try:
        child.join()
    finally:
        held_end.close()
    if child.exitcode != 0:
        log.error("Job %s%r: its process exited with %s", name, args, child.exitcode)
        on_lost(*args)


def child_context(app: Flask) -> Any:
    """The 'forkserver' context children start from: a server process started once (by
    `warm_children`, or by the first child) that has imported the job entry's module and, through
    it, the app, pandas and scikit-learn; each child forks from it (nothing of the web process is
    shared) and so starts in a fraction of a second, not the seconds an import of it all takes."""
    context = multiprocessing.get_context("forkserver")
    with _executors_lock:
        global _preload_set
        if not _preload_set:
            entry = app.config["ISOLATED_JOB_ENTRY"].partition(":")[0]
            context.set_forkserver_preload([entry, *app.config.get("ISOLATED_JOB_PRELOAD", ())])
            _preload_set = True
    return context


_preload_set = False


def warm_children(app: Flask) -> None:
    """Start the fork server now, in the background, so the first large job does not wait."""
    from multiprocessing import forkserver

    child_context(app)
    forkserver.ensure_running()  # the server imports in its own process; this returns at once


def _picklable(value: Any) -> bool:
    try:
        pickle.dumps(value)
    except Exception:  # a setting that cannot travel (a class, a function) is left behind
        return False
    return True


# In a job's child process: the jobs it queued (a thread queue would die with the child).
_child_backlog: list[tuple[str, tuple]] | None = None


def run_backlog() -> None:
    """In a job's child process, after its job: run the jobs that job queued, in order (the
    entry calls this in its app context)."""
    while _child_backlog:
        name, args = _child_backlog.pop(0)
        try:
            run_job(name, *args)
        except Exception:  # each job marks its own row failed; this is the last line of defence
            log.exception("Job %s%r failed", name, args)


def _child_main(entry: str, settings: dict[str, Any], name: str, args: tuple, lifeline) -> None:
    """The child process: dies with the web process that waits for it (when its end of the
    lifeline closes), and hands over to `entry` ("module:function", which builds the app from
    `settings`, runs the job in its context, then `run_backlog`)."""
    global _child_backlog
    _child_backlog = []
    threading.Thread(target=_end_with, args=(lifeline,), daemon=True).start()
    module, _, function = entry.partition(":")
    getattr(importlib.import_module(module), function)(settings, name, args)


def _end_with(lifeline) -> None:
    """Wait on the lifeline (nothing is ever sent); its other end closing ends this process."""
    with contextlib.suppress(EOFError, OSError):
        lifeline.recv()
    os._exit(1)


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


def redis_connection(app: Flask, for_worker: bool = False):
    """A connection to REDIS_URL. The web's connections give up within seconds when Redis does
    not answer; a worker's are left to RQ, which sets its own timeouts for blocking reads."""
    from redis import Redis

    if for_worker:
        return Redis.from_url(app.config["REDIS_URL"])
    return Redis.from_url(app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5)


def queue_problem(app: Flask) -> str | None:
    """Why the configured queue cannot take jobs now, or None when it can (or is not used)."""
    if app.config["JOB_BACKEND"] != "rq":
        return None
    from redis.exceptions import RedisError

    try:
        redis_connection(app).ping()
    except RedisError as error:
        return str(error)
    return None
