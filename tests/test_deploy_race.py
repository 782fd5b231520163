"""Concurrent deploy requests, with real threads, on SQLite and PostgreSQL: a double submit
answers "already deployed", parallel deploys of different versions leave one live version, and
the database itself refuses a second live retrained version."""

from __future__ import annotations

import threading

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.schema import Developer, Model, ModelDeployment
from app.services.environment import initialize_developer_environment
from app.services.registry import deployment
from tests import factories
from tests.test_deployment import fake_version


@pytest.fixture
def company_with_versions(any_db_app):
    developer = factories.make_developer()
    initialize_developer_environment(developer)
    versions = [fake_version(developer, number, auc=0.8) for number in range(2, 8)]
    return developer, [v.id for v in versions]


def in_parallel(app: Flask, calls) -> list[str]:
    """Run each call (a function of a fresh session's developer) in its own thread, all released
    at once; returns "ok" or the refusal's message of each."""
    barrier = threading.Barrier(len(calls))
    results: list[str] = [""] * len(calls)

    def run(index: int, call) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                call()
                results[index] = "ok"
            except deployment.DeploymentError as error:
                results[index] = str(error)
            except Exception as error:
                results[index] = f"unexpected {type(error).__name__}: {error}"
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def active_rows(**filters) -> int:
    db.session.expire_all()
    return db.session.scalar(
        select(func.count(ModelDeployment.id)).filter_by(is_active=True, **filters)
    )


def test_ten_concurrent_deploys_of_one_version_leave_one_active_row(
    any_db_app, company_with_versions
):
    developer, versions = company_with_versions
    developer_id, target = developer.id, versions[0]

    def deploy() -> None:
        deployment.deploy(db.session.get(Developer, developer_id), target)

    results = in_parallel(any_db_app, [deploy] * 10)
    assert results.count("ok") == 1, results
    assert results.count("Neural Network v2 is already deployed.") == 9, results
    assert active_rows(model_id=target) == 1


def test_six_concurrent_deploys_of_different_versions_leave_one_live_version(
    any_db_app, company_with_versions
):
    developer, versions = company_with_versions
    developer_id = developer.id

    def deploy(model_id: int):
        return lambda: deployment.deploy(
            db.session.get(Developer, developer_id), model_id, "race test"
        )

    results = in_parallel(any_db_app, [deploy(model_id) for model_id in versions])
    assert all(result == "ok" for result in results), results  # one after the other
    assert active_rows(company_id=developer.company_id, is_retrained=True) == 1
    live = deployment.live_network(developer.company_id)
    assert live.id in versions
    # Every deployment but the last was replaced by the next: five withdrawals, one live.
    rows = deployment.history(developer.company_id)
    assert len(rows) == 6 and sum(r.withdraw_action == "replaced" for r in rows) == 5


def test_a_double_submit_over_http_answers_already_deployed(any_db_app, company_with_versions):
    developer, versions = company_with_versions
    target = versions[0]
    clients = [factories.log_in(any_db_app.test_client(), developer) for _ in range(2)]
    pages: list[str] = ["", ""]
    barrier = threading.Barrier(2)

    def submit(index: int) -> None:
        with any_db_app.app_context():
            barrier.wait(timeout=30)
            response = clients[index].post(
                f"/developer/models/{target}/deploy", follow_redirects=True
            )
            pages[index] = response.get_data(as_text=True)
            db.session.remove()

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    answers = sorted(
        "already"
        if "Neural Network v2 is already deployed." in page
        else "deployed"
        if "Neural Network v2 is now available to your users." in page
        else page
        for page in pages
    )
    assert answers == ["already", "deployed"], pages
    assert active_rows(model_id=target) == 1


def test_the_database_refuses_a_second_live_retrained_version(any_db_app, company_with_versions):
    developer, versions = company_with_versions
    deployment.deploy(developer, versions[0])
    db.session.add(
        ModelDeployment(
            model_id=versions[1],
            company_id=developer.company_id,
            is_retrained=True,
            is_active=True,
        )
    )
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    db.session.add(
        ModelDeployment(model_id=versions[0], company_id=developer.company_id, is_retrained=False)
    )
    with pytest.raises(IntegrityError):  # nor two active rows of one model
        db.session.commit()
    db.session.rollback()
    assert db.session.get(Model, versions[0]) is not None
