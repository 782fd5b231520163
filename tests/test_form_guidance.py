"""Guidance where a choice is made: the prediction form preselects the recommended model and
describes each option, a withdrawn version is named as such, a refused upload names its file and
is tied to the field, and both upload forms offer a template with the required columns."""

from __future__ import annotations

import csv
import io
import re

import pandas as pd
import pytest

from app.services import registry
from app.services.preprocessing.columns import FEATURES, PREDICTION_COLUMNS, RETRAINING_COLUMNS
from app.services.registry import deployment
from tests import factories

pytestmark = pytest.mark.usefixtures("fresh_login_per_request")


def options_of(html: str) -> list[tuple[str, bool, str]]:
    """(value, selected, text) of each <option> of the model choice."""
    select = re.search(r'<select[^>]*name="model_id".*?</select>', html, re.S)
    assert select, html
    return [
        (value, bool(selected), text.strip())
        for value, selected, text in re.findall(
            r'<option(?: selected)? value="(\d+)"( selected)?[^>]*>([^<]*)</option>',
            select.group(0).replace("<option selected", "<option selected"),
        )
    ]


def selected_option(html: str) -> str:
    match = re.search(r'<option (?:selected value="(\d+)"|value="(\d+)" selected)', html)
    assert match, "no option is preselected"
    return match.group(1) or match.group(2)


def test_the_form_preselects_the_default_with_the_best_auc_and_shows_each_auc(
    user_client, user, developer
):
    page = user_client.get("/user/predict").text
    models = registry.models_for(user)
    best = max(models, key=lambda m: m.metric("AUC"))
    assert selected_option(page) == str(best.id)
    for model in models:
        assert f"{model.label} · AUC {model.metric('AUC'):.3f}" in page
    assert "deployed by your developer" not in page


def test_a_deployed_version_is_recommended_marked_and_explained(app, user_client, user, developer):
    version = factories.make_version(developer, 2)
    factories.db.session.commit()
    deployment.deploy(developer, version.id, "newer customers")
    page = user_client.get("/user/predict").text
    assert selected_option(page) == str(version.id)
    # (the factory's version has no metric rows, so its option shows no AUC)
    assert "Neural Network v2 · deployed by your developer · recommended" in page
    assert "Neural Network · AUC" in page
    assert "the version your developer deployed" in page
    assert "default network every company starts with" in page


def test_the_model_list_says_which_models_users_see(app, developer_client, developer):
    factories.make_version(developer, 2)
    factories.db.session.commit()
    page = developer_client.get("/developer/models").text
    assert "Users see it" in page
    row = re.search(r"Neural Network v2</a>.*?</tr>", page, re.S).group(0)
    assert "not deployed" in row
    assert "default network every company starts with" in page


def test_a_version_withdrawn_meanwhile_is_named_and_the_form_is_kept(
    app, user_client, user, developer, original_dataset
):
    version = factories.make_version(developer, 2)
    factories.db.session.commit()
    deployment.deploy(developer, version.id, "newer customers")
    assert f'value="{version.id}"' in user_client.get("/user/predict").text
    deployment.withdraw(developer, version.id)

    frame = pd.read_csv(original_dataset, dtype=str, nrows=5)
    response = user_client.post(
        "/user/predict",
        data={
            "name": "April north",
            "model_id": str(version.id),
            "file": (io.BytesIO(frame.to_csv(index=False).encode()), "april north.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "This version was withdrawn by your developer; choose another." in response.text
    assert "Not a valid choice" not in response.text
    assert 'value="April north"' in response.text
    assert "april north.csv" in response.text


def test_a_refused_upload_names_the_file_and_is_tied_to_the_field(
    user_client, user, developer, original_dataset
):
    frame = pd.read_csv(original_dataset, dtype=str, nrows=5).drop(columns=["tenure"])
    model = registry.models_for(user)[0]
    response = user_client.post(
        "/user/predict",
        data={
            "name": "Short file",
            "model_id": str(model.id),
            "file": (io.BytesIO(frame.to_csv(index=False).encode()), "short.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    file_input = re.search(r'<input[^>]*name="file"[^>]*>', response.text).group(0)
    assert 'aria-invalid="true"' in file_input and "autofocus" in file_input
    described = re.search(r'aria-describedby="([^"]+)"', file_input).group(1).split()
    assert "file-error" in described
    error = re.search(r'<div class="error" id="file-error" role="alert">(.*?)</div>', response.text)
    assert error and "“short.csv” was not used" in error.group(1) and "tenure" in error.group(1)
    name_input = re.search(r'<input[^>]*name="name"[^>]*>', response.text).group(0)
    assert "autofocus" not in name_input and 'value="Short file"' in name_input
    assert selected_option(response.text) == str(model.id)


def test_the_file_inputs_accept_only_the_formats_the_app_reads(developer_client, developer):
    for path in ("/developer/predict", "/developer/retrain"):
        file_input = re.search(r'<input[^>]*name="file"[^>]*>', developer_client.get(path).text)
        assert 'accept=".csv,.gz,.parquet,.xlsx"' in file_input.group(0)


def read_template(response) -> list[list[str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.data.decode())))


def test_the_prediction_template_has_the_required_columns_and_one_usable_row(
    user_client, user, developer
):
    page = user_client.get("/user/predict").text
    assert 'href="/user/predict/template.csv"' in page
    for column in PREDICTION_COLUMNS:
        assert f"<code>{column}</code>" in page
    header, *rows = read_template(user_client.get("/user/predict/template.csv"))
    assert sorted(header) == sorted(PREDICTION_COLUMNS) and len(rows) == 1

    model = registry.models_for(user)[0]
    response = user_client.post(
        "/user/predict",
        data={
            "name": "From the template",
            "model_id": str(model.id),
            "file": (io.BytesIO(user_client.get("/user/predict/template.csv").data), "t.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.text


def test_the_retrain_form_lists_the_16_features_and_offers_its_template(
    developer_client, developer
):
    page = developer_client.get("/developer/retrain").text
    assert "the 16 feature columns" in page
    for column in RETRAINING_COLUMNS:
        assert f"<code>{column}</code>" in page
    header, row = read_template(developer_client.get("/developer/retrain/template.csv"))
    assert sorted(header) == sorted(RETRAINING_COLUMNS) and len(FEATURES) == 16
    assert dict(zip(header, row, strict=True))["Churn"] in {"Yes", "No"}


def test_templates_are_for_signed_in_people_only(client):
    assert client.get("/user/predict/template.csv").status_code in (302, 401)
    assert client.get("/developer/retrain/template.csv").status_code in (302, 401)
