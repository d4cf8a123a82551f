"""What billing costs at Stripe, in requests (the test server's /_test/stats), and that the
short paths keep the exactly-once rules: per task, three requests a charge (draft with the
customer, item, send or pay); weekly and monthly, lines in bulk on the period's draft."""

import os
from collections import Counter

import pytest
import stripe

from billing import stripe_access
from billing.charges import charge_write_off
from billing.invoicing import LINES_PER_REQUEST, close_billing_periods, stripe_customer_for
from billing.models import Charge, ChargeStatus, Invoice
from core.roles import Role
from core.tenancy import agency_scope
from tests.billing.conftest import PLATFORM_KEY
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


def requests(stripe_server) -> Counter:
    return Counter(stripe_control(stripe_server, "GET", "/_test/stats")["requests"])


def asked_since(stripe_server, before: Counter) -> int:
    return sum((requests(stripe_server) - before).values())


def with_customer(agency, line):
    with agency_scope(agency):
        stripe_customer_for(agency=agency, client=line.contract.client)


# -- per task -------------------------------------------------------------------------------


def test_a_per_task_invoice_sent_to_pay_by_link_costs_three_requests(
    agency, stripe_on, stripe_server
):
    line = per_task(agency, collection="send_invoice")
    with_customer(agency, line)
    for n in range(3):
        charge = make_charge(agency, line, fee=1000 + n)
        before = requests(stripe_server)
        invoice = push(agency, charge)
        assert asked_since(stripe_server, before) == 3
        with agency_scope(agency):
            invoice.refresh_from_db()
        assert invoice.status == "open" and invoice.sent_at is not None
        assert invoice.number and invoice.hosted_invoice_url and invoice.due_date
    assert sorted(i.amount for i in stripe_items(stripe_on)) == [1000, 1001, 1002]


def test_a_per_task_invoice_charged_to_the_card_costs_three_requests(
    agency, stripe_on, stripe_server
):
    line = per_task(agency)
    card_on_file(agency, line.contract.client, stripe_on)
    charge = make_charge(agency, line, fee=4200)
    before = requests(stripe_server)
    invoice = push(agency, charge)
    asked = requests(stripe_server) - before
    assert sum(asked.values()) == 3
    assert not any(path.endswith("/finalize") for path in asked)  # paying finalizes
    with agency_scope(agency):
        invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == ("paid", 4200)


def test_without_a_card_the_invoice_is_sent_in_four_requests(agency, stripe_on, stripe_server):
    """The one extra request turns the draft into one sent to pay by link; the customer
    came with the draft, so it is not read again."""
    line = per_task(agency)
    with_customer(agency, line)
    before = requests(stripe_server)
    invoice = push(agency, make_charge(agency, line))
    asked = requests(stripe_server) - before
    assert sum(asked.values()) == 4
    assert not any(path.startswith("GET /v1/customers") for path in asked)
    assert not any(path.endswith("/pay") for path in asked)
    with agency_scope(agency):
        invoice.refresh_from_db()
    assert invoice.collection_method == "send_invoice" and invoice.status == "open"


@pytest.mark.parametrize("mode", ["error", "error_after"])
@pytest.mark.parametrize("step", ["/v1/invoiceitems", "/v1/invoices/in_"])
def test_a_500_on_a_step_of_the_short_path_still_bills_once(
    agency, stripe_on, stripe_server, mode, step
):
    line = per_task(agency)
    card_on_file(agency, line.contract.client, stripe_on)
    charge = make_charge(agency, line, fee=4200)
    spec = {"mode": mode, "rate": 1.0, "paths": [step], "methods": ["POST"]}
    stripe_control(stripe_server, "POST", "/_test/faults", spec)
    if mode == "error":
        with pytest.raises(stripe.APIError):
            push(agency, charge)
    else:
        push(agency, charge)  # the work was done: looking first finds it
    stripe_control(stripe_server, "DELETE", "/_test/faults")
    push(agency, charge)
    push(agency, charge)  # a duplicate job changes nothing
    assert [int(i.metadata["charge_id"]) for i in stripe_items(stripe_on)] == [charge.pk]
    assert [(i.status, i.amount_paid) for i in stripe_invoices(stripe_on)] == [("paid", 4200)]
    with agency_scope(agency):
        assert Charge.objects.get().status == ChargeStatus.INVOICED


def test_a_draft_made_while_its_answer_was_lost_goes_when_the_charge_is_written_off(
    agency, member, stripe_on, stripe_server
):
    """Stripe made the draft but the connection dropped before we heard of it; the charge
    is then forgiven before the job's retry. The retry finds the draft by its metadata and
    deletes it: Stripe keeps no invoice we have no row for."""
    admin = member(Role.ADMIN)
    line = per_task(agency, collection="send_invoice")
    with_customer(agency, line)
    charge = make_charge(agency, line)
    spec = {"mode": "drop", "rate": 1.0, "paths": ["/v1/invoices"], "methods": ["POST"]}
    stripe_control(stripe_server, "POST", "/_test/faults", spec)
    with pytest.raises(stripe.APIConnectionError):
        push(agency, charge)
    stripe_control(stripe_server, "DELETE", "/_test/faults")
    assert [i.status for i in stripe_invoices(stripe_on)] == ["draft"]
    with agency_scope(agency):
        assert not Invoice.objects.exists()
        charge_write_off(agency=agency, actor=admin.user, charge=charge, reason="goodwill")
    assert push(agency, charge) is None
    assert stripe_invoices(stripe_on) == [] and stripe_items(stripe_on) == []


# -- weekly and monthly ---------------------------------------------------------------------


@pytest.mark.parametrize("cadence", ["weekly", "monthly"])
def test_a_period_close_costs_far_less_than_a_request_per_charge(
    agency, stripe_on, stripe_server, cadence
):
    client = ClientFactory(agency=agency, time_zone="UTC")
    terms = {"billing_cadence": cadence, "collection_method": "send_invoice", "days_until_due": 7}
    line = flat_line(agency, client, **terms)
    count = 2 * LINES_PER_REQUEST + 20
    before = requests(stripe_server)
    charges = [
        make_charge(agency, line, at=at("2026-03-03 10:00"), fee=100 + n) for n in range(count)
    ]
    for charge in charges:
        push(agency, charge)  # waits for the period: nothing goes to Stripe
    assert asked_since(stripe_server, before) == 0
    with_customer(agency, line)
    before = requests(stripe_server)
    assert close_billing_periods(now=at("2026-04-02 00:00")) == 1
    asked = requests(stripe_server) - before
    # The draft, what it carries (before and after), three batches of lines, the send.
    assert asked["POST /v1/invoices"] == 1
    assert sum(n for path, n in asked.items() if path.endswith("/add_lines")) == 3
    assert sum(asked.values()) <= 10
    items = stripe_items(stripe_on)
    assert Counter(int(i.metadata["charge_id"]) for i in items) == Counter(
        {c.pk: 1 for c in charges}
    )
    with agency_scope(agency):
        invoice = Invoice.objects.get()
        assert invoice.status == "open" and invoice.amount_due == sum(c.amount for c in charges)
        by_item = dict(Charge.objects.values_list("pk", "stripe_invoice_item_id"))
    assert by_item == {int(i.metadata["charge_id"]): i.id for i in items}


def test_a_500_on_a_batch_of_lines_is_looked_for_before_it_is_sent_again(
    agency, stripe_on, stripe_server
):
    client = ClientFactory(agency=agency, time_zone="UTC")
    weekly = {"billing_cadence": "weekly", "collection_method": "send_invoice", "days_until_due": 7}
    line = flat_line(agency, client, **weekly)
    charges = [make_charge(agency, line, at=at("2026-03-03 10:00"), fee=500 + n) for n in range(60)]
    with_customer(agency, line)
    spec = {"mode": "error_after", "rate": 1.0, "paths": ["/v1/invoices/in_"], "methods": ["POST"]}
    stripe_control(stripe_server, "POST", "/_test/faults", spec)
    with pytest.raises(stripe.APIError):
        close_billing_periods(now=at("2026-03-10 01:00"))
    stripe_control(stripe_server, "DELETE", "/_test/faults")
    close_billing_periods(now=at("2026-03-10 02:00"))
    items = stripe_items(stripe_on)
    assert sorted(int(i.metadata["charge_id"]) for i in items) == sorted(c.pk for c in charges)
    [remote] = stripe_invoices(stripe_on)
    assert remote.status == "open" and remote.total == sum(c.amount for c in charges)


# -- one connection per worker process ------------------------------------------------------


def test_a_process_keeps_one_client_per_key_and_a_forked_child_makes_its_own(agency, stripe_on):
    with agency_scope(agency):
        first = stripe_access.stripe_client_for(agency)
        assert stripe_access.stripe_client_for(agency) is first
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        try:
            mine = stripe_access._client(PLATFORM_KEY)
            os.write(write, b"own" if mine is not first else b"shared")
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    assert os.read(read, 16) == b"own"
    os.close(read)
    stripe_access.close_stripe_clients()
    with agency_scope(agency):
        assert stripe_access.stripe_client_for(agency) is not first
