"""Forms shared by the developer and user areas (the two differ only in who may see what)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length


class PredictionForm(FlaskForm):
    name = StringField(
        "Prediction name",
        validators=[DataRequired("Please give the prediction a name."), Length(max=200)],
        description="For example: March customers, north region.",
    )
    model_id = SelectField("Model", coerce=int, validators=[DataRequired("Please choose a model.")])
    file = FileField(
        "Customer file (.csv or .xlsx)",
        validators=[FileRequired("Please choose a .csv or .xlsx file.")],
    )
