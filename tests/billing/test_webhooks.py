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


def open_in_stripe(sdk, *, amount=5000, payment_method=None):
    """An open invoice for `amount` cents at the test server (charged to the card when a
    payment method is given, else sent to pay by link)."""
    customer = sdk.v1.customers.create(params={"name": "Acme"})
    sdk.v1.invoice_items.create(
        params={"customer": customer.id, "amount": amount, "currency": "usd"}
    )
    params = {"customer": customer.id, "collection_method": "send_invoice", "days_until_due": 14}
    if payment_method:
        card = sdk.v1.payment_methods.attach(payment_method, params={"customer": customer.id})
        params = {
            "customer": customer.id,
            "collection_method": "charge_automatically",
            "default_payment_method": card.id,
        }
    draft = sdk.v1.invoices.create(params={**params, "pending_invoice_items_behavior": "include"})
    return sdk.v1.invoices.finalize_invoice(draft.id)


@pytest.fixture
def in_stripe(stripe_on):
    return open_in_stripe(stripe_on)


@pytest.fixture
def invoice(agency, settings, in_stripe):
    """Our copy of an open invoice of 50.00 USD: Stripe holds the same (`in_stripe`)."""
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    client = ClientFactory(agency=agency)
    with agency_scope(agency):
        return Invoice.objects.create(
            agency=agency,
            client=client,
            stripe_invoice_id=in_stripe.id,
            status="open",
            collection_method="send_invoice",
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


def stored_events():
    with scopes_disabled():
        return list(StripeEvent.objects.values_list("event_id", flat=True))


def test_unsigned_badly_signed_or_unknown_is_400_and_stores_nothing(client, agency, invoice):
    payload = paid(invoice_id=invoice.stripe_invoice_id)
    assert deliver(client, agency, payload).status_code == 400
    assert deliver(client, agency, payload, "t=1,v1=deadbeef").status_code == 400
    assert deliver(client, agency, payload, sign(payload, "whsec_someone_else")).status_code == 400
    stale = sign(payload, timestamp=int(time.time()) - 3600)  # a replay from an hour ago
    assert deliver(client, agency, payload, stale).status_code == 400
    assert deliver(client, agency, payload[:-1], sign(payload)).status_code == 400  # tampered
    nobody = AgencyFactory.build(slug="no-such-agency")
    assert deliver(client, nobody, payload, sign(payload)).status_code == 400
    assert client.get(reverse("stripe_webhook", args=[agency.slug])).status_code == 405
    assert stored_events() == []
    assert reloaded(agency, invoice).status == "open"


@pytest.mark.parametrize("ahead", [301, 3600, 10**9])
def test_a_signature_stamped_in_the_future_is_refused(client, agency, invoice, ahead):
    payload = paid(invoice_id=invoice.stripe_invoice_id)
    early = sign(payload, timestamp=int(time.time()) + ahead)
    response = deliver(client, agency, payload, early)
    assert response.status_code == 400 and b"tolerance" in response.content
    assert stored_events() == []


def test_within_the_tolerance_either_way_is_accepted(client, agency, invoice):
    for event_id, skew in (("evt_early", 240), ("evt_late", -240)):
        payload = event(event_id, "invoice.updated", invoice.stripe_invoice_id)
        signature = sign(payload, timestamp=int(time.time()) + skew)
        assert deliver(client, agency, payload, signature).status_code == 200
    assert sorted(stored_events()) == ["evt_early", "evt_late"]


def deep(depth: int) -> bytes:
    return (
        b'{"id": "evt_deep", "type": "invoice.paid", "data": {"object": {"id": "in_1", "x": '
        + (b"[" * depth + b"]" * depth)
        + b"}}}"
    )


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b"[]", id="a list"),
        pytest.param(json.dumps([{"id": "evt_1", "type": "invoice.paid"}]).encode(), id="events"),
        pytest.param(b'"evt_1"', id="a string"),
        pytest.param(b"null", id="null"),
        pytest.param(b"not json", id="not json"),
        pytest.param(b"\xff\xfe{}", id="not utf-8"),
        pytest.param(deep(5_000), id="nested 5000 deep"),
        pytest.param(deep(100), id="nested 100 deep"),
        pytest.param(
            json.dumps({"type": "invoice.paid", "data": {"object": {}}}).encode(), id="no id"
        ),
        pytest.param(
            json.dumps({"id": 7, "type": "invoice.paid", "data": {"object": {}}}).encode(),
            id="a number id",
        ),
        pytest.param(
            json.dumps({"id": {"a": 1}, "type": "x", "data": {"object": {}}}).encode(),
            id="an object id",
        ),
        pytest.param(
            json.dumps({"id": "evt_1", "type": "invoice.paid", "data": None}).encode(),
            id="data null",
        ),
        pytest.param(
            json.dumps({"id": "evt_1", "type": "invoice.paid", "data": []}).encode(),
            id="data a list",
        ),
        pytest.param(
            json.dumps(
                {"id": "evt_1", "type": "invoice.paid", "data": {"object": "in_1"}}
            ).encode(),
            id="data.object a string",
        ),
        pytest.param(
            json.dumps({"id": "evt_1", "type": "invoice.paid", "data": {"object": None}}).encode(),
            id="data.object null",
        ),
        pytest.param(
            json.dumps({"id": "evt_1", "type": "invoice.paid", "data": {}}).encode(),
            id="no data.object",
        ),
        pytest.param(
            json.dumps(
                {"id": "evt_1", "type": "invoice.paid", "data": {"object": {"id": ["in_1"]}}}
            ).encode(),
            id="data.object.id a list",
        ),
        pytest.param(
            json.dumps({"id": "evt_1", "type": None, "data": {"object": {}}}).encode(),
            id="type null",
        ),
        pytest.param(
            json.dumps({"id": "evt_" + "a" * 252, "type": "x.y", "data": {"object": {}}}).encode(),
            id="an id past 255",
        ),
        pytest.param(
            json.dumps(
                {"id": "evt_" + "a" * 100_000, "type": "x", "data": {"object": {}}}
            ).encode(),
            id="an id of 100000",
        ),
        pytest.param(
            json.dumps(
                {"id": "evt_1", "type": "x" * 256, "data": {"object": {"id": "in_1"}}}
            ).encode(),
            id="a type past 255",
        ),
        pytest.param(
            json.dumps(
                {
                    "id": "evt_1",
                    "type": "invoice.paid",
                    "data": {"object": {"id": "in_" + "1" * 300}},
                }
            ).encode(),
            id="an object id past 255",
        ),
    ],
)
def test_a_signed_body_that_is_not_a_stripe_event_is_400_and_stored_nowhere(
    client, agency, invoice, payload
):
    response = deliver(client, agency, payload, sign(payload))
    assert response.status_code == 400
    assert stored_events() == []
    assert reloaded(agency, invoice).status == "open"


def test_ids_as_long_as_stripe_makes_them_are_kept(client, agency, invoice):
    long_id = "evt_" + "A1_" * 80 + "xyz"  # 247 characters
    for event_id in (long_id, "evt_" + "b" * 251, "evt_" + "c" * 60):
        payload = event(event_id, "customer.created", "cus_" + "d" * 200)
        assert deliver(client, agency, payload, sign(payload)).status_code == 200
    assert sorted(stored_events()) == sorted([long_id, "evt_" + "b" * 251, "evt_" + "c" * 60])
    with agency_scope(agency):
        assert StripeEvent.objects.filter(object_id="cus_" + "d" * 200).count() == 3


def test_paid_event_is_applied_once(client, agency, invoice, stripe_on):
    stripe_on.v1.invoices.pay(invoice.stripe_invoice_id, params={"paid_out_of_band": True})
    payload = paid(invoice_id=invoice.stripe_invoice_id)
    assert deliver(client, agency, payload, sign(payload)).status_code == 200
    assert deliver(client, agency, payload, sign(payload)).status_code == 200  # redelivered
    with agency_scope(agency):
        stored = StripeEvent.objects.get()
        assert (stored.event_id, stored.type, stored.object_id) == (
            "evt_paid",
            "invoice.paid",
            invoice.stripe_invoice_id,
        )
        assert stored.processed_at is not None
    invoice = reloaded(agency, invoice)
    assert invoice.status == "paid" and invoice.amount_paid == 5000
    held = stripe_on.v1.invoices.retrieve(invoice.stripe_invoice_id)
    assert invoice.paid_at == dt.datetime.fromtimestamp(held.status_transitions.paid_at, dt.UTC)
    assert invoice.number == held.number and invoice.hosted_invoice_url == held.hosted_invoice_url


def test_amounts_and_status_in_a_payload_are_never_trusted(client, agency, invoice, stripe_on):
    """A signed event claims the invoice was paid, for more than it was due: Stripe says it
    is open and due 50.00, and that is what we keep."""
    forged = event(
        "evt_forged",
        "invoice.paid",
        invoice.stripe_invoice_id,
        status="paid",
        amount_due=1,
        amount_paid=999_999,
        total=1,
        status_transitions={"finalized_at": 1767225600, "paid_at": 1767229200, "voided_at": None},
    )
    assert deliver(client, agency, forged, sign(forged)).status_code == 200
    invoice = reloaded(agency, invoice)
    assert invoice.status == "open" and invoice.paid_at is None
    assert (invoice.amount_due, invoice.amount_paid) == (5000, 0)

    # Later paid for real, the next event (whatever it claims) brings Stripe's figures.
    stripe_on.v1.invoices.pay(invoice.stripe_invoice_id, params={"paid_out_of_band": True})
    understated = event(
        "evt_real", "invoice.paid", invoice.stripe_invoice_id, status="open", amount_paid=0
    )
    assert deliver(client, agency, understated, sign(understated)).status_code == 200
    invoice = reloaded(agency, invoice)
    assert invoice.status == "paid" and (invoice.amount_due, invoice.amount_paid) == (5000, 5000)


def test_while_stripe_cannot_be_asked_the_event_waits_for_redelivery(
    client, agency, invoice, stripe_on, stripe_server
):
    stripe_on.v1.invoices.pay(invoice.stripe_invoice_id, params={"paid_out_of_band": True})
    stripe_control(
        stripe_server, "POST", "/_test/faults", {"mode": "error", "paths": ["/v1/invoices"]}
    )
    payload = paid(invoice_id=invoice.stripe_invoice_id)
    assert deliver(client, agency, payload, sign(payload)).status_code == 503
    assert stored_events() == []  # so Stripe's redelivery is not taken for a duplicate
    assert reloaded(agency, invoice).status == "open"
    stripe_control(stripe_server, "DELETE", "/_test/faults")
    assert deliver(client, agency, payload, sign(payload)).status_code == 200
    assert reloaded(agency, invoice).status == "paid"


def test_without_a_key_to_ask_stripe_the_event_is_kept_unapplied(client, agency, invoice, settings):
    settings.STRIPE_SECRET_KEY = ""
    payload = paid(invoice_id=invoice.stripe_invoice_id)
    assert deliver(client, agency, payload, sign(payload)).status_code == 200
    with agency_scope(agency):
        assert StripeEvent.objects.get().processed_at is None
    assert reloaded(agency, invoice).status == "open"


def test_when_stripe_will_not_say_the_event_is_kept_unapplied(
    client, agency, invoice, settings, stripe_on
):
    """An invoice Stripe does not have, or a key it refuses: asking again would get the same
    answer, so the event is acknowledged (no retries for days), kept, and not applied."""
    with agency_scope(agency):
        Invoice.objects.filter(pk=invoice.pk).update(stripe_invoice_id="in_unknown_to_stripe")
    missing = paid("evt_missing", "in_unknown_to_stripe")
    assert deliver(client, agency, missing, sign(missing)).status_code == 200
    with agency_scope(agency):
        Invoice.objects.filter(pk=invoice.pk).update(stripe_invoice_id=in_stripe_id(stripe_on))
    settings.STRIPE_SECRET_KEY = "rk_live_not_a_test_key"  # the test server refuses it
    refused = paid("evt_refused", reloaded(agency, invoice).stripe_invoice_id)
    assert deliver(client, agency, refused, sign(refused)).status_code == 200
    with agency_scope(agency):
        assert list(StripeEvent.objects.values_list("processed_at", flat=True)) == [None, None]
    assert reloaded(agency, invoice).status == "open"


def in_stripe_id(sdk) -> str:
    stripe_invoice = open_in_stripe(sdk)
    sdk.v1.invoices.pay(stripe_invoice.id, params={"paid_out_of_band": True})
    return stripe_invoice.id


def test_an_old_event_never_rolls_a_paid_invoice_back(client, agency, invoice, stripe_on):
    stripe_on.v1.invoices.pay(invoice.stripe_invoice_id, params={"paid_out_of_band": True})
    for payload in (
        paid(invoice_id=invoice.stripe_invoice_id),
        event("evt_fin", "invoice.finalized", invoice.stripe_invoice_id),
        event("evt_fail", "invoice.payment_failed", invoice.stripe_invoice_id),
    ):
        assert deliver(client, agency, payload, sign(payload)).status_code == 200
    invoice = reloaded(agency, invoice)
    assert invoice.status == "paid" and invoice.amount_paid == 5000
    assert not invoice.payment_failed
    with agency_scope(agency):
        assert StripeEvent.objects.count() == 3


def test_payment_failed_then_voided(client, agency, settings, stripe_on):
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    declined = open_in_stripe(stripe_on, payment_method="pm_card_chargeDeclined")
    with pytest.raises(stripe.CardError):
        stripe_on.v1.invoices.pay(declined.id)
    with agency_scope(agency):
        invoice = Invoice.objects.create(
            agency=agency,
            client=ClientFactory(agency=agency),
            stripe_invoice_id=declined.id,
            status="open",
            collection_method="charge_automatically",
            currency="USD",
            amount_due=5000,
        )
    failed = event("evt_fail", "invoice.payment_failed", declined.id, attempt_count=1)
    assert deliver(client, agency, failed, sign(failed)).status_code == 200
    invoice = reloaded(agency, invoice)
    assert invoice.status == "open" and invoice.payment_failed
    stripe_on.v1.invoices.void_invoice(declined.id)
    voided = event("evt_void", "invoice.voided", declined.id, status="void")
    assert deliver(client, agency, voided, sign(voided)).status_code == 200
    invoice = reloaded(agency, invoice)
    assert invoice.status == "void" and invoice.voided_at is not None


def test_an_agency_with_its_own_account_uses_its_own_secret(
    client, agency, settings, stripe_server
):
    from billing.models import StripeAccount

    settings.STRIPE_WEBHOOK_SECRET = SECRET
    settings.STRIPE_API_BASE = stripe_server
    own_key = "sk_test_agencyown1234"
    own = stripe.StripeClient(own_key, base_addresses={"api": stripe_server})
    in_stripe = open_in_stripe(own)
    own.v1.invoices.pay(in_stripe.id, params={"paid_out_of_band": True})
    with agency_scope(agency):
        StripeAccount.objects.create(
            agency=agency,
            secret_key_encrypted=encrypt(own_key),
            webhook_secret_encrypted=encrypt("whsec_agency_own_secret"),
            key_prefix="sk_test_",
            key_last4="1234",
            connected_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        )
        invoice = Invoice.objects.create(
            agency=agency,
            client=ClientFactory(agency=agency),
            stripe_invoice_id=in_stripe.id,
            status="open",
            collection_method="send_invoice",
            currency="USD",
            amount_due=5000,
        )
    payload = paid(invoice_id=in_stripe.id)
    assert deliver(client, agency, payload, sign(payload)).status_code == 400  # platform's
    signed = sign(payload, "whsec_agency_own_secret")
    assert deliver(client, agency, payload, signed).status_code == 200
    assert reloaded(agency, invoice).status == "paid"  # read back with the agency's key


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
