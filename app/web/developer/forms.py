"""Developer forms: the fields of SPEC section 4, validated by Flask-WTF (with CSRF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from app.services.deployment import REASON_MAX
from app.services.upload_templates import accept_filter


class RetrainForm(FlaskForm):
    name = StringField(
        "Name of this run",
        validators=[DataRequired(), Length(max=200)],
        description="For example “Q3 churners”. The version number is given when it succeeds.",
    )
    file = FileField(
        "Training data (.csv or .xlsx)",
        validators=[FileRequired("Please choose a file.")],
        render_kw={"accept": accept_filter()},
        description="The 16 feature columns, customerID and Churn (Yes/No), as listed below.",
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


class DeployForm(FlaskForm):
    """Deploy a version; the reason is needed only to deploy past the guard (SPEC section 4)."""

    override_reason = TextAreaField(
        "Why deploy it anyway?",
        validators=[Optional(), Length(max=REASON_MAX)],
        description="Recorded in the deployment history with your name.",
    )


class RollbackForm(FlaskForm):
    override_reason = TextAreaField(
        "Why roll back?",
        validators=[DataRequired("Please say why you roll back."), Length(max=REASON_MAX)],
        description="For example “v3 under-predicts churn in the north region”. Recorded in the "
        "deployment history.",
    )


class WithdrawForm(FlaskForm):
    reason = TextAreaField("Reason (optional)", validators=[Optional(), Length(max=REASON_MAX)])


class TokenForm(FlaskForm):
    name = StringField(
        "Token name",
        validators=[DataRequired("Please give the token a name."), Length(max=100)],
        description="What uses it, e.g. “nightly churn export”. Shown here, never in the token.",
    )
