"""Forms shared by the developer and user areas (the two differ only in who may see what)."""

from __future__ import annotations

from collections.abc import Mapping

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from app.services.errors import DomainError

# The upload formats every upload field offers (`services.preprocessing.reading`).
UPLOAD_FORMATS = ".csv, .csv.gz, .parquet or .xlsx"
UPLOAD_ACCEPT = {"accept": ".csv,.gz,.parquet,.xlsx"}


class PredictionForm(FlaskForm):
    name = StringField(
        "Prediction name",
        validators=[DataRequired("Please give the prediction a name."), Length(max=200)],
        description="For example: March customers, north region.",
    )
    model_id = SelectField("Model", coerce=int, validators=[DataRequired("Please choose a model.")])
    file = FileField(
        f"Customer file ({UPLOAD_FORMATS})",
        validators=[FileRequired(f"Please choose a {UPLOAD_FORMATS} file.")],
        render_kw=UPLOAD_ACCEPT,
    )


class OutcomesForm(FlaskForm):
    file = FileField(
        f"Outcome file ({UPLOAD_FORMATS})",
        validators=[FileRequired(f"Please choose a {UPLOAD_FORMATS} file.")],
        render_kw=UPLOAD_ACCEPT,
        description="Two columns are needed: customerID and Churn (Yes or No). Rows whose Churn "
        "is still blank are skipped; a later file adds to earlier ones.",
    )


# Query-string numbers are clamped: a huge or negative page is a person's typo, not an error.
MAX_PAGE = 100_000


def requested_page(args: Mapping[str, str]) -> int:
    """The `page` query value as 1…MAX_PAGE (anything unusable means the first page)."""
    try:
        page = int(args.get("page", 1))
    except (TypeError, ValueError):
        return 1
    return min(max(page, 1), MAX_PAGE)


def requested_limit(args: Mapping[str, str]) -> int | None:
    """The `limit` query value as a positive number, or None (no limit) when absent or unusable."""
    try:
        limit = int(args.get("limit", ""))
    except (TypeError, ValueError):
        return None
    return limit if limit > 0 else None


def field_for_error(form: FlaskForm, error: DomainError, default: str | None = None) -> None:
    """Show a service's message beside the field it names (or `default`), else above the form."""
    name = error.field or default
    if name and name in form:
        form[name].errors = [*form[name].errors, error.message]
    else:
        form.form_errors.append(error.message)


def name_the_refused_file(form: FlaskForm, filename: str | None) -> None:
    """Say which file a refusal is about: the browser forgets the chosen file after a post."""
    field = form["file"]
    if filename and field.errors:
        field.errors = [f"“{filename}” was not used: {field.errors[0]}", *field.errors[1:]]


def chosen_filename(files: Mapping[str, object]) -> str | None:
    """The name of the file the form's file field carried, if any."""
    upload = files.get("file")
    return getattr(upload, "filename", None) or None
