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


class CostsForm(FlaskForm):
    """The company's decision costs (SPEC section 4); the service validates them (a rate may be
    written as 0.3 or 30%), so the fields are text."""

    customer_value = StringField("Value of keeping a customer")
    offer_cost = StringField("Cost of the retention offer")
    contact_cost = StringField("Cost of one contact")
    acceptance_rate = StringField("Share of contacted churners who stay")


class ConfirmForm(FlaskForm):
    """A button-only form (deploy, withdraw): it carries the CSRF token."""
