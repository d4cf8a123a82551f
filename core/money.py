"""Money is an integer count of minor units plus an ISO 4217 code, never a float.

People type and read major units ("12.50"); these helpers convert at the edges using the
currency's own number of decimals (JPY has none, BHD has three).
"""

from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision


def minor_digits(currency: str) -> int:
    return get_currency_precision(currency)


def to_minor(amount: Decimal, currency: str) -> int:
    """Major units to minor units. More decimals than the currency has is an error."""
    digits = minor_digits(currency)
    scaled = amount.scaleb(digits)
    if scaled != scaled.to_integral_value():
        allowed = f"at most {digits} decimals" if digits else "no decimals"
        raise ValueError(f"{currency} amounts have {allowed}.")
    return int(scaled)


def to_major(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-minor_digits(currency))


def format_money(minor: int | None, currency: str, locale: str = "en_US") -> str:
    if minor is None:
        return "—"
    return format_currency(to_major(minor, currency), currency, locale=locale)
