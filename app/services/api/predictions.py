"""Predictions through the API: the same service as the pages, with the model named by its id
or its label (as the model list shows it, e.g. "Gradient Boosting" or "Neural Network v3")."""

from __future__ import annotations

from app.schema import Developer, Model, Prediction
from app.services import registry
from app.services.errors import DomainError
from app.services.prediction import create_prediction
from app.services.storage.uploads import Upload, client_filename


class InvalidApiRequest(DomainError):
    """A field of the request is missing or names nothing the account may use."""


def model_by_reference(developer: Developer, reference: str | None) -> Model:
    """The model whose id or label (any case) is `reference`, among those the account may use."""
    reference = (reference or "").strip()
    models = registry.models_for(developer)
    if not reference:
        raise InvalidApiRequest(_missing_model(models), field="model")
    for model in models:
        if reference == str(model.id) or reference.casefold() == model.label.casefold():
            return model
    raise InvalidApiRequest(
        f"There is no model “{reference[:100]}” you may use. {_choices(models)}", field="model"
    )


def _choices(models: list[Model]) -> str:
    names = ", ".join(f"{model.label} (id {model.id})" for model in models)
    return f"Available: {names}." if names else "No model is available yet."


def _missing_model(models: list[Model]) -> str:
    return f"Send the model as the form field `model` (its id or label). {_choices(models)}"


def submit_prediction(
    developer: Developer, upload: Upload | None, model_reference: str | None, name: str | None
) -> Prediction:
    """Check the request's fields, then start the prediction as the pages do."""
    if upload is None or not upload.filename:
        raise InvalidApiRequest(
            "Send the customer file (.csv, .csv.gz, .parquet or .xlsx) as the multipart form "
            "field `file`.",
            field="file",
        )
    model = model_by_reference(developer, model_reference)
    name = (name or "").strip() or client_filename(upload.filename) or "API prediction"
    return create_prediction(developer, name[:200], model.id, upload)
