"""Credit notes on the Stripe test server, as Stripe issues them: on an open invoice they
lower what is due, on a paid one they refund the card or credit the customer's balance,
and never more than the invoice's total. Driven through the real stripe SDK over HTTP."""

import pytest
import stripe

from tests.stripe_test_server.test_stripe_rules import finalized
from tests.stripe_test_server.test_stripe_test_server import API_KEY


@pytest.fixture
def client(stripe_server):
    return stripe.StripeClient(
        API_KEY, base_addresses={"api": stripe_server}, max_network_retries=0
    )


def paid(client, customer, *amounts):
    invoice = finalized(client, customer.id, *amounts)
    return client.v1.invoices.pay(invoice.id)


@pytest.fixture
def customer(client):
    made = client.v1.customers.create(params={"name": "Cedar"})
    method = client.v1.payment_methods.attach("pm_card_visa", params={"customer": made.id})
    return client.v1.customers.update(
        made.id, params={"invoice_settings": {"default_payment_method": method.id}}
    )


def test_on_an_open_invoice_it_lowers_what_is_due_and_settles_it_at_nothing(client, customer):
    invoice = finalized(client, customer.id, 3000, 2000)
    note = client.v1.credit_notes.create(
        params={"invoice": invoice.id, "amount": 1500, "reason": "order_change", "memo": "late"}
    )
    assert (note.type, note.amount, note.pre_payment_amount, note.status) == (
        "pre_payment",
        1500,
        1500,
        "issued",
    )
    assert note.number == f"{invoice.number}-CN-01" and note.memo == "late"
    after = client.v1.invoices.retrieve(invoice.id)
    assert (after.amount_due, after.amount_remaining, after.status) == (3500, 3500, "open")
    assert after.pre_payment_credit_notes_amount == 1500
    client.v1.credit_notes.create(params={"invoice": invoice.id, "amount": 3500})
    assert client.v1.invoices.retrieve(invoice.id).status == "paid"
    assert [n.id for n in client.v1.credit_notes.list(params={"invoice": invoice.id})][1] == note.id


def test_on_a_paid_invoice_it_refunds_or_credits_the_balance(client, customer):
    invoice = paid(client, customer, 5000)
    refunded = client.v1.credit_notes.create(
        params={"invoice": invoice.id, "amount": 2000, "refund_amount": 2000}
    )
    assert refunded.type == "post_payment" and refunded.refunds[0].amount_refunded == 2000
    credited = client.v1.credit_notes.create(
        params={"invoice": invoice.id, "amount": 1000, "credit_amount": 1000}
    )
    assert credited.customer_balance_transaction
    assert client.v1.customers.retrieve(customer.id).balance == -1000
    assert client.v1.invoices.retrieve(invoice.id).post_payment_credit_notes_amount == 3000
    # The credit goes to the next invoice.
    nxt = finalized(client, customer.id, 4000)
    assert (nxt.starting_balance, nxt.amount_due) == (-1000, 3000)


def test_a_line_is_credited_whole_or_in_part_never_past_its_amount(client, customer):
    invoice = finalized(client, customer.id, 3000, 2000)
    lines = client.v1.invoices.line_items.list(invoice.id).data
    first = lines[0]
    whole = client.v1.credit_notes.create(
        params={
            "invoice": invoice.id,
            "lines": [{"type": "invoice_line_item", "invoice_line_item": first.id}],
        }
    )
    assert whole.amount == first.amount and whole.lines.data[0].invoice_line_item == first.id
    with pytest.raises(stripe.InvalidRequestError) as past:
        client.v1.credit_notes.create(
            params={
                "invoice": invoice.id,
                "lines": [
                    {"type": "invoice_line_item", "invoice_line_item": first.id, "amount": 1}
                ],
            }
        )
    assert past.value.param == "lines[0][amount]"
    part = client.v1.credit_notes.create(
        params={
            "invoice": invoice.id,
            "lines": [
                {"type": "invoice_line_item", "invoice_line_item": lines[1].id, "amount": 500}
            ],
        }
    )
    assert part.amount == 500


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"amount": 6000, "refund_amount": 6000}, "amount"),  # more than the invoice
        ({"amount": 1000}, "amount"),  # a paid invoice must say where the money goes
        ({"amount": 1000, "refund_amount": 600, "credit_amount": 300}, "amount"),
        ({"amount": 1000, "reason": "because"}, "reason"),
    ],
)
def test_what_stripe_refuses_is_refused(client, customer, params, param):
    invoice = paid(client, customer, 5000)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.credit_notes.create(params={"invoice": invoice.id, **params})
    assert refused.value.param == param


def test_only_finalized_invoices_take_credit_notes(client, customer):
    draft = client.v1.invoices.create(params={"customer": customer.id, "currency": "usd"})
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.credit_notes.create(params={"invoice": draft.id, "amount": 100})
    assert refused.value.code == "invoice_unexpected_status"
