"""The currencies Stripe charges in, the unit its API counts each in, and the smallest
amount it charges, as https://docs.stripe.com/currencies publishes them.

API amounts are integers in a currency's minor unit, with Stripe's own rules:

- zero-decimal currencies (JPY, KRW, VND...) are sent in whole units;
- HUF, TWD and UGX are sent in hundredths (two-decimal), although UGX is on the
  zero-decimal list and payouts of all three are in whole units;
- ISK is zero-decimal, but for backwards compatibility is sent as a two-decimal amount
  that must be divisible by 100;
- three-decimal currencies (BHD, JOD, KWD, OMR, TND) are sent in thousandths whose last
  digit must be 0;
- every other currency is sent in hundredths.
"""

from __future__ import annotations

from .errors import bad_param


def _codes(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Stripe's presentment currencies for card payments, in the order its error message names
# them (USD first, then alphabetical).
PRESENTMENT_CURRENCIES = _codes(
    """
    usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl
    bsd bwp byn bzd cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd
    fkp gbp gel gip gmd gnf gtq gyd hkd hnl htg huf idr ils inr isk jmd jod jpy kes kgs
    khr kmf krw kwd kyd kzt lak lbp lkr lrd lsl mad mdl mga mkd mmk mnt mop mur mvr mwk
    mxn myr mzn nad ngn nio nok npr nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub
    rwf sar sbd scr sek sgd shp sle sos srd std szl thb tjs tnd top try ttd twd tzs uah
    ugx uyu uzs vnd vuv wst xaf xcd xof xpf yer zar zmw
    """
)
SUPPORTED_CURRENCIES = frozenset(PRESENTMENT_CURRENCIES)

# Stripe's zero-decimal list, as published (UGX included).
ZERO_DECIMAL_CURRENCIES = frozenset(
    _codes("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf")
)
# Special cases: sent in hundredths by the API although payouts are in whole units.
SENT_IN_HUNDREDTHS = frozenset({"huf", "twd", "ugx"})
# Zero-decimal, but sent as a two-decimal amount that must be divisible by 100.
WHOLE_HUNDREDTHS = frozenset({"isk"})
# Sent in thousandths whose last digit must be 0.
THREE_DECIMAL_CURRENCIES = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})

# Stripe's minimum charge amount per currency, in the API's unit for that currency (USD
# 0.50 is 50, JPY 50 is 50, HUF 175.00 is 17500). Stripe publishes a minimum only for
# these; in any other currency a charge must convert to the minimum of the account's
# settlement currency, which a server without exchange rates cannot tell, so no minimum
# is applied to them here.
MINIMUM_CHARGE_AMOUNTS: dict[str, int] = {
    "usd": 50,
    "aed": 200,
    "aud": 50,
    "bgn": 100,
    "brl": 50,
    "cad": 50,
    "chf": 50,
    "czk": 1500,
    "dkk": 250,
    "eur": 50,
    "gbp": 30,
    "hkd": 400,
    "huf": 17500,
    "inr": 50,
    "jpy": 50,
    "mxn": 1000,
    "myr": 200,
    "nok": 300,
    "nzd": 50,
    "pln": 200,
    "ron": 200,
    "sek": 300,
    "sgd": 50,
    "thb": 1000,
}


def api_decimals(currency: str) -> int:
    """How many decimals an API amount of this currency carries."""
    currency = currency.lower()
    if currency in ZERO_DECIMAL_CURRENCIES and currency not in SENT_IN_HUNDREDTHS:
        return 0
    if currency in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def check_currency(value: str, param: str = "currency") -> str:
    """The currency in lowercase, or Stripe's refusal of a code it does not charge in."""
    currency = value.lower()
    if currency not in SUPPORTED_CURRENCIES:
        raise bad_param(
            param,
            f"Invalid currency: {currency}. Stripe currently supports these currencies: "
            f"{', '.join(PRESENTMENT_CURRENCIES)}",
        )
    return currency


def check_amount(amount: int, currency: str, param: str = "amount") -> int:
    """Refuse an amount Stripe's rules for its currency do not allow."""
    currency = currency.lower()
    if currency in WHOLE_HUNDREDTHS and amount % 100:
        raise bad_param(
            param,
            f"Invalid {param}: {currency} amounts are sent with two decimals and must be "
            f"divisible by 100 (whole units); {amount} is not.",
        )
    if currency in THREE_DECIMAL_CURRENCIES and amount % 10:
        raise bad_param(
            param,
            f"Invalid {param}: {currency} is a three-decimal currency and amounts must be "
            f"rounded to the nearest ten (the last digit must be 0); {amount} is not.",
        )
    return amount


def minimum_charge(currency: str) -> int | None:
    """The smallest amount Stripe charges in this currency, in API units, if published."""
    return MINIMUM_CHARGE_AMOUNTS.get(currency.lower())


def format_amount(amount: int, currency: str) -> str:
    """An API amount shown in major units: 4321 USD is "43.21 USD", 500 JPY "500 JPY",
    50000 ISK "500 ISK", 5120 KWD "5.120 KWD"."""
    code = currency.upper()
    if currency.lower() in WHOLE_HUNDREDTHS:
        return f"{amount // 100:,} {code}"
    decimals = api_decimals(currency)
    if decimals == 0:
        return f"{amount:,} {code}"
    return f"{amount / 10**decimals:,.{decimals}f} {code}"
