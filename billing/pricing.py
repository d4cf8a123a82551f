"""What work costs under a contract line's terms. Pure functions over integers."""

from decimal import ROUND_HALF_UP, Decimal

from billing.models import ContractTerms, PricingModel


def billable_minutes(minutes: int, *, increment: int, minimum: int = 0) -> int:
    """Minutes rounded UP to the increment, then raised to the minimum."""
    rounded = -(-minutes // increment) * increment if minutes > 0 else 0
    return max(rounded, minimum)


def amount_for_minutes(rate: int, minutes: int) -> int:
    """rate (minor units per hour) x minutes / 60, rounded half-up to a minor unit."""
    exact = Decimal(rate) * Decimal(minutes) / Decimal(60)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def task_estimate(terms: ContractTerms, minutes: int) -> int | None:
    """What a task with `minutes` logged would cost on its own, or None when the cost
    depends on the month's retainer bank (the period's other work decides it)."""
    if terms.pricing_model == PricingModel.FLAT:
        return terms.flat_fee
    if terms.pricing_model == PricingModel.HOURLY:
        billable = billable_minutes(
            minutes, increment=terms.rounding_increment_minutes, minimum=terms.minimum_minutes
        )
        return amount_for_minutes(terms.hourly_rate, billable)
    return None
