"""The trust-over-time migration on a database that already has data (SQLite and PostgreSQL):
it runs with rows referring to `models`, repairs what the deploy race left behind (the newest
active row wins), and its CHECK holds the holdout status to the status words."""

from __future__ import annotations

from datetime import datetime

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from tests.conftest import (
    POSTGRES_URL,
    _drop_own_schema,
    _fresh_postgres_url,
    build_app,
    database_backends,
)

BEFORE = "b7e4c1a9d203"  # the migration before this one


@pytest.fixture(params=database_backends())
def old_database(request, tmp_path, original_dataset):
    """An app whose database stops at the migration before this one."""
    if request.param == "postgresql":
        url = _fresh_postgres_url(POSTGRES_URL)
    else:
        url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    app = build_app(tmp_path, url, original_dataset)
    with app.app_context():
        upgrade(revision=BEFORE)
        yield app
        db.session.remove()
        db.engine.dispose()
    if request.param == "postgresql":
        _drop_own_schema(POSTGRES_URL)


def _rows(sql: str) -> list[tuple]:
    with db.engine.begin() as connection:
        return [tuple(row) for row in connection.execute(text(sql))]


def test_the_migration_repairs_racing_deployments_on_a_database_with_data(old_database):
    now = datetime(2026, 1, 1)
    stamps = {"created_at": now, "updated_at": now}
    with db.engine.begin() as connection:
        run = connection.execute
        run(
            text(
                "INSERT INTO companies (id, public_id, name, email, created_at, updated_at) "
                "VALUES (1, 'C-1', 'c', 'c@c', :created_at, :updated_at)"
            ),
            stamps,
        )
        run(
            text(
                "INSERT INTO modeltypes (id, key, name, description, retrainable, created_at, "
                "updated_at) VALUES (1, 'neural_network', 'Neural Network', '', :yes, "
                ":created_at, :updated_at)"
            ),
            {**stamps, "yes": True},
        )
        run(
            text(
                "INSERT INTO models (id, company_id, model_type_id, name, version, is_default, "
                "status, progress, created_at, updated_at) VALUES (:id, 1, 1, 'm', :version, "
                ":is_default, 'done', 100, :created_at, :updated_at)"
            ),
            [
                {**stamps, "id": i, "version": i, "is_default": i == 1}
                for i in (1, 2, 3)  # v1 the default network, v2 and v3 retrained
            ],
        )
        # What the race left: three active rows of v2, then two of v3.
        run(
            text(
                "INSERT INTO modeldeployments (id, model_id, company_id, is_active, deployed_at, "
                "created_at, updated_at) VALUES (:id, :model_id, 1, :yes, :created_at, "
                ":created_at, :updated_at)"
            ),
            [
                {**stamps, "id": i, "model_id": m, "yes": True}
                for i, m in ((1, 1), (2, 2), (3, 2), (4, 2), (5, 3), (6, 3))
            ],
        )
    upgrade()
    rows = _rows(
        "SELECT id, is_active, is_retrained, withdraw_action FROM modeldeployments ORDER BY id"
    )
    assert [(r[0], bool(r[1]), bool(r[2]), r[3]) for r in rows] == [
        (1, True, False, None),  # the default network stays
        (2, False, True, "replaced"),
        (3, False, True, "replaced"),
        (4, False, True, "replaced"),
        (5, False, True, "replaced"),
        (6, True, True, None),  # the newest live retrained row wins
    ]
    with pytest.raises(IntegrityError), db.engine.begin() as connection:
        connection.execute(text("UPDATE models SET holdout_status = 'ready' WHERE id = 1"))
    downgrade(revision=BEFORE)  # and back, with the data in place
    assert len(_rows("SELECT id FROM modeldeployments")) == 6
