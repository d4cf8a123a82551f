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
- Where the terms say banked hours expire after N months, hours of a month may be used
  until the end of the N-th month after it; work draws the oldest hours first, so the
  ones nearest to expiring go first, and at the rollover cap the oldest are dropped.
- Hours the client buys (billing.top_ups) join the month's bank when bought, and roll
  over and expire like its included hours.
- A task's minutes are first rounded UP to the increment, then drawn from what is left of
  the bank; whatever the bank cannot cover is overage, billed at the overage rate
  (contracts.pricing.price_retainer_task). The overage is not rounded again.
"""

import bisect
import datetime as dt
import functools
from collections.abc import Sequence
from typing import NamedTuple

from django.db.models import Sum

from billing.models import Charge, ChargeKind
from contracts.models import ContractLine, ContractTerms, PricingModel
from core.periods import month_bounds, month_start, next_month


class RetainerMonth(NamedTuple):
    """A past month of a retainer: what it included, its rollover cap, what it used; how
    many months its banked hours last (None: they never expire) and the hours bought."""

    included: int
    cap: int
    used: int
    expire_after: int | None = None
    topped_up: int = 0


def retainer_bank(included: int, cap: int, previous_unused: int | None) -> int:
    """A month's bank: its included minutes plus the rollover, which is what the previous
    month left unused, never negative and never above the cap. None: the first month."""
    rollover = min(max(previous_unused or 0, 0), cap)
    return included + rollover


def _carry_into(lots: list[list[int]], index: int, month: RetainerMonth) -> list[list[int]]:
    """The lots ([month index, minutes], oldest first) a month starts with: what is left
    of the earlier ones, less those older than the month's expiry, then no more than its
    rollover cap (the newest kept, the oldest being the nearest to expiring anyway), and
    the month's own included and bought hours on top."""
    if month.expire_after is not None:
        lots = [lot for lot in lots if index - lot[0] <= month.expire_after]
    room, kept = month.cap, []
    for origin, minutes in reversed(lots):
        take = min(minutes, max(room, 0))
        room -= take
        if take:
            kept.append([origin, take])
    kept.reverse()
    return [*kept, [index, month.included + month.topped_up]]


def _draw(lots: list[list[int]], minutes: int) -> list[list[int]]:
    """What is left after work draws `minutes`, the oldest hours first."""
    left = []
    for origin, available in lots:
        take = min(available, max(minutes, 0))
        minutes -= take
        if available - take:
            left.append([origin, available - take])
    return left


def bank_lots(
    previous_months: Sequence[RetainerMonth | None], current: RetainerMonth
) -> list[list[int]]:
    """The lots of the current month's bank before its work, [month index, minutes] oldest
    first, the current month being index len(previous_months). A None month had no
    retainer: it breaks the chain, so the next retainer month starts afresh."""
    lots: list[list[int]] = []
    for index, month in enumerate(previous_months):
        if month is None:
            lots = []
            continue
        lots = _draw(_carry_into(lots, index, month), month.used)
    return _carry_into(lots, len(previous_months), current)


def retainer_bank_for_month(
    previous_months: Sequence[RetainerMonth | None],
    *,
    included: int,
    cap: int,
    expire_after: int | None = None,
    topped_up: int = 0,
) -> tuple[int, int]:
    """(bank, rollover) of a month, given every earlier month of the line, oldest first.
    The bank is the rollover plus the month's included and bought hours."""
    current = RetainerMonth(included, cap, 0, expire_after, topped_up)
    lots = bank_lots(previous_months, current)
    bank = sum(minutes for _, minutes in lots)
    return bank, bank - included - topped_up


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


def topped_up_minutes(agency, lines) -> dict[int, dict[dt.date, int]]:
    """Hours bought (billing.top_ups) per line and month, in minutes; `lines` may be the
    lines or their ids. One query."""
    from billing.models import TopUp

    bought: dict[int, dict[dt.date, int]] = {}
    rows = (
        TopUp.objects.filter(agency=agency, contract_line__in=lines)
        .values("contract_line_id", "period_start")
        .annotate(minutes=Sum("minutes"))
        .order_by()
    )
    for row in rows:
        bought.setdefault(row["contract_line_id"], {})[row["period_start"]] = row["minutes"]
    return bought


@functools.lru_cache(maxsize=4096)
def _bounds(period_start: dt.date, zone: str) -> tuple[dt.datetime, dt.datetime]:
    # A report walks the same few months for hundreds of lines in a handful of zones.
    return month_bounds(period_start, zone)


class LineTerms:
    """The retainer terms each month of one line is bought under (`month_terms`), in the
    client's zone: the versions sorted once by date, a month's terms found by bisecting."""

    def __init__(self, versions, zone: str):
        self.zone = zone
        self.versions = sorted(versions, key=lambda v: v.effective_from)
        self.moments = [v.effective_from for v in self.versions]
        first = next((v for v in self.versions if v.pricing_model == PricingModel.RETAINER), None)
        # No month before the one the first retainer version begins in is a retainer month.
        self.first_month = month_start(first.effective_from, zone) if first else None

    def month(self, period_start: dt.date) -> ContractTerms | None:
        begins, ends = _bounds(period_start, self.zone)
        after = bisect.bisect_right(self.moments, begins)
        if after and self.versions[after - 1].pricing_model == PricingModel.RETAINER:
            return self.versions[after - 1]
        for version in self.versions[after : bisect.bisect_left(self.moments, ends)]:
            if version.pricing_model == PricingModel.RETAINER:
                return version
        return None


def month_terms(versions, period_start: dt.date, zone: str) -> ContractTerms | None:
    """The retainer terms a month is bought under: those in force when it begins, or, when
    the line starts (or turns into a retainer) during the month, the first retainer version
    of the month. None: the line was no retainer that month."""
    return LineTerms(versions, zone).month(period_start)


def _retainer_month(terms, used: int, topped_up: int) -> RetainerMonth:
    return RetainerMonth(
        terms.included_minutes,
        terms.rollover_cap_minutes,
        used,
        terms.banked_hours_expire_after_months,
        topped_up,
    )


class MonthBank(NamedTuple):
    """A retainer month before its work: the terms it is bought under; its bank as lots
    (month the hours are from, minutes), oldest first; the bank and the rollover in it;
    and, where banked hours expire, what is left after its work so far by the last month
    it may be used in ([{"minutes", "month"}], oldest first)."""

    terms: ContractTerms
    lots: list[tuple[dt.date, int]]
    bank: int
    rollover: int
    expiring: list[dict]


def line_banks(
    versions, zone: str, used: dict, topped_up: dict | None, months
) -> dict[dt.date, MonthBank | None]:
    """The bank of each of `months` (first days) of a retainer line, None where the line
    was no retainer, from one walk of its months up to the last asked for, each month's
    terms resolved once; the walk starts where the earlier months stop mattering
    (`_walk_start`). `versions` are the line's terms; `used` maps each month to the
    minutes its task charges drew from the bank (written-off ones included), and
    `topped_up` to the minutes bought for it."""
    topped_up = topped_up or {}
    found: dict[dt.date, MonthBank | None] = dict.fromkeys(months)
    terms_of = LineTerms(versions, zone)
    if terms_of.first_month is None or not found:
        return found
    last = max(found)
    walked: list[dt.date] = []  # a lot's index is the month its hours are from
    lots: list[list[int]] = []
    month = _walk_start(terms_of, used, topped_up, min(found))
    while month <= last:
        index = len(walked)
        walked.append(month)
        terms = terms_of.month(month)
        if terms is None:  # priced otherwise: the next retainer month starts afresh
            lots = []
        else:
            bought = topped_up.get(month, 0)
            before = _carry_into(lots, index, _retainer_month(terms, 0, bought))
            month_used = used.get(month, 0)
            if month in found:
                found[month] = _month_bank(terms, before, walked, month_used, bought)
            lots = _draw(before, month_used)
        month = next_month(month)
    return found


def _walk_start(terms_of: LineTerms, used: dict, topped_up: dict, first_shown: dt.date) -> dt.date:
    """The month a walk may start from with nothing carried in and still find the bank of
    every month from `first_shown` on as the line's whole history would. Looking back
    from `first_shown`: the month after one priced otherwise (its bank starts afresh
    anyway), or a month whose own hours left after its work reach the next month's
    rollover cap whatever older hours it had (work draws the oldest first, and the cap
    keeps the newest: the next month carries only that month's hours, up to the cap).
    Failing both, the line's first retainer month."""
    month, later = first_shown, terms_of.month(first_shown)
    while month > terms_of.first_month:
        earlier = (month - dt.timedelta(days=1)).replace(day=1)
        terms = terms_of.month(earlier)
        if terms is None or later is None:
            return month
        own_left = terms.included_minutes + topped_up.get(earlier, 0) - used.get(earlier, 0)
        if own_left >= later.rollover_cap_minutes:
            return earlier
        month, later = earlier, terms
    return terms_of.first_month


def _month_bank(terms, before: list[list[int]], walked: list, used: int, bought: int) -> MonthBank:
    bank = sum(minutes for _, minutes in before)
    after = terms.banked_hours_expire_after_months
    soon = []
    if after is not None:
        for index, minutes in _draw(before, used):
            last = walked[index]
            for _ in range(after):
                last = next_month(last)
            soon.append({"minutes": minutes, "month": last})
    return MonthBank(
        terms,
        [(walked[index], minutes) for index, minutes in before],
        bank,
        bank - terms.included_minutes - bought,
        soon,
    )


def month_lots(
    versions, period_start: dt.date, zone: str, used: dict, topped_up: dict | None = None
) -> list[tuple[dt.date, int]]:
    """The month's bank before its work as (month the hours are from, minutes), oldest
    first, walking the line's months from its first."""
    return line_banks(versions, zone, used, topped_up, [period_start])[period_start].lots


def month_bank(
    versions, period_start: dt.date, zone: str, used: dict, topped_up: dict | None = None
) -> tuple[int, int]:
    """(bank, rollover) of a month of a retainer line, in minutes, walking the line's months
    from its first. `versions` are the line's terms newest first; `used` maps each month to
    the minutes its task charges drew from the bank (written-off ones included), and
    `topped_up` to the minutes bought for it."""
    month = line_banks(versions, zone, used, topped_up, [period_start])[period_start]
    return month.bank, month.rollover


def expiring(
    versions, period_start: dt.date, zone: str, used: dict, topped_up: dict | None = None
) -> list[dict]:
    """What is left of the month's bank after its work so far, by when it expires (oldest
    first; the hours of one month together): [{"minutes", "month"}], `month` being the
    last month the hours may be used in. Empty when the line's hours never expire."""
    month = line_banks(versions, zone, used, topped_up, [period_start])[period_start]
    return month.expiring if month is not None else []


def expiry_words(rows: list[dict]) -> str:
    """ "3.0 h expire at the end of March 2027", one phrase per month, oldest first."""
    return "; ".join(
        f"{row['minutes'] / 60:.1f} h expire at the end of {row['month']:%B %Y}" for row in rows
    )


def bank_left(agency, line: ContractLine, versions, month: dt.date, zone: str) -> dict:
    """What a retainer month holds before its next task: its bank, the rollover in it, the
    minutes its task charges already drew and what is left (never negative); the hours
    bought for it and, where banked hours expire, what is left by expiry month."""
    used = bank_usage(agency, line)
    bought = topped_up_minutes(agency, [line]).get(line.pk, {})
    found = line_banks(versions, zone, used, bought, [month])[month]
    used_before = used.get(month, 0)
    left = {
        "bank_minutes": found.bank,
        "rollover_minutes": found.rollover,
        "bank_used_before": used_before,
        "bank_left_before": max(found.bank - used_before, 0),
    }
    if bought.get(month):
        left["topped_up_minutes"] = bought[month]
    if found.expiring:
        left["expiring"] = [
            {"minutes": row["minutes"], "month": row["month"].isoformat()} for row in found.expiring
        ]
    return left
