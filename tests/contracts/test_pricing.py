"""The pricing rules, one table each, with every amount worked by hand beside it.

Amounts are minor units (cents; yen for JPY, which has no decimals); rates are minor units
per hour. No database: the terms are unsaved ContractTerms rows.
"""

import pytest

from contracts.models import ContractTerms, PricingModel
from contracts.pricing import price_flat, price_hourly, price_retainer_task, task_estimate


def hourly(rate, increment, minimum):
    return ContractTerms(
        pricing_model=PricingModel.HOURLY,
        hourly_rate=rate,
        rounding_increment_minutes=increment,
        minimum_minutes=minimum,
    )


def retainer(overage_rate=6000, increment=15):
    return ContractTerms(
        pricing_model=PricingModel.RETAINER,
        retainer_fee=100000,
        included_minutes=600,
        rollover_cap_minutes=120,
        overage_rate=overage_rate,
        rounding_increment_minutes=increment,
    )


@pytest.mark.parametrize("minutes", [0, 1, 59, 600])
def test_a_flat_line_costs_its_fee_whatever_the_time(minutes):
    terms = ContractTerms(pricing_model=PricingModel.FLAT, flat_fee=6000)
    assert price_flat(terms) == 6000  # $60.00 per task
    assert task_estimate(terms, minutes) == 6000


HOURLY = [
    # (rate/h, increment, minimum, minutes logged, billed minutes, amount): worked by hand
    # $40.00/h in 15-min steps, 30 min minimum:
    (4000, 15, 30, 0, 30, 2000),  # nothing logged still bills the minimum: 4000 x 30/60
    (4000, 15, 30, 10, 30, 2000),  # 10 -> 15 (step), raised to the 30 minimum
    (4000, 15, 30, 30, 30, 2000),  # exactly the minimum
    (4000, 15, 30, 31, 45, 3000),  # 1 minute over: the next step, 4000 x 45/60
    (4000, 15, 30, 45, 45, 3000),  # an exact multiple is not rounded further
    (4000, 15, 30, 46, 60, 4000),  # 4000 x 60/60
    (4000, 15, 30, 600, 600, 40000),  # 10 h: 4000 x 10
    (4000, 15, 0, 0, 0, 0),  # no minimum and no time: nothing
    # odd rates, half-up to the cent:
    (3333, 10, 0, 10, 10, 556),  # 3333 x 10/60 = 555.5 -> 556
    (3333, 1, 0, 1, 1, 56),  # 3333/60 = 55.55 -> 56
    (3333, 6, 0, 7, 12, 667),  # 7 -> 12; 3333 x 12/60 = 666.6 -> 667
    (1001, 30, 0, 30, 30, 501),  # 500.5 -> 501 (half-up, not to even: 500)
    (2999, 15, 0, 15, 15, 750),  # 749.75 -> 750
    (2997, 20, 0, 20, 20, 999),  # 2997 / 3 = 999 exactly
    (1, 1, 0, 29, 29, 0),  # 0.483 -> 0
    (1, 1, 0, 30, 30, 1),  # 0.5 -> 1
    # JPY: ¥5,000/h; the minor unit is the yen itself
    (5000, 15, 15, 20, 30, 2500),  # 20 -> 30; 5000 x 30/60
    (5000, 1, 0, 7, 7, 583),  # 5000 x 7/60 = 583.33 -> 583
    (2500, 1, 0, 1, 1, 42),  # 41.67 -> 42
]


@pytest.mark.parametrize(("rate", "increment", "minimum", "logged", "billed", "amount"), HOURLY)
def test_hourly_rounds_up_to_the_increment_then_the_minimum(
    rate, increment, minimum, logged, billed, amount
):
    terms = hourly(rate, increment, minimum)
    assert price_hourly(logged, terms) == (billed, amount)
    assert task_estimate(terms, logged) == amount


RETAINER_TASKS = [
    # (minutes logged, bank left, overage rate/h, increment, from bank, overage, amount)
    # overage $60.00/h in 15-min steps:
    (50, 600, 6000, 15, 60, 0, 0),  # within the bank: 50 -> 60, all from the bank
    (60, 60, 6000, 15, 60, 0, 0),  # exactly empties the bank
    (50, 30, 6000, 15, 30, 30, 3000),  # straddles: 60 rounded, 30 from the bank, 30 over
    (50, 40, 6000, 15, 40, 20, 2000),  # a bank not in steps: the rest is 20 min, 6000 x 20/60
    (50, 0, 6000, 15, 0, 60, 6000),  # fully overage
    (50, -20, 6000, 15, 0, 60, 6000),  # a bank never counts below nothing
    (0, 600, 6000, 15, 0, 0, 0),  # no time: nothing drawn, nothing billed
    (1, 0, 3333, 10, 0, 10, 556),  # 1 -> 10 over; 3333 x 10/60 = 555.5 -> 556
    (7, 0, 5000, 1, 0, 7, 583),  # JPY ¥5,000/h: 583.33 -> 583
]


@pytest.mark.parametrize(
    ("logged", "bank_left", "rate", "increment", "from_bank", "overage", "amount"),
    RETAINER_TASKS,
)
def test_a_retainer_task_draws_on_the_bank_then_bills_overage(
    logged, bank_left, rate, increment, from_bank, overage, amount
):
    terms = retainer(overage_rate=rate, increment=increment)
    assert price_retainer_task(logged, bank_left, terms) == (from_bank, overage, amount)
    assert task_estimate(terms, logged) is None  # depends on the month's other work
