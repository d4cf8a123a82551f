"""A 500 from Stripe spends its idempotency key: Stripe replays it to that key for a day.
The product looks for what Stripe holds first, then sends under the next attempt's key."""

import datetime as dt

import pytest
import stripe

from billing.idempotency import attempt_key, stripe_once
from billing.invoicing import close_billing_periods, stripe_customer_for
from billing.models import Charge, ChargeStatus, Invoice, StripeRequestKey
from core.tenancy import agency_scope
from tests.billing.test_invoicing import (
    at,
    card_on_file,
    flat_line,
    make_charge,
    per_task,
    push,
    stripe_invoices,
    stripe_items,
)
from tests.conftest import stripe_control
from tests.factories import ClientFactory


def faults(stripe_server, mode, paths, rate=1.0, seed=3):
    """Fail requests that make or change something; the looks that follow get through."""
    spec = {"mode": mode, "rate": rate, "paths": paths, "methods": ["POST"], "seed": seed}
    stripe_control(stripe_server, "POST", "/_test/faults", spec)


def no_faults(stripe_server):
    stripe_control(stripe_server, "DELETE", "/_test/faults")


class Boom(stripe.APIError):
    def __init__(self):
        super().__init__("injected", http_status=500)


def test_after_a_500_the_next_attempt_looks_first_and_moves_on_to_a_new_key(agency):
    sent, looked = [], []

    def send(key):
        sent.append(key)
        if len(sent) == 1:
            raise Boom()
        return "made"

    def find():
        looked.append(len(sent))
        return None

    with agency_scope(agency):
        assert stripe_once(agency=agency, key="inv-7", send=send, find=find) == "made"
        assert sent == ["inv-7", "inv-7-attempt-1"]
        assert looked == [1]  # after the 500, before the fresh key
        assert StripeRequestKey.objects.get(key="inv-7").attempt == 1
        # A later call (a retried job) starts at the attempt reached, looking first.
        sent.clear()
        looked.clear()
        stripe_once(agency=agency, key="inv-7", send=send, find=lambda: "found")
        assert sent == []


def test_what_a_500_did_after_all_is_found_and_not_made_again(agency):
    def send(key):
        raise Boom()

    with agency_scope(agency):
        assert stripe_once(agency=agency, key="pay-1", send=send, find=lambda: "paid") == "paid"


def test_two_500s_in_a_row_are_raised_and_the_next_call_uses_a_third_key(agency):
    sent = []

    def send(key):
        sent.append(key)
        raise Boom()

    with agency_scope(agency):
        with pytest.raises(stripe.APIError):
            stripe_once(agency=agency, key="fin-1", send=send, find=lambda: None)
        assert sent == ["fin-1", attempt_key("fin-1", 1)]
        with pytest.raises(stripe.APIError):
            stripe_once(agency=agency, key="fin-1", send=send, find=lambda: None)
        assert sent[2:] == [attempt_key("fin-1", 2), attempt_key("fin-1", 3)]
        assert StripeRequestKey.objects.get(key="fin-1").attempt == 4


def test_other_errors_keep_the_key(agency):
    sent = []

    def send(key):
        sent.append(key)
        raise stripe.APIConnectionError("lost")

    with agency_scope(agency):
        with pytest.raises(stripe.APIConnectionError):
            stripe_once(agency=agency, key="ii-1", send=send)
        assert sent == ["ii-1"] and not StripeRequestKey.objects.exists()


def test_a_customer_made_before_a_500_is_found_by_its_metadata(agency, stripe_on, stripe_server):
    client = ClientFactory(agency=agency)
    faults(stripe_server, "error_after", ["/v1/customers"])
    with agency_scope(agency):
        customer_id = stripe_customer_for(agency=agency, client=client)
    no_faults(stripe_server)
    customers = list(stripe_on.v1.customers.list(params={"limit": 100}).auto_paging_iter())
    assert [c.id for c in customers] == [customer_id]


@pytest.mark.parametrize("mode", ["error", "error_after"])
def test_a_per_task_charge_gets_through_a_500_on_every_step_once(
    agency, stripe_on, stripe_server, mode
):
    line = per_task(agency)
    card_on_file(agency, line.contract.client, stripe_on)
    charge = make_charge(agency, line, fee=4200)
    paths = ["/v1/invoices", "/v1/invoiceitems"]
    # Every first try at each step fails; the retry inside the call gets through.
    for step in range(8):
        faults(stripe_server, mode, paths, rate=0.5, seed=step)
        try:
            push(agency, charge)
        except stripe.APIError:
            continue
        break
    injected = stripe_control(stripe_server, "GET", "/_test/stats")["faults"]["injected"]
    # A charge takes three requests, so these draws may meet only one of them; a 500 on
    # each step in turn is tests/billing/test_stripe_requests.py's.
    assert injected[mode] >= 1
    no_faults(stripe_server)
    push(agency, charge)
    assert [int(i.metadata["charge_id"]) for i in stripe_items(stripe_on)] == [charge.pk]
    invoices = stripe_invoices(stripe_on)
    assert [(i.status, i.amount_paid) for i in invoices] == [("paid", 4200)]
    with agency_scope(agency):
        assert Invoice.objects.get().stripe_invoice_id == invoices[0].id
        assert Charge.objects.get().status == ChargeStatus.INVOICED


def test_a_period_invoice_made_before_a_500_is_found_not_made_twice(
    agency, stripe_on, stripe_server
):
    client = ClientFactory(agency=agency, time_zone="UTC")
    weekly = {"billing_cadence": "weekly", "collection_method": "send_invoice", "days_until_due": 7}
    line = flat_line(agency, client, **weekly)
    charges = [make_charge(agency, line, at=at("2026-03-03 10:00"), fee=1000 + n) for n in range(3)]
    with agency_scope(agency):
        stripe_customer_for(agency=agency, client=client)
    faults(stripe_server, "error_after", ["/v1/invoices"])
    with pytest.raises(stripe.APIError):
        close_billing_periods(now=at("2026-03-10 00:00") + dt.timedelta(hours=1))
    no_faults(stripe_server)
    close_billing_periods(now=at("2026-03-10 00:00") + dt.timedelta(hours=2))
    invoices = stripe_invoices(stripe_on)
    assert len(invoices) == 1 and invoices[0].status == "open"
    assert invoices[0].total == sum(c.amount for c in charges)
    with agency_scope(agency):
        assert list(Invoice.objects.values_list("stripe_invoice_id", flat=True)) == [invoices[0].id]
