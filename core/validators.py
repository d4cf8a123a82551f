import datetime as dt
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


# Dates that money depends on (contract periods, terms): far enough either way for any
# real contract, near enough that a typo (0001, 9999) is caught, and every moment of the
# range exists in every time zone (year 1 at midnight in Tokyo is before year 1 in UTC).
EARLIEST_DATE = dt.date(2000, 1, 1)
LATEST_DATE = dt.date(2099, 12, 31)


def date_in_range(value: dt.date) -> bool:
    if isinstance(value, dt.datetime):
        value = value.date()
    return EARLIEST_DATE <= value <= LATEST_DATE


def date_range_message() -> str:
    return f"Use a date from {EARLIEST_DATE:%-d %B %Y} to {LATEST_DATE:%-d %B %Y}."
