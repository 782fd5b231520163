"""Every API response conforms to /api/v1/openapi.json: schemathesis generates requests from the
document (with and without the token, valid and invalid) and checks status codes, content types,
bodies, headers and authentication; real uploads are checked against the document too.

The schema is loaded at module level (schemathesis' pytest fixture loader does not work with
pytest 9.2); the app it calls gets its database, models and token from a module fixture before
the first case runs. Examples are bounded and the coverage phase is off, so this stays fast.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from app.extensions import db
from app.schema import ApiToken
from app.services.api import tokens as api_tokens
from app.services.database import upgrade_database
from app.services.environment import initialize_developer_environment
from tests import factories
from tests.conftest import RequestClient, build_app

MAX_EXAMPLES = int(os.environ.get("ST_MAX_EXAMPLES", "20"))
FOLDER = Path(tempfile.mkdtemp(prefix="cb-api-schema-"))
APP = build_app(FOLDER, f"sqlite:///{FOLDER / 'api.sqlite3'}", FOLDER / "DatasetA.csv")
APP.test_client_class = RequestClient
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 42,
        "generation": {"max-examples": MAX_EXAMPLES},
        "phases": {"coverage": {"enabled": False}},
        # Well-formed per the document is not enough for a prediction: a random file is not a
        # customer table (400, with the reason), a random id names no prediction (404).
        "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "400", "404"]}},
    }
)
SCHEMA = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", APP, config=CONFIG)
# Known before the app has a database: schemathesis asks for it while collecting the examples.
TOKEN = api_tokens.PREFIX + secrets.token_urlsafe(api_tokens.SECRET_BYTES)


@pytest.fixture(scope="module", autouse=True)
def api_data(original_dataset, default_models_dir):
    """The database, the default models, a developer with a token and a few predictions."""
    shutil.copyfile(original_dataset, FOLDER / "DatasetA.csv")
    (FOLDER / "models").mkdir(exist_ok=True)
    (FOLDER / "models" / "default_models").symlink_to(default_models_dir, target_is_directory=True)
    with APP.app_context():
        upgrade_database()
        developer = factories.make_developer()
        initialize_developer_environment(developer)
        db.session.add(
            ApiToken(
                company_id=developer.company_id,
                developer_id=developer.id,
                name="schemathesis",
                token_hash=api_tokens.digest(TOKEN),
                prefix=TOKEN[:7],
            )
        )
        db.session.commit()
        sample = pd.read_csv(original_dataset, dtype=str, keep_default_na=False).head(50)
        client = APP.test_client()
        for _ in range(3):  # predictions 1-3 exist, so generated ids also meet real ones
            _upload(client, sample.to_csv(index=False).encode())
        db.session.remove()
    yield
    with APP.app_context():
        db.engine.dispose()
    shutil.rmtree(FOLDER, ignore_errors=True)


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def _upload(client, data: bytes, model: str = "Logistic Regression"):
    return client.post(
        "/api/v1/predictions",
        data={"file": (io.BytesIO(data), "customers.csv"), "model": model},
        headers=_auth(),
        content_type="multipart/form-data",
    )


@SCHEMA.auth()
class BearerToken:
    def get(self, case, ctx):
        return TOKEN

    def set(self, case, data, ctx):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@SCHEMA.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_every_api_response_conforms_to_the_document(case):
    with APP.app_context():
        case.call_and_validate()


def test_real_uploads_statuses_and_results_conform_to_the_document(original_dataset):
    sample = pd.read_csv(original_dataset, dtype=str, keep_default_na=False).head(40)
    with APP.app_context():
        client = APP.test_client()
        accepted = _upload(client, sample.to_csv(index=False).encode())
        assert accepted.status_code == 202
        SCHEMA["/predictions"]["POST"].validate_response(accepted)
        refused = _upload(client, b"customerID\nonly-one-column\n")
        assert refused.status_code == 400
        SCHEMA["/predictions"]["POST"].validate_response(refused)
        status = client.get(accepted.get_json()["status_url"], headers=_auth())
        SCHEMA["/predictions/{prediction_id}"]["GET"].validate_response(status)
        result = client.get(status.get_json()["result_url"], headers=_auth())
        assert result.status_code == 200
        SCHEMA["/predictions/{prediction_id}/result"]["GET"].validate_response(result)
        missing = client.get("/api/v1/predictions/999999/result", headers=_auth())
        assert missing.status_code == 404
        SCHEMA["/predictions/{prediction_id}/result"]["GET"].validate_response(missing)
