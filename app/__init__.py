"""The application factory: it reads as a table of contents and does no work on import."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

from config import CONFIGS, INSTANCE_DIR, Config


def create_app(config: str | type[Config] | None = None, **overrides: Any) -> Flask:
    """Build the app for `config` ('development', 'testing', 'production' or a class)."""
    app = Flask(__name__, instance_path=str(INSTANCE_DIR), instance_relative_config=True)
    config_class = CONFIGS[config or "development"] if not isinstance(config, type) else config
    app.config.from_object(config_class)
    app.config.update(overrides)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    _configure_secret_key(app)
    _configure_logging(app)
    _trust_proxies(app)

    register_extensions(app)
    register_url_converters(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_request_hooks(app)
    register_template_helpers(app)
    register_commands(app)
    register_jobs()
    return app


def _configure_secret_key(app: Flask) -> None:
    """Production must be given SECRET_KEY; development keeps a generated one in instance/."""
    if app.config.get("SECRET_KEY"):
        return
    if app.config.get("ENV_NAME") == "production":
        raise RuntimeError("SECRET_KEY must be set in the environment to run in production.")
    key_file = Path(app.instance_path) / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    app.config["SECRET_KEY"] = key_file.read_text().strip()


def _trust_proxies(app: Flask) -> None:
    """Behind PROXY_COUNT proxies, take the client's address and scheme from their headers, so
    rate limits count per person and emailed links use https."""
    count = app.config.get("PROXY_COUNT", 0)
    if count:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=count, x_proto=count, x_host=count
        )


def _configure_logging(app: Flask) -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    # Alembic announces each of its plugins at INFO on every start; only its warnings matter.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def register_extensions(app: Flask) -> None:
    from app.extensions import csrf, db, limiter, login_manager, mail, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"))
    csrf.init_app(app)
    mail.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    from app.services.accounts import load_account_from_session

    login_manager.user_loader(load_account_from_session)

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        _enable_sqlite_wal(app)


def _enable_sqlite_wal(app: Flask) -> None:
    """WAL mode and a busy timeout let the web and the job thread share the SQLite file."""
    from sqlalchemy import event

    from app.extensions import db

    with app.app_context():
        engine = db.engine

        @event.listens_for(engine, "connect")
        def _set_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            if app.config["SQLALCHEMY_DATABASE_URI"] not in ("sqlite://", "sqlite:///:memory:"):
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()


def register_url_converters(app: Flask) -> None:
    """`<int:…>` in a URL accepts only ids a row can have: a larger number is a 404, not a 500."""
    from werkzeug.routing import IntegerConverter

    from app.schema import MAX_ID

    class IdConverter(IntegerConverter):
        def __init__(self, url_map, **kwargs):
            kwargs.setdefault("max", MAX_ID)
            super().__init__(url_map, **kwargs)

    app.url_map.converters["int"] = IdConverter


def register_blueprints(app: Flask) -> None:
    from app.web.auth.routes import bp as auth_bp
    from app.web.developer.routes import bp as developer_bp
    from app.web.main import bp as main_bp
    from app.web.user.routes import bp as user_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp, url_prefix="/auth")
    app.register_blueprint(developer_bp, url_prefix="/developer")
    app.register_blueprint(user_bp, url_prefix="/user")


def register_errorhandlers(app: Flask) -> None:
    from app.web.errors import register

    register(app)


def register_request_hooks(app: Flask) -> None:
    from app.web.security import register

    register(app)


def register_template_helpers(app: Flask) -> None:
    from app.web import templating

    templating.register(app)


def register_commands(app: Flask) -> None:
    from app.commands import register

    register(app)


def register_jobs() -> None:
    from app.tasks import register_jobs as register

    register()


def recover_interrupted_work(app: Flask) -> int:
    """Mark rows whose job died with the process that ran it as failed (web and worker start)."""
    from app.services import jobs, lifecycle

    with app.app_context():
        return lifecycle.recover_interrupted(jobs.liveness(app))
