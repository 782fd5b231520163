"""Settings for each environment: development (the default), testing and production.

Every setting can be overridden from the environment; nothing secret lives here. The three
classes differ only where the environment really differs (debug, cookies, secrets).
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_PATH", BASE_DIR / "instance"))


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    """Settings shared by every environment."""

    SECRET_KEY: str | None = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'churnbuster.sqlite3'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}

    # Storage roots: every path under them is built by app.services.storage.
    MODELS_ROOT = os.environ.get("MODELS_ROOT", str(BASE_DIR / "models"))
    DATASETS_ROOT = os.environ.get("DATASETS_ROOT", str(BASE_DIR / "datasets"))
    ORIGINAL_DATASET = os.environ.get("ORIGINAL_DATASET", str(BASE_DIR / "DatasetA.csv"))
    CACHE_DIR = os.environ.get("CACHE_DIR", str(INSTANCE_DIR / "cache"))

    # Uploads: a 2,000,000-row customer CSV (about 280 MB, 21 columns) is accepted by default.
    MAX_CONTENT_LENGTH = _int("MAX_UPLOAD_MB", 512) * 1024 * 1024
    MAX_FORM_MEMORY_SIZE = 1024 * 1024
    XLSX_MAX_UNCOMPRESSED_BYTES = _int("XLSX_MAX_UNCOMPRESSED_MB", 800) * 1024 * 1024
    XLSX_MAX_COMPRESSION_RATIO = _int("XLSX_MAX_COMPRESSION_RATIO", 100)
    MAX_UPLOAD_ROWS = _int("MAX_UPLOAD_ROWS", 2_000_000)
    MAX_UPLOAD_CELLS = _int("MAX_UPLOAD_CELLS", 64_000_000)  # 2M rows of 32 columns
    PREDICTION_BACKGROUND_ROWS = _int("PREDICTION_BACKGROUND_ROWS", 20_000)
    PREDICTION_CHUNK_ROWS = _int("PREDICTION_CHUNK_ROWS", 100_000)
    # With the thread back end, predictions of at least this many rows are scored in a child
    # process, so the web process gives the job's memory back (0: never).
    PREDICTION_CHILD_ROWS = _int("PREDICTION_CHILD_ROWS", 200_000)
    # The same for a workbook, whose reading holds more per row than a CSV's (0: as above).
    PREDICTION_CHILD_WORKBOOK_ROWS = _int("PREDICTION_CHILD_WORKBOOK_ROWS", 50_000)
    ISOLATED_JOB_ENTRY = "app.worker:run_isolated"
    # Modules the fork server of those children imports once, besides the entry's.
    ISOLATED_JOB_PRELOAD = ("app.tasks",)
    # Files of more rows, scored by a model whose reasons need substitution (every model but a
    # linear one), get their result first and their reasons from a second job (0: always with).
    PREDICTION_REASONS_LATER_ROWS = _int("PREDICTION_REASONS_LATER_ROWS", 20_000)
    # A file scored in its request gets its reasons there when they are expected to take at
    # most this many seconds (timed on its first 1,000 rows); otherwise from the second job.
    PREDICTION_REASONS_INLINE_SECONDS = _float("PREDICTION_REASONS_INLINE_SECONDS", 1.0)
    RETRAIN_MIN_ROWS_PER_CLASS = _int("RETRAIN_MIN_ROWS_PER_CLASS", 10)

    # Jobs: in-process worker thread unless REDIS_URL is set (then RQ).
    REDIS_URL = os.environ.get("REDIS_URL")
    JOB_BACKEND = os.environ.get("JOB_BACKEND", "rq" if REDIS_URL else "thread")
    RQ_QUEUE = os.environ.get("RQ_QUEUE", "churnbuster")
    # The longest a background job may run (RQ stops it then); a running row left untouched
    # for longer than this belongs to no live job, whatever the queue says.
    JOB_TIMEOUT = _int("JOB_TIMEOUT", 3600)
    # The sweep (worker, `flask sweep`, or the web process with the thread back end): every
    # SWEEP_INTERVAL seconds it repairs rows whose job is gone and removes files that no row
    # references once they are older than SWEEP_GRACE_SECONDS (longer than any job or request).
    SWEEP_INTERVAL = _int("SWEEP_INTERVAL", 60)
    SWEEP_GRACE_SECONDS = _int("SWEEP_GRACE_SECONDS", JOB_TIMEOUT + 900)
    # Chart images are cached under CACHE_DIR; the sweep keeps it under this size (oldest go).
    CACHE_MAX_MB = _int("CACHE_MAX_MB", 200)

    # Email: with no MAIL_SERVER, mail is written to OUTBOX_DIR as .eml files.
    MAIL_SERVER = os.environ.get("MAIL_SERVER")
    MAIL_PORT = _int("MAIL_PORT", 25)
    MAIL_USE_TLS = _bool("MAIL_USE_TLS", False)
    MAIL_USE_SSL = _bool("MAIL_USE_SSL", False)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "Churn Buster <no-reply@localhost>")
    OUTBOX_DIR: str | None = os.environ.get("OUTBOX_DIR", str(INSTANCE_DIR / "outbox"))
    # Development logs each emailed link so a local user can follow it; production never does.
    MAIL_LOG_LINKS = True

    # Accounts and security
    EMAIL_TOKEN_MAX_AGE = _int("EMAIL_TOKEN_MAX_AGE", 2 * 24 * 3600)
    PASSWORD_RESET_MAX_AGE = _int("PASSWORD_RESET_MAX_AGE", 3600)
    LOGIN_MAX_FAILURES = _int("LOGIN_MAX_FAILURES", 5)
    LOGIN_LOCK_SECONDS = _int("LOGIN_LOCK_SECONDS", 15 * 60)
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", REDIS_URL or "memory://")
    # Redis down: rate limits are counted in each process's memory (a warning is logged) and
    # go back to Redis once it answers again, instead of failing the request.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_AUTH = os.environ.get("RATELIMIT_AUTH", "20 per minute")
    RATELIMIT_API = os.environ.get("RATELIMIT_API", "120 per minute")
    RATELIMIT_HEADERS_ENABLED = True
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = False
    REMEMBER_COOKIE_DURATION = timedelta(days=_int("REMEMBER_DAYS", 30))
    WTF_CSRF_TIME_LIMIT = None
    HISTORY_PAGE_SIZE = _int("HISTORY_PAGE_SIZE", 25)
    # Behind a reverse proxy: how many proxies set X-Forwarded-For/-Proto/-Host (0: none).
    PROXY_COUNT = _int("PROXY_COUNT", 0)


class DevelopmentConfig(Config):
    DEBUG = False
    ENV_NAME = "development"


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = secrets.token_hex(32)
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = False
    RATELIMIT_STORAGE_URI = "memory://"
    JOB_BACKEND = "thread"
    MAIL_SERVER = None


class ProductionConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"
    # No outbox inside the code checkout: production sends mail over SMTP (MAIL_SERVER), or
    # writes it to an OUTBOX_DIR the operator chose; it refuses to start with neither.
    OUTBOX_DIR = os.environ.get("OUTBOX_DIR")
    MAIL_LOG_LINKS = False


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
