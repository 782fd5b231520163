"""WSGI entry point: `gunicorn wsgi:app`. Reads APP_ENV (development by default)."""

import os

from app import create_app, recover_interrupted_work

app = create_app(os.environ.get("APP_ENV", "development"))

# Runs left queued/running by a process that died are marked failed (a new database is fine).
recover_interrupted_work(app)
