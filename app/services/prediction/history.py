"""Reading past predictions: who may see which one, and the filtered, paginated history.

A user sees their own predictions; the developer sees the whole company's. Another company's
prediction is never found.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.schema import MAX_ID, Developer, Model, Prediction, User, WorkStatus
from app.services import registry
from app.services.prediction.results import PredictionNotFound

Account = Developer | User


def _visible(account: Account) -> Select:
    statement = select(Prediction).where(Prediction.company_id == account.company_id)
    if account.role != "developer":
        statement = statement.where(Prediction.user_id == account.id)
    return statement


def prediction_for(account: Account, prediction_id: int) -> Prediction:
    """The prediction if `account` may see it (a user: their own; a developer: the company's)."""
    prediction = db.session.execute(
        _visible(account)
        .where(Prediction.id == prediction_id)
        .options(
            joinedload(Prediction.model).joinedload(Model.model_type),
            joinedload(Prediction.input_dataset),
        )
    ).scalar_one_or_none()
    if prediction is None:
        raise PredictionNotFound("There is no such prediction, or it belongs to someone else.")
    return prediction


SEARCH_MAX = 200
MINE = "me"  # the `user` filter's value for the developer's own predictions


@dataclass
class HistoryFilters:
    user: int | None = None
    mine: bool = False  # the developer's own predictions only
    name: str = ""  # a part of the prediction's name, any case
    model: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    errors: list[str] = field(default_factory=list)

    @classmethod
    def from_args(cls, args: Mapping[str, str], account: Account) -> HistoryFilters:
        """Read the query string; a bad value becomes a message, never an error page."""
        filters = cls()
        if account.role == "developer" and args.get("user") == MINE:
            filters.mine = True
        elif account.role == "developer":
            filters.user = _int_arg(args.get("user"), "user", filters.errors)
        filters.name = " ".join((args.get("q") or "").split())[:SEARCH_MAX]
        filters.model = _int_arg(args.get("model"), "model", filters.errors)
        filters.date_from = _date_arg(args.get("date_from"), "From", filters.errors)
        filters.date_to = _date_arg(args.get("date_to"), "To", filters.errors)
        if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
            filters.errors.append("The 'From' date is after the 'To' date.")
        return filters

    def as_args(self) -> dict[str, str]:
        """The filters as query-string values, for links that keep them."""
        values = {
            "q": self.name or None,
            "user": MINE if self.mine else self.user,
            "model": self.model,
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
        }
        return {key: str(value) for key, value in values.items() if value is not None}


def _int_arg(value: str | None, label: str, errors: list[str]) -> int | None:
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_ID:
        errors.append(f"Unknown {label} filter {value!r}; it was ignored.")
        return None
    return number


def _date_arg(value: str | None, label: str, errors: list[str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        errors.append(f"'{label}' must be a date like 2025-01-31; it was ignored.")
        return None


def prediction_history(account: Account, filters: HistoryFilters, page: int = 1):
    """The account's visible predictions, filtered, newest first, one page (a Pagination)."""
    statement = _visible(account)
    if filters.user is not None and account.role == "developer":
        statement = statement.where(Prediction.user_id == filters.user)
    if filters.mine and account.role == "developer":
        statement = statement.where(Prediction.developer_id == account.id)
    if filters.name:
        name = func.lower(Prediction.name)
        statement = statement.where(name.contains(filters.name.lower(), autoescape=True))
    if filters.model is not None:
        statement = statement.where(Prediction.model_id == filters.model)
    if filters.date_from:
        start = datetime.combine(filters.date_from, datetime.min.time())
        statement = statement.where(Prediction.created_at >= start)
    if filters.date_to and filters.date_to < date.max:
        end = datetime.combine(filters.date_to + timedelta(days=1), datetime.min.time())
        statement = statement.where(Prediction.created_at < end)
    statement = statement.order_by(Prediction.created_at.desc(), Prediction.id.desc()).options(
        joinedload(Prediction.model).joinedload(Model.model_type),
        joinedload(Prediction.user),
        joinedload(Prediction.developer),
        joinedload(Prediction.input_dataset),
    )
    per_page = current_app.config["HISTORY_PAGE_SIZE"]
    found = db.paginate(statement, page=max(page, 1), per_page=per_page, error_out=False)
    if found.total and found.page > found.pages:  # past the end (an old link): the last page
        found = db.paginate(statement, page=found.pages, per_page=per_page, error_out=False)
    return found


def history_choices(account: Account) -> dict[str, list[tuple[int, str]]]:
    """Options of the history filters: the company's users (developer only) and models (for a
    user, those they may use or have used: never a version that was not deployed to them)."""
    statement = select(Model).where(
        Model.company_id == account.company_id, Model.status == WorkStatus.DONE
    )
    if account.role != "developer":
        used = select(Prediction.model_id).where(Prediction.user_id == account.id)
        deployed = registry.deployed_model_ids(account.company_id)
        statement = statement.where(or_(Model.id.in_(deployed), Model.id.in_(used)))
    models = db.session.scalars(
        statement.options(joinedload(Model.model_type)).order_by(
            Model.is_default.desc(), Model.model_type_id, Model.version
        )
    )
    choices: dict[str, list[tuple[int, str]]] = {"models": [(m.id, m.label) for m in models]}
    if account.role == "developer":
        users = db.session.scalars(
            select(User).where(User.company_id == account.company_id).order_by(User.name)
        )
        choices["users"] = [(u.id, u.name) for u in users]
    return choices
