"""Work claimed by this process: a thread job's id names its owner process (host, pid and the
process's start), and this process knows which of its ids are still running, so the sweep can
tell a run that ended without recording it from one that goes on."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from pathlib import Path

from flask import g, has_app_context

THREAD_PREFIX = "t:"
_here: set[str] = set()
_here_lock = threading.Lock()


def _host() -> str:
    return socket.gethostname()[:20]


def process_start(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot, from /proc), or None if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; the start time is field 22.
    return stat.rsplit(")", 1)[1].split()[19]


def _process_identity(pid: int) -> str:
    """The pid plus its start time: a pid reused by a later process is a different identity."""
    start = process_start(pid)
    return f"{pid}.{start}" if start else str(pid)


def thread_job_id(owner: str | None = None) -> str:
    """A thread back end's job id, owned by process `owner` ("pid.start"; this one by default)."""
    owner = owner or _process_identity(os.getpid())
    return f"{THREAD_PREFIX}{_host()}:{owner}:{uuid.uuid4().hex[:16]}"


def parse_thread_job_id(job_id: str) -> tuple[str, int, str] | None:
    """(host, pid, start) of a thread job id, or None if it is not one."""
    try:
        host, identity, _ = job_id[len(THREAD_PREFIX) :].split(":", 2)
        pid_text, _, start = identity.partition(".")
        return host, int(pid_text), start
    except ValueError:
        return None


def this_host() -> str:
    return _host()


def claim_here() -> str:
    """An id for work that runs in this process now (e.g. a small prediction scored inside its
    request); it counts as running until the app context that claimed it ends."""
    job_id = thread_job_id()
    _claim(job_id)
    if has_app_context():
        g.setdefault("_claimed_jobs", []).append(job_id)
    return job_id


def _claim(job_id: str) -> None:
    with _here_lock:
        _here.add(job_id)


def release(job_id: str) -> None:
    with _here_lock:
        _here.discard(job_id)


def running_here(job_id: str) -> bool:
    """Is the work with this id (claimed by this process) still queued or running?"""
    with _here_lock:
        return job_id in _here
