"""The test server's bulk lines on a draft (`POST /v1/invoices/{id}/add_lines`), through the
real SDK: lines backed by invoice items, all or nothing, idempotent like every POST."""

import pytest
import stripe

from tests.conftest import stripe_control

API_KEY = "sk_test_agency_one"


@pytest.fixture
def client(stripe_server):
    return stripe.StripeClient(
        API_KEY, base_addresses={"api": stripe_server}, max_network_retries=0
    )


def draft(client, **params):
    customer = client.v1.customers.create(params={"email": "ops@acme.test", "name": "Acme"})
    invoice = client.v1.invoices.create(
        params={"customer": customer.id, "currency": "usd", "auto_advance": False, **params}
    )
    return customer, invoice


def test_lines_become_items_of_the_draft_with_their_metadata(client):
    customer, invoice = draft(client)
    lines = [
        {"amount": 1000 + n, "description": f"Task {n}", "metadata": {"charge_id": str(n)}}
        for n in range(12)
    ]
    updated = client.v1.invoices.add_lines(
        invoice.id, params={"lines": lines, "invoice_metadata": {"period": "2026-03"}}
    )
    assert updated.object == "invoice" and updated.id == invoice.id
    assert updated.total == sum(1000 + n for n in range(12))
    assert updated.metadata.to_dict() == {"period": "2026-03"}
    assert updated.lines.has_more and len(updated.lines.data) == 10
    items = list(
        client.v1.invoice_items.list(
            params={"invoice": invoice.id, "limit": 100}
        ).auto_paging_iter()
    )
    assert sorted(int(i.metadata["charge_id"]) for i in items) == list(range(12))
    assert {(i.customer, i.currency, i.invoice) for i in items} == {
        (customer.id, "usd", invoice.id)
    }
    listed = list(
        client.v1.invoices.line_items.list(invoice.id, params={"limit": 100}).auto_paging_iter()
    )
    assert {line.parent.invoice_item_details.invoice_item for line in listed} == {
        i.id for i in items
    }


def test_a_pending_item_can_be_moved_onto_the_draft(client):
    customer, invoice = draft(client)
    item = client.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 700, "currency": "usd"}
    )
    updated = client.v1.invoices.add_lines(
        invoice.id, params={"lines": [{"invoice_item": item.id}, {"amount": 300}]}
    )
    assert updated.total == 1000
    assert client.v1.invoice_items.retrieve(item.id).invoice == invoice.id


def test_one_bad_line_leaves_the_draft_as_it_was(client):
    _, invoice = draft(client)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.invoices.add_lines(
            invoice.id, params={"lines": [{"amount": 500}, {"amount": "lots"}]}
        )
    assert caught.value.param == "lines[1][amount]"
    assert client.v1.invoices.retrieve(invoice.id).total == 0
    assert list(client.v1.invoice_items.list(params={"invoice": invoice.id})) == []


def test_lines_only_go_on_a_draft_and_name_no_customer_or_currency(client):
    _, invoice = draft(client, collection_method="send_invoice", days_until_due=7)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.invoices.add_lines(
            invoice.id, params={"lines": [{"amount": 500, "currency": "eur"}]}
        )
    assert caught.value.param == "lines[0][currency]"
    client.v1.invoices.add_lines(invoice.id, params={"lines": [{"amount": 500}]})
    client.v1.invoices.send_invoice(invoice.id)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.invoices.add_lines(invoice.id, params={"lines": [{"amount": 500}]})
    assert caught.value.code == "invoice_not_editable"


def test_the_same_key_adds_the_lines_once(client, stripe_server):
    _, invoice = draft(client)
    params = {"lines": [{"amount": 400, "metadata": {"charge_id": "9"}}]}
    first = client.v1.invoices.add_lines(
        invoice.id, params=params, options={"idempotency_key": "lines-1"}
    )
    again = client.v1.invoices.add_lines(
        invoice.id, params=params, options={"idempotency_key": "lines-1"}
    )
    assert first.total == again.total == 400
    assert client.v1.invoices.retrieve(invoice.id).total == 400
    assert (
        stripe_control(stripe_server, "GET", "/_test/stats")["requests"][
            f"POST /v1/invoices/{invoice.id}/add_lines"
        ]
        == 2
    )
