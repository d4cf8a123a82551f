"""What work costs under a contract line's terms. Pure functions over integers: no
database, so every rule can be checked against sums worked by hand.

Amounts are integer minor units of the contract's currency and rates are minor units per
hour, so rounding "to the currency's minor unit" is rounding to a whole number here, for
USD (cents) and JPY (yen) alike. A retainer task's price depends on what is left of its
month's bank, which billing.retainer works out.

Time is counted to the second and rounded only as the terms say, once for the whole task
("round time up to" the increment, then the minimum per task): never per timer run or per
entry, so twenty 4-second runs are 80 seconds of work, one step.
"""

from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from contracts.models import ContractTerms, PricingModel


def billable_minutes(minutes: int, *, increment: int, minimum: int = 0) -> int:
    """Minutes rounded UP to the increment, then raised to the minimum."""
    return billable_minutes_of_seconds(minutes * 60, increment=increment, minimum=minimum)


def billable_minutes_of_seconds(seconds: int, *, increment: int, minimum: int = 0) -> int:
    """Time worked, to the second, rounded UP to the increment (whole minutes), then raised
    to the minimum. The increment is the only rounding: 4 seconds in 15-minute steps is one
    step, and so are 14 minutes 56 seconds."""
    step = increment * 60
    rounded = -(-seconds // step) * increment if seconds > 0 else 0
    return max(rounded, minimum)


def amount_for_minutes(rate: int, minutes: int) -> int:
    """rate (minor units per hour) x minutes / 60, rounded half-up to a minor unit."""
    exact = Decimal(rate) * Decimal(minutes) / Decimal(60)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


# -- one task ---------------------------------------------------------------------------


class HourlyPrice(NamedTuple):
    minutes_billed: int
    amount: int


class RetainerTaskPrice(NamedTuple):
    from_bank: int
    overage_minutes: int
    amount: int


def price_flat(terms: ContractTerms) -> int:
    """A flat line costs its fee per task, whatever the time spent."""
    return terms.flat_fee


def price_hourly(minutes: int, terms: ContractTerms) -> HourlyPrice:
    """Minutes rounded up to the increment, raised to the minimum, times the hourly rate."""
    return price_hourly_seconds(minutes * 60, terms)


def price_hourly_seconds(seconds: int, terms: ContractTerms) -> HourlyPrice:
    """The task's time, to the second, rounded up to the increment once for the whole task,
    raised to the minimum, times the hourly rate."""
    billed = billable_minutes_of_seconds(
        seconds, increment=terms.rounding_increment_minutes, minimum=terms.minimum_minutes or 0
    )
    return HourlyPrice(billed, amount_for_minutes(terms.hourly_rate, billed))


def price_retainer_task(minutes: int, bank_left: int, terms: ContractTerms) -> RetainerTaskPrice:
    """Round the task's minutes up to the increment, draw them from what is left of the
    month's bank, and bill the rest at the overage rate."""
    return price_retainer_task_seconds(minutes * 60, bank_left, terms)


def price_retainer_task_seconds(
    seconds: int, bank_left: int, terms: ContractTerms
) -> RetainerTaskPrice:
    """price_retainer_task for time counted to the second: rounded up to the increment once
    for the task, then drawn from the bank (minutes) and billed past it."""
    rounded = billable_minutes_of_seconds(seconds, increment=terms.rounding_increment_minutes)
    from_bank = min(rounded, max(bank_left, 0))
    overage = rounded - from_bank
    return RetainerTaskPrice(from_bank, overage, amount_for_minutes(terms.overage_rate, overage))


def task_estimate(terms: ContractTerms, minutes: int) -> int | None:
    """What a task with `minutes` logged would cost on its own, or None when the cost
    depends on the month's retainer bank (the period's other work decides it)."""
    if terms.pricing_model == PricingModel.FLAT:
        return price_flat(terms)
    if terms.pricing_model == PricingModel.HOURLY:
        return price_hourly(minutes, terms).amount
    return None
