"""The RQ worker: `python -m app.worker` (what `make worker` runs).

It builds the app once from the environment (APP_ENV, DATABASE_URL, REDIS_URL, storage roots),
marks runs that a dead worker left behind as failed, then works the RQ_QUEUE queue. Each job runs
in this app's context (a forked work horse opens its own database connections).
"""

from __future__ import annotations

import logging
import os

from app import create_app, recover_interrupted_work
from app.services import jobs

log = logging.getLogger(__name__)


def main() -> None:
    app = create_app(os.environ.get("APP_ENV", "development"))
    if not app.config.get("REDIS_URL"):
        raise SystemExit("Set REDIS_URL (for example redis://127.0.0.1:6379/0) to run a worker.")
    from rq import Queue, Worker

    jobs.use_worker_app(app)
    connection = jobs.redis_connection(app)
    recover_interrupted_work(app)
    queue = Queue(app.config["RQ_QUEUE"], connection=connection)
    log.info("Worker listening on queue %r at %s", queue.name, app.config["REDIS_URL"])
    Worker([queue], connection=connection).work(with_scheduler=False)


if __name__ == "__main__":
    main()
