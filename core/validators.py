import zoneinfo

from babel.numbers import list_currencies
from django.core.exceptions import ValidationError

TIME_ZONES = frozenset(zoneinfo.available_timezones())
CURRENCIES = frozenset(list_currencies())


def validate_time_zone(value: str) -> None:
    if value not in TIME_ZONES:
        raise ValidationError("%(value)s is not a known time zone.", params={"value": value})


def validate_currency(value: str) -> None:
    if value not in CURRENCIES:
        raise ValidationError(
            "%(value)s is not an ISO 4217 currency code.", params={"value": value}
        )


def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(TIME_ZONES)]
