"""The deploy guard on two real versions of known quality: one trained on customers whose
outcomes were flipped (worse than v1 on the common holdout) and one trained on the same customers
with their true outcomes. The worse one is refused without a reason, named with both AUCs and
intervals, and deployed with one; the history shows who and why; rollback is its own action."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest
from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.schema import Model, ModelDeployment
from app.services import jobs, retraining
from app.services.environment import initialize_developer_environment
from app.services.monitoring import holdout
from app.services.registry import comparison, deployment, deployment_history
from tests import factories

UPLOAD_ROWS = 600
NET = "neural_network"


def settle() -> None:
    """Wait for the jobs queued so far, and for those they queue (a retrain queues the
    holdout measurement)."""
    app = current_app._get_current_object()
    jobs.wait_for_idle(app)
    jobs.wait_for_idle(app)


def outcomes_upload(source, flipped: bool) -> pd.DataFrame:
    """UPLOAD_ROWS customers sampled from `source` under fresh customerIDs that are all outside
    the common holdout (so the holdout keeps its true outcomes), optionally with Churn flipped."""
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    sample = frame.sample(n=UPLOAD_ROWS, replace=True, random_state=7).reset_index(drop=True)
    ids, number = [], 0
    while len(ids) < UPLOAD_ROWS:
        candidate = f"GUARD-{number:06d}"
        if holdout.hashed_share(candidate) >= holdout.SHARE:
            ids.append(candidate)
        number += 1
    sample["customerID"] = ids
    if flipped:
        sample["Churn"] = sample["Churn"].map({"Yes": "No", "No": "Yes"})
    return sample


def retrain(developer, frame: pd.DataFrame, name: str) -> Model:
    run = retraining.start_retrain(developer, name, factories.upload(frame))
    settle()
    db.session.expire_all()
    model = db.session.get(Model, run.id)
    assert model.status == "done", model.error
    return model


@pytest.fixture
def dev(small_app):
    developer = factories.make_developer()
    initialize_developer_environment(developer)
    return developer


@pytest.fixture
def versions(small_app, dev, small_original):
    """v2 trained on flipped outcomes, then v3 on the same customers' true outcomes; every model
    measured on the common holdout."""
    worse = retrain(dev, outcomes_upload(small_original, flipped=True), "flipped outcomes")
    better = retrain(dev, outcomes_upload(small_original, flipped=False), "true outcomes")
    holdout.request_measurement(dev.company_id)
    settle()
    db.session.expire_all()
    return worse, better


def test_the_worse_version_is_refused_without_a_reason_and_deployed_with_one(
    small_app, dev, versions
):
    worse, better = versions
    v1 = deployment.default_network(dev.company_id)
    client = factories.log_in(small_app.test_client(), dev)

    refused = client.post(f"/developer/models/{worse.id}/deploy")
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    for model in (worse, v1):  # both AUCs and both intervals are named
        figures = model.holdout
        assert f"{figures['auc']:.3f}" in page
        assert f"{figures['auc_low']:.3f}–{figures['auc_high']:.3f}" in page
    assert 'name="override_reason"' in page and "Deploy Neural Network v2 anyway" in page
    assert not db.session.scalars(select(ModelDeployment).filter_by(model_id=worse.id)).all()

    reason = "Marketing needs v2 for the April campaign"
    deployed = client.post(f"/developer/models/{worse.id}/deploy", data={"override_reason": reason})
    assert deployed.status_code == 302
    row = db.session.scalars(select(ModelDeployment).filter_by(model_id=worse.id)).one()
    assert row.is_active and row.reason == reason and row.deployed_by_developer_id == dev.id
    assert row.guard["overridden"] and row.guard["live"]["auc"] == pytest.approx(v1.holdout["auc"])

    history = client.get("/developer/deployments").get_data(as_text=True)
    assert reason in history and dev.name in history and "guard overridden" in history
    assert "Deployed Neural Network v2" in history

    # The better version beats the live v2, so it needs no reason; it replaces v2.
    assert client.post(f"/developer/models/{better.id}/deploy").status_code == 302
    db.session.expire_all()
    assert deployment.live_network(dev.company_id).id == better.id
    events = deployment_history.events(dev.company_id)
    assert events[0].title == "Deployed Neural Network v3, replacing Neural Network v2"
    assert not events[0].overridden and events[0].reason is None

    # Rolling back to v2 is a named action with a reason, recorded as such.
    compare = client.get("/developer/compare").get_data(as_text=True)
    assert "Roll back to Neural Network v2" in compare
    assert client.post(f"/developer/models/{worse.id}/rollback").status_code == 302
    db.session.expire_all()
    assert deployment.live_network(dev.company_id).id == better.id  # no reason: nothing changed
    client.post(f"/developer/models/{worse.id}/rollback", data={"override_reason": "v3 broke"})
    db.session.expire_all()
    assert deployment.live_network(dev.company_id).id == worse.id
    assert deployment_history.events(dev.company_id)[0].title.startswith(
        "Rolled back to Neural Network v2"
    )


def test_a_version_not_measured_yet_is_refused_until_it_is(small_app, dev, versions):
    worse, better = versions
    better.holdout_status = None  # as if its figures were not measured yet
    db.session.commit()
    with pytest.raises(deployment.GuardRefusal, match="not measured yet"):
        deployment.deploy(dev, better.id)
    settle()  # the refusal queued the measurement
    db.session.expire_all()
    assert deployment.deploy(dev, better.id).id == better.id


def test_versions_of_known_quality_are_compared_on_one_holdout_with_arrows_that_agree(
    small_app, dev, versions
):
    worse, better = versions
    v1 = deployment.default_network(dev.company_id)
    dataset = holdout.holdout_dataset(dev.company)
    assert dataset.id == better.training_dataset_id  # the latest data set holds the holdout
    for model in holdout.company_models(dev.company_id):
        assert holdout.is_current(model, dataset.id)
        figures = model.holdout
        assert figures["auc_low"] <= figures["auc"] <= figures["auc_high"]
    assert len({m.holdout["rows"] for m in holdout.company_models(dev.company_id)}) == 1
    assert worse.holdout["auc"] < v1.holdout["auc"] < 1
    assert better.holdout["auc"] > worse.holdout["auc"] + 0.2

    client = factories.log_in(small_app.test_client(), dev)
    page = client.get("/developer/compare").get_data(as_text=True)
    customers = holdout.company_models(dev.company_id)[0].holdout["rows"]
    assert f"{customers:,} customers" in page
    rows = [r for r in comparison.compare_models(dev.company_id) if r.model.model_type.key == NET]
    assert [r.model.label for r in rows] == [
        "Neural Network",
        "Neural Network v2",
        "Neural Network v3",
    ]
    checked = 0
    for previous, row in zip(rows, rows[1:], strict=False):
        for name, change in row.changes.items():
            now, before = Decimal(row.figures[name]), Decimal(previous.figures[name])
            sign = "up" if now > before else "down" if now < before else "same"
            assert change.direction == sign
            assert Decimal(change.text.split()[1]) == abs(now - before)
            assert row.figures[name] in page and change.text in page
            checked += 1
    assert checked == 10
