"""One company's accounts can reach nothing of another's, even with the other's real ids.

Like tests/test_access.py this walks `app.url_map`, but instead of made-up ids it fills every
URL variable with a real object of company A: its default and retrained models, the retrain run,
predictions by its user and its developer, and its user. Company B's developer and user must get
403 or 404 for every such GET and POST, and A's rows and files must be left exactly as they were.
"""

from __future__ import annotations

import io
import itertools
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from flask import current_app
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.routing import AnyConverter

from app import create_app
from app.extensions import db
from app.schema import ApiToken, Dataset, Developer, Model, ModelDeployment, Prediction, User
from app.services import decisions, jobs, registry, retraining
from app.services import prediction as predictions
from app.services.api import tokens as api_tokens
from app.services.catalog import NETWORK_KIND
from app.services.environment import ensure_company_models, initialize_developer_environment
from app.services.registry import deployment
from tests import factories
from tests.conftest import build_app

ROLE_BLUEPRINTS = ("developer", "user")
COSTS = {"customer_value": "500", "offer_cost": "50", "contact_cost": "5", "acceptance_rate": "30%"}


# The rules --------------------------------------------------------------------------------------


def _rules_with_variables() -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(endpoint, method, rule, variables) of every role route whose URL has variables."""
    app = create_app("testing")
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.partition(".")[0] not in ROLE_BLUEPRINTS or not rule.arguments:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, rule.rule, tuple(sorted(rule.arguments))))
    return found


def _developer_rules() -> list[tuple[str, str, str]]:
    app = create_app("testing")
    return [
        (rule.endpoint, method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("developer.")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    ]


RULES = _rules_with_variables()
RULE_PARAMS = [pytest.param(*r, id=f"{r[1]} {r[2]}") for r in RULES]
GET_RULE_PARAMS = [pytest.param(*r, id=f"{r[1]} {r[2]}") for r in RULES if r[1] == "GET"]
DEVELOPER_RULES = [pytest.param(*r, id=f"{r[1]} {r[2]}") for r in _developer_rules()]


def test_the_walk_finds_every_kind_of_id():
    variables = {name for *_, names in RULES for name in names}
    assert {"model_id", "prediction_id", "run_id", "user_id", "token_id"} <= variables


# Company A, with something of every kind -----------------------------------------------------


@dataclass
class World:
    app: object
    developer_a: Developer
    user_a: User
    developer_b: Developer
    user_b: User
    values: dict[str, list]  # URL variable name -> A's real ids (or allowed words)


@pytest.fixture(scope="module")
def world(tmp_path_factory, migrated_sqlite_template, small_original, default_models_dir):
    """Company A (developer, user, predictions, a retrained and deployed v2) and company B."""
    tmp_path = tmp_path_factory.mktemp("cross")
    database = tmp_path / "test.sqlite3"
    shutil.copyfile(migrated_sqlite_template, database)
    app = build_app(tmp_path, f"sqlite:///{database}", small_original, default_models_dir)
    with app.app_context():
        developer_a = factories.make_developer()
        initialize_developer_environment(developer_a)
        user_a = factories.make_user(developer_a.company)
        ensure_company_models(developer_a.company)

        # With costs, A's predictions have call lists too (every URL of theirs is a page).
        decisions.save_costs(developer_a, COSTS)
        frame = pd.read_csv(small_original, dtype=str, keep_default_na=False)
        # Not the network: deploying the retrained network may withdraw the default one.
        default = next(m for m in registry.models_for(user_a) if m.model_type.key != NETWORK_KIND)
        by_user = _predict(user_a, "A user's prediction", default.id, frame.head(30))
        by_developer = _predict(developer_a, "A developer's prediction", default.id, frame.tail(30))

        upload = frame.sample(n=60, random_state=3).reset_index(drop=True)
        upload["customerID"] = [f"CROSS-{i:04d}" for i in range(len(upload))]
        run = retraining.start_retrain(developer_a, "A's run", factories.upload(upload))
        jobs.wait_for_idle(app)
        db.session.expire_all()
        retrained = db.session.get(Model, run.id)
        assert retrained.status == "done", retrained.error
        deployment.deploy(developer_a, retrained.id, "set up for the cross-company walk")

        token, _ = api_tokens.create_token(developer_a, "A's pipeline")

        developer_b = factories.make_developer()
        initialize_developer_environment(developer_b)
        user_b = factories.make_user(developer_b.company)
        ensure_company_models(developer_b.company)

        values = {
            "model_id": [default.id, retrained.id],
            "prediction_id": [by_user.id, by_developer.id],
            "run_id": [retrained.id],
            "user_id": [user_a.id],
            "token_id": [token.id],
            "dataset_id": [by_user.input_dataset_id, retrained.training_dataset_id],
        }
        yield World(app, developer_a, user_a, developer_b, user_b, values)
        jobs.wait_for_idle(app)
        db.session.remove()
        db.engine.dispose()


def _predict(account, name: str, model_id: int, frame: pd.DataFrame) -> Prediction:
    data = frame.drop(columns=["Churn"]).to_csv(index=False).encode()
    upload = FileStorage(stream=io.BytesIO(data), filename="customers.csv")
    prediction = predictions.create_prediction(account, name, model_id, upload)
    assert prediction.status == "done", prediction.error
    return prediction


def _paths(rule: str, variables: tuple[str, ...], values: dict[str, list]) -> list[str]:
    """Every URL of `rule` with A's real values (all combinations)."""
    app = current_app
    werkzeug_rule = next(r for r in app.url_map.iter_rules() if r.rule == rule)
    choices = []
    for name in variables:
        converter = werkzeug_rule._converters[name]
        if isinstance(converter, AnyConverter):
            choices.append(sorted(converter.items))
        else:
            assert name in values, f"give {rule}'s <{name}> a real value of company A"
            choices.append(values[name])
    paths = []
    for combination in itertools.product(*choices):
        built = werkzeug_rule.build(dict(zip(variables, combination, strict=True)), False)[1]
        paths.append(built)
    return paths


def _snapshot(company_id: int, app) -> dict:
    """Everything of company A that a request could change: rows and files."""
    db.session.expire_all()

    def rows(model, *columns):
        statement = select(model).filter_by(company_id=company_id).order_by(model.id)
        return [tuple(getattr(row, c) for c in columns) for row in db.session.scalars(statement)]

    datasets_root = Path(app.config["DATASETS_ROOT"])
    models_root = Path(app.config["MODELS_ROOT"])
    files = sorted(
        str(p.relative_to(root))
        for root in (datasets_root, models_root / "companies", models_root / "retrained")
        if root.exists()
        for p in root.rglob("*")
        if p.is_file()
    )
    return {
        "models": rows(Model, "id", "status", "version", "is_default", "file_sha256", "name"),
        "deployments": rows(ModelDeployment, "id", "model_id", "is_active", "withdrawn_at"),
        "users": rows(User, "id", "is_enabled", "deactivated_at", "email"),
        "developers": rows(Developer, "id", "is_enabled", "approved_at"),
        "predictions": rows(Prediction, "id", "status", "name", "model_id", "result_path"),
        "datasets": rows(Dataset, "id", "kind", "path", "sha256"),
        "api_tokens": rows(ApiToken, "id", "name", "revoked_at"),
        "files": files,
    }


# Company B against company A's ids -----------------------------------------------------------


@pytest.mark.parametrize("role", ["developer", "user"])
@pytest.mark.parametrize(("endpoint", "method", "rule", "variables"), RULE_PARAMS)
def test_another_company_cannot_reach_company_a_s_objects(
    world, role, endpoint, method, rule, variables
):
    account = world.developer_b if role == "developer" else world.user_b
    before = _snapshot(world.developer_a.company_id, world.app)
    client = factories.log_in(world.app.test_client(), account)
    for path in _paths(rule, variables, world.values):
        response = client.open(path, method=method)
        assert response.status_code in (403, 404), (
            f"company B's {role} got {response.status_code} for {method} {path}"
        )
    assert _snapshot(world.developer_a.company_id, world.app) == before


def test_company_b_deactivating_company_a_s_user_leaves_them_active(world):
    client = factories.log_in(world.app.test_client(), world.developer_b)
    response = client.post(f"/developer/users/{world.user_a.id}/deactivate")
    assert response.status_code == 404
    db.session.expire_all()
    user = db.session.get(User, world.user_a.id)
    assert user.is_enabled and user.deactivated_at is None
    assert user.is_active


def test_company_b_cannot_withdraw_or_deploy_company_a_s_models(world):
    company_a = world.developer_a.company_id
    deployed = registry.deployed_model_ids(company_a)
    client = factories.log_in(world.app.test_client(), world.developer_b)
    for model_id in sorted(deployed):
        assert client.post(f"/developer/models/{model_id}/undeploy").status_code == 404
        assert client.post(f"/developer/models/{model_id}/deploy").status_code == 404
    assert registry.deployed_model_ids(company_a) == deployed
    assert registry.deployed_model_ids(world.developer_b.company_id).isdisjoint(deployed)


@pytest.mark.parametrize("role", ["developer", "user"])
def test_company_b_cannot_predict_with_company_a_s_model(world, role):
    """The model is a form field, not a URL variable: the form refuses A's model id."""
    account = world.developer_b if role == "developer" else world.user_b
    before = _snapshot(world.developer_a.company_id, world.app)
    own_before = db.session.scalars(
        select(Prediction.id).filter_by(company_id=account.company_id)
    ).all()
    frame = pd.read_csv(current_app.config["ORIGINAL_DATASET"], dtype=str, keep_default_na=False)
    data = frame.head(5).drop(columns=["Churn"]).to_csv(index=False).encode()
    client = factories.log_in(world.app.test_client(), account)
    for model_id in world.values["model_id"]:
        response = client.post(
            f"/{role}/predict",
            data={
                "name": "Borrowed",
                "model_id": str(model_id),
                "file": (io.BytesIO(data), "c.csv"),
            },
            content_type="multipart/form-data",
        )
        assert response.status_code in (400, 403, 404)
    assert _snapshot(world.developer_a.company_id, world.app) == before
    own_after = db.session.scalars(
        select(Prediction.id).filter_by(company_id=account.company_id)
    ).all()
    assert own_after == own_before


@pytest.mark.parametrize("role", ["developer", "user"])
def test_history_filters_with_company_a_s_ids_show_nothing_of_company_a(world, role):
    account = world.developer_b if role == "developer" else world.user_b
    client = factories.log_in(world.app.test_client(), account)
    model_id = world.values["model_id"][0]
    response = client.get(
        f"/{role}/predictions?model={model_id}&user={world.user_a.id}",
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "A user&#39;s prediction" not in page and "A user's prediction" not in page
    assert "A developer&#39;s prediction" not in page and "A developer's prediction" not in page


# Company A's own accounts ----------------------------------------------------------------------


@pytest.mark.parametrize(("endpoint", "method", "rule", "variables"), GET_RULE_PARAMS)
def test_company_a_s_owner_role_opens_the_same_urls(world, endpoint, method, rule, variables):
    """The control: with the same ids, A's own accounts get the pages (so the ids are real)."""
    role = endpoint.partition(".")[0]
    account = world.developer_a if role == "developer" else world.user_a
    client = factories.log_in(world.app.test_client(), account)
    for path in _paths(rule, variables, world.values):
        if role == "user" and "/predictions/" in path:
            # A user sees only their own predictions, not the developer's.
            own = f"/predictions/{world.values['prediction_id'][0]}"
            if own not in path:
                continue
        response = client.get(path)
        assert response.status_code == 200, f"{role} of A got {response.status_code} for {path}"


@pytest.mark.parametrize(("endpoint", "method", "rule"), DEVELOPER_RULES)
def test_company_a_s_user_is_refused_every_developer_route(world, endpoint, method, rule):
    before = _snapshot(world.developer_a.company_id, world.app)
    client = factories.log_in(world.app.test_client(), world.user_a)
    variables = next((r[3] for r in RULES if r[2] == rule), ())
    paths = _paths(rule, variables, world.values)
    for path in paths:
        response = client.open(path, method=method)
        assert response.status_code == 403, f"A's user got {response.status_code} for {path}"
    assert _snapshot(world.developer_a.company_id, world.app) == before


@pytest.mark.parametrize("role", ["developer", "user"])
def test_the_registry_gives_no_account_a_model_it_may_not_use(world, role):
    """`registry.model_for`, which every prediction's model goes through (the form, the API):
    another company's model, an id no row has, and one past any database's integer are all
    refused with the same message; the account's own models are found."""
    account = world.developer_b if role == "developer" else world.user_b
    with world.app.app_context():
        own = registry.models_for(account)
        assert own and all(registry.model_for(account, m.id).id == m.id for m in own)
        for model_id in [*world.values["model_id"], 0, -1, 10**9, 2**70]:
            with pytest.raises(registry.ModelNotAvailable, match="not available to you"):
                registry.model_for(account, model_id)
