"""Deploying, withdrawing and rolling back network versions, as a company's users see it, and
the wall between companies. (The guard: test_deploy_guard.py; races: test_deploy_race.py.)"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.schema import Model, ModelDeployment
from app.services import registry
from app.services.registry import comparison, deployment
from tests import factories


def default_network(developer) -> Model:
    return next(
        m
        for m in registry.models_for(developer)
        if m.is_default and m.model_type.key == "neural_network"
    )


def fake_version(developer, version: int, auc: float = 0.8) -> Model:
    """A registered network version (its file is the default network's: enough to list it),
    measured on the common holdout at `auc`, as is v1 at 0.7 (so the guard lets it through)."""
    default = db.session.scalars(
        select(Model).filter_by(company_id=developer.company_id, is_default=True)
    ).all()
    network = next(m for m in default if m.model_type.key == "neural_network")
    model = Model(
        company_id=developer.company_id,
        model_type=network.model_type,
        name=f"run {version}",
        version=version,
        status="done",
        file_path=network.file_path,
        file_sha256=network.file_sha256,
        details=network.details,
        trained_by_developer_id=developer.id,
    )
    db.session.add(model)
    db.session.flush()
    registry.save_metrics(
        model,
        {
            "metrics": {
                "Accuracy": 0.7 + version / 100,
                "AUC": 0.8,
                "Precision": 0.7,
                "Recall": 0.7,
                "F1 Score": 0.7,
            }
        },
    )
    db.session.commit()
    factories.give_holdout_figures(network, 0.7)
    return factories.give_holdout_figures(model, auc + version / 1000)


def labels_for(account) -> list[str]:
    db.session.expire_all()
    return [m.label for m in registry.models_for(account)]


def test_deploy_withdraw_and_rollback_as_a_user_sees_them(developer, user, developer_client):
    v2, v3 = fake_version(developer, 2), fake_version(developer, 3)
    assert len(labels_for(user)) == 5 and "Neural Network v2" not in labels_for(user)

    assert developer_client.post(f"/developer/models/{v2.id}/deploy").status_code == 302
    assert "Neural Network v2" in labels_for(user)

    developer_client.post(f"/developer/models/{v3.id}/deploy")
    assert "Neural Network v3" in labels_for(user)
    assert "Neural Network v2" not in labels_for(user)  # one retrained version at a time

    # Deploying the older v2 over v3 is refused by the guard (its holdout AUC is lower) …
    assert developer_client.post(f"/developer/models/{v2.id}/deploy").status_code == 400
    assert "Neural Network v3" in labels_for(user)
    # … but rolling back, a named action with a reason, does it.
    assert deployment.rollback_target(developer.company_id).id == v2.id
    response = developer_client.post(
        f"/developer/models/{v2.id}/rollback", data={"override_reason": "v3 misses churners"}
    )
    assert response.status_code == 302
    assert "Neural Network v2" in labels_for(user) and "Neural Network v3" not in labels_for(user)

    developer_client.post(f"/developer/models/{v2.id}/undeploy")
    assert len(labels_for(user)) == 5
    rows = db.session.scalars(select(ModelDeployment).filter_by(model_id=v2.id)).all()
    assert len(rows) == 2 and not any(r.is_active for r in rows)
    assert all(r.withdrawn_at is not None for r in rows)

    # The compare page keeps the whole history: v2, v3, v2 again, newest first, all withdrawn.
    history = [(row.model.label, row.is_active) for row in deployment.history(developer.company_id)]
    assert history == [
        ("Neural Network v2", False),
        ("Neural Network v3", False),
        ("Neural Network v2", False),
    ]
    page = developer_client.get("/developer/compare").get_data(as_text=True)
    assert "Deployment history" in page
    assert page.count("Withdrew Neural Network v2") == 1
    assert "Rolled back to Neural Network v2, replacing Neural Network v3" in page
    assert "v3 misses churners" in page
    assert "Deployed Neural Network v3, replacing Neural Network v2" in page


def test_defaults_cannot_be_withdrawn_and_a_second_deploy_is_refused(developer):
    v2 = fake_version(developer, 2)
    default = next(m for m in registry.models_for(developer) if m.is_default)
    with pytest.raises(deployment.DeploymentError, match="always available"):
        deployment.withdraw(developer, default.id)
    deployment.deploy(developer, v2.id)
    with pytest.raises(deployment.DeploymentError, match="already deployed"):
        deployment.deploy(developer, v2.id)


def test_the_compare_page_shows_the_change_against_the_previous_version(
    developer, developer_client
):
    fake_version(developer, 2, auc=0.8)
    fake_version(developer, 3, auc=0.81)
    rows = comparison.compare_models(developer.company_id)
    v3 = next(r for r in rows if r.model.version == 3)
    assert v3.compared_to == "v2"
    assert v3.figures["AUC"] == "0.813" and v3.interval == "0.793–0.833"
    assert v3.changes["AUC"].text == "▲ 0.011" and v3.changes["AUC"].direction == "up"
    page = developer_client.get("/developer/compare").get_data(as_text=True)
    assert "data-confirm=" in page and "▲ 0.011" in page and "0.793–0.833" in page
    assert "Common holdout:</strong>\n      100 customers" in page


def test_another_companys_developer_sees_and_changes_nothing(app, developer, user):
    v2 = fake_version(developer, 2)
    other = factories.make_developer()
    client = factories.log_in(app.test_client(), other)
    run = Model(
        company_id=developer.company_id,
        model_type=v2.model_type,
        name="secret run",
        status="failed",
        error="x",
    )
    db.session.add(run)
    db.session.commit()
    assert client.get(f"/developer/retrain/{run.id}").status_code == 404
    assert client.post(f"/developer/models/{v2.id}/deploy").status_code == 404
    assert client.post(f"/developer/models/{v2.id}/undeploy").status_code == 404
    reason = {"override_reason": "not mine"}
    assert client.post(f"/developer/models/{v2.id}/rollback", data=reason).status_code == 404
    assert client.post(f"/developer/models/{v2.id}/deploy", data=reason).status_code == 404
    assert "Neural Network v2" not in labels_for(user)
    deployment.deploy(developer, v2.id)  # now our company has a history the other must not see
    pages = ("/developer/retrain", "/developer/compare", "/developer/datasets")
    for page in (*pages, "/developer/deployments", "/developer/monitoring", "/developer/"):
        text = client.get(page).get_data(as_text=True)
        assert "secret run" not in text and "Neural Network v2" not in text
        assert "run 2" not in text


def test_users_cannot_open_the_developer_pages(user_client, developer):
    for page in ("/developer/retrain", "/developer/compare", "/developer/datasets"):
        assert user_client.get(page).status_code == 403
