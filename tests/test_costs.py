"""The company's costs: validation with a message naming the field, and the expected value."""

from __future__ import annotations

import numpy as np
import pytest

from app.services.decisions import Costs, InvalidCosts, parse_costs

COSTS = {"customer_value": "500", "offer_cost": "50", "contact_cost": "5", "acceptance_rate": "30%"}


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"customer_value": ""}, "customer_value", "Please enter"),
        ({"customer_value": "0"}, "customer_value", "more than 0"),
        ({"customer_value": "-5"}, "customer_value", "cannot be negative"),
        ({"customer_value": "lots"}, "customer_value", "must be a number"),
        ({"offer_cost": "12,5"}, "offer_cost", "point for decimals"),
        ({"offer_cost": "600"}, "offer_cost", "can never pay"),
        ({"contact_cost": "1e9999"}, "contact_cost", "must be a number"),
        ({"acceptance_rate": "30"}, "acceptance_rate", "write 30%"),
        ({"acceptance_rate": "0"}, "acceptance_rate", "above 0"),
        ({"acceptance_rate": "150%"}, "acceptance_rate", "at most 100%"),
    ],
)
def test_costs_are_validated_with_a_message_naming_the_field(values, field, message):
    with pytest.raises(InvalidCosts, match=message) as error:
        parse_costs({**COSTS, **values})
    assert error.value.field == field


def test_costs_accept_percentages_fractions_and_thousands_separators():
    costs = parse_costs(
        {
            "customer_value": "1,250.50",
            "offer_cost": "50",
            "contact_cost": "0",
            "acceptance_rate": "0.25",
        }
    )
    assert costs == Costs(1250.5, 50.0, 0.0, 0.25)
    assert parse_costs({**COSTS, "acceptance_rate": "12.5 %"}).acceptance_rate == 0.125


def test_costs_no_customer_can_repay_have_no_break_even():
    costs = Costs(customer_value=100, offer_cost=90, contact_cost=20, acceptance_rate=0.1)
    assert costs.break_even is None
    assert (costs.expected_value(np.linspace(0, 1, 11)) < 0).all()
