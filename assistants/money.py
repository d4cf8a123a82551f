"""Amounts as people type and read them, stored as integer minor units.

The number of minor-unit digits comes from Babel's currency data (USD 2, JPY 0, BHD 3),
never from a hard-coded 100.
"""

from decimal import Decimal, InvalidOperation

from babel.numbers import format_currency, get_currency_precision

from core.errors import ApplicationError


def currency_digits(currency: str) -> int:
    return get_currency_precision(currency.upper())


def to_major(amount: int, currency: str) -> Decimal:
    """1250 USD -> Decimal("12.50"); 1250 JPY -> Decimal("1250")."""
    digits = currency_digits(currency)
    return (Decimal(amount) / (10**digits)).quantize(Decimal(1).scaleb(-digits))


def to_minor(amount, currency: str, *, field: str = "amount") -> int:
    """ "12.50" USD -> 1250. More decimals than the currency has is an error, not a rounding."""
    digits = currency_digits(currency)
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation:
        raise ApplicationError(
            f"“{amount}” is not an amount.", code="amount_invalid", extra={"field": field}
        ) from None
    if not value.is_finite():
        raise ApplicationError(
            f"“{amount}” is not an amount.", code="amount_invalid", extra={"field": field}
        )
    minor = value.scaleb(digits)
    if minor != minor.to_integral_value():
        places = f"{digits} decimal places" if digits else "no decimal places"
        raise ApplicationError(
            f"{currency.upper()} amounts have {places}.",
            code="amount_too_precise",
            extra={"field": field},
        )
    return int(minor)


def format_money(amount: int, currency: str, *, locale: str = "en_US") -> str:
    """1250 USD -> "$12.50"; 1500 EUR -> "€15.00"."""
    return format_currency(to_major(amount, currency), currency.upper(), locale=locale)
