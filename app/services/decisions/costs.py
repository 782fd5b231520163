"""A company's decision costs and the expected value of contacting a customer.

The expected-profit view of a retention campaign (Verbraken, Verbeke and Baesens, "A Novel
Profit Maximizing Metric for Measuring Classification Performance of Customer Churn Prediction
Models", IEEE TKDE 25(5), 2013): a campaign contacting customers gains, per contacted customer
with churn probability p,

    EV(p) = p * gamma * (CLV - delta)  -  (1 - p) * delta  -  f

with CLV the value of keeping a churner (`customer_value`), delta the incentive offered
(`offer_cost`), f the cost of the contact itself (`contact_cost`) and gamma the share of contacted
churners who accept and stay (`acceptance_rate`). A churner who accepts is kept and paid the
incentive; one who declines churns anyway (only the contact was spent); a customer who would have
stayed takes the incentive all the same. This is the per-customer term of their profit formula
N*eta*[(gamma*CLV + delta*(1 - gamma))*beta0*lambda - delta - f] with beta0*lambda = p, and its
slope gamma*CLV + delta*(1 - gamma) is positive: with constant costs, EV grows with p. Contacting
a customer pays exactly when EV > 0, i.e. above the break-even probability
(delta + f) / (gamma*(CLV - delta) + delta).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from app.extensions import db
from app.schema import Company, Developer, utcnow
from app.services.errors import DomainError

MAX_AMOUNT = 1_000_000_000.0


@dataclass(frozen=True)
class CostField:
    name: str
    label: str
    explanation: str
    example: str


FIELDS = (
    CostField(
        "customer_value",
        "Value of keeping a customer",
        "What a customer who would have left is worth to you if they stay: for example the "
        "margin of the months you expect them to stay (customer lifetime value).",
        "500",
    ),
    CostField(
        "offer_cost",
        "Cost of the retention offer",
        "What the incentive costs you for each customer who accepts it (a discount, a free "
        "month). Customers who would have stayed anyway take it too.",
        "50",
    ),
    CostField(
        "contact_cost",
        "Cost of one contact",
        "What one call, letter or email costs, whether or not the customer accepts.",
        "5",
    ),
    CostField(
        "acceptance_rate",
        "Share of contacted churners who stay",
        "Of the customers who were about to leave and are contacted, the share who accept the "
        "offer and stay: 0.3 or 30%.",
        "30%",
    ),
)
FIELD_NAMES = tuple(field.name for field in FIELDS)


class InvalidCosts(DomainError):
    """A cost the developer entered cannot be used; `field` names it."""


@dataclass(frozen=True)
class Costs:
    customer_value: float
    offer_cost: float
    contact_cost: float
    acceptance_rate: float

    @property
    def slope(self) -> float:
        """How much EV grows per unit of probability (always > 0 for valid costs)."""
        gamma = self.acceptance_rate
        return gamma * self.customer_value + self.offer_cost * (1.0 - gamma)

    def expected_value(self, probability: np.ndarray) -> np.ndarray:
        """EV of contacting each customer (see the module docstring)."""
        gamma, value = self.acceptance_rate, self.customer_value
        offer, contact = self.offer_cost, self.contact_cost
        p = np.asarray(probability, dtype=np.float64)
        return p * gamma * (value - offer) - (1.0 - p) * offer - contact

    @property
    def break_even(self) -> float | None:
        """The probability above which contacting pays, or None when no customer ever pays."""
        threshold = (self.offer_cost + self.contact_cost) / self.slope
        return threshold if threshold < 1.0 else None

    def examples(self) -> list[tuple[float, float]]:
        """(probability, expected value) at a few probabilities, to show what the costs mean."""
        points = (0.1, 0.3, 0.5, 0.8)
        values = self.expected_value(np.array(points))
        return [(p, float(v)) for p, v in zip(points, values, strict=True)]

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> Costs | None:
        if not values or any(values.get(name) is None for name in FIELD_NAMES):
            return None
        return cls(**{name: float(values[name]) for name in FIELD_NAMES})


def company_costs(company: Company) -> Costs | None:
    """The company's costs, or None while the developer has not set them."""
    return Costs.from_dict({name: getattr(company, name) for name in FIELD_NAMES})


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_THOUSANDS = re.compile(r"^\d{1,3}(,\d{3})+(\.\d*)?$")  # 1,250.50


def _amount(values: Mapping[str, str], name: str, label: str) -> float:
    text = (values.get(name) or "").strip().replace(" ", "")
    if not text:
        raise InvalidCosts(f"Please enter the {label.lower()}.", field=name)
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    elif "," in text:
        raise InvalidCosts(f"Write the {label.lower()} with a point for decimals, like 12.5.", name)
    if not _NUMBER.match(text):
        raise InvalidCosts(f"The {label.lower()} must be a number, like 50 or 12.5.", field=name)
    amount = float(text)
    if not math.isfinite(amount) or amount < 0:
        raise InvalidCosts(f"The {label.lower()} cannot be negative.", field=name)
    if amount > MAX_AMOUNT:
        raise InvalidCosts(f"The {label.lower()} is implausibly large.", field=name)
    return amount


def _rate(values: Mapping[str, str], name: str) -> float:
    text = (values.get(name) or "").strip().replace(" ", "")
    message = "Enter the share of contacted churners who stay as 0.3 or 30%."
    if not text:
        raise InvalidCosts(message, field=name)
    percent = text.endswith("%")
    text = text.rstrip("%")
    if not _NUMBER.match(text):
        raise InvalidCosts(message, field=name)
    rate = float(text) / (100.0 if percent else 1.0)
    if rate > 1.0 and not percent:
        raise InvalidCosts(f"{text} is more than 1: for {text}%, write {text}%.", field=name)
    if not 0.0 < rate <= 1.0:
        raise InvalidCosts(
            "The share of contacted churners who stay must be above 0 and at most 100%.",
            field=name,
        )
    return rate


def parse_costs(values: Mapping[str, str]) -> Costs:
    """Costs from a form's text, or InvalidCosts naming the first field at fault."""
    labels = {field.name: field.label for field in FIELDS}
    customer_value = _amount(values, "customer_value", labels["customer_value"])
    if customer_value <= 0:
        raise InvalidCosts(
            "The value of keeping a customer must be more than 0.", field="customer_value"
        )
    offer_cost = _amount(values, "offer_cost", labels["offer_cost"])
    if offer_cost >= customer_value:
        raise InvalidCosts(
            "An offer that costs as much as the customer is worth can never pay; "
            "please check the two amounts.",
            field="offer_cost",
        )
    contact_cost = _amount(values, "contact_cost", labels["contact_cost"])
    return Costs(customer_value, offer_cost, contact_cost, _rate(values, "acceptance_rate"))


def save_costs(developer: Developer, values: Mapping[str, str]) -> Costs:
    """Validate and store the developer's company's costs (commits); later predictions use them."""
    costs = parse_costs(values)
    company = db.session.get(Company, developer.company_id)
    assert company is not None  # a developer always belongs to a company
    for name, value in costs.as_dict().items():
        setattr(company, name, value)
    company.costs_updated_at = utcnow()
    db.session.commit()
    return costs


def form_values(costs: Costs | None) -> dict[str, str]:
    """The costs as a form shows them (the rate as a percentage)."""
    if costs is None:
        return {}
    return {
        "customer_value": number(costs.customer_value),
        "offer_cost": number(costs.offer_cost),
        "contact_cost": number(costs.contact_cost),
        "acceptance_rate": f"{number(costs.acceptance_rate * 100)}%",
    }


def number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")
