"""Stripe's test cards: the magic payment method ids and the card numbers the hosted pages
take, and how each behaves."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class TestCard:
    brand: str
    last4: str
    decline_code: str | None = None
    decline_message: str | None = None
    # Stripe's 4000 0000 0000 0341: saving it for later succeeds, charging it is declined.
    # Every other declining card is declined when it is set up too.
    saves: bool = False

    @property
    def declines_setup(self) -> bool:
        return self.decline_code is not None and not self.saves


# Stripe's magic test payment methods, usable directly wherever a payment method id goes.
TEST_PAYMENT_METHODS = {
    "pm_card_visa": TestCard("visa", "4242"),
    "pm_card_mastercard": TestCard("mastercard", "4444"),
    "pm_card_chargeDeclined": TestCard(
        "visa", "0002", "generic_decline", "Your card was declined."
    ),
    "pm_card_chargeDeclinedInsufficientFunds": TestCard(
        "visa", "9995", "insufficient_funds", "Your card has insufficient funds."
    ),
    "pm_card_chargeCustomerFail": TestCard(
        "visa", "0341", "generic_decline", "Your card was declined.", saves=True
    ),
}

# Card numbers accepted on the hosted pages, as Stripe's test cards.
TEST_CARD_NUMBERS = {
    "4242424242424242": "pm_card_visa",
    "5555555555554444": "pm_card_mastercard",
    "4000000000000002": "pm_card_chargeDeclined",
    "4000000000009995": "pm_card_chargeDeclinedInsufficientFunds",
    "4000000000000341": "pm_card_chargeCustomerFail",
}


def magic_id_for(card_number: str) -> str | None:
    """The magic payment method of a test card number as typed (spaces and dashes
    allowed), or None for any other number."""
    return TEST_CARD_NUMBERS.get(re.sub(r"[\s-]", "", card_number))
