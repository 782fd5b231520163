"""WSGI entry point: `gunicorn wsgi:app`. Reads APP_ENV (development by default)."""

import os

from app import create_app

app = create_app(os.environ.get("APP_ENV", "development"))
