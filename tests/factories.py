"""Small helpers that build test data: companies, developers, users and logged-in clients."""

from __future__ import annotations

import io
import itertools
from datetime import datetime
from pathlib import Path

import pandas as pd
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.security import generate_password_hash

from app.extensions import db
from app.schema import Company, Dataset, Developer, Model, ModelType, Prediction, User, utcnow

PASSWORD = "correct horse battery staple"
# The columns every result file adds after the customer's own, in this order (SPEC section 6).
RESULT_COLUMNS = [
    "Churn Prediction",
    "Churn Probability",
    "Risk Rank",
    "Reason 1",
    "Reason 2",
    "Reason 3",
    "Input Warnings",
]
# Hashing with scrypt is deliberately slow; tests hash the shared password once.
_PASSWORD_HASH: str | None = None
_counter = itertools.count(1)


def password_hash() -> str:
    global _PASSWORD_HASH
    if _PASSWORD_HASH is None:
        _PASSWORD_HASH = generate_password_hash(PASSWORD)
    return _PASSWORD_HASH


def make_company(name: str | None = None, verified: bool = True) -> Company:
    n = next(_counter)
    company = Company(
        public_id=f"TEST-{n:04d}-{n * 7919 % 10000:04d}",
        name=name or f"Company {n}",
        email=f"owner{n}@company{n}.example",
        email_verified_at=utcnow() if verified else None,
    )
    db.session.add(company)
    db.session.commit()
    return company


def make_developer(
    company: Company | None = None, verified: bool = True, approved: bool = True
) -> Developer:
    company = company or make_company()
    n = next(_counter)
    developer = Developer(
        company=company,
        name=f"Dev {n}",
        email=f"dev{n}@company{company.id}.example",
        password_hash=password_hash(),
        email_verified_at=utcnow() if verified else None,
        approved_at=utcnow() if approved else None,
    )
    db.session.add(developer)
    db.session.commit()
    return developer


def make_user(company: Company | None = None, verified: bool = True) -> User:
    company = company or make_company()
    n = next(_counter)
    user = User(
        company=company,
        name=f"User {n}",
        email=f"user{n}@company{company.id}.example",
        password_hash=password_hash(),
        email_verified_at=utcnow() if verified else None,
    )
    db.session.add(user)
    db.session.commit()
    return user


def log_in(client: FlaskClient, account: Developer | User) -> FlaskClient:
    """Put `account` in the client's session, as a successful login would (a session row
    included)."""
    from app.services.accounts import open_session

    with client.session_transaction() as session:
        session["_user_id"] = open_session(account).get_id()
        session["_fresh"] = True
    return client


def customers(original: Path, rows: int | None = None, seed: int | None = None) -> pd.DataFrame:
    """Customers of DatasetA.csv with every cell as text, as a person's file holds them: the
    first `rows`, or a random sample of `rows` when `seed` is given."""
    frame = pd.read_csv(original, dtype=str, keep_default_na=False)
    if rows is None:
        return frame
    if seed is None:
        return frame.head(rows)
    return frame.sample(n=rows, random_state=seed).reset_index(drop=True)


def make_version(developer: Developer, version: int, **fields: object) -> Model:
    """A registered network version of the developer's company (its file is the default
    network's, enough to list, compare and deploy it); added and flushed, not committed."""
    network = db.session.scalars(
        select(Model)
        .join(Model.model_type)
        .where(
            Model.company_id == developer.company_id,
            Model.is_default.is_(True),
            ModelType.key == "neural_network",
        )
    ).one()
    values: dict[str, object] = {
        "company_id": developer.company_id,
        "model_type_id": network.model_type_id,
        "name": f"run {version}",
        "version": version,
        "status": "done",
        "file_path": network.file_path,
        "file_sha256": network.file_sha256,
        "details": network.details,
        "trained_by_developer_id": developer.id,
        **fields,
    }
    model = Model(**values)
    db.session.add(model)
    db.session.flush()
    return model


def upload(data: bytes | pd.DataFrame, filename: str = "customers.csv") -> FileStorage:
    """What a form's file field gives: the bytes of a file (a frame becomes a CSV) and its name."""
    if isinstance(data, pd.DataFrame):
        data = data.to_csv(index=False).encode()
    return FileStorage(stream=io.BytesIO(data), filename=filename)


def make_dataset(company_id: int, name: str, kind: str = "predict_upload") -> Dataset:
    """A data set row (no file: for tests of listings and history), flushed, not committed."""
    dataset = Dataset(
        company_id=company_id,
        kind=kind,
        name=name,
        path=f"user/uploadToPredict/{name}-{next(_counter)}.csv",
        file_format="csv",
        row_count=10,
        column_count=21,
    )
    db.session.add(dataset)
    db.session.flush()
    return dataset


def make_prediction(
    account: Developer | User,
    model: Model,
    dataset: Dataset,
    name: str,
    created_at: datetime | None = None,
) -> Prediction:
    """A finished prediction row by `account` (no result file), added, not committed."""
    prediction = Prediction(
        company_id=account.company_id,
        user_id=account.id if account.role == "user" else None,
        developer_id=account.id if account.role == "developer" else None,
        model_id=model.id,
        input_dataset_id=dataset.id,
        name=name,
        result_format="csv",
        row_count=10,
        churn_count=3,
        status="done",
        progress=100,
        created_at=created_at or utcnow(),
    )
    db.session.add(prediction)
    return prediction


def give_holdout_figures(model: Model, auc: float, width: float = 0.02, rows: int = 100) -> Model:
    """Record `model` as measured on its company's current common holdout with AUC `auc` (the
    other figures follow it), as the measuring job would; committed."""
    from app.services.monitoring import holdout

    dataset = holdout.holdout_dataset(db.session.get(Company, model.company_id))
    model.holdout_status = "done"
    model.holdout = {
        "dataset_id": dataset.id,
        "file_sha256": model.file_sha256,
        "rows": rows,
        "churned": rows // 4,
        "auc": auc,
        "auc_low": auc - width,
        "auc_high": auc + width,
        "metrics": {
            "AUC": auc,
            "Accuracy": auc - 0.05,
            "Precision": auc - 0.06,
            "Recall": auc - 0.05,
            "F1 Score": auc - 0.055,
        },
    }
    db.session.commit()
    return model
