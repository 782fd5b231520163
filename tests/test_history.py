"""Prediction history on every configured database: filters, order, pagination, no N+1."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import event

from app.extensions import db
from app.schema import Dataset
from app.services import prediction as predictions
from app.services import registry
from app.services.environment import ensure_company_models
from tests import factories
from tests.conftest import forgetting_login


@dataclass(frozen=True)
class Spec:
    name: str
    owner: str  # "user", "other" (a second user) or "developer"
    model: int  # index into the company's models
    at: datetime


# Day edges are deliberate: 00:00:00 and 23:59:59 belong to their own day. "c" and "h" share
# a timestamp; the later row (higher id) comes first.
SPECS = [
    Spec("a", "user", 0, datetime(2025, 3, 1, 0, 0, 0)),
    Spec("b", "user", 1, datetime(2025, 3, 3, 23, 59, 59)),
    Spec("c", "other", 0, datetime(2025, 3, 3, 12, 0, 0)),
    Spec("d", "other", 2, datetime(2025, 3, 5, 8, 0, 0)),
    Spec("e", "developer", 1, datetime(2025, 3, 4, 9, 0, 0)),
    Spec("f", "developer", 0, datetime(2025, 2, 28, 23, 59, 59)),
    Spec("g", "user", 2, datetime(2025, 3, 7, 10, 0, 0)),
    Spec("h", "other", 1, datetime(2025, 3, 3, 12, 0, 0)),
]


@pytest.fixture
def world(any_db_app):
    company = factories.make_company()
    developer = factories.make_developer(company)
    ensure_company_models(company)
    accounts = {
        "developer": developer,
        "user": factories.make_user(company),
        "other": factories.make_user(company),
    }
    models = registry.models_for(developer)
    dataset = factories.make_dataset(company.id, "mine")
    for spec in SPECS:
        factories.make_prediction(
            accounts[spec.owner], models[spec.model], dataset, spec.name, spec.at
        )

    # Another company's prediction, on the same days: never shown, whatever the filters.
    outsider = factories.make_user(factories.make_company())
    ensure_company_models(outsider.company)
    foreign_model = registry.models_for(outsider)[0]
    foreign_dataset = factories.make_dataset(outsider.company_id, "theirs")
    for at in {spec.at for spec in SPECS}:
        factories.make_prediction(outsider, foreign_model, foreign_dataset, "foreign", at)
    db.session.commit()
    return {"accounts": accounts, "models": models, "app": any_db_app}


def expected(world, viewer: str, **filters) -> list[str]:
    """The names the history should list, computed from SPECS in plain Python."""
    accounts, models = world["accounts"], world["models"]
    rows = [(spec, i) for i, spec in enumerate(SPECS)]
    if viewer != "developer":
        rows = [(s, i) for s, i in rows if s.owner == viewer]
    elif "user" in filters:
        rows = [(s, i) for s, i in rows if accounts[s.owner].id == filters["user"]]
        rows = [(s, i) for s, i in rows if accounts[s.owner].role == "user"]
    if "model" in filters:
        rows = [(s, i) for s, i in rows if models[s.model].id == filters["model"]]
    if "date_from" in filters:
        rows = [(s, i) for s, i in rows if s.at.date() >= filters["date_from"]]
    if "date_to" in filters:
        rows = [(s, i) for s, i in rows if s.at.date() <= filters["date_to"]]
    rows.sort(key=lambda item: (item[0].at, item[1]), reverse=True)
    return [spec.name for spec, _ in rows]


def listed(world, viewer: str, page: int = 1, **filters) -> list[str]:
    account = world["accounts"][viewer]
    args = {key: str(value) for key, value in filters.items()}
    parsed = predictions.HistoryFilters.from_args(args, account)
    assert parsed.errors == []
    return [p.name for p in predictions.prediction_history(account, parsed, page).items]


D = date(2025, 3, 1)
FILTER_CASES = [
    {},
    {"user": "user"},
    {"user": "other"},
    {"model": 0},
    {"model": 1},
    {"model": 2},
    {"date_from": D + timedelta(days=2)},
    {"date_from": D},  # 00:00:00 on the first day counts
    {"date_to": D + timedelta(days=2)},  # 23:59:59 on the last day counts
    {"date_to": D - timedelta(days=1)},
    {"date_from": D + timedelta(days=2), "date_to": D + timedelta(days=2)},
    {"date_from": D, "date_to": D + timedelta(days=3)},
    {"user": "user", "model": 0},
    {"user": "other", "date_from": D + timedelta(days=3)},
    {"model": 0, "date_to": D + timedelta(days=2)},
    {"model": 1, "date_from": D + timedelta(days=1), "date_to": D + timedelta(days=3)},
    {"user": "user", "model": 1, "date_from": D + timedelta(days=1), "date_to": D + timedelta(2)},
    {"user": "other", "model": 2, "date_from": D, "date_to": D + timedelta(days=3)},  # none
]


def _resolve(world, case: dict) -> dict:
    resolved = dict(case)
    if "user" in case:
        resolved["user"] = world["accounts"][case["user"]].id
    if "model" in case:
        resolved["model"] = world["models"][case["model"]].id
    return resolved


@pytest.mark.parametrize("case", FILTER_CASES, ids=lambda case: "+".join(case) or "none")
def test_the_developer_history_filters_alone_and_combined(world, case):
    filters = _resolve(world, case)
    got = listed(world, "developer", **filters)
    assert got == expected(world, "developer", **filters)
    assert "foreign" not in got


def test_the_filter_cases_are_not_trivial(world):
    """Each filter keeps some rows and drops others, so the cases above prove something."""
    everything = expected(world, "developer")
    sizes = {len(expected(world, "developer", **_resolve(world, c))) for c in FILTER_CASES}
    assert len(everything) == len(SPECS)
    assert 0 in sizes and len(sizes) >= 5


@pytest.mark.parametrize(
    "case",
    [{}, {"model": 0}, {"date_from": D + timedelta(days=2)}, {"model": 2, "date_to": D}],
    ids=["none", "model", "date_from", "model+date_to"],
)
def test_a_user_history_is_their_own_rows_filtered(world, case):
    filters = _resolve(world, case)
    assert listed(world, "user", **filters) == expected(world, "user", **filters)
    # The user filter cannot widen a user's view to a colleague's rows.
    other = world["accounts"]["other"].id
    assert listed(world, "user", user=other, **filters) == expected(world, "user", **filters)


def test_pages_are_newest_first_and_cover_every_row_once(world):
    world["app"].config["HISTORY_PAGE_SIZE"] = 3
    everything = expected(world, "developer")
    assert everything[:4] == ["g", "d", "e", "b"] and everything[4:6] == ["h", "c"]
    pages = [listed(world, "developer", page=n) for n in (1, 2, 3)]
    assert [len(p) for p in pages] == [3, 3, 2]
    assert [name for page in pages for name in page] == everything
    assert listed(world, "developer", page=4) == pages[-1]  # past the end: the last page
    account = world["accounts"]["developer"]
    page = predictions.prediction_history(account, predictions.HistoryFilters(), 1)
    assert (page.total, page.pages) == (len(SPECS), 3)


# No N+1 on the history page ------------------------------------------------------------------


class StatementCounter:
    def __init__(self, engine) -> None:
        self.engine = engine
        self.statements: list[str] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.statements.append(statement)

    def __enter__(self) -> StatementCounter:
        event.listen(self.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *exc_info) -> None:
        event.remove(self.engine, "before_cursor_execute", self)


def test_the_history_page_runs_the_same_queries_for_5_or_30_rows(any_db_app):
    app = any_db_app
    app.config["HISTORY_PAGE_SIZE"] = 50  # every row on one page

    with forgetting_login(app):
        company = factories.make_company()
        developer = factories.make_developer(company)
        ensure_company_models(company)
        # The first 5 rows are by 3 people, the next 25 by 10: a lazy load per row or per
        # person would show up as more statements.
        people = [developer, *(factories.make_user(company) for _ in range(9))]
        people = [(type(person), person.id) for person in people]
        models = [(type(model), model.id) for model in registry.models_for(developer)]
        dataset = (Dataset, factories.make_dataset(company.id, "history").id)
        developer_id = developer.id
        start = datetime(2025, 3, 1, 9, 0, 0)

        def add(first: int, last: int) -> None:  # several people, several models
            for n in range(first, last):
                owner = db.session.get(*people[n % (3 if n < 5 else len(people))])
                model = db.session.get(*models[n % len(models)])
                at = start + timedelta(hours=n)
                factories.make_prediction(
                    owner, model, db.session.get(*dataset), f"run-{n:02d}", at
                )
            db.session.commit()

        client = app.test_client()

        def render() -> tuple[str, list[str]]:
            db.session.remove()  # nothing already loaded may hide a lazy load
            factories.log_in(client, db.session.get(type(developer), developer_id))
            db.session.remove()
            with StatementCounter(db.engine) as counter:
                response = client.get("/developer/predictions")
            assert response.status_code == 200
            return response.text, counter.statements

        add(0, 5)
        render()  # warm-up: whatever is loaded once per process is not counted
        text_5, with_5 = render()
        add(5, 30)
        text_30, with_30 = render()

    assert text_5.count(">run-") == 5 and text_30.count(">run-") == 30
    assert len(with_30) == len(with_5), "\n".join(with_30)


def test_a_users_model_filter_offers_deployed_models_and_those_they_used_only(world):
    from app.schema import Model, ModelDeployment

    user, developer = world["accounts"]["user"], world["accounts"]["developer"]
    network = next(m for m in world["models"] if m.model_type.key == "neural_network")

    def version(number: int) -> Model:
        model = Model(
            company_id=user.company_id,
            model_type_id=network.model_type_id,
            name=f"Retrain {number}",
            version=number,
            status="done",
        )
        db.session.add(model)
        db.session.flush()
        return model

    undeployed, used_then_withdrawn = version(2), version(3)
    db.session.add(
        ModelDeployment(
            model_id=used_then_withdrawn.id, company_id=user.company_id, is_active=False
        )
    )
    dataset = factories.make_dataset(user.company_id, "withdrawn")
    factories.make_prediction(user, used_then_withdrawn, dataset, "old", datetime(2025, 1, 1))
    db.session.commit()

    offered = {model_id for model_id, _ in predictions.history_choices(user)["models"]}
    assert undeployed.id not in offered
    assert used_then_withdrawn.id in offered
    assert {m.id for m in registry.models_for(user)} <= offered
    assert undeployed.id in {i for i, _ in predictions.history_choices(developer)["models"]}


# The developer's own runs ------------------------------------------------------------------


def test_the_developer_can_list_only_their_own_predictions(world):
    own = sorted(spec.name for spec in SPECS if spec.owner == "developer")
    assert sorted(listed(world, "developer", user="me")) == own
    filters = predictions.HistoryFilters.from_args({"user": "me"}, world["accounts"]["developer"])
    assert filters.as_args() == {"user": "me"}


def test_a_user_cannot_use_the_own_runs_filter_to_see_others(world):
    assert sorted(listed(world, "user", user="me")) == sorted(
        spec.name for spec in SPECS if spec.owner == "user"
    )
