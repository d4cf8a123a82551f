"""News that happens at a moment is told at that moment, not at the next sweep: an invoice
issued, a payment that failed, a charge held past the client's budget, a retainer bank
running low. Each is queued on commit as a job and made once; the sweeps that used to
make them still catch up on a lost job and never tell anything twice."""

import datetime as dt

import pytest
import stripe
from django.core import mail
from django.utils import timezone

from billing.charges import charge_for_task
from billing.invoicing import push_charge, stripe_customer_for
from billing.models import Invoice
from billing.reminders import sweep_billing_reminders
from billing.webhooks import _apply_invoice_event
from contracts.models import PricingModel
from core.roles import Role
from core.tenancy import agency_scope, scopes_disabled
from notifications.models import Notification
from tests.contracts.factories import ContractFactory, LineFactory, TermsFactory
from tests.factories import ClientFactory, MembershipFactory
from tests.tasks.factories import TaskFactory

pytestmark = pytest.mark.django_db

PLATFORM_KEY = "sk_test_platform"


@pytest.fixture
def stripe_on(settings, stripe_server):
    settings.STRIPE_API_BASE = stripe_server
    settings.STRIPE_SECRET_KEY = PLATFORM_KEY
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    return stripe.StripeClient(
        PLATFORM_KEY, base_addresses={"api": stripe_server}, max_network_retries=0
    )


@pytest.fixture
def people(agency):
    client = ClientFactory(agency=agency, name="Cedar Legal", currency="USD")
    person = MembershipFactory(agency=agency, role=Role.CLIENT, client=client)
    admin = MembershipFactory(agency=agency, role=Role.ADMIN)
    return client, person, admin


def rows(**filters):
    with scopes_disabled():
        return list(Notification.objects.filter(**filters).order_by("pk"))


def line_for(agency, client, *, collection="send_invoice", **terms):
    contract = ContractFactory(
        agency=agency,
        client=client,
        status="active",
        billing_cadence="per_task",
        collection_method=collection,
        days_until_due=14 if collection == "send_invoice" else None,
    )
    line = LineFactory(agency=agency, contract=contract, terms=None)
    TermsFactory(
        agency=agency,
        line=line,
        effective_from=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        **({"pricing_model": PricingModel.FLAT, "flat_fee": 5000} | terms),
    )
    return line


def finished(agency, line, **fields):
    return TaskFactory(
        agency=agency,
        contract_line=line,
        status="completed",
        completed_at=timezone.now() - dt.timedelta(minutes=5),
        **fields,
    )


def test_an_issued_invoice_is_told_when_it_is_issued_once(
    agency, people, stripe_on, django_capture_on_commit_callbacks
):
    client, person, _ = people
    line = line_for(agency, client)
    with agency_scope(agency):
        charge = charge_for_task(agency=agency, task=finished(agency, line))
        with django_capture_on_commit_callbacks(execute=True):
            push_charge(agency=agency, charge_id=charge.pk)
        invoice = Invoice.objects.get()
    assert invoice.status == "open"
    # Told before any sweep has run: in the app and by e-mail.
    (issued,) = rows(kind="invoice_issued")
    assert issued.recipient == person.user and issued.target_id == invoice.pk
    assert issued.title == f"New invoice {invoice.number}: $50.00"
    assert [m.to for m in mail.outbox] == [[person.user.email]]
    # The sweep, and the same job run again, find it told.
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_billing_reminders(now=timezone.now()) == 0
        with agency_scope(agency):
            push_charge(agency=agency, charge_id=charge.pk)
    assert len(rows(kind="invoice_issued")) == 1 and len(mail.outbox) == 1


def test_an_invoice_paid_at_once_by_card_tells_nothing(
    agency, people, stripe_on, django_capture_on_commit_callbacks
):
    client, _, _ = people
    line = line_for(agency, client, collection="charge_automatically")
    with agency_scope(agency):
        customer = stripe_customer_for(agency=agency, client=client)
    card = stripe_on.v1.payment_methods.attach("pm_card_visa", params={"customer": customer})
    stripe_on.v1.customers.update(
        customer, params={"invoice_settings": {"default_payment_method": card.id}}
    )
    with agency_scope(agency):
        charge = charge_for_task(agency=agency, task=finished(agency, line))
        with django_capture_on_commit_callbacks(execute=True):
            push_charge(agency=agency, charge_id=charge.pk)
        assert Invoice.objects.get().status == "paid"
    assert rows() == [] and mail.outbox == []


def test_a_declined_card_tells_the_admins_at_once(
    agency, people, stripe_on, django_capture_on_commit_callbacks
):
    client, person, admin = people
    line = line_for(agency, client, collection="charge_automatically")
    with agency_scope(agency):
        customer = stripe_customer_for(agency=agency, client=client)
    card = stripe_on.v1.payment_methods.attach(
        "pm_card_chargeDeclined", params={"customer": customer}
    )
    stripe_on.v1.customers.update(
        customer, params={"invoice_settings": {"default_payment_method": card.id}}
    )
    with agency_scope(agency):
        charge = charge_for_task(agency=agency, task=finished(agency, line))
        with django_capture_on_commit_callbacks(execute=True):
            push_charge(agency=agency, charge_id=charge.pk)
        assert Invoice.objects.get().payment_failed
    (failed,) = rows(kind="payment_failed")
    assert failed.recipient == admin.user and "Cedar Legal" in failed.title
    assert [n.recipient for n in rows(kind="invoice_issued")] == [person.user]
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_billing_reminders(now=timezone.now()) == 0
    assert len(mail.outbox) == 2


def test_an_invoice_finalized_elsewhere_is_told_when_stripe_says_so(
    agency, people, django_capture_on_commit_callbacks
):
    client, person, _ = people
    with scopes_disabled():
        invoice = Invoice.objects.create(
            agency=agency,
            client=client,
            stripe_invoice_id="in_elsewhere",
            collection_method="send_invoice",
            currency="USD",
            status="draft",
        )
    finalized = int(timezone.now().timestamp())
    data = {
        "id": "in_elsewhere",
        "status": "open",
        "currency": "usd",
        "amount_due": 7000,
        "total": 7000,
        "number": "INV-77",
        "status_transitions": {"finalized_at": finalized},
    }
    with agency_scope(agency), django_capture_on_commit_callbacks(execute=True):
        _apply_invoice_event(agency, "invoice.finalized", data)
    (issued,) = rows(kind="invoice_issued")
    assert issued.recipient == person.user and issued.target_id == invoice.pk
    assert issued.title == "New invoice INV-77: $70.00"
    # A repeat of the event (Stripe delivers at least once) tells nothing more.
    with agency_scope(agency), django_capture_on_commit_callbacks(execute=True):
        _apply_invoice_event(agency, "invoice.finalized", data | {"status": "open"})
    assert len(rows(kind="invoice_issued")) == 1 and len(mail.outbox) == 1


def test_a_charge_past_the_task_budget_asks_the_client_at_once(
    agency, people, django_capture_on_commit_callbacks
):
    client, person, _ = people
    line = line_for(agency, client)
    with agency_scope(agency), django_capture_on_commit_callbacks(execute=True):
        charge = charge_for_task(agency=agency, task=finished(agency, line, max_budget=1000))
    assert charge.status == "held"
    (held,) = rows(kind="charge_held")
    assert held.recipient == person.user and held.target_id == charge.pk
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_billing_reminders(now=timezone.now()) == 0
    assert len(mail.outbox) == 1


def test_a_retainer_running_low_is_told_when_the_work_draws_on_it(
    agency, people, django_capture_on_commit_callbacks
):
    client, person, _ = people
    line = line_for(
        agency,
        client,
        pricing_model=PricingModel.RETAINER,
        flat_fee=None,
        retainer_fee=100000,
        included_minutes=600,
        rollover_cap_minutes=0,
        overage_rate=6000,
        rounding_increment_minutes=15,
        hourly_rate=None,
        minimum_minutes=None,
    )
    with agency_scope(agency), django_capture_on_commit_callbacks(execute=True):
        charge_for_task(agency=agency, task=finished(agency, line, minutes_logged=525))
    (low,) = rows(kind="retainer_low")
    assert low.recipient == person.user
    assert "1 h 15 min of this month's" in low.body
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_billing_reminders(now=timezone.now()) == 0
    assert len(rows(kind="retainer_low")) == 1
