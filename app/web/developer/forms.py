"""Developer forms: the fields of SPEC section 4, validated by Flask-WTF (with CSRF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import StringField
from wtforms.validators import DataRequired, Length


class RetrainForm(FlaskForm):
    name = StringField(
        "Name of this run",
        validators=[DataRequired(), Length(max=200)],
        description="For example “Q3 churners”. The version number is given when it succeeds.",
    )
    file = FileField(
        "Training data (.csv or .xlsx)",
        validators=[FileRequired("Please choose a file.")],
        description="The 16 feature columns, customerID and Churn (Yes/No).",
    )


class ConfirmForm(FlaskForm):
    """A button-only form (deploy, withdraw): it carries the CSRF token."""


class TokenForm(FlaskForm):
    name = StringField(
        "Token name",
        validators=[DataRequired("Please give the token a name."), Length(max=100)],
        description="What uses it, e.g. “nightly churn export”. Shown here, never in the token.",
    )
