"""Template files for the upload forms: the columns a prediction or a retrain needs, in the
order the forms list them, with one example customer (a row of the original data set), so a
person can start from a file the app accepts."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from app.services.preprocessing.columns import (
    CATEGORICAL_FEATURES,
    ID_COLUMN,
    NUMERIC_FEATURES,
    TARGET_COLUMN,
)
from app.services.preprocessing.reading import SUPPORTED_FORMATS

# Customer 7590-VHVEG of DatasetA.csv (IBM Telco Customer Churn).
EXAMPLE_CUSTOMER = {
    "customerID": "7590-VHVEG",
    "tenure": "1",
    "MonthlyCharges": "29.85",
    "TotalCharges": "29.85",
    "InternetService": "DSL",
    "OnlineSecurity": "No",
    "TechSupport": "No",
    "Contract": "Month-to-month",
    "SeniorCitizen": "0",
    "Partner": "Yes",
    "Dependents": "No",
    "OnlineBackup": "Yes",
    "DeviceProtection": "No",
    "StreamingTV": "No",
    "StreamingMovies": "No",
    "PaymentMethod": "Electronic check",
    "PaperlessBilling": "Yes",
    "Churn": "No",
}
# The numbers first: they are the columns people most often get wrong.
FEATURE_ORDER = [*NUMERIC_FEATURES, *CATEGORICAL_FEATURES]


def accept_filter() -> str:
    """The file input's `accept` value: the upload formats the app reads."""
    return ",".join(f".{file_format}" for file_format in SUPPORTED_FORMATS)


@dataclass(frozen=True)
class UploadTemplate:
    purpose: str  # "predict" or "retrain"
    columns: list[str]
    download_name: str

    @property
    def feature_columns(self) -> list[str]:
        return [c for c in self.columns if c not in (ID_COLUMN, TARGET_COLUMN)]

    def csv_bytes(self) -> bytes:
        """The header and the example customer, as a UTF-8 CSV."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.columns)
        writer.writerow([EXAMPLE_CUSTOMER[c] for c in self.columns])
        return buffer.getvalue().encode("utf-8")


def upload_template(purpose: str) -> UploadTemplate:
    """The template of the prediction form ("predict") or the retrain form ("retrain")."""
    if purpose == "retrain":
        columns = [ID_COLUMN, *FEATURE_ORDER, TARGET_COLUMN]
        return UploadTemplate(purpose, columns, "churn-buster-retrain-template.csv")
    return UploadTemplate(
        "predict", [ID_COLUMN, *FEATURE_ORDER], "churn-buster-customers-template.csv"
    )
