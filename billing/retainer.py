"""The retainer bank: the minutes a retainer line's month has paid for, and what is left.

The rules, in the order they apply:

- A month is a calendar month in the client's time zone (core.periods).
- A month is bought under the retainer terms in force when it begins, or, when the line
  starts (or turns into a retainer) during the month, its first retainer version
  (`month_terms`).
- The month's bank is its included minutes plus the rollover; the rollover is what the
  previous month left unused (its own bank minus what it used), never negative and never
  above the rollover cap. The first retainer month has no rollover, nor does one after a
  month the line was priced otherwise.
- A task's minutes are first rounded UP to the increment, then drawn from what is left of
  the bank; whatever the bank cannot cover is overage, billed at the overage rate
  (contracts.pricing.price_retainer_task). The overage is not rounded again.
"""

import datetime as dt
from collections.abc import Sequence
from typing import NamedTuple

from django.db.models import Sum

from billing.models import Charge, ChargeKind
from contracts.models import ContractLine, ContractTerms, PricingModel
from core.periods import month_bounds, month_start, months_between


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


# -- a line's months ------------------------------------------------------------------


def bank_usage(agency, line: ContractLine) -> dict[dt.date, int]:
    """Minutes each month's task charges of the line drew from its bank (written-off ones
    included: writing off forgives the money, not the hours the work took)."""
    rows = (
        Charge.objects.filter(
            agency=agency, contract_line=line, kind=ChargeKind.TASK, period_start__isnull=False
        )
        .values("period_start")
        .annotate(used=Sum("minutes_from_bank"))
        .order_by()
    )
    return {row["period_start"]: row["used"] or 0 for row in rows}


def month_terms(versions, period_start: dt.date, zone: str) -> ContractTerms | None:
    """The retainer terms a month is bought under: those in force when it begins, or, when
    the line starts (or turns into a retainer) during the month, the first retainer version
    of the month. None: the line was no retainer that month."""
    begins, ends = month_bounds(period_start, zone)
    for version in versions:  # newest first
        if version.effective_from <= begins:
            if version.pricing_model == PricingModel.RETAINER:
                return version
            break
    during = [
        v
        for v in versions
        if begins < v.effective_from < ends and v.pricing_model == PricingModel.RETAINER
    ]
    return min(during, key=lambda v: v.effective_from) if during else None


def month_bank(versions, period_start: dt.date, zone: str, used: dict) -> tuple[int, int]:
    """(bank, rollover) of a month of a retainer line, in minutes, walking the line's months
    from its first. `versions` are the line's terms newest first; `used` maps each month to
    the minutes its task charges drew from the bank (written-off ones included)."""
    first = month_start(min(v.effective_from for v in versions), zone)
    history = []
    for month in months_between(first, period_start):
        terms = month_terms(versions, month, zone)
        history.append(
            RetainerMonth(terms.included_minutes, terms.rollover_cap_minutes, used.get(month, 0))
            if terms is not None
            else None
        )
    terms = month_terms(versions, period_start, zone)
    return retainer_bank_for_month(
        history, included=terms.included_minutes, cap=terms.rollover_cap_minutes
    )


def bank_left(agency, line: ContractLine, versions, month: dt.date, zone: str) -> dict:
    """What a retainer month holds before its next task: its bank, the rollover in it, the
    minutes its task charges already drew and what is left (never negative)."""
    used = bank_usage(agency, line)
    bank, rollover = month_bank(versions, month, zone, used)
    used_before = used.get(month, 0)
    return {
        "bank_minutes": bank,
        "rollover_minutes": rollover,
        "bank_used_before": used_before,
        "bank_left_before": max(bank - used_before, 0),
    }
