"""The health of what the app depends on: the database, the job queue and the storage roots.

Each is "ok", "down", or "not used" (the queue, with the in-process thread back end). The
reasons are logged, not shown: the health check is public.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.services import jobs

log = logging.getLogger(__name__)

OK, DOWN, NOT_USED = "ok", "down", "not used"
# Less free space than this on a storage root counts as down: uploads would be refused.
MIN_FREE_BYTES = 50 * 1024 * 1024


@dataclass
class Health:
    checks: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(state != DOWN for state in self.checks.values())

    def as_json(self) -> dict[str, str]:
        return {"status": "ok" if self.ok else "error", **self.checks}


def check(app: Flask) -> Health:
    return Health({"database": _database(), "queue": _queue(app), "storage": _storage(app)})


def _database() -> str:
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        db.session.rollback()
        log.warning("Health: the database does not answer: %s", error)
        return DOWN
    return OK


def _queue(app: Flask) -> str:
    if app.config["JOB_BACKEND"] != "rq":
        return NOT_USED
    problem = jobs.queue_problem(app)
    if problem:
        log.warning("Health: the job queue (Redis) does not answer: %s", problem)
        return DOWN
    return OK


def _storage(app: Flask) -> str:
    for setting in ("MODELS_ROOT", "DATASETS_ROOT"):
        root = Path(app.config[setting]).resolve()
        existing = next((p for p in (root, *root.parents) if p.exists()), None)
        # A root not created yet is fine if it can be (the first upload creates it).
        if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK):
            log.warning("Health: %s (%s) is not a writable folder", setting, root)
            return DOWN
        free = shutil.disk_usage(existing).free
        if free < MIN_FREE_BYTES:
            log.warning("Health: %s (%s) has only %s bytes free", setting, root, free)
            return DOWN
    return OK
