"""The one lifecycle of queued work: one vocabulary held by the database, one way to fail."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.schema import Model, Prediction, WorkStatus
from app.services import charts, jobs, registry, storage
from app.services import prediction as predictions
from app.services.jobs import lifecycle
from tests import factories

BEFORE_ONE_VOCABULARY = "1c763e211b45"


def test_the_database_refuses_a_status_outside_the_vocabulary(any_db_app):
    developer = factories.make_developer()
    network = db.session.execute(
        text("SELECT id FROM modeltypes WHERE key = 'neural_network'")
    ).scalar_one()
    for word in ("ready", "succeeded", ""):
        run = Model(company_id=developer.company_id, model_type_id=network, name="run", status=word)
        db.session.add(run)
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
    db.session.add(
        Model(company_id=developer.company_id, model_type_id=network, name="ok", status="done")
    )
    db.session.commit()


def test_the_migration_moves_ready_models_to_the_shared_word_done(any_db_app):
    downgrade(revision=BEFORE_ONE_VOCABULARY)
    # The rows are written in SQL: the ORM's classes describe the newest schema, not this one.
    db.session.execute(
        text(
            "INSERT INTO companies (public_id, name, email, created_at, updated_at)"
            " VALUES ('OLD-0001', 'Old', 'old@example.com', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        )
    )
    company = db.session.execute(
        text("SELECT id FROM companies WHERE public_id = 'OLD-0001'")
    ).scalar_one()
    db.session.execute(
        text(
            "INSERT INTO models (company_id, model_type_id, name, is_default, status, progress,"
            " created_at, updated_at) SELECT :company, id, 'old', false, 'ready', 100,"
            " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM modeltypes WHERE key = 'decision_tree'"
        ),
        {"company": company},
    )
    # Rows of other tables refer to it: a table rebuild must not trip over them (SQLite).
    db.session.execute(
        text(
            "INSERT INTO modelmetrics (model_id, name, value, created_at, updated_at)"
            " SELECT id, 'AUC', 0.8, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM models"
        )
    )
    db.session.commit()
    upgrade()
    status = db.session.execute(text("SELECT status FROM models WHERE name = 'old'")).scalar_one()
    assert status == WorkStatus.DONE


def test_marking_failed_works_even_when_the_error_broke_the_session(app, user, tmp_path):
    model = registry.models_for(user)[0]
    dataset = factories.make_dataset(user.company_id, "input")
    prediction = factories.make_prediction(user, model, dataset, "broken")
    prediction.status = WorkStatus.RUNNING
    db.session.commit()
    partial = tmp_path / "partial.csv"
    partial.write_text("half a result")
    db.session.add(Prediction(company_id=user.company_id, name="no model, no input"))
    with pytest.raises(IntegrityError):
        db.session.flush()  # the session is now unusable until rolled back
    failed = lifecycle.mark_failed(prediction, "The disk went away.", [partial])
    assert failed is not None and failed.status == WorkStatus.FAILED
    assert failed.error == "The disk went away." and failed.finished_at is not None
    assert not partial.exists()
    db.session.expire_all()
    assert db.session.get(Prediction, prediction.id).status == WorkStatus.FAILED


def test_a_chart_that_cannot_be_drawn_never_undoes_a_finished_prediction(
    app, user, original_dataset, monkeypatch
):
    tried = []

    def broken(_prediction):
        tried.append(_prediction.id)
        raise RuntimeError("the font cache is gone")

    monkeypatch.setattr(charts, "churn_distribution_png", broken)
    app.config["PREDICTION_BACKGROUND_ROWS"] = 10  # a job draws the charts once it is done
    customers = factories.customers(original_dataset, rows=30)
    model = registry.models_for(user)[0]
    prediction = predictions.create_prediction(
        user, "Charts fail", model.id, factories.upload(customers)
    )
    jobs.wait_for_idle(app)
    db.session.refresh(prediction)
    assert tried == [prediction.id]  # the job did try to draw it
    assert prediction.status == WorkStatus.DONE and prediction.error is None
    assert storage.dataset_file(prediction.result_path).exists()
