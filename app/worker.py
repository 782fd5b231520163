"""The RQ worker: `python -m app.worker` (what `make worker` runs).

It builds the app once from the environment (APP_ENV, DATABASE_URL, REDIS_URL, storage roots)
and works the RQ_QUEUE queue. Each job runs in this app's context (a forked work horse opens its
own database connections). Between jobs, and at start, it runs the sweep every SWEEP_INTERVAL
seconds (`services.sweep`): rows whose job is gone are marked failed, leftovers removed.
"""

from __future__ import annotations

import logging

from flask import Flask
from rq import Queue, Worker

from app import create_app
from app.services import jobs
from app.services.jobs import sweep

log = logging.getLogger(__name__)


class SweepingWorker(Worker):
    """An RQ worker that runs the app's sweep with RQ's own maintenance, between jobs."""

    app: Flask

    def run_maintenance_tasks(self) -> None:
        try:
            with self.app.app_context():
                sweep.sweep(self.app)
        except Exception:
            log.exception("The sweep failed; it runs again in %s s", self.maintenance_interval)
        super().run_maintenance_tasks()


def build_worker(app: Flask) -> SweepingWorker:
    interval = app.config["SWEEP_INTERVAL"]
    connection = jobs.redis_connection(app, for_worker=True)
    queue = Queue(app.config["RQ_QUEUE"], connection=connection)
    # An idle worker wakes up every SWEEP_INTERVAL seconds (RQ waits worker_ttl - 15 seconds
    # for a job), so the sweep runs on time even when no job arrives.
    worker = SweepingWorker(
        [queue], connection=connection, maintenance_interval=interval, worker_ttl=interval + 15
    )
    worker.app = app
    return worker


def run_isolated(settings: dict, name: str, args: tuple) -> None:
    """A heavy job of the thread back end, in its own process (`jobs.isolate`): the app built
    again from the web process's settings, the job run in its context, then any job it queued
    (a large prediction's reasons)."""
    app = create_app(settings.get("ENV_NAME") or None, **settings)
    with app.app_context():
        jobs.run_job(name, *args)
        jobs.run_backlog()


def main() -> None:
    app = create_app()
    if not app.config.get("REDIS_URL"):
        raise SystemExit("Set REDIS_URL (for example redis://127.0.0.1:6379/0) to run a worker.")
    jobs.use_worker_app(app)
    worker = build_worker(app)
    log.info("Worker listening on queue %r at %s", app.config["RQ_QUEUE"], app.config["REDIS_URL"])
    worker.work(with_scheduler=False)


if __name__ == "__main__":
    main()
