"""The books with tax: every invoice line carries the rates its charge was made under, and
our invoice, Stripe's (read back through the SDK), the invoice page, the PDF's page, the
invoices list and the revenue report agree on net, tax and gross per currency.

Exclusive and inclusive rates, a two-decimal (EUR, USD) and a zero-decimal (JPY)
currency, per-task and monthly billing, exempt and reverse-charged clients, rates fixed
when the work is charged, a rate replaced while work is unbilled, and credit notes on
open and paid taxed invoices (the tax credited in proportion, the refund its total).
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.credit_notes import credit_note_issue
from billing.invoicing import close_billing_periods
from billing.models import Charge, Invoice, TaxRate
from billing.tax import (
    client_tax_update,
    line_split,
    tax_rate_archive,
    tax_rate_create,
    tax_rate_update,
    tax_rates_retire,
)
from core.errors import ApplicationError
from core.periods import Period
from core.roles import Role
from core.tenancy import agency_scope
from reports.selectors import revenue_by_currency
from tests.billing.test_invoicing import card_on_file, flat_line, make_charge, per_task, push
from tests.factories import ClientFactory

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def admin(member):
    return member(Role.ADMIN).user


def rate(agency, admin, percentage, *, inclusive=False, name="VAT", country="DE"):
    with agency_scope(agency):
        return tax_rate_create(
            agency=agency,
            actor=admin,
            display_name=name,
            percentage=percentage,
            inclusive=inclusive,
            country=country,
        )


def taxed(agency, admin, client, *rates, status="none", tax_id_type="", tax_id=""):
    with agency_scope(agency):
        client_tax_update(
            agency=agency,
            actor=admin,
            client=client,
            tax_status=status,
            tax_id_type=tax_id_type,
            tax_id=tax_id,
            tax_rate_ids=[r.pk for r in rates],
        )
        client.refresh_from_db()
    return client


def agree(agency, invoice, sdk):
    """Our invoice's net, tax and gross are Stripe's, and each of its lines' tax is the
    tax Stripe put on that line; returns (net, tax, gross)."""
    with agency_scope(agency):
        invoice.refresh_from_db()
        charges = {c.stripe_invoice_item_id: c for c in Charge.objects.filter(invoice=invoice)}
    remote = sdk.v1.invoices.retrieve(invoice.stripe_invoice_id)
    remote_tax = sum(t.amount for t in remote.total_taxes or [])
    assert (invoice.net, invoice.tax, invoice.total) == (
        remote.total_excluding_tax,
        remote_tax,
        remote.total,
    )
    assert invoice.net + invoice.tax == invoice.total
    for line in sdk.v1.invoices.line_items.list(invoice.stripe_invoice_id).auto_paging_iter():
        charge = charges[line.parent.invoice_item_details.invoice_item]
        assert sum(t.amount for t in line.taxes or []) == charge.tax_amount
        assert charge.net_amount + charge.tax_amount == charge.gross_amount
    return invoice.net, invoice.tax, invoice.total


# -- per task ------------------------------------------------------------------------------


def test_exclusive_tax_on_a_per_task_eur_invoice_is_added_and_paid(agency, admin, stripe_on):
    client = ClientFactory(agency=agency, currency="EUR")
    vat = rate(agency, admin, "20")
    taxed(agency, admin, client, vat)
    line = per_task(agency, client, fee=5000)
    card_on_file(agency, client, stripe_on)
    charge = make_charge(agency, line)
    assert (charge.net_amount, charge.tax_amount, charge.gross_amount) == (5000, 1000, 6000)
    assert charge.tax_rates == [vat.pk]
    invoice = push(agency, charge)
    assert agree(agency, invoice, stripe_on) == (5000, 1000, 6000)
    assert invoice.status == "paid" and invoice.amount_paid == 6000
    item = stripe_on.v1.invoice_items.retrieve(charge.stripe_invoice_item_id)
    assert [r.id for r in item.tax_rates] == [vat.stripe_tax_rate_id]
    remote_rate = stripe_on.v1.tax_rates.retrieve(vat.stripe_tax_rate_id)
    assert (remote_rate.percentage, remote_rate.inclusive, remote_rate.display_name) == (
        20,
        False,
        "VAT",
    )
    with agency_scope(agency):
        invoice.refresh_from_db()
    assert invoice.taxes == [
        {
            "tax_rate": vat.stripe_tax_rate_id,
            "display_name": "VAT",
            "percentage": "20",
            "inclusive": False,
            "amount": 1000,
            "taxable": 5000,
        }
    ]


def test_inclusive_tax_in_yen_is_the_part_of_the_price_the_rate_holds(agency, admin, stripe_on):
    client = ClientFactory(agency=agency, currency="JPY", time_zone="Asia/Tokyo")
    consumption = rate(agency, admin, "10", inclusive=True, name="JCT", country="JP")
    taxed(agency, admin, client, consumption)
    line = per_task(agency, client, fee=3333, collection="send_invoice")
    charge = make_charge(agency, line)
    # ¥3,333 holds 3,333 * 10 / 110 = 303.0 yen of tax, rounded per line.
    assert (charge.net_amount, charge.tax_amount, charge.gross_amount) == (3030, 303, 3333)
    invoice = push(agency, charge)
    assert agree(agency, invoice, stripe_on) == (3030, 303, 3333)
    assert invoice.amount_due == 3333


def test_per_line_rounding_in_a_monthly_usd_invoice_is_stripes(agency, admin, stripe_on):
    client = ClientFactory(agency=agency, currency="USD", time_zone="UTC")
    sales_tax = rate(agency, admin, "8.875", name="Sales tax", country="US")
    taxed(agency, admin, client, sales_tax)
    line = flat_line(agency, client, billing_cadence="monthly", days_until_due=14)
    fees = [1234, 999, 1, 5]
    for n, fee in enumerate(fees):
        make_charge(agency, line, at=at(f"2026-03-0{n + 2} 10:00"), fee=fee)
    assert close_billing_periods(now=at("2026-04-01 01:00")) == 1
    with agency_scope(agency):
        invoice = Invoice.objects.get()
    # Per line: 109.5 → 110, 88.7 → 89, 0.09 → 0, 0.44 → 0 = 199 (not 198 on the sum).
    assert agree(agency, invoice, stripe_on) == (2239, 199, 2438)
    assert [line_split(fee, "USD", [sales_tax])[1] for fee in fees] == [110, 89, 0, 0]


def test_a_monthly_yen_invoice_with_inclusive_and_exclusive_rates(agency, admin, stripe_on):
    client = ClientFactory(agency=agency, currency="JPY", time_zone="Asia/Tokyo")
    included = rate(agency, admin, "10", inclusive=True, name="JCT", country="JP")
    added = rate(agency, admin, "2.5", name="Local levy", country="JP")
    taxed(agency, admin, client, included, added)
    line = flat_line(agency, client, billing_cadence="monthly", days_until_due=14)
    for n, fee in enumerate([4800, 3001, 77]):
        make_charge(agency, line, at=at(f"2026-03-1{n} 03:00"), fee=fee)
    assert close_billing_periods(now=at("2026-04-01 01:00")) == 1
    with agency_scope(agency):
        invoice = Invoice.objects.get()
    net, tax, gross = agree(agency, invoice, stripe_on)
    # Inclusive tax is inside the 7,878 charged; the levy is added on top of it.
    assert gross == 7878 + sum(round(Decimal(fee) * Decimal("0.025")) for fee in (4800, 3001, 77))
    assert net == gross - tax
    assert {t["display_name"] for t in invoice.taxes} == {"JCT", "Local levy"}


def test_a_periods_close_costs_the_same_queries_for_two_lines_or_twenty(agency, admin, stripe_on):
    """Each line's rates (and agency) come with the batch, not a query per charge."""
    vat = rate(agency, admin, "20")
    costs = []
    for month, lines in ((3, 2), (5, 20)):
        client = ClientFactory(agency=agency, currency="EUR", time_zone="UTC")
        taxed(agency, admin, client, vat)
        line = flat_line(agency, client, billing_cadence="monthly", days_until_due=14)
        for n in range(lines):
            make_charge(agency, line, at=at(f"2026-0{month}-{n + 1:02d} 10:00"), fee=1000 + n)
        with CaptureQueriesContext(connection) as queries:
            assert close_billing_periods(now=at(f"2026-0{month + 1}-01 01:00")) == 1
        costs.append(len(queries))
        with agency_scope(agency):
            invoice = Invoice.objects.get(client=client)
        assert agree(agency, invoice, stripe_on)[1] == sum(
            line_split(1000 + n, "EUR", [vat])[1] for n in range(lines)
        )
    assert costs[0] == costs[1]


# -- clients that pay no tax ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "note", "label"),
    [
        ("reverse", "Reverse charge: the customer accounts for VAT.", "Reverse charge"),
        ("exempt", "Exempt: no tax is charged.", "Tax exempt"),
    ],
)
def test_a_reverse_charged_or_exempt_client_pays_no_tax_and_every_invoice_says_why(
    agency, admin, signed_in, stripe_on, status, note, label
):
    customer = ClientFactory(agency=agency, currency="EUR")
    vat = rate(agency, admin, "19")
    taxed(
        agency,
        admin,
        customer,
        vat,
        status=status,
        tax_id_type="eu_vat",
        tax_id="FR12345678901",
    )
    line = per_task(agency, customer, fee=8000, collection="send_invoice")
    charge = make_charge(agency, line)
    assert charge.tax_rates == [] and charge.tax_status == status
    invoice = push(agency, charge)
    assert agree(agency, invoice, stripe_on) == (8000, 0, 8000)
    remote = stripe_on.v1.invoices.retrieve(invoice.stripe_invoice_id)
    assert remote.footer == note
    assert [(f.name, f.value) for f in remote.custom_fields] == [("Tax", label)]
    assert remote.customer_tax_exempt == status
    assert [(t.type, t.value) for t in remote.customer_tax_ids] == [("eu_vat", "FR12345678901")]

    client = signed_in(admin)
    page = client.get(reverse("invoice_detail", args=[agency.slug, invoice.pk]))
    assert note in page.content.decode()
    document = client.get(reverse("invoice_document", args=[agency.slug, invoice.pk]))
    body = document.content.decode()
    assert note in body and "FR12345678901" in body
    pdf = client.get(reverse("invoice_document", args=[agency.slug, invoice.pk]) + "?format=pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


# -- rates fixed when the work is charged -------------------------------------------------------


def test_a_charge_keeps_the_rates_it_was_made_under(agency, admin, stripe_on):
    client = ClientFactory(agency=agency, currency="EUR")
    old = rate(agency, admin, "19")
    taxed(agency, admin, client, old)
    line = flat_line(agency, client, billing_cadence="monthly", days_until_due=14)
    before = make_charge(agency, line, at=at("2026-03-02 10:00"), fee=10000)
    # The client's defaults change, then the rate itself is raised: new work takes the new
    # rate, the work charged before keeps 19%, and Stripe keeps the old rate live for it.
    new = rate(agency, admin, "7", name="Reduced VAT")
    taxed(agency, admin, client, new)
    with agency_scope(agency):
        raised = tax_rate_update(
            agency=agency,
            actor=admin,
            tax_rate=new,
            display_name="Reduced VAT",
            percentage="8",
            inclusive=False,
            country="DE",
        )
        assert raised.pk != new.pk and raised.replaces_id == new.pk
        old_rate = TaxRate.objects.get(pk=old.pk)
    after = make_charge(agency, line, at=at("2026-03-03 10:00"), fee=10000)
    assert before.tax_rates == [old.pk] and after.tax_rates == [raised.pk]
    assert stripe_on.v1.tax_rates.retrieve(new.stripe_tax_rate_id).active is False

    # The old rate is archived by hand while its work is unbilled: Stripe still has it
    # live until that work is on an invoice.
    with agency_scope(agency):
        tax_rate_archive(agency=agency, actor=admin, tax_rate=old_rate)
    assert stripe_on.v1.tax_rates.retrieve(old.stripe_tax_rate_id).active is True

    assert close_billing_periods(now=at("2026-04-02 01:00")) == 1
    with agency_scope(agency):
        invoice = Invoice.objects.get()
    assert agree(agency, invoice, stripe_on) == (20000, 1900 + 800, 22700)
    with agency_scope(agency):
        assert tax_rates_retire(agency=agency) == 1
    assert stripe_on.v1.tax_rates.retrieve(old.stripe_tax_rate_id).active is False
    # Stripe's invoice keeps the archived rate.
    remote = stripe_on.v1.invoices.retrieve(invoice.stripe_invoice_id)
    assert {t.tax_rate_details.tax_rate for t in remote.total_taxes} == {
        old.stripe_tax_rate_id,
        raised.stripe_tax_rate_id,
    }


def test_a_rate_is_made_at_stripe_once(agency, admin, stripe_on):
    vat = rate(agency, admin, "21", country="NL")
    with agency_scope(agency):
        tax_rate_update(
            agency=agency,
            actor=admin,
            tax_rate=vat,
            display_name="BTW",
            percentage="21",
            inclusive=False,
            country="NL",
        )
    remote = list(stripe_on.v1.tax_rates.list().auto_paging_iter())
    assert [(r.id, r.display_name) for r in remote] == [(vat.stripe_tax_rate_id, "BTW")]


# -- credit notes ---------------------------------------------------------------------------


def test_half_a_line_credited_on_an_open_invoice_carries_its_tax(agency, admin, stripe_on):
    client = ClientFactory(agency=agency, currency="EUR")
    taxed(agency, admin, client, rate(agency, admin, "20"))
    line = per_task(agency, client, fee=5000, collection="send_invoice")
    charge = make_charge(agency, line)
    invoice = push(agency, charge)
    with agency_scope(agency):
        note = credit_note_issue(
            agency=agency,
            actor=admin,
            invoice=invoice,
            charge=charge,
            amount=2500,
            reason="order_change",
            memo="Half the calls were not made.",
        )
        invoice.refresh_from_db()
    assert (note.net, note.tax, note.amount, note.line_amount) == (2500, 500, 3000, 2500)
    remote = stripe_on.v1.credit_notes.retrieve(note.stripe_credit_note_id)
    assert (remote.total_excluding_tax, remote.total) == (2500, 3000)
    assert sum(t.amount for t in remote.total_taxes) == 500
    assert invoice.amount_due == 3000
    with agency_scope(agency), pytest.raises(ApplicationError) as refused:
        credit_note_issue(
            agency=agency,
            actor=admin,
            invoice=invoice,
            amount=100,
            reason="order_change",
            memo="An amount off.",
        )
    assert refused.value.code == "credit_line_required_with_tax"
    # The rest of the line is what is left of it, with its tax; no more after that.
    with agency_scope(agency):
        rest = credit_note_issue(
            agency=agency,
            actor=admin,
            invoice=invoice,
            charge=charge,
            reason="order_change",
            memo="None of it was done.",
        )
        assert (rest.net, rest.tax, rest.amount) == (2500, 500, 3000)
        invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_due) == ("paid", 0)


def test_a_credit_on_a_paid_inclusive_invoice_refunds_its_total(agency, admin, stripe_on):
    client = ClientFactory(agency=agency, currency="JPY", time_zone="Asia/Tokyo")
    taxed(agency, admin, client, rate(agency, admin, "10", inclusive=True, name="JCT"))
    line = per_task(agency, client, fee=11000)
    card_on_file(agency, client, stripe_on)
    charge = make_charge(agency, line)
    invoice = push(agency, charge)
    assert invoice.status == "paid"
    with agency_scope(agency):
        note = credit_note_issue(
            agency=agency,
            actor=admin,
            invoice=invoice,
            charge=charge,
            amount=5500,
            reason="product_unsatisfactory",
            memo="Half back.",
            settlement="refund",
        )
    assert (note.net, note.tax, note.amount) == (5000, 500, 5500)
    remote = stripe_on.v1.credit_notes.retrieve(note.stripe_credit_note_id)
    assert remote.refunds[0].amount_refunded == 5500 and remote.total == 5500


# -- the report -----------------------------------------------------------------------------


def test_the_revenue_report_agrees_with_the_invoices_per_currency(agency, admin, stripe_on):
    eur = ClientFactory(agency=agency, currency="EUR")
    jpy = ClientFactory(agency=agency, currency="JPY", time_zone="Asia/Tokyo")
    taxed(agency, admin, eur, rate(agency, admin, "20"))
    taxed(agency, admin, jpy, rate(agency, admin, "10", inclusive=True, name="JCT"))
    eur_line = per_task(agency, eur, fee=5000, collection="send_invoice")
    jpy_line = per_task(agency, jpy, fee=3333, collection="send_invoice")
    invoices = [
        push(agency, make_charge(agency, eur_line, at=at("2026-03-02 10:00"))),
        push(agency, make_charge(agency, eur_line, at=at("2026-03-03 10:00"), fee=1234)),
        push(agency, make_charge(agency, jpy_line, at=at("2026-03-04 10:00"))),
    ]
    first = invoices[0]
    with agency_scope(agency):
        credited = credit_note_issue(
            agency=agency,
            actor=admin,
            invoice=first,
            charge=Charge.objects.get(invoice=first),
            amount=1000,
            reason="order_change",
            memo="Part of it.",
        )
        rows = {
            row["currency"]: row
            for row in revenue_by_currency(
                agency=agency, period=Period(dt.date(2026, 3, 1), dt.date(2099, 12, 31), "UTC")
            )
        }
    expected = {}
    for invoice in invoices:
        net, tax, gross = agree(agency, invoice, stripe_on)
        slot = expected.setdefault(invoice.currency, [0, 0, 0])
        slot[0] += net
        slot[1] += tax
        slot[2] += gross
    expected["EUR"][0] -= credited.net
    expected["EUR"][1] -= credited.tax
    expected["EUR"][2] -= credited.amount
    for currency, (net, tax, gross) in expected.items():
        row = rows[currency]
        assert (row["revenue"], row["tax"], row["gross"]) == (net, tax, gross), currency


def test_the_stripe_customer_follows_the_clients_tax_details(agency, admin, stripe_on):
    client = ClientFactory(agency=agency, currency="EUR")
    customer_id = card_on_file(agency, client, stripe_on)
    taxed(agency, admin, client, status="reverse", tax_id_type="eu_vat", tax_id="DE123456789")
    customer = stripe_on.v1.customers.retrieve(customer_id)
    held = stripe_on.v1.customers.tax_ids.list(customer_id).data
    assert customer.tax_exempt == "reverse"
    assert [(t.type, t.value) for t in held] == [("eu_vat", "DE123456789")]
    assert client.stripe_tax_synced
    taxed(agency, admin, client, status="none", tax_id_type="gb_vat", tax_id="GB123456789")
    held = stripe_on.v1.customers.tax_ids.list(customer_id).data
    assert [(t.type, t.value) for t in held] == [("gb_vat", "GB123456789")]
    assert stripe_on.v1.customers.retrieve(customer_id).tax_exempt == "none"
