"""Amounts cross to Stripe in Stripe's unit for each currency, in one place
(core.currencies), and only currencies Stripe can charge are accepted."""

import pytest
from django.urls import reverse

from core.currencies import from_stripe, to_stripe
from core.roles import Role
from core.tenancy import agency_scope
from tests.billing.test_invoicing import make_charge, per_task, push
from tests.factories import ClientFactory

# (ISO minor units, currency, Stripe's amount, rounded?)
UNITS = [
    (1999, "USD", 1999, False),  # cents both sides
    (1000, "JPY", 1000, False),  # zero-decimal: yen both sides
    (20, "HUF", 2000, False),  # ISO counts whole forints, Stripe hundredths
    (5000, "UGX", 500000, False),  # the same for shillings
    (100, "TWD", 100, False),  # hundredths both sides
    (500, "ISK", 50000, False),  # hundredths, a multiple of 100
    (1240, "BHD", 1240, False),  # fils, last digit 0
    (1235, "BHD", 1240, True),  # rounded half up to the nearest ten fils
    (5124, "KWD", 5120, True),
]


@pytest.mark.parametrize(("minor", "currency", "amount", "rounded"), UNITS)
def test_each_currency_goes_to_stripe_in_stripes_unit(minor, currency, amount, rounded):
    sent = to_stripe(minor, currency)
    assert sent.amount == amount
    assert (sent.rounded_from == minor) is rounded and bool(sent.note) is rounded
    assert from_stripe(amount, currency) == (minor if not rounded else round(minor, -1))


def test_a_rounding_is_said_in_words():
    assert to_stripe(1235, "BHD").note == (
        "1.235 BHD rounded half up to 1.240 BHD, the nearest amount Stripe can charge"
    )


@pytest.mark.parametrize(
    ("currency", "fee", "stripe_amount", "amount_due"),
    [
        ("HUF", 5000, 500000, 5000),
        ("ISK", 5000, 500000, 5000),
        ("JPY", 1000, 1000, 1000),
        ("BHD", 5235, 5240, 5240),
    ],
)
def test_an_invoice_carries_the_charge_in_stripes_unit_and_reads_back_in_ours(
    agency, stripe_on, currency, fee, stripe_amount, amount_due
):
    client = ClientFactory(agency=agency, currency=currency)
    line = per_task(agency, client, fee=fee, collection="send_invoice")
    charge = make_charge(agency, line)
    invoice = push(agency, charge)
    item = stripe_on.v1.invoice_items.retrieve(charge.stripe_invoice_item_id)
    assert (item.amount, item.currency) == (stripe_amount, currency.lower())
    assert ("rounded half up" in item.description) is (amount_due != fee)
    with agency_scope(agency):
        invoice.refresh_from_db()
    assert invoice.amount_due == amount_due and invoice.currency == currency


@pytest.mark.parametrize("code", ["XXX", "XTS", "ZWL", "XAU"])
def test_a_currency_stripe_cannot_charge_is_a_form_error_and_a_400(
    agency, member, signed_in, api, code
):
    admin = member(Role.ADMIN).user
    page = signed_in(admin).post(
        reverse("client_create", args=[agency.slug]),
        {"name": "Acme", "time_zone": "Europe/Paris", "currency": code},
    )
    assert page.status_code == 200 and "currency" in page.context["form"].errors
    response = api(admin).post(
        reverse("api:client-list", args=[agency.slug]),
        {"name": "Acme", "currency": code},
        format="json",
    )
    assert response.status_code == 400 and response.json()["extra"]["field"] == "currency"


def test_an_invoice_below_stripes_minimum_is_carried_to_the_next_one(
    agency, member, signed_in, stripe_on
):
    """Stripe charges at least $0.50: an invoice for $0.30 is marked paid with nothing
    charged and the $0.30 moved to the customer's balance, which the next invoice
    collects. Our invoices and pages follow Stripe's figures and say so."""
    person = member(Role.CLIENT)
    line = per_task(agency, person.client, fee=30, collection="send_invoice")
    first = push(agency, make_charge(agency, line))
    with agency_scope(agency):
        first.refresh_from_db()
    assert (first.status, first.total, first.amount_due, first.amount_paid) == ("paid", 30, 0, 0)
    assert first.carried_forward == 30

    second = push(agency, make_charge(agency, line, fee=1000))
    with agency_scope(agency):
        second.refresh_from_db()
    assert (second.total, second.starting_balance, second.amount_due) == (1000, 30, 1030)
    assert second.carried_forward == 0
    remote = stripe_on.v1.invoices.retrieve(second.stripe_invoice_id)
    assert (remote.amount_due, remote.starting_balance) == (1030, 30)

    http = signed_in(person.user)
    page = http.get(reverse("our_invoice_detail", args=[agency.slug, first.pk])).content.decode()
    assert 'data-testid="carried-forward"' in page and "your next invoice" in page
    page = http.get(reverse("our_invoice_detail", args=[agency.slug, second.pk])).content.decode()
    assert 'data-testid="carried-in">+$0.30' in page and "$10.30" in page
