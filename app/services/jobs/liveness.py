"""Is the job behind a stored job id still alive? The sweep's one question, asked of whichever
back end ran it.

- A job of this process (a thread job, or work scored inside a request) is alive while this
  process still runs it (`jobs.running_here`).
- A job of another process on this host is alive while that very process lives (its pid and
  start time, so a pid reused after a restart does not count).
- A job of another host's process cannot be judged from here: `UNKNOWN` (the sweep then goes by
  how long its row has been untouched).
- An RQ job is alive while it waits in the queue, or while the worker that started it lives:
  a worker on this host by its pid and start time (not by its entry in Redis, which outlives a
  killed worker by minutes), a worker elsewhere by the job's heartbeat.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from flask import Flask

from app.services import jobs

log = logging.getLogger(__name__)


class JobState(StrEnum):
    ALIVE = "alive"  # queued or running: leave its row alone
    GONE = "gone"  # it will never touch its row again
    MISSING = "missing"  # the queue has no such job (not queued yet, or lost)
    UNKNOWN = "unknown"  # another host's process: cannot be judged from here
    UNREACHABLE = "unreachable"  # the queue does not answer now: judge it later


JobStates = Callable[[str], JobState]

# RQ heartbeats a running job every `job_monitoring_interval` (30 s); three missed ones mean
# its worker is gone.
RQ_HEARTBEAT_TIMEOUT = timedelta(seconds=90)


def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def _started_at(pid: int) -> datetime | None:
    """When process `pid` started (UTC), or None if no such process (or no /proc)."""
    ticks = jobs.process_start(pid)
    boot = _boot_time()
    if ticks is None or boot is None:
        return None
    seconds = boot + int(ticks) / os.sysconf("SC_CLK_TCK")
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def thread_job_state(job_id: str) -> JobState:
    parsed = jobs.parse_thread_job_id(job_id)
    if parsed is None:
        return JobState.GONE
    host, pid, start = parsed
    if host != jobs.this_host():
        return JobState.UNKNOWN
    if pid == os.getpid() and (not start or jobs.process_start(pid) == start):
        return JobState.ALIVE if jobs.running_here(job_id) else JobState.GONE
    if start:
        return JobState.ALIVE if jobs.process_start(pid) == start else JobState.GONE
    return JobState.ALIVE if _pid_alive(pid) else JobState.GONE


def _worker_state(worker) -> JobState:
    """The state of a started job by the worker that runs it (found in Redis)."""
    if worker is None or worker.death_date is not None:
        return JobState.GONE
    if worker.hostname == socket.gethostname() and worker.pid:
        started = _started_at(worker.pid)
        if started is None:
            return JobState.GONE  # no such process: the worker was killed
        birth = worker.birth_date.replace(tzinfo=None) if worker.birth_date else None
        if birth is not None and started > birth + timedelta(seconds=2):
            return JobState.GONE  # a later process reused the dead worker's pid
        return JobState.ALIVE
    return JobState.UNKNOWN


def _rq_job_state(job_id: str, connection) -> JobState:
    from rq import Worker
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    try:
        job = Job.fetch(job_id, connection=connection)
        status = job.get_status(refresh=True)
    except NoSuchJobError:
        return JobState.MISSING
    if status in (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED, JobStatus.CREATED):
        return JobState.ALIVE
    if status != JobStatus.STARTED:
        return JobState.GONE  # finished, failed, stopped or cancelled: it is over
    worker = None
    if job.worker_name:
        worker = Worker.find_by_key(
            Worker.redis_worker_namespace_prefix + job.worker_name, connection=connection
        )
    state = _worker_state(worker)
    if state is JobState.UNKNOWN:  # a worker on another host: is it still beating?
        beat = job.last_heartbeat or job.started_at
        fresh = (
            beat is not None
            and datetime.now(UTC).replace(tzinfo=None) - beat.replace(tzinfo=None)
            < RQ_HEARTBEAT_TIMEOUT
        )
        return JobState.ALIVE if fresh else JobState.GONE
    return state


def job_states(app: Flask) -> JobStates:
    """A function telling the state of the job behind a stored job id (see JobState)."""
    connection = None
    reachable = True
    if app.config.get("REDIS_URL"):
        from redis.exceptions import RedisError

        connection = jobs.redis_connection(app)
        try:
            connection.ping()
        except RedisError as error:
            log.warning("The sweep cannot ask Redis about queued jobs now: %s", error)
            reachable = False

    def state(job_id: str) -> JobState:
        if job_id.startswith(jobs.THREAD_PREFIX):
            return thread_job_state(job_id)
        if connection is None:
            return JobState.GONE  # an RQ job, but this installation has no queue: it was lost
        if not reachable:
            return JobState.UNREACHABLE
        from redis.exceptions import RedisError

        try:
            return _rq_job_state(job_id, connection)
        except RedisError as error:
            log.warning("The sweep cannot ask Redis about job %s now: %s", job_id, error)
            return JobState.UNREACHABLE

    return state
