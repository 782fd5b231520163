"""The per-developer environment: original data set, default models, deployments."""

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.schema import Dataset, Model, ModelDeployment, ModelMetric, User
from app.services import jobs, registry, storage
from app.services.accounts import tokens
from app.services.catalog import KIND_NAMES
from app.services.environment import initialize_developer_environment
from tests import factories


def test_environment_registers_original_dataset_and_five_deployed_defaults(app, developer):
    company = developer.company
    original = db.session.execute(select(Dataset).filter_by(company_id=company.id)).scalar_one()
    assert original.kind == "original"
    assert original.row_count == 7043
    assert storage.dataset_file(original.path).exists()
    models = db.session.scalars(select(Model).filter_by(company_id=company.id)).all()
    assert sorted(m.model_type.key for m in models) == sorted(KIND_NAMES)
    assert all(m.is_default and m.version == 1 and m.file_sha256 for m in models)
    assert all(m.metric("AUC") > 0.5 for m in models)
    assert registry.deployed_model_ids(company.id) == {m.id for m in models}


def test_running_the_environment_twice_creates_nothing_twice(app, developer):
    def counts():
        return [
            db.session.scalar(select(func.count()).select_from(t))
            for t in (Dataset, Model, ModelMetric, ModelDeployment)
        ]

    before = counts()
    initialize_developer_environment(developer)
    assert counts() == before


def test_a_second_company_gets_its_own_independent_environment(app, developer):
    other = factories.make_developer()
    initialize_developer_environment(other)
    mine = {m.id for m in registry.models_for(developer)}
    theirs = {m.id for m in registry.models_for(other)}
    assert len(mine) == len(theirs) == 5
    assert not mine & theirs


def test_a_verified_user_of_a_company_without_developer_gets_the_default_models(app):
    from app.services.environment import on_user_activated

    user = factories.make_user()
    assert registry.models_for(user) == []
    on_user_activated(user)
    assert len(registry.models_for(user)) == 5


def test_repair_refreshes_the_checksums_of_a_company_without_a_developer(app):
    """After the default files are retrained, users of every company can still use them."""
    from app.services.environment import on_user_activated, repair_all_environments

    user = factories.make_user()
    on_user_activated(user)
    stale = registry.models_for(user)
    for model in stale:
        model.file_sha256 = "0" * 64  # what a row recorded before its file was retrained
    db.session.commit()
    with pytest.raises(registry.training.ModelIntegrityError):
        registry.load_model_pipeline(stale[0])

    repair_all_environments()

    for model in registry.models_for(user):
        assert registry.load_model_pipeline(model) is not None


def test_verifying_an_email_never_trains_models_in_the_request(make_app, tmp_path, small_original):
    """With no trained default files (a new storage root), the verification link answers at
    once; the models are trained by a background job, and the pages say they are on the way."""
    app = make_app(MODELS_ROOT=str(tmp_path / "empty_models"), ORIGINAL_DATASET=str(small_original))
    user = factories.make_user(verified=False)
    token = tokens.account_verification_token(user)
    client = app.test_client()
    with jobs.held(app):  # the job waits: whatever the request did, it did without it
        response = client.get(f"/auth/verify/{token}")
        assert response.status_code == 200 and "You can log in now" in response.text
        assert not list((tmp_path / "empty_models").rglob("*.pkl"))
        page = factories.log_in(app.test_client(), user).get("/user/models")
        assert "being prepared" in page.text
    jobs.wait_for_idle(app)
    db.session.expire_all()
    assert len(list((tmp_path / "empty_models" / "default_models").glob("*_metadata.pkl"))) == 5
    assert len(registry.models_for(db.session.get(User, user.id))) == 5
