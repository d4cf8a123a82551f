"""Tax rates, customer tax ids and the tax on invoice and credit note lines, in the
in-repo Stripe test server, through the real SDK."""

import pytest
import stripe

from stripe_test_server.fixtures import fixture
from tests.stripe_test_server.test_stripe_test_server import _assert_shaped_like, raw

API_KEY = "sk_test_agency_one"


@pytest.fixture
def client(stripe_server):
    return stripe.StripeClient(
        API_KEY, base_addresses={"api": stripe_server}, max_network_retries=0
    )


def vat(client, percentage="20", inclusive=False, **fields):
    return client.v1.tax_rates.create(
        params={"display_name": "VAT", "percentage": percentage, "inclusive": inclusive, **fields}
    )


def draft_with(client, amounts_and_rates, currency="eur", **invoice_params):
    customer = client.v1.customers.create(params={"name": "Acme"})
    invoice = client.v1.invoices.create(
        params={"customer": customer.id, "currency": currency, **invoice_params}
    )
    for amount, rates in amounts_and_rates:
        params = {
            "customer": customer.id,
            "invoice": invoice.id,
            "amount": amount,
            "currency": currency,
        }
        if rates:
            params["tax_rates"] = [rate.id for rate in rates]
        client.v1.invoice_items.create(params=params)
    return client.v1.invoices.retrieve(invoice.id)


def test_a_tax_rate_is_made_listed_and_only_its_display_fields_change(client, stripe_server):
    rate = vat(client, "19", country="DE", jurisdiction="DE", description="VAT Germany")
    assert (rate.percentage, rate.inclusive, rate.active) == (19, False, True)
    assert client.v1.tax_rates.retrieve(rate.id).display_name == "VAT"
    assert [r.id for r in client.v1.tax_rates.list()] == [rate.id]
    renamed = client.v1.tax_rates.update(rate.id, params={"display_name": "MwSt"})
    assert renamed.display_name == "MwSt" and renamed.percentage == 19
    archived = client.v1.tax_rates.update(rate.id, params={"active": False})
    assert archived.active is False
    assert client.v1.tax_rates.list(params={"active": True}).data == []
    for fixed in ("percentage", "inclusive"):
        status, _, body = raw(stripe_server, "POST", f"/v1/tax_rates/{rate.id}", {fixed: "5"})
        assert status == 400 and body["error"]["param"] == fixed
    _assert_shaped_like(
        client.v1.tax_rates.retrieve(rate.id).to_dict(), fixture("tax_rate"), "tax_rate"
    )


@pytest.mark.parametrize(
    "params",
    [
        {"display_name": "VAT", "percentage": "101", "inclusive": "false"},
        {"display_name": "VAT", "percentage": "-1", "inclusive": "false"},
        {"display_name": "VAT", "percentage": "7.12345", "inclusive": "false"},
        {"display_name": "VAT", "percentage": "lots", "inclusive": "false"},
        {"display_name": "VAT", "percentage": "20"},
        {"percentage": "20", "inclusive": "false"},
    ],
)
def test_a_tax_rate_stripe_would_refuse_is_a_400(stripe_server, params):
    status, _, body = raw(stripe_server, "POST", "/v1/tax_rates", params)
    assert status == 400 and body["error"]["type"] == "invalid_request_error"


def test_exclusive_tax_is_added_and_inclusive_tax_is_inside_per_line(client):
    added, included = vat(client, "20"), vat(client, "10", inclusive=True)
    invoice = draft_with(client, [(1001, [added]), (1100, [included]), (500, [])])
    # 1001 * 20% = 200.2 → 200 on top; 1100 holds 1100 * 10 / 110 = 100.
    assert invoice.subtotal == 2601
    assert invoice.total_excluding_tax == invoice.subtotal_excluding_tax == 2501
    assert invoice.total == 2801
    taxes = {t.tax_rate_details.tax_rate: t for t in invoice.total_taxes}
    assert (taxes[added.id].amount, taxes[added.id].tax_behavior) == (200, "exclusive")
    assert (taxes[included.id].amount, taxes[included.id].taxable_amount) == (100, 1000)
    lines = client.v1.invoices.line_items.list(invoice.id).data
    assert [sum(t.amount for t in line.taxes) for line in lines] == [200, 100, 0]
    finalized = client.v1.invoices.finalize_invoice(invoice.id)
    assert finalized.amount_due == 2801


def test_zero_decimal_tax_rounds_half_up_per_line(client):
    rate = vat(client, "8.875")
    invoice = draft_with(client, [(1234, [rate]), (999, [rate])], currency="jpy")
    # 109.5175 → 110 and 88.66 → 89: 199, not 198 on the sum.
    assert sum(t.amount for t in invoice.total_taxes) == 199
    assert invoice.total == 2432


def test_default_tax_rates_apply_to_items_without_their_own(client):
    added, other = vat(client, "20"), vat(client, "5")
    invoice = draft_with(client, [(1000, []), (1000, [other])], default_tax_rates=[added.id])
    assert [r.id for r in invoice.default_tax_rates] == [added.id]
    assert invoice.total == 1000 + 200 + 1000 + 50


def test_an_archived_rate_goes_on_no_new_item(client, stripe_server):
    rate = vat(client)
    customer = client.v1.customers.create()
    client.v1.tax_rates.update(rate.id, params={"active": False})
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.invoice_items.create(
            params={
                "customer": customer.id,
                "amount": 100,
                "currency": "eur",
                "tax_rates": [rate.id],
            }
        )
    assert refused.value.param == "tax_rates[0]"
    status, _, _ = raw(
        stripe_server,
        "POST",
        "/v1/invoiceitems",
        {"customer": customer.id, "amount": 100, "currency": "eur", "tax_rates[0]": "txr_nope"},
    )
    assert status == 404


def test_customer_tax_exempt_and_tax_ids_show_on_its_invoices(client, stripe_server):
    customer = client.v1.customers.create(params={"tax_exempt": "reverse"})
    assert customer.tax_exempt == "reverse"
    tax_id = client.v1.customers.tax_ids.create(
        customer.id, params={"type": "eu_vat", "value": "DE123456789"}
    )
    _assert_shaped_like(tax_id.to_dict(), fixture("tax_id"), "tax_id")
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.customers.tax_ids.create(customer.id, params={"type": "eu_vat", "value": "12"})
    assert refused.value.code == "tax_id_invalid"
    invoice = client.v1.invoices.create(
        params={
            "customer": customer.id,
            "currency": "eur",
            "footer": "Reverse charge",
            "custom_fields": [{"name": "Tax", "value": "Reverse charge"}],
        }
    )
    assert invoice.customer_tax_exempt == "reverse"
    assert [(t.type, t.value) for t in invoice.customer_tax_ids] == [("eu_vat", "DE123456789")]
    assert invoice.custom_fields[0].value == "Reverse charge"
    client.v1.customers.update(customer.id, params={"tax_exempt": "none"})
    client.v1.customers.tax_ids.delete(customer.id, tax_id.id)
    assert client.v1.customers.tax_ids.list(customer.id).data == []
    finalized = client.v1.invoices.finalize_invoice(invoice.id)
    assert (finalized.customer_tax_exempt, finalized.customer_tax_ids) == ("none", [])
    status, _, _ = raw(stripe_server, "POST", "/v1/customers", {"tax_exempt": "sometimes"})
    assert status == 400


def test_a_credit_note_on_a_taxed_line_carries_its_share_of_the_tax(client):
    added, included = vat(client, "20"), vat(client, "10", inclusive=True)
    invoice = draft_with(client, [(5000, [added]), (1100, [included])])
    invoice = client.v1.invoices.finalize_invoice(invoice.id)
    lines = client.v1.invoices.line_items.list(invoice.id).data
    note = client.v1.credit_notes.create(
        params={
            "invoice": invoice.id,
            "lines": [
                {"type": "invoice_line_item", "invoice_line_item": lines[0].id, "amount": 2500},
                {"type": "invoice_line_item", "invoice_line_item": lines[1].id, "amount": 550},
            ],
        }
    )
    # 2500 + 500 tax on top; 550 holds 50 of tax.
    assert (note.subtotal, note.total_excluding_tax, note.total) == (3050, 3000, 3550)
    taxes = {t.tax_rate_details.tax_rate: t.amount for t in note.total_taxes}
    assert taxes == {added.id: 500, included.id: 50}
    assert [r.id for r in note.lines.data[0].tax_rates] == [added.id]
    assert client.v1.invoices.retrieve(invoice.id).amount_due == 5000 + 1000 + 1100 - 3550
