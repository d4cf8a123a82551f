import zoneinfo

from babel.numbers import list_currencies
from django.core.exceptions import ValidationError

from core.currencies import STRIPE_CURRENCIES

TIME_ZONES = frozenset(zoneinfo.available_timezones())
CURRENCIES = frozenset(list_currencies())
# ISO 4217 codes Stripe can charge: invoices go through Stripe, so a currency it refuses
# (XXX, XTS, ZWL...) could never be billed.
BILLING_CURRENCIES = CURRENCIES & STRIPE_CURRENCIES


def validate_time_zone(value: str) -> None:
    if value not in TIME_ZONES:
        raise ValidationError("%(value)s is not a known time zone.", params={"value": value})


def validate_currency(value: str) -> None:
    if value not in CURRENCIES:
        raise ValidationError(
            "%(value)s is not an ISO 4217 currency code.", params={"value": value}
        )


def validate_billing_currency(value: str) -> None:
    """A currency clients can be invoiced in."""
    validate_currency(value)
    if value not in BILLING_CURRENCIES:
        raise ValidationError(
            "%(value)s can't be invoiced: Stripe does not charge in it.",
            params={"value": value},
        )


def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(TIME_ZONES)]
