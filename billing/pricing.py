"""What work costs under a contract line's terms. Pure functions over integers and dates:
no database, so every rule can be checked against sums worked by hand.

Amounts are integer minor units of the contract's currency and rates are minor units per
hour, so rounding "to the currency's minor unit" is rounding to a whole number here, for
USD (cents) and JPY (yen) alike.

The retainer rules, in the order they apply:

- A month is a calendar month in the client's time zone (`period_start_for`).
- The month's bank is its included minutes plus the rollover; the rollover is what the
  previous month left unused (its own bank minus what it used), never negative and never
  above the rollover cap. The first retainer month has no rollover.
- A task's minutes are first rounded UP to the increment, then drawn from what is left of
  the bank; whatever the bank cannot cover is overage, billed at the overage rate. The
  overage is not rounded again: the rounded total was already in increments.
"""

import datetime as dt
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple
from zoneinfo import ZoneInfo

from billing.models import ContractTerms, PricingModel
from core.times import local_midnight


def billable_minutes(minutes: int, *, increment: int, minimum: int = 0) -> int:
    """Minutes rounded UP to the increment, then raised to the minimum."""
    rounded = -(-minutes // increment) * increment if minutes > 0 else 0
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
    billed = billable_minutes(
        minutes, increment=terms.rounding_increment_minutes, minimum=terms.minimum_minutes or 0
    )
    return HourlyPrice(billed, amount_for_minutes(terms.hourly_rate, billed))


def price_retainer_task(minutes: int, bank_left: int, terms: ContractTerms) -> RetainerTaskPrice:
    """Round the task's minutes up to the increment, draw them from what is left of the
    month's bank, and bill the rest at the overage rate."""
    rounded = billable_minutes(minutes, increment=terms.rounding_increment_minutes)
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


# -- the retainer bank ------------------------------------------------------------------


class RetainerMonth(NamedTuple):
    """A past month of a retainer: what it included, its rollover cap, what it used."""

    included: int
    cap: int
    used: int


def retainer_bank(included: int, cap: int, previous_unused: int | None) -> int:
    """A month's bank: its included minutes plus the rollover, which is what the previous
    month left unused, never negative and never above the cap. None: the first month."""
    rollover = min(max(previous_unused or 0, 0), cap)
    return included + rollover


def retainer_bank_for_month(
    previous_months: Sequence[RetainerMonth | None], *, included: int, cap: int
) -> tuple[int, int]:
    """(bank, rollover) of a month, given every earlier month of the line, oldest first.

    A None month had no retainer (the line was priced otherwise): it breaks the chain, so
    the next retainer month starts afresh, like the first one.
    """
    unused = None
    for month in previous_months:
        if month is None:
            unused = None
            continue
        bank = retainer_bank(month.included, month.cap, unused)
        unused = max(bank - month.used, 0)
    bank = retainer_bank(included, cap, unused)
    return bank, bank - included


# -- periods ----------------------------------------------------------------------------


def period_start_for(moment: dt.datetime, zone: str) -> dt.date:
    """The first day of the calendar month, in the client's zone, that a moment falls in."""
    return moment.astimezone(ZoneInfo(zone)).date().replace(day=1)


def period_bounds(period_start: dt.date, zone: str) -> tuple[dt.datetime, dt.datetime]:
    """The moments a month begins and ends (exclusive) in the client's zone."""
    return (
        local_midnight(period_start, zone),
        local_midnight(next_period(period_start), zone),
    )


def next_period(period_start: dt.date) -> dt.date:
    if period_start.month == 12:
        return period_start.replace(year=period_start.year + 1, month=1, day=1)
    return period_start.replace(month=period_start.month + 1, day=1)


def periods_between(first: dt.date, until: dt.date) -> list[dt.date]:
    """The month starts from `first` up to, not including, `until`."""
    months, month = [], first.replace(day=1)
    while month < until:
        months.append(month)
        month = next_period(month)
    return months
