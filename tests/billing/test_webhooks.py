"""Stripe's webhooks: verified per agency, stored once by event id, applied forward only."""

import datetime as dt
import hashlib
import hmac
import json
import time

import pytest
import stripe
from django.urls import reverse

from billing.invoicing import push_charge, stripe_customer_for
from billing.models import Invoice, StripeEvent
from billing.secrets import encrypt
from core.tenancy import agency_scope, scopes_disabled
from tests.billing.conftest import PLATFORM_KEY
from tests.billing.test_invoicing import make_charge, per_task
from tests.conftest import stripe_control
from tests.factories import AgencyFactory, ClientFactory

SECRET = "whsec_platform_secret_for_tests"


def sign(payload: bytes, secret: str = SECRET, timestamp: int | None = None) -> str:
    """A Stripe-Signature header, computed as Stripe documents it."""
    timestamp = timestamp or int(time.time())
    digest = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},v1={digest}"


def event(event_id: str, event_type: str, invoice_id: str, **fields) -> bytes:
    data = {
        "id": invoice_id,
        "object": "invoice",
        "status": "open",
        "amount_due": 5000,
        "amount_paid": 0,
        "number": "ACME-0001",
        "hosted_invoice_url": f"https://invoice.stripe.test/{invoice_id}",
        "status_transitions": {"finalized_at": 1767225600, "paid_at": None, "voided_at": None},
        **fields,
    }
    body = {"id": event_id, "object": "event", "type": event_type, "data": {"object": data}}
    return json.dumps(body).encode()


def paid(event_id="evt_paid", invoice_id="in_1"):
    return event(
        event_id,
        "invoice.paid",
        invoice_id,
        status="paid",
        amount_paid=5000,
        status_transitions={"finalized_at": 1767225600, "paid_at": 1767229200, "voided_at": None},
    )


@pytest.fixture
def invoice(agency, settings):
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    client = ClientFactory(agency=agency)
    with agency_scope(agency):
        return Invoice.objects.create(
            agency=agency,
            client=client,
            stripe_invoice_id="in_1",
            status="open",
            collection_method="charge_automatically",
            currency="USD",
            amount_due=5000,
        )


def deliver(http, agency, payload: bytes, signature: str | None = None):
    headers = {"HTTP_STRIPE_SIGNATURE": signature} if signature is not None else {}
    url = reverse("stripe_webhook", args=[agency.slug])
    return http.post(url, data=payload, content_type="application/json", **headers)


def reloaded(agency, invoice):
    with agency_scope(agency):
        invoice.refresh_from_db()
        return invoice


def test_unsigned_badly_signed_or_unknown_is_400_and_stores_nothing(client, agency, invoice):
    payload = paid()
    assert deliver(client, agency, payload).status_code == 400
    assert deliver(client, agency, payload, "t=1,v1=deadbeef").status_code == 400
    assert deliver(client, agency, payload, sign(payload, "whsec_someone_else")).status_code == 400
    stale = sign(payload, timestamp=int(time.time()) - 3600)  # a replay from an hour ago
    assert deliver(client, agency, payload, stale).status_code == 400
    assert deliver(client, agency, payload[:-1], sign(payload)).status_code == 400  # tampered
    nobody = AgencyFactory.build(slug="no-such-agency")
    assert deliver(client, nobody, payload, sign(payload)).status_code == 400
    assert client.get(reverse("stripe_webhook", args=[agency.slug])).status_code == 405
    with scopes_disabled():
        assert not StripeEvent.objects.exists()
    assert reloaded(agency, invoice).status == "open"


def test_paid_event_is_applied_once(client, agency, invoice):
    payload = paid()
    assert deliver(client, agency, payload, sign(payload)).status_code == 200
    assert deliver(client, agency, payload, sign(payload)).status_code == 200  # redelivered
    with agency_scope(agency):
        stored = StripeEvent.objects.get()
        assert (stored.event_id, stored.type, stored.object_id) == (
            "evt_paid",
            "invoice.paid",
            "in_1",
        )
        assert stored.processed_at is not None
    invoice = reloaded(agency, invoice)
    assert invoice.status == "paid" and invoice.amount_paid == 5000
    assert invoice.paid_at == dt.datetime(2026, 1, 1, 1, tzinfo=dt.UTC)
    assert invoice.number == "ACME-0001" and invoice.hosted_invoice_url.endswith("in_1")


def test_an_old_event_never_rolls_a_paid_invoice_back(client, agency, invoice):
    for payload in (
        paid(),
        event("evt_fin", "invoice.finalized", "in_1"),
        event("evt_fail", "invoice.payment_failed", "in_1"),
    ):
        assert deliver(client, agency, payload, sign(payload)).status_code == 200
    invoice = reloaded(agency, invoice)
    assert invoice.status == "paid" and invoice.amount_paid == 5000
    assert not invoice.payment_failed
    with agency_scope(agency):
        assert StripeEvent.objects.count() == 3


def test_payment_failed_then_voided(client, agency, invoice):
    failed = event("evt_fail", "invoice.payment_failed", "in_1", attempt_count=1)
    assert deliver(client, agency, failed, sign(failed)).status_code == 200
    invoice = reloaded(agency, invoice)
    assert invoice.status == "open" and invoice.payment_failed
    voided = event(
        "evt_void",
        "invoice.voided",
        "in_1",
        status="void",
        status_transitions={"finalized_at": 1767225600, "paid_at": None, "voided_at": 1767232800},
    )
    assert deliver(client, agency, voided, sign(voided)).status_code == 200
    invoice = reloaded(agency, invoice)
    assert invoice.status == "void" and invoice.voided_at is not None


def test_an_agency_with_its_own_account_uses_its_own_secret(client, agency, invoice):
    from billing.models import StripeAccount

    with agency_scope(agency):
        StripeAccount.objects.create(
            agency=agency,
            secret_key_encrypted=encrypt("sk_test_agency_own_1234"),
            webhook_secret_encrypted=encrypt("whsec_agency_own_secret"),
            key_prefix="sk_test_",
            key_last4="1234",
            connected_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        )
    payload = paid()
    assert deliver(client, agency, payload, sign(payload)).status_code == 400  # platform's
    signed = sign(payload, "whsec_agency_own_secret")
    assert deliver(client, agency, payload, signed).status_code == 200
    assert reloaded(agency, invoice).status == "paid"


def test_unknown_invoices_and_other_events_are_stored_and_acknowledged(client, agency, invoice):
    for payload in (paid("evt_x", "in_not_ours"), event("evt_c", "customer.created", "cus_1")):
        assert deliver(client, agency, payload, sign(payload)).status_code == 200
    with agency_scope(agency):
        assert StripeEvent.objects.count() == 2
    assert reloaded(agency, invoice).status == "open"


@pytest.mark.django_db(transaction=True)
def test_the_test_servers_real_deliveries_are_verified_and_applied(
    live_server, stripe_server, settings
):
    """End to end: Stripe (the test server) signs and POSTs its events to our URL."""
    agency = AgencyFactory()
    settings.STRIPE_API_BASE = stripe_server
    settings.STRIPE_SECRET_KEY = PLATFORM_KEY
    sdk = stripe.StripeClient(PLATFORM_KEY, base_addresses={"api": stripe_server})
    endpoint = sdk.v1.webhook_endpoints.create(
        params={
            "url": live_server.url + reverse("stripe_webhook", args=[agency.slug]),
            "enabled_events": ["invoice.finalized", "invoice.paid", "invoice.payment_failed"],
        }
    )
    settings.STRIPE_WEBHOOK_SECRET = endpoint.secret
    line = per_task(agency, fee=3300)
    client = line.contract.client
    with agency_scope(agency):
        customer_id = stripe_customer_for(agency=agency, client=client)
    card = sdk.v1.payment_methods.attach("pm_card_visa", params={"customer": customer_id})
    sdk.v1.customers.update(
        customer_id, params={"invoice_settings": {"default_payment_method": card.id}}
    )
    charge = make_charge(agency, line)
    with agency_scope(agency):
        push_charge(agency=agency, charge_id=charge.pk)
    result = stripe_control(stripe_server, "POST", "/_test/deliver")
    assert result["delivered"] == 2 and result["failed"] == 0
    with agency_scope(agency):
        types = set(StripeEvent.objects.values_list("type", flat=True))
        assert types == {"invoice.finalized", "invoice.paid"}
        assert all(StripeEvent.objects.values_list("processed_at", flat=True))
        invoice = Invoice.objects.get()
        assert invoice.status == "paid" and invoice.amount_paid == 3300
