"""The in-repo Stripe test server, driven through the real stripe SDK over HTTP."""

import contextlib
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import stripe

from stripe_test_server import NULLABLE
from stripe_test_server.fixtures import fixture
from stripe_test_server.forms import parse_form
from tests.conftest import stripe_control

API_KEY = "sk_test_agency_one"
OTHER_KEY = "sk_test_agency_two"

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture
def client(stripe_server):
    return stripe.StripeClient(
        API_KEY, base_addresses={"api": stripe_server}, max_network_retries=0
    )


def raw(base_url, method, path, params=None, *, key=API_KEY, headers=None):
    """One HTTP request to the server without the SDK: (status, headers, JSON body)."""
    data = urllib.parse.urlencode(params or {}, doseq=True)
    url = f"{base_url}{path}"
    if method == "GET" and data:
        url, data = f"{url}?{data}", ""
    request = urllib.request.Request(url, data=data.encode() or None, method=method)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with _opener.open(request, timeout=10) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


def hosted(url, card_number=None):
    data = urllib.parse.urlencode({"card_number": card_number}).encode() if card_number else None
    with _opener.open(urllib.request.Request(url, data=data), timeout=10) as response:
        return response.read().decode()


def billed_customer(client, *amounts, currency="usd"):
    customer = client.v1.customers.create(
        params={"email": "ops@acme.test", "name": "Acme", "metadata": {"client": "7"}}
    )
    for amount in amounts:
        client.v1.invoice_items.create(
            params={
                "customer": customer.id,
                "amount": amount,
                "currency": currency,
                "description": f"Task worth {amount}",
                "metadata": {"task": str(amount)},
            }
        )
    return customer


def open_invoice(client, *amounts, **invoice_params):
    customer = billed_customer(client, *amounts)
    invoice = client.v1.invoices.create(
        params={
            "customer": customer.id,
            "pending_invoice_items_behavior": "include",
            **invoice_params,
        }
    )
    return client.v1.invoices.finalize_invoice(invoice.id)


# --- invoicing ----------------------------------------------------------------------------


def test_invoice_from_pending_items_is_finalized_and_paid(client, stripe_server):
    customer = billed_customer(client, 1500, 2500)
    assert customer.metadata["client"] == "7"

    invoice = client.v1.invoices.create(
        params={
            "customer": customer.id,
            "pending_invoice_items_behavior": "include",
            "metadata": {"period": "2025-W01"},
            "description": "Week 1",
        }
    )
    assert invoice.status == "draft"
    assert (invoice.subtotal, invoice.total, invoice.amount_due) == (4000, 4000, 4000)
    assert invoice.number is None and invoice.hosted_invoice_url is None
    assert [line.amount for line in invoice.lines.data] == [1500, 2500]
    items = client.v1.invoice_items.list(params={"customer": customer.id})
    assert {item.invoice for item in items.data} == {invoice.id}

    invoice = client.v1.invoices.finalize_invoice(invoice.id)
    assert invoice.status == "open"
    assert invoice.number == f"{customer.invoice_prefix}-0001"
    assert invoice.hosted_invoice_url.startswith(f"{stripe_server}/hosted/invoices/{invoice.id}")
    assert invoice.status_transitions.finalized_at is not None

    invoice = client.v1.invoices.pay(invoice.id, params={"payment_method": "pm_card_visa"})
    assert invoice.status == "paid"
    assert (invoice.amount_paid, invoice.amount_remaining, invoice.total) == (4000, 0, 4000)
    assert invoice.attempt_count == 1 and invoice.status_transitions.paid_at is not None
    assert client.v1.invoices.retrieve(invoice.id).status == "paid"


def test_excluded_pending_items_stay_pending_and_can_be_added_to_a_draft(client):
    customer = billed_customer(client, 700)
    invoice = client.v1.invoices.create(params={"customer": customer.id})
    assert invoice.total == 0 and invoice.lines.data == []
    item = client.v1.invoice_items.create(
        params={"customer": customer.id, "amount": 300, "currency": "usd", "invoice": invoice.id}
    )
    assert item.invoice == invoice.id
    assert client.v1.invoices.retrieve(invoice.id).total == 300
    pending = client.v1.invoice_items.list(params={"customer": customer.id, "pending": True})
    assert [i.amount for i in pending.data] == [700]
    on_invoice = client.v1.invoice_items.list(params={"invoice": invoice.id})
    assert [i.id for i in on_invoice.data] == [item.id]


def test_declined_card_is_a_card_error_and_the_invoice_stays_open(client):
    invoice = open_invoice(client, 5000)

    with pytest.raises(stripe.CardError) as declined:
        client.v1.invoices.pay(invoice.id, params={"payment_method": "pm_card_chargeDeclined"})
    assert declined.value.http_status == 402
    assert declined.value.code == "card_declined"
    assert declined.value.error.decline_code == "generic_decline"

    with pytest.raises(stripe.CardError) as broke:
        client.v1.invoices.pay(
            invoice.id, params={"payment_method": "pm_card_chargeDeclinedInsufficientFunds"}
        )
    assert broke.value.error.decline_code == "insufficient_funds"

    invoice = client.v1.invoices.retrieve(invoice.id)
    assert invoice.status == "open"
    assert (invoice.attempt_count, invoice.amount_paid, invoice.amount_remaining) == (2, 0, 5000)
    assert (
        client.v1.invoices.pay(invoice.id, params={"payment_method": "pm_card_mastercard"}).status
        == "paid"
    )


def test_pay_uses_the_customers_default_payment_method(client):
    invoice = open_invoice(client, 1200)
    with pytest.raises(stripe.InvalidRequestError) as no_card:
        client.v1.invoices.pay(invoice.id)
    assert no_card.value.param == "payment_method"

    payment_method = client.v1.payment_methods.attach(
        "pm_card_visa", params={"customer": invoice.customer}
    )
    assert payment_method.id.startswith("pm_") and payment_method.customer == invoice.customer
    assert payment_method.card.last4 == "4242"
    customer = client.v1.customers.update(
        invoice.customer,
        params={"invoice_settings": {"default_payment_method": payment_method.id}},
    )
    assert customer.invoice_settings.default_payment_method == payment_method.id
    listed = client.v1.customers.payment_methods.list(invoice.customer)
    assert [pm.id for pm in listed.data] == [payment_method.id]

    assert client.v1.invoices.pay(invoice.id).status == "paid"


def test_a_payment_method_of_another_customer_is_refused(client):
    invoice = open_invoice(client, 1200)
    stranger = client.v1.customers.create()
    theirs = client.v1.payment_methods.attach("pm_card_visa", params={"customer": stranger.id})
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.invoices.pay(invoice.id, params={"payment_method": theirs.id})
    assert refused.value.param == "payment_method"


def test_send_invoice_gets_a_due_date_and_is_sent(client):
    invoice = open_invoice(client, 900, collection_method="send_invoice", days_until_due=14)
    assert invoice.due_date == invoice.status_transitions.finalized_at + 14 * 86400
    sent = client.v1.invoices.send_invoice(invoice.id)
    assert sent.status == "open"
    events = client.v1.events.list(params={"type": "invoice.sent"})
    assert [event.data.object.id for event in events.data] == [invoice.id]

    charged = open_invoice(client, 900)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.send_invoice(charged.id)
    with pytest.raises(stripe.InvalidRequestError) as missing_terms:
        client.v1.invoices.create(
            params={"customer": charged.customer, "collection_method": "send_invoice"}
        )
    assert missing_terms.value.param == "days_until_due"


def test_void_and_mark_uncollectible(client):
    voided = client.v1.invoices.void_invoice(open_invoice(client, 100).id)
    assert voided.status == "void" and voided.status_transitions.voided_at is not None

    lost = client.v1.invoices.mark_uncollectible(open_invoice(client, 200).id)
    assert lost.status == "uncollectible"
    assert lost.status_transitions.marked_uncollectible_at is not None
    # Stripe still takes a payment on an uncollectible invoice, and voids it if asked.
    assert client.v1.invoices.void_invoice(lost.id).status == "void"

    draft = client.v1.invoices.create(params={"customer": lost.customer})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.void_invoice(draft.id)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.mark_uncollectible(voided.id)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.pay(voided.id, params={"payment_method": "pm_card_visa"})


def test_an_invoice_with_nothing_to_collect_is_paid_on_finalizing(client):
    customer = client.v1.customers.create()
    invoice = client.v1.invoices.create(params={"customer": customer.id})
    assert client.v1.invoices.finalize_invoice(invoice.id).status == "paid"


def test_currencies_do_not_mix_on_an_invoice(client):
    customer = billed_customer(client, 100)
    invoice = client.v1.invoices.create(
        params={"customer": customer.id, "pending_invoice_items_behavior": "include"}
    )
    assert invoice.currency == "usd"
    with pytest.raises(stripe.InvalidRequestError) as mixed:
        client.v1.invoice_items.create(
            params={
                "customer": customer.id,
                "amount": 100,
                "currency": "eur",
                "invoice": invoice.id,
            }
        )
    assert mixed.value.param == "currency"

    other = billed_customer(client, 100)
    client.v1.invoice_items.create(params={"customer": other.id, "amount": 5, "currency": "eur"})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.create(
            params={"customer": other.id, "pending_invoice_items_behavior": "include"}
        )
    euros = client.v1.invoices.create(
        params={
            "customer": other.id,
            "pending_invoice_items_behavior": "include",
            "currency": "eur",
        }
    )
    assert (euros.currency, euros.total) == ("eur", 5)


def test_finalized_invoices_take_no_more_items(client):
    invoice = open_invoice(client, 100)
    with pytest.raises(stripe.InvalidRequestError) as closed:
        client.v1.invoice_items.create(
            params={
                "customer": invoice.customer,
                "amount": 1,
                "currency": "usd",
                "invoice": invoice.id,
            }
        )
    assert closed.value.code == "invoice_not_editable"


# --- lists --------------------------------------------------------------------------------


def test_lines_list_pages_through_every_item(client):
    amounts = list(range(101, 113))
    invoice = open_invoice(client, *amounts)
    assert len(invoice.lines.data) == 10 and invoice.lines.has_more is True
    assert invoice.total == sum(amounts)

    first = client.v1.invoices.line_items.list(invoice.id, params={"limit": 5})
    assert len(first.data) == 5 and first.has_more
    every = list(first.auto_paging_iter())
    assert [line.amount for line in every] == amounts
    assert {line.object for line in every} == {"line_item"}
    assert every[0].parent.invoice_item_details.invoice_item.startswith("ii_")


def test_invoice_list_is_newest_first_with_cursor_pagination(client):
    customer = client.v1.customers.create()
    ids = [client.v1.invoices.create(params={"customer": customer.id}).id for _ in range(5)]
    other = client.v1.customers.create()
    client.v1.invoices.create(params={"customer": other.id})

    page = client.v1.invoices.list(params={"customer": customer.id, "limit": 2})
    assert [i.id for i in page.data] == ids[::-1][:2] and page.has_more
    assert page.url == "/v1/invoices"
    assert [i.id for i in page.auto_paging_iter()] == ids[::-1]
    after = client.v1.invoices.list(params={"customer": customer.id, "starting_after": ids[2]})
    assert [i.id for i in after.data] == [ids[1], ids[0]] and not after.has_more

    client.v1.invoices.finalize_invoice(ids[0])  # nothing to collect: paid at once
    paid = client.v1.invoices.list(params={"status": "paid"})
    assert [i.id for i in paid.data] == [ids[0]]
    with pytest.raises(stripe.InvalidRequestError) as too_many:
        client.v1.invoices.list(params={"limit": 101})
    assert too_many.value.param == "limit"


# --- idempotency --------------------------------------------------------------------------


def test_idempotent_replay_returns_the_same_object_and_creates_nothing(client, stripe_server):
    customer = client.v1.customers.create()
    params = {
        "customer": customer.id,
        "amount": 1000,
        "currency": "usd",
        "metadata": {"task": "12"},
    }
    first = client.v1.invoice_items.create(params=params, options={"idempotency_key": "task-12"})
    again = client.v1.invoice_items.create(params=params, options={"idempotency_key": "task-12"})
    assert again.id == first.id
    assert again.last_response.headers.get("Idempotent-Replayed") == "true"
    assert len(client.v1.invoice_items.list().data) == 1

    with pytest.raises(stripe.IdempotencyError) as reused:
        client.v1.invoice_items.create(
            params={**params, "amount": 2000}, options={"idempotency_key": "task-12"}
        )
    assert "can only be used with the same parameters" in reused.value.user_message

    # Keys belong to an API key: another account's "task-12" is a request of its own.
    status, _, body = raw(
        stripe_server,
        "POST",
        "/v1/customers",
        key=OTHER_KEY,
        headers={"Idempotency-Key": "task-12"},
    )
    assert status == 200 and body["object"] == "customer"


def test_a_replayed_decline_is_the_same_decline(client):
    invoice = open_invoice(client, 500)
    for _ in range(2):
        with pytest.raises(stripe.CardError):
            client.v1.invoices.pay(
                invoice.id,
                params={"payment_method": "pm_card_chargeDeclined"},
                options={"idempotency_key": "pay-once"},
            )
    assert client.v1.invoices.retrieve(invoice.id).attempt_count == 1


# --- shapes -------------------------------------------------------------------------------


def _assert_shaped_like(actual, example, kind, path=""):
    """Same keys as Stripe's example, and each value of the same JSON type, unless the
    example is null (type unknown) or the server declares the field deliberately null."""
    nested = {"invoice": {"lines.data": "line_item"}}
    if path.endswith("metadata"):
        return  # the caller's own keys
    assert set(actual) == set(example), (
        f"{kind} {path or '(top)'}: extra {sorted(set(actual) - set(example))}, "
        f"missing {sorted(set(example) - set(actual))}"
    )
    for key, expected in example.items():
        here = f"{path}.{key}" if path else key
        value = actual[key]
        if expected is None:
            continue
        if value is None:
            assert here in NULLABLE.get(kind, set()), f"{kind}.{here} is null, Stripe's is not"
            continue
        assert type(value) is type(expected), (
            f"{kind}.{here}: {type(value).__name__}, Stripe's is {type(expected).__name__}"
        )
        if isinstance(expected, dict):
            _assert_shaped_like(value, expected, kind, here)
        elif isinstance(expected, list) and expected and value and isinstance(expected[0], dict):
            inner = nested.get(kind, {}).get(here)
            for item in value:
                if inner:
                    _assert_shaped_like(item, fixture(inner), inner)
                else:
                    _assert_shaped_like(item, expected[0], kind, here)


def _objects_of_every_kind(base_url):
    def call(method, path, params=None):
        status, _, body = raw(base_url, method, path, params)
        assert status == 200, body
        return body

    endpoint = call(
        "POST",
        "/v1/webhook_endpoints",
        {"url": "http://127.0.0.1:9/hook", "enabled_events[0]": "*"},
    )
    customer = call("POST", "/v1/customers", {"email": "a@b.test", "metadata[task]": "12"})
    payment_method = call(
        "POST", "/v1/payment_methods/pm_card_visa/attach", {"customer": customer["id"]}
    )
    item = call(
        "POST",
        "/v1/invoiceitems",
        {
            "customer": customer["id"],
            "amount": 1000,
            "currency": "usd",
            "description": "Inbox zero",
            "metadata[task]": "12",
        },
    )
    draft = call(
        "POST",
        "/v1/invoices",
        {"customer": customer["id"], "pending_invoice_items_behavior": "include"},
    )
    call("POST", f"/v1/invoices/{draft['id']}/finalize")
    paid = call("POST", f"/v1/invoices/{draft['id']}/pay", {"payment_method": "pm_card_visa"})
    lines = call("GET", f"/v1/invoices/{draft['id']}/lines")
    events = call("GET", "/v1/events", {"type": "invoice.paid"})
    return [
        ("customer", customer, set()),
        ("payment_method", payment_method, set()),
        ("invoiceitem", item, set()),
        ("invoice", draft, set()),
        ("invoice", paid, set()),
        ("line_item", lines["data"][0], set()),
        ("event", events["data"][0], set()),
        # Stripe shows an endpoint's signing secret once, when creating it.
        ("webhook_endpoint", endpoint, {"secret"}),
        ("webhook_endpoint", call("GET", f"/v1/webhook_endpoints/{endpoint['id']}"), set()),
        ("invoice", events["data"][0]["data"]["object"], set()),
    ]


def test_every_object_has_stripes_fields_and_types(stripe_server):
    for kind, obj, extra in _objects_of_every_kind(stripe_server):
        example = fixture(kind)
        assert set(obj) - set(example) == extra, kind
        trimmed = {key: value for key, value in obj.items() if key not in extra}
        if kind == "event":
            # The fixture's event carries a plan; ours carry our objects (checked above).
            trimmed = {**trimmed, "data": {"object": {}}}
            example["data"] = {"object": {}}
        _assert_shaped_like(trimmed, example, kind)
        assert obj["livemode"] is False


# --- webhooks -----------------------------------------------------------------------------


@contextlib.contextmanager
def webhook_receiver(failures=0):
    """A tiny local endpoint recording (payload, Stripe-Signature); the first `failures`
    deliveries get a 500."""
    received = []
    left = {"failures": failures}

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            payload = self.rfile.read(int(self.headers["Content-Length"]))
            if left["failures"]:
                left["failures"] -= 1
                status = 500
            else:
                received.append((payload, self.headers["Stripe-Signature"]))
                status = 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/stripe/webhook", received
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_webhooks_are_delivered_signed_like_stripe(client, stripe_server):
    with webhook_receiver() as (url, received):
        endpoint = client.v1.webhook_endpoints.create(
            params={
                "url": url,
                "enabled_events": ["invoice.finalized", "invoice.paid", "invoice.payment_failed"],
            }
        )
        assert endpoint.secret.startswith("whsec_")
        # Another account's endpoint hears nothing of this account's invoices.
        raw(
            stripe_server,
            "POST",
            "/v1/webhook_endpoints",
            {"url": url, "enabled_events[0]": "*"},
            key=OTHER_KEY,
        )

        invoice = open_invoice(client, 2500)
        with pytest.raises(stripe.CardError):
            client.v1.invoices.pay(invoice.id, params={"payment_method": "pm_card_chargeDeclined"})
        client.v1.invoices.pay(invoice.id, params={"payment_method": "pm_card_visa"})
        outcome = stripe_control(stripe_server, "POST", "/_test/deliver")

    assert (outcome["delivered"], outcome["failed"], outcome["pending"]) == (3, 0, 0)
    events = [stripe.Webhook.construct_event(p, sig, endpoint.secret) for p, sig in received]
    assert sorted(event.type for event in events) == [
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_failed",
    ]
    for event in events:
        assert event.data.object.id == invoice.id
    paid = next(event for event in events if event.type == "invoice.paid")
    assert paid.data.object.status == "paid"
    assert client.v1.events.retrieve(paid.id).pending_webhooks == 0

    payload, signature = received[0]
    assert signature.startswith("t=") and ",v1=" in signature
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, signature, "whsec_not_the_secret")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(
            payload.replace(b"paid", b"void"), signature, endpoint.secret
        )


def test_a_failing_endpoint_is_retried(client, stripe_server):
    with webhook_receiver(failures=2) as (url, received):
        client.v1.webhook_endpoints.create(params={"url": url, "enabled_events": ["*"]})
        client.v1.customers.create()
        outcome = stripe_control(stripe_server, "POST", "/_test/deliver")
    assert (outcome["delivered"], outcome["attempts"]) == (1, 3)
    assert [json.loads(payload)["type"] for payload, _ in received] == ["customer.created"]
    assert stripe_control(stripe_server, "GET", "/_test/stats")["webhooks"]["delivered"] == 1


# --- faults -------------------------------------------------------------------------------


def _item_params(client):
    customer = client.v1.customers.create()
    return {"customer": customer.id, "amount": 1000, "currency": "usd"}


def test_error_fault_fails_before_the_work_and_its_key_replays_the_500(client, stripe_server):
    """Stripe keeps a key's answer once the endpoint starts, a 500 included, and replays
    it to that key for 24 hours: a retry under the same key gets the same 500 and does
    nothing; only a new key does the work."""
    params = _item_params(client)
    stripe_control(
        stripe_server,
        "POST",
        "/_test/faults",
        {"mode": "error", "rate": 1.0, "paths": ["/v1/invoiceitems"], "seed": 1},
    )
    with pytest.raises(stripe.APIError) as failed:
        client.v1.invoice_items.create(params=params, options={"idempotency_key": "k1"})
    assert failed.value.http_status == 500
    assert failed.value.headers["Stripe-Should-Retry"] == "false"
    stripe_control(stripe_server, "DELETE", "/_test/faults")

    assert client.v1.invoice_items.list().data == []
    with pytest.raises(stripe.APIError) as replayed:
        client.v1.invoice_items.create(params=params, options={"idempotency_key": "k1"})
    assert replayed.value.headers["Idempotent-Replayed"] == "true"
    assert client.v1.invoice_items.list().data == []
    item = client.v1.invoice_items.create(params=params, options={"idempotency_key": "k1-2"})
    assert item.amount == 1000
    stats = stripe_control(stripe_server, "GET", "/_test/stats")
    assert stats["faults"]["injected"] == {"error": 1}
    assert stats["requests"]["POST /v1/invoiceitems"] == 3


def test_error_after_fault_does_the_work_then_answers_500(client, stripe_server):
    params = _item_params(client)
    stripe_control(
        stripe_server, "POST", "/_test/faults", {"mode": "error_after", "paths": ["/v1/invoice"]}
    )
    with pytest.raises(stripe.APIError):
        client.v1.invoice_items.create(params=params, options={"idempotency_key": "k2"})
    stripe_control(stripe_server, "DELETE", "/_test/faults")
    made = client.v1.invoice_items.list().data
    assert len(made) == 1  # the work was done: only a look by metadata can tell
    with pytest.raises(stripe.APIError):
        client.v1.invoice_items.create(params=params, options={"idempotency_key": "k2"})
    assert len(client.v1.invoice_items.list().data) == 1


def test_an_idempotency_key_is_forgotten_after_24_hours(client, stripe_server, monkeypatch):
    from stripe_test_server import server as server_module

    params = _item_params(client)
    first = client.v1.invoice_items.create(params=params, options={"idempotency_key": "k3"})
    later = server_module.time.time() + server_module.IDEMPOTENCY_TTL_SECONDS + 1
    monkeypatch.setattr(server_module.time, "time", lambda: later)
    again = client.v1.invoice_items.create(params=params, options={"idempotency_key": "k3"})
    assert again.id != first.id


def test_lists_filter_on_created(client):
    customer = client.v1.customers.create(params={"name": "Made now"})
    now = customer.created
    assert [c.id for c in client.v1.customers.list(params={"created": {"gte": now}})] == [
        customer.id
    ]
    assert client.v1.customers.list(params={"created": {"lt": now}}).data == []
    assert client.v1.invoices.list(params={"created": {"gt": now + 10}}).data == []
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.list(params={"created": {"since": now}})


def test_drop_fault_does_the_work_and_a_keyed_retry_returns_it(client, stripe_server):
    params = _item_params(client)
    stripe_control(
        stripe_server, "POST", "/_test/faults", {"mode": "drop", "paths": ["/v1/invoiceitems"]}
    )
    with pytest.raises(stripe.APIConnectionError):
        client.v1.invoice_items.create(params=params, options={"idempotency_key": "task-9"})
    stripe_control(stripe_server, "DELETE", "/_test/faults")

    created = client.v1.invoice_items.list().data
    assert len(created) == 1
    retried = client.v1.invoice_items.create(params=params, options={"idempotency_key": "task-9"})
    assert retried.id == created[0].id
    assert len(client.v1.invoice_items.list().data) == 1


def test_timeout_fault_holds_the_answer_past_the_clients_patience(stripe_server):
    impatient = stripe.StripeClient(
        API_KEY,
        base_addresses={"api": stripe_server},
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=0.3),
    )
    stripe_control(
        stripe_server,
        "POST",
        "/_test/faults",
        {"mode": "timeout", "hold_seconds": 2, "paths": ["/v1/customers"]},
    )
    with pytest.raises(stripe.APIConnectionError):
        impatient.v1.customers.create(params={"email": "slow@acme.test"})
    stripe_control(stripe_server, "DELETE", "/_test/faults")
    assert [c.email for c in impatient.v1.customers.list().data] == ["slow@acme.test"]


def test_fault_rate_and_paths_are_honoured(client, stripe_server):
    stripe_control(
        stripe_server,
        "POST",
        "/_test/faults",
        {"mode": "error", "rate": 0.5, "paths": ["/v1/invoices"], "seed": 42},
    )
    client.v1.customers.create()  # outside the paths: never fails
    outcomes = []
    for _ in range(20):
        try:
            client.v1.invoices.list()
            outcomes.append("ok")
        except stripe.APIError:
            outcomes.append("error")
    assert 0 < outcomes.count("error") < 20
    injected = stripe_control(stripe_server, "GET", "/_test/stats")["faults"]["injected"]
    assert injected == {"error": outcomes.count("error")}
    with pytest.raises(urllib.error.HTTPError):
        stripe_control(stripe_server, "POST", "/_test/faults", {"mode": "explode"})


def test_a_mix_of_faults_injects_each_kind_in_its_share(client, stripe_server):
    stripe_control(
        stripe_server,
        "POST",
        "/_test/faults",
        {"mix": {"error": 0.3, "drop": 0.3}, "paths": ["/v1/invoices"], "seed": 5},
    )
    outcomes = []
    for _ in range(40):
        try:
            client.v1.invoices.list()
            outcomes.append("ok")
        except stripe.APIConnectionError:
            outcomes.append("drop")
        except stripe.APIError:
            outcomes.append("error")
    injected = stripe_control(stripe_server, "GET", "/_test/stats")["faults"]["injected"]
    assert injected == {"error": outcomes.count("error"), "drop": outcomes.count("drop")}
    assert min(injected.values()) > 0 and outcomes.count("ok") > 0
    for bad in (
        {"mix": {"error": 0.7, "drop": 0.7}},  # more than every request
        {"mix": {"explode": 0.1}},
        {"mix": {"error": 0.1}, "mode": "drop"},
        {"mix": {"error": "often"}},
    ):
        with pytest.raises(urllib.error.HTTPError) as refused:
            stripe_control(stripe_server, "POST", "/_test/faults", bad)
        assert refused.value.code == 400


# --- hosted invoice page ------------------------------------------------------------------


def test_hosted_page_declines_then_pays(client):
    invoice = open_invoice(client, 4321)
    page = hosted(invoice.hosted_invoice_url)
    assert "43.21 USD" in page and "data-status>open<" in page

    declined = hosted(invoice.hosted_invoice_url, "4000 0000 0000 0002")
    assert "Your card was declined." in declined and "data-status>open<" in declined
    assert client.v1.invoices.retrieve(invoice.id).attempt_count == 1

    paid = hosted(invoice.hosted_invoice_url, "4242424242424242")
    assert "Payment succeeded" in paid and "data-status>paid<" in paid
    invoice = client.v1.invoices.retrieve(invoice.id)
    assert (invoice.status, invoice.amount_paid) == ("paid", 4321)


# --- errors and accounts ------------------------------------------------------------------


def test_requests_without_a_test_key_are_refused(stripe_server):
    status, _, body = raw(stripe_server, "GET", "/v1/customers", key=None)
    assert status == 401 and body["error"]["type"] == "invalid_request_error"
    live = stripe.StripeClient(
        "sk_live_nope", base_addresses={"api": stripe_server}, max_network_retries=0
    )
    with pytest.raises(stripe.AuthenticationError):
        live.v1.customers.list()


def test_unknown_ids_params_and_other_accounts(client, stripe_server):
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.invoices.retrieve("in_nope")
    assert (unknown.value.http_status, unknown.value.code) == (404, "resource_missing")

    with pytest.raises(stripe.InvalidRequestError) as bad:
        client.v1.invoice_items.create(
            params={"customer": client.v1.customers.create().id, "amount": "ten", "currency": "usd"}
        )
    assert (bad.value.http_status, bad.value.param) == (400, "amount")
    with pytest.raises(stripe.InvalidRequestError) as extra:
        client.v1.customers.create(params={"colour": "blue"})
    assert extra.value.param == "colour"

    mine = client.v1.customers.create()
    status, _, body = raw(stripe_server, "GET", f"/v1/customers/{mine.id}", key=OTHER_KEY)
    assert status == 404 and body["error"]["code"] == "resource_missing"


def test_expand_replaces_ids_with_objects(client):
    invoice = open_invoice(client, 100)
    expanded = client.v1.invoices.retrieve(invoice.id, params={"expand": ["customer"]})
    assert expanded.customer.object == "customer" and expanded.customer.id == invoice.customer


def test_reset_forgets_everything(client, stripe_server):
    client.v1.customers.create()
    stripe_control(stripe_server, "POST", "/_test/reset")
    assert client.v1.customers.list().data == []


def test_form_bodies_parse_into_nested_params():
    assert parse_form(
        "metadata[task]=12&metadata[7]=x&expand[0]=lines&expand[1]=customer"
        "&invoice_settings[default_payment_method]=pm_1&types[]=a&types[]=b&description="
    ) == {
        "metadata": {"task": "12", "7": "x"},
        "expand": ["lines", "customer"],
        "invoice_settings": {"default_payment_method": "pm_1"},
        "types": ["a", "b"],
        "description": "",
    }
