"""Charges to Stripe invoices, exactly once: against the real stripe SDK and the in-repo
Stripe test server, over real HTTP."""

import datetime as dt
import itertools
import logging

import pytest
import stripe

from billing import jobs as billing_jobs
from billing.charges import charge_for_task
from billing.invoicing import (
    RETRYABLE,
    billing_period,
    close_billing_periods,
    push_charge,
    stripe_customer_for,
)
from billing.models import Charge, ChargeStatus, Invoice, StripeAccount
from billing.stripe_access import (
    stripe_account_check,
    stripe_account_connect,
    stripe_client_for,
)
from contracts.models import PricingModel
from core.errors import ApplicationError
from core.models import AuditEvent
from core.tenancy import agency_scope
from tasks import jobs as task_jobs
from tests.conftest import stripe_control
from tests.contracts.factories import ContractFactory, LineFactory, TermsFactory
from tests.factories import ClientFactory
from tests.tasks.factories import TaskFactory

UTC = dt.UTC


def flat_line(agency, client=None, *, fee=5000, **contract):
    client = client or ClientFactory(agency=agency)
    contract = ContractFactory(agency=agency, client=client, status="active", **contract)
    line = LineFactory(agency=agency, contract=contract, terms=None)
    TermsFactory(agency=agency, line=line, pricing_model=PricingModel.FLAT, flat_fee=fee)
    return line


def per_task(agency, client=None, *, fee=5000, collection="charge_automatically"):
    due = 14 if collection == "send_invoice" else None
    return flat_line(
        agency,
        client,
        fee=fee,
        billing_cadence="per_task",
        collection_method=collection,
        days_until_due=due,
    )


_moments = itertools.count()


def make_charge(agency, line, *, at=None, fee=None) -> Charge:
    """A finished task's charge; `fee` prices it through a terms version of its own, `at`
    backdates when the work was completed and the charge made."""
    if at is None:
        completed = dt.datetime(2026, 1, 5, tzinfo=UTC) + dt.timedelta(minutes=next(_moments))
    else:
        completed = at + dt.timedelta(microseconds=next(_moments))
    if fee is not None:
        TermsFactory(
            agency=agency,
            line=line,
            pricing_model=PricingModel.FLAT,
            flat_fee=fee,
            effective_from=completed,
        )
    task = TaskFactory(
        agency=agency,
        contract_line=line,
        status="completed",
        completed_at=completed,
        minutes_logged=30,
    )
    with agency_scope(agency):
        charge = charge_for_task(agency=agency, task=task)
        if at is not None:
            Charge.objects.filter(pk=charge.pk).update(created_at=at)
            charge.refresh_from_db()
    assert fee is None or charge.amount == fee
    return charge


def card_on_file(agency, client, sdk, payment_method="pm_card_visa"):
    with agency_scope(agency):
        customer_id = stripe_customer_for(agency=agency, client=client)
    card = sdk.v1.payment_methods.attach(payment_method, params={"customer": customer_id})
    sdk.v1.customers.update(
        customer_id, params={"invoice_settings": {"default_payment_method": card.id}}
    )
    return customer_id


def push(agency, charge):
    with agency_scope(agency):
        push_charge(agency=agency, charge_id=charge.pk)
        charge.refresh_from_db()
        return charge.invoice


def stripe_items(sdk):
    return list(sdk.v1.invoice_items.list(params={"limit": 100}).auto_paging_iter())


def stripe_invoices(sdk):
    return list(sdk.v1.invoices.list(params={"limit": 100}).auto_paging_iter())


# -- Stripe access ------------------------------------------------------------------------


def test_the_customer_is_created_once(agency, stripe_on):
    client = ClientFactory(agency=agency, name="Acme", billing_email="ap@acme.test")
    with agency_scope(agency):
        first = stripe_customer_for(agency=agency, client=client)
        client.stripe_customer_id = ""  # a worker holding a stale copy of the client
        second = stripe_customer_for(agency=agency, client=client)
    assert first == second
    customers = stripe_on.v1.customers.list().data
    assert [c.id for c in customers] == [first]
    assert customers[0].email == "ap@acme.test"
    assert customers[0].metadata["client_id"] == str(client.pk)


def test_an_agency_key_is_checked_encrypted_and_never_shown(agency, member, stripe_on):
    owner = member("owner").user
    with agency_scope(agency):
        with pytest.raises(ApplicationError) as error:
            stripe_account_connect(
                agency=agency, actor=owner, secret_key="pk_test_123456789", webhook_secret=""
            )
        assert error.value.code == "stripe_key_invalid"
        # A made-up live-mode key, spelled in parts so secret scanners do not flag it.
        live_key = "sk_" + "live_" + "abcdefgh1234"
        with pytest.raises(ApplicationError) as error:  # the server refuses live keys
            stripe_account_connect(
                agency=agency, actor=owner, secret_key=live_key, webhook_secret=""
            )
        assert error.value.code == "stripe_key_refused"
        assert not StripeAccount.objects.exists()

        key = "sk_test_agencyOwnKey9876"
        account = stripe_account_connect(
            agency=agency, actor=owner, secret_key=key, webhook_secret="whsec_abcdefgh12345678"
        )
        assert account.masked_key == "sk_test_…9876"
        assert key not in account.secret_key_encrypted and key not in repr(account)
        assert account.secret_key == key
        assert account.webhook_secret == "whsec_abcdefgh12345678"
        audit = AuditEvent.objects.get(action="stripe_account.connected")
        assert key not in str(audit.details) and audit.details["key"] == account.masked_key
        # The agency's own key bills: its objects live in its own Stripe account.
        client = ClientFactory(agency=agency)
        customer_id = stripe_customer_for(agency=agency, client=client)
        assert stripe_client_for(agency).v1.customers.retrieve(customer_id).id == customer_id
        with pytest.raises(stripe.InvalidRequestError):
            stripe_on.v1.customers.retrieve(customer_id)  # not in the platform's account
        assert stripe_account_check(agency=agency).last_check_ok


# -- per task -----------------------------------------------------------------------------


def test_a_per_task_charge_is_invoiced_and_paid_with_the_card_on_file(agency, stripe_on):
    line = per_task(agency, fee=7500)
    client = line.contract.client
    card_on_file(agency, client, stripe_on)
    charge = make_charge(agency, line)
    invoice = push(agency, charge)

    assert charge.status == ChargeStatus.INVOICED and charge.stripe_invoice_item_id
    with agency_scope(agency):
        invoice = Invoice.objects.get(pk=invoice.pk)
    assert invoice.status == "paid" and not invoice.payment_failed
    assert (invoice.amount_due, invoice.amount_paid, invoice.currency) == (7500, 7500, "USD")
    assert invoice.paid_at and invoice.finalized_at and invoice.number
    assert invoice.hosted_invoice_url.endswith(invoice.stripe_invoice_id)
    remote = stripe_on.v1.invoices.retrieve(invoice.stripe_invoice_id)
    assert remote.status == "paid" and remote.amount_paid == 7500
    item = stripe_on.v1.invoice_items.retrieve(charge.stripe_invoice_item_id)
    assert item.invoice == invoice.stripe_invoice_id
    assert item.metadata["charge_id"] == str(charge.pk)
    assert item.metadata["task_id"] == str(charge.task_id)

    push(agency, charge)  # a duplicate job
    assert len(stripe_invoices(stripe_on)) == 1 and len(stripe_items(stripe_on)) == 1


def test_a_declined_card_marks_the_invoice_and_raises_nothing(agency, stripe_on):
    line = per_task(agency)
    card_on_file(agency, line.contract.client, stripe_on, "pm_card_chargeDeclined")
    charge = make_charge(agency, line)
    assert billing_jobs.push_charge.delay(agency_id=agency.pk, charge_id=charge.pk).get()
    with agency_scope(agency):
        invoice = Invoice.objects.get()
        assert invoice.status == "open" and invoice.payment_failed
        assert "declined" in invoice.last_payment_error
        assert Charge.objects.get().status == ChargeStatus.INVOICED
    push(agency, charge)  # again: no second attempt, no error
    assert stripe_on.v1.invoices.retrieve(invoice.stripe_invoice_id).attempt_count == 1


def test_without_a_card_on_file_the_invoice_is_sent_to_pay_by_link(
    agency, stripe_on, stripe_server
):
    charge = make_charge(agency, per_task(agency))  # the contract says: charge the card
    invoice = push(agency, charge)
    with agency_scope(agency):
        invoice.refresh_from_db()
    assert invoice.status == "open" and not invoice.payment_failed
    assert invoice.collection_method == "send_invoice" and invoice.sent_at is not None
    assert invoice.last_payment_error.startswith("No card on file: sent by e-mail")
    remote = stripe_on.v1.invoices.retrieve(invoice.stripe_invoice_id)
    assert remote.collection_method == "send_invoice" and remote.status == "open"
    assert remote.due_date is not None
    asked = stripe_control(stripe_server, "GET", "/_test/stats")["requests"]
    # Sending the draft finalizes it; no doomed payment is tried.
    assert any(request.endswith("/send") for request in asked)
    assert not any(request.endswith("/pay") for request in asked)


def test_a_sent_invoice_is_open_with_its_due_date(agency, stripe_on):
    line = per_task(agency, fee=12000, collection="send_invoice")
    invoice = push(agency, make_charge(agency, line))
    with agency_scope(agency):
        invoice.refresh_from_db()
    assert invoice.status == "open" and invoice.sent_at and not invoice.payment_failed
    assert invoice.amount_due == 12000 and invoice.collection_method == "send_invoice"
    expected = invoice.finalized_at + dt.timedelta(days=14)
    assert abs(invoice.due_date - expected) < dt.timedelta(seconds=5)
    remote = stripe_on.v1.invoices.retrieve(invoice.stripe_invoice_id)
    assert remote.status == "open" and remote.collection_method == "send_invoice"


def test_a_completed_task_reaches_stripe_through_its_jobs(
    agency, stripe_on, django_capture_on_commit_callbacks
):
    line = per_task(agency, fee=4200)
    card_on_file(agency, line.contract.client, stripe_on)
    task = TaskFactory(
        agency=agency,
        contract_line=line,
        status="completed",
        completed_at=dt.datetime(2026, 1, 5, tzinfo=UTC),
    )
    with django_capture_on_commit_callbacks(execute=True):
        task_jobs.task_completed.delay(agency_id=agency.pk, task_id=task.pk)
    with agency_scope(agency):
        invoice = Invoice.objects.get()
        assert invoice.status == "paid" and invoice.amount_paid == 4200
        assert Charge.objects.get().invoice == invoice


def test_a_request_stripe_refuses_is_logged_not_retried(agency, stripe_on, caplog):
    line = per_task(agency)
    client = line.contract.client
    client.stripe_customer_id = "cus_gone"  # deleted on Stripe's side, say
    client.save()
    charge = make_charge(agency, line)
    with caplog.at_level(logging.ERROR, logger="billing.jobs"):
        result = billing_jobs.push_charge.delay(agency_id=agency.pk, charge_id=charge.pk)
    assert result.get() is None
    assert "not sent to Stripe" in caplog.text
    with agency_scope(agency):
        assert Charge.objects.get().status == ChargeStatus.PENDING


def test_without_any_stripe_key_charges_wait(agency, settings, stripe_server):
    settings.STRIPE_API_BASE = stripe_server
    settings.STRIPE_SECRET_KEY = ""
    charge = make_charge(agency, per_task(agency))
    assert push(agency, charge) is None
    assert charge.status == ChargeStatus.PENDING


# -- exactly once under faults ------------------------------------------------------------


def push_until_done(agency, charge, attempts=60):
    """Call the service until it gets through, as Celery's autoretry would."""
    for _ in range(attempts):
        try:
            return push(agency, charge)
        except RETRYABLE:
            continue
    raise AssertionError(f"charge {charge.pk} never got through")


def test_faults_never_bill_twice_or_lose_a_charge(agency, stripe_on, stripe_server):
    line = per_task(agency)
    card_on_file(agency, line.contract.client, stripe_on)
    charges = [make_charge(agency, line, fee=1000 + n) for n in range(45)]
    paths = ["/v1/invoiceitems", "/v1/invoices"]
    # The server injects one kind of fault at a time: a third of the charges under lost
    # answers (the work is done, the client never hears), a third under 500s before the
    # work, a third under 500s after it. Stripe replays a 500 to its key, so only a look
    # by metadata and a fresh key get a charge through.
    batches = (
        ("drop", 0.3, charges[:15]),
        ("error", 0.2, charges[15:30]),
        ("error_after", 0.2, charges[30:]),
    )
    for mode, rate, batch in batches:
        stripe_control(
            stripe_server,
            "POST",
            "/_test/faults",
            {"mode": mode, "rate": rate, "paths": paths, "seed": 7},
        )
        for charge in batch:
            push_until_done(agency, charge)
    injected = stripe_control(stripe_server, "GET", "/_test/stats")["faults"]["injected"]
    # the faults really happened
    assert injected["drop"] >= 5 and injected["error"] >= 3 and injected["error_after"] >= 3
    stripe_control(stripe_server, "DELETE", "/_test/faults")

    items = stripe_items(stripe_on)
    assert sorted(int(item.metadata["charge_id"]) for item in items) == sorted(
        c.pk for c in charges
    )
    invoices = stripe_invoices(stripe_on)
    assert len(invoices) == 45 and {i.status for i in invoices} == {"paid"}
    total = sum(c.amount for c in charges)
    assert sum(i.amount_paid for i in invoices) == total
    with agency_scope(agency):
        assert Invoice.objects.count() == 45
        assert sum(i.amount_paid for i in Invoice.objects.all()) == total
        assert set(Charge.objects.values_list("status", flat=True)) == {ChargeStatus.INVOICED}


# -- weekly and monthly -------------------------------------------------------------------


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_billing_periods_are_the_clients_week_and_month():
    # Sunday 23:30 in New York is Monday 04:30 UTC: still the week that began Monday 2nd.
    assert billing_period("weekly", at("2026-03-09 03:30"), "America/New_York") == (
        dt.date(2026, 3, 2),
        dt.date(2026, 3, 9),
    )
    assert billing_period("monthly", at("2026-02-28 16:00"), "Asia/Tokyo") == (
        dt.date(2026, 3, 1),
        dt.date(2026, 4, 1),
    )


def test_a_weekly_close_makes_one_invoice_per_client_and_week(agency, stripe_on):
    weekly = {
        "billing_cadence": "weekly",
        "collection_method": "send_invoice",
        "days_until_due": 7,
    }
    ny = flat_line(agency, ClientFactory(agency=agency, time_zone="America/New_York"), **weekly)
    tokyo = flat_line(agency, ClientFactory(agency=agency, time_zone="Asia/Tokyo"), **weekly)
    # New York's week of Monday 2 March: Mon 2 05:00 UTC to Mon 9 04:00 UTC.
    ny_week = [
        make_charge(agency, ny, at=at("2026-03-02 05:00"), fee=1000),
        make_charge(agency, ny, at=at("2026-03-06 12:00"), fee=2000),
        make_charge(agency, ny, at=at("2026-03-09 03:30"), fee=3000),  # Sunday night there
    ]
    ny_next = make_charge(agency, ny, at=at("2026-03-09 04:30"), fee=4000)
    # Tokyo's week of Monday 2 March ends Sunday 8 March 15:00 UTC.
    tokyo_week = [make_charge(agency, tokyo, at=at("2026-03-04 09:00"), fee=500)]

    now = at("2026-03-09 05:00")
    assert close_billing_periods(now=now) == 2
    with agency_scope(agency):
        invoices = {i.client_id: i for i in Invoice.objects.all()}
        assert set(invoices) == {ny.contract.client_id, tokyo.contract.client_id}
        ny_invoice = invoices[ny.contract.client_id]
        assert (ny_invoice.period_start, ny_invoice.period_end) == (
            dt.date(2026, 3, 2),
            dt.date(2026, 3, 9),
        )
        assert ny_invoice.amount_due == 6000 and ny_invoice.status == "open"
        assert ny_invoice.sent_at is not None
        assert invoices[tokyo.contract.client_id].amount_due == 500
        for charge in ny_week + tokyo_week:
            charge.refresh_from_db()
            assert charge.status == ChargeStatus.INVOICED and charge.invoice_id
        ny_next.refresh_from_db()
        assert ny_next.status == ChargeStatus.PENDING and not ny_next.stripe_invoice_item_id

    assert close_billing_periods(now=now) == 0  # the sweep again makes nothing more
    assert len(stripe_invoices(stripe_on)) == 2 and len(stripe_items(stripe_on)) == 4
    remote = stripe_on.v1.invoices.retrieve(ny_invoice.stripe_invoice_id)
    assert remote.total == 6000 and remote.status == "open"

    # The next week closes on its own invoice.
    assert close_billing_periods(now=at("2026-03-16 05:00")) == 1
    with agency_scope(agency):
        ny_next.refresh_from_db()
        assert ny_next.invoice.period_start == dt.date(2026, 3, 9)
        assert ny_next.invoice.amount_due == 4000


def test_a_monthly_close_in_the_clients_month_is_paid_by_card(agency, stripe_on):
    client = ClientFactory(agency=agency, time_zone="Asia/Tokyo")
    line = flat_line(
        agency,
        client,
        billing_cadence="monthly",
        collection_method="charge_automatically",
        days_until_due=None,
    )
    card_on_file(agency, client, stripe_on)
    march = [
        make_charge(agency, line, at=at("2026-02-28 16:00"), fee=10000),  # 1 March in Tokyo
        make_charge(agency, line, at=at("2026-03-20 00:00"), fee=2500),
    ]
    april = make_charge(agency, line, at=at("2026-03-31 15:30"), fee=999)  # 1 April there
    push(agency, march[1])  # its job ran: it waits for the month's invoice

    assert close_billing_periods(now=at("2026-03-31 14:00")) == 0  # March not over in Tokyo
    assert close_billing_periods(now=at("2026-03-31 15:10")) == 1
    with agency_scope(agency):
        invoice = Invoice.objects.get()
        assert (invoice.period_start, invoice.period_end) == (
            dt.date(2026, 3, 1),
            dt.date(2026, 4, 1),
        )
        assert invoice.status == "paid" and invoice.amount_paid == 12500
        assert {c.pk for c in invoice.charges.all()} == {c.pk for c in march}
        april.refresh_from_db()
        assert april.status == ChargeStatus.PENDING
    assert close_billing_periods(now=at("2026-03-31 16:10")) == 0
    assert len(stripe_invoices(stripe_on)) == 1


@pytest.mark.parametrize("cadence, pushed", [("per_task", 1), ("weekly", 0), ("monthly", 0)])
def test_only_a_per_task_charge_is_queued_for_stripe_when_it_is_made(
    agency, stripe_on, monkeypatch, cadence, pushed
):
    """A weekly or monthly charge has nothing to send before its period closes, so billing
    the task queues no job for it (the close sends it)."""
    queued = []
    monkeypatch.setattr(billing_jobs.push_charge, "delay", lambda **kw: queued.append(kw))
    line = flat_line(
        agency, billing_cadence=cadence, collection_method="send_invoice", days_until_due=7
    )
    task = TaskFactory(
        agency=agency,
        contract_line=line,
        status="completed",
        completed_at=at("2026-03-03 10:00"),
        minutes_logged=30,
    )
    with agency_scope(agency):
        task = type(task).objects.select_related("client", "contract").get(pk=task.pk)
        charge = billing_jobs.bill(agency=agency, task=task)
    assert charge.status == ChargeStatus.PENDING
    assert queued == [{"agency_id": agency.pk, "charge_id": charge.pk}] * pushed
