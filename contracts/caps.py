"""Monthly budget caps: what a contract line may cost in a calendar month (the client's).

The cap is checked when work is requested, against what the line has already been charged
that month plus the least the new request will cost: a flat fee, an hourly line's minimum,
or the client's own maximum budget for the task when they gave one. At the cap the line
either blocks new work or asks the client to approve going over, as its terms say.

What a line has been charged is billing's to know, and billing sits above contracts: it
registers its count with `count_spend_with` when it starts (billing.apps).
"""

import datetime as dt
from collections.abc import Callable

from django.utils import timezone

from contracts import pricing
from contracts.models import CapBehaviour, ContractLine, PricingModel
from contracts.selectors import terms_in_force
from core.errors import ApplicationError
from core.money import format_money

_month_spent = []


def count_spend_with(month_spent: Callable) -> Callable:
    """Register month_spent(agency=..., line=..., at=...) -> minor units the line has been
    charged in the client's calendar month around `at`."""
    _month_spent[:] = [month_spent]
    return month_spent


def month_spent(*, agency, line: ContractLine, at: dt.datetime) -> int:
    if not _month_spent:
        raise RuntimeError("No count of what lines have been charged: is billing installed?")
    return _month_spent[0](agency=agency, line=line, at=at)


def least_cost(terms, max_budget: int | None) -> int:
    """The least a new request will cost under these terms."""
    if max_budget is not None:
        return max_budget
    if terms.pricing_model == PricingModel.FLAT:
        return terms.flat_fee
    if terms.pricing_model == PricingModel.HOURLY:
        minutes = max(terms.minimum_minutes, terms.rounding_increment_minutes)
        return pricing.amount_for_minutes(terms.hourly_rate, minutes)
    return 0  # retainer work is drawn from hours already paid for


def check_request_within_cap(
    *, agency, line: ContractLine, max_budget: int | None, over_cap_approved: bool
) -> bool:
    """Refuse a request that would pass the line's monthly cap (terms say "block"), or that
    passes it without the client's approval (terms say "ask"). Returns whether the request
    goes over the cap with approval, for the audit trail."""
    now = timezone.now()
    terms = terms_in_force(line, now)
    if terms is None or terms.monthly_budget_cap is None:
        return False
    spent = month_spent(agency=agency, line=line, at=now)
    if spent + least_cost(terms, max_budget) <= terms.monthly_budget_cap:
        return False
    currency = line.contract.currency
    cap = format_money(terms.monthly_budget_cap, currency)
    used = format_money(spent, currency)
    if terms.cap_behaviour == CapBehaviour.BLOCK:
        raise ApplicationError(
            f"{line.service.name} has a monthly budget of {cap} and {used} is used: this "
            "request would pass it. Ask the agency to raise the budget.",
            code="task_budget_cap_reached",
            extra={"field": "service", "cap": terms.monthly_budget_cap, "spent": spent},
        )
    if not over_cap_approved:
        raise ApplicationError(
            f"{line.service.name} has a monthly budget of {cap} and {used} is used: this "
            "request would pass it. Approve going over the budget to send it.",
            code="task_budget_cap_needs_approval",
            extra={"field": "over_cap_approved", "cap": terms.monthly_budget_cap, "spent": spent},
        )
    return True
