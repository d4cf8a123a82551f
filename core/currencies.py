"""The currencies the product bills in, and the unit Stripe counts each of them in.

We keep money as ISO 4217 minor units (core.money: cents, yen, fils). Stripe's API has its
own unit for some currencies (https://docs.stripe.com/currencies):

- zero-decimal currencies (JPY, KRW, VND...) are sent in whole units, as ISO counts them;
- HUF, TWD and UGX are sent in hundredths, although ISO (HUF, UGX) or Stripe's payouts
  count them in whole units;
- ISK is sent in hundredths too, and the amount must be a multiple of 100 (whole krónur);
- three-decimal currencies (BHD, JOD, KWD, OMR, TND) are sent in thousandths whose last
  digit must be 0: amounts are rounded to the nearest ten;
- every other currency is sent in hundredths.

`to_stripe` and `from_stripe` are the one place amounts cross that boundary (billing's
Stripe calls use nothing else). Only currencies Stripe can charge are accepted anywhere a
currency is chosen (`validate_currency` in core.validators).
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import get_currency_precision

from core.money import to_major


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Stripe's presentment currencies for card payments, as its documentation lists them.
STRIPE_CURRENCIES = _codes(
    """
    USD AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL
    BSD BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CVE CZK DJF DKK DOP DZD EGP ETB EUR FJD
    FKP GBP GEL GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR ISK JMD JOD JPY KES KGS
    KHR KMF KRW KWD KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MUR MVR MWK
    MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB
    RWF SAR SBD SCR SEK SGD SHP SLE SOS SRD STD SZL THB TJS TND TOP TRY TTD TWD TZS UAH
    UGX UYU UZS VND VUV WST XAF XCD XOF XPF YER ZAR ZMW
    """
)
ZERO_DECIMAL = _codes("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF VND VUV XAF XOF XPF")
THREE_DECIMAL = _codes("BHD JOD KWD OMR TND")
# Sent in hundredths that must make whole units.
WHOLE_HUNDREDTHS = _codes("ISK")


def stripe_decimals(currency: str) -> int:
    """How many decimals Stripe's API amounts of this currency carry."""
    currency = currency.upper()
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


def _step(currency: str) -> int:
    """The smallest amount Stripe accepts, in its own unit (amounts are multiples of it)."""
    currency = currency.upper()
    if currency in WHOLE_HUNDREDTHS:
        return 100
    if currency in THREE_DECIMAL:
        return 10
    return 1


@dataclass(frozen=True)
class StripeAmount:
    """An amount in Stripe's unit, and, when Stripe's rules changed it, what we had and how
    it was rounded (said on the invoice line)."""

    amount: int
    currency: str
    rounded_from: int | None = None

    @property
    def note(self) -> str:
        """How the amount was rounded, in major units ("" when it was not)."""
        if self.rounded_from is None:
            return ""
        charged = to_major(self.rounded_from, self.currency)
        billed = to_major(from_stripe(self.amount, self.currency), self.currency)
        return (
            f"{charged} {self.currency} rounded half up to {billed} {self.currency}, "
            "the nearest amount Stripe can charge"
        )


def to_stripe(minor: int, currency: str) -> StripeAmount:
    """ISO minor units to Stripe's unit, rounded (half up) where Stripe requires it."""
    currency = currency.upper()
    exact = Decimal(minor).scaleb(stripe_decimals(currency) - get_currency_precision(currency))
    step = _step(currency)
    amount = int((exact / step).quantize(Decimal(1), rounding=ROUND_HALF_UP)) * step
    exact_back = from_stripe(amount, currency) == minor
    return StripeAmount(amount, currency, rounded_from=None if exact_back else minor)


def from_stripe(amount: int, currency: str) -> int:
    """Stripe's unit to ISO minor units (half up where ISO has fewer decimals)."""
    currency = currency.upper()
    exact = Decimal(amount).scaleb(get_currency_precision(currency) - stripe_decimals(currency))
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
