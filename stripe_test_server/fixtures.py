"""Stripe's canonical example objects, the template every returned object is built from.

Objects are a deep copy of the fixture with the fields the server models overridden, so
they carry exactly Stripe's fields and types. A few fixture values illustrate features we
do not model (a coupon discount on the customer, a quote as the invoice's parent, a
finalization error); those are reset to what Stripe returns without the feature, which is
null. `NULLABLE` lists those paths so the shape test can tell a deliberate null from drift.
"""

from __future__ import annotations

import copy
import json
import os
import threading
from pathlib import Path

# Vendored with Stripe's MIT licence (vendor/README.md says from where); STRIPE_FIXTURES
# may point at another copy, e.g. a newer one being tried.
FIXTURES_PATH = Path(__file__).resolve().parent / "vendor" / "fixtures3.json"

NULLABLE: dict[str, set[str]] = {
    "customer": {
        "address",
        "currency",
        "discount",
        "shipping",
        "invoice_settings.rendering_options",
    },
    "invoice": {
        "automatic_tax.liability",
        "customer_address",
        "customer_shipping",
        "due_date",
        "effective_at",
        "from_invoice",
        "last_finalization_error",
        "next_payment_attempt",
        "parent",
        "payment_settings.payment_method_options",
        "shipping_cost",
        "shipping_details",
    },
    "invoiceitem": {"parent"},
    "line_item": {
        "parent.subscription_item_details",
        "parent.invoice_item_details.proration_details.credited_items",
    },
    # Stripe's test cards carry no billing details and no CVC check.
    "payment_method": {
        "billing_details.address.city",
        "billing_details.address.country",
        "billing_details.address.line1",
        "billing_details.address.postal_code",
        "billing_details.address.state",
        "billing_details.email",
        "billing_details.phone",
        "card.checks.cvc_check",
        "card.generated_from",
        "card.wallet",
    },
    "webhook_endpoint": {"description"},
    # A percentage rate given no country, description, jurisdiction or tax type.
    "tax_rate": {"country", "description", "flat_amount", "jurisdiction", "tax_type"},
    # Checkout in setup mode: no payment, tax, shipping, consent, custom text, recovery,
    # adaptive pricing or payment method configuration; the optional URLs when not given;
    # the customer's details until the session completes (and an e-mail the customer
    # lacks); no url once the session is complete or expired.
    "checkout.session": {
        "adaptive_pricing",
        "after_expiration",
        "automatic_tax.liability",
        "cancel_url",
        "collected_information",
        "consent",
        "consent_collection",
        "currency_conversion",
        "custom_text.after_submit",
        "custom_text.shipping_address",
        "custom_text.submit",
        "custom_text.terms_of_service_acceptance",
        "customer_details",
        "customer_details.email",
        "invoice_creation",
        "managed_payments",
        "payment_intent",
        "payment_method_configuration_details",
        "permissions",
        "saved_payment_method_options",
        "shipping_address_collection",
        "shipping_cost",
        "success_url",
        "total_details",
        "url",
        "wallet_options",
    },
    # Card types given, no error and nothing left for the customer to do.
    "setup_intent": {
        "automatic_payment_methods",
        "last_setup_error",
        "next_action",
        "payment_method_configuration_details",
    },
    # A plain portal session: no flow.
    "billing_portal.session": {"flow"},
    "event": {"request.id", "request.idempotency_key"},
}

_lock = threading.Lock()
_loaded: dict | None = None


def fixtures_path() -> Path:
    return Path(os.environ.get("STRIPE_FIXTURES") or FIXTURES_PATH)


def check_available() -> None:
    """Fail at start, with the reason, rather than on the first request."""
    path = fixtures_path()
    if not path.is_file():
        raise FileNotFoundError(
            f"Stripe's fixtures are not at {path}: unset STRIPE_FIXTURES to use the copy in "
            f"{FIXTURES_PATH.parent}, or point it at the file."
        )
    fixture("customer")


def fixture(kind: str) -> dict:
    """A fresh deep copy of Stripe's example object of this kind."""
    global _loaded
    with _lock:
        if _loaded is None:
            with fixtures_path().open(encoding="utf-8") as handle:
                _loaded = json.load(handle)["resources"]
    return copy.deepcopy(_loaded[kind])


def build(kind: str, **fields) -> dict:
    """Stripe's example `kind` object with `fields` set; every key set must exist in it."""
    shaped = fixture(kind)
    unknown = set(fields) - set(shaped)
    if unknown:
        raise KeyError(f"{kind} has no field(s) {sorted(unknown)} in Stripe's fixture")
    shaped.update(fields)
    return shaped
