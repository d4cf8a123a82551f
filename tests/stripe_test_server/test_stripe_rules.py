"""The Stripe test server keeps Stripe's rules: the currencies and amounts it refuses, the
minimum charge, automatic advancement, events' API versions, restricted keys and its port.
Driven through the real stripe SDK over HTTP."""

import contextlib
import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import stripe

from stripe_test_server.api import DEFAULT_API_VERSION
from stripe_test_server.currencies import (
    MINIMUM_CHARGE_AMOUNTS,
    SUPPORTED_CURRENCIES,
    THREE_DECIMAL_CURRENCIES,
    ZERO_DECIMAL_CURRENCIES,
)
from tests.conftest import stripe_control
from tests.stripe_test_server.test_stripe_test_server import (
    API_KEY,
    OTHER_KEY,
    hosted,
    raw,
    webhook_receiver,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def client(stripe_server):
    return stripe.StripeClient(
        API_KEY, base_addresses={"api": stripe_server}, max_network_retries=0
    )


def item(client, customer_id, amount, currency="usd", **params):
    return client.v1.invoice_items.create(
        params={"customer": customer_id, "amount": amount, "currency": currency, **params}
    )


def finalized(client, customer_id, *amounts, currency="usd", **invoice_params):
    """Bill `amounts` to the customer on one invoice and finalize it."""
    for amount in amounts:
        item(client, customer_id, amount, currency)
    invoice = client.v1.invoices.create(
        params={
            "customer": customer_id,
            "pending_invoice_items_behavior": "include",
            "currency": currency,
            **invoice_params,
        }
    )
    return client.v1.invoices.finalize_invoice(invoice.id)


# --- currencies and amounts ---------------------------------------------------------------


def test_the_currency_lists_are_stripes():
    assert len(SUPPORTED_CURRENCIES) == 139
    assert {"usd", "eur", "gbp", "jpy", "isk", "huf", "twd", "ugx", "kwd"} <= SUPPORTED_CURRENCIES
    assert not {"xxx", "xts", "zwl", "hrk"} & SUPPORTED_CURRENCIES
    zero_decimal = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf"}
    zero_decimal |= {"ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
    assert zero_decimal == ZERO_DECIMAL_CURRENCIES
    assert {"bhd", "jod", "kwd", "omr", "tnd"} == THREE_DECIMAL_CURRENCIES
    assert (MINIMUM_CHARGE_AMOUNTS["usd"], MINIMUM_CHARGE_AMOUNTS["gbp"]) == (50, 30)
    assert (MINIMUM_CHARGE_AMOUNTS["jpy"], MINIMUM_CHARGE_AMOUNTS["huf"]) == (50, 17500)
    assert set(MINIMUM_CHARGE_AMOUNTS) <= SUPPORTED_CURRENCIES


@pytest.mark.parametrize("code", ["xxx", "xts", "zwl", "XTS", "usdx", "hrk"])
def test_currencies_stripe_does_not_charge_in_are_refused(client, code):
    customer = client.v1.customers.create()
    with pytest.raises(stripe.InvalidRequestError) as refused:
        item(client, customer.id, 1000, code)
    error = refused.value
    assert (error.http_status, error.param, error.error.type) == (
        400,
        "currency",
        "invalid_request_error",
    )
    assert error.user_message.startswith(
        f"Invalid currency: {code.lower()}. Stripe currently supports these currencies: usd, aed,"
    )
    with pytest.raises(stripe.InvalidRequestError) as on_invoice:
        client.v1.invoices.create(params={"customer": customer.id, "currency": code})
    assert (on_invoice.value.http_status, on_invoice.value.param) == (400, "currency")
    assert client.v1.invoice_items.list().data == []


@pytest.mark.parametrize(
    ("currency", "amount"),
    [
        ("usd", 1234),
        ("eur", 1),
        ("gbp", 99),
        ("jpy", 501),  # zero-decimal: whole yen
        ("krw", 12345),
        ("huf", 17555),  # sent in hundredths
        ("twd", 3001),
        ("ugx", 150001),  # on the zero-decimal list, but sent in hundredths
        ("isk", 50000),  # two decimals, whole krónur
        ("kwd", 5120),  # three decimals ending in 0
        ("bhd", -30),
    ],
)
def test_amounts_stripe_accepts_in_each_kind_of_currency(client, currency, amount):
    customer = client.v1.customers.create()
    created = item(client, customer.id, amount, currency.upper())
    assert (created.amount, created.currency) == (amount, currency)


def test_isk_amounts_must_be_whole_kronur(client):
    customer = client.v1.customers.create()
    with pytest.raises(stripe.InvalidRequestError) as refused:
        item(client, customer.id, 50050, "isk")
    assert (refused.value.http_status, refused.value.param) == (400, "amount")
    assert refused.value.error.type == "invalid_request_error"
    assert "divisible by 100" in refused.value.user_message
    with pytest.raises(stripe.InvalidRequestError) as per_unit:
        client.v1.invoice_items.create(
            params={
                "customer": customer.id,
                "unit_amount": 150,
                "quantity": 2,
                "currency": "isk",
            }
        )
    assert per_unit.value.param == "unit_amount"
    assert client.v1.invoice_items.list().data == []
    assert item(client, customer.id, 100, "isk").amount == 100


@pytest.mark.parametrize("currency", sorted(THREE_DECIMAL_CURRENCIES))
def test_three_decimal_amounts_must_end_in_zero(client, currency):
    customer = client.v1.customers.create()
    for amount in (5125, 1, -15):
        with pytest.raises(stripe.InvalidRequestError) as refused:
            item(client, customer.id, amount, currency)
        assert (refused.value.http_status, refused.value.param) == (400, "amount")
        assert "last digit must be 0" in refused.value.user_message
    assert item(client, customer.id, 5120, currency).amount == 5120


def test_the_hosted_page_shows_amounts_in_each_currencys_unit(client):
    for currency, amount, shown in (
        ("kwd", 5120, "5.120 KWD"),
        ("isk", 50000, "500 ISK"),
        ("huf", 17550, "175.50 HUF"),
        ("ugx", 150000, "1,500.00 UGX"),
        ("jpy", 5000, "5,000 JPY"),
    ):
        customer = client.v1.customers.create()
        invoice = finalized(client, customer.id, amount, currency=currency)
        assert shown in hosted(invoice.hosted_invoice_url), currency


# --- the minimum charge -------------------------------------------------------------------


def test_an_invoice_below_the_minimum_charge_is_paid_and_its_amount_moves_to_the_balance(
    client, stripe_server
):
    with webhook_receiver() as (url, received):
        endpoint = client.v1.webhook_endpoints.create(params={"url": url, "enabled_events": ["*"]})
        customer = client.v1.customers.create()
        assert customer.balance == 0
        small = finalized(client, customer.id, 30)
        stripe_control(stripe_server, "POST", "/_test/deliver")

    assert (small.status, small.total, small.amount_due) == ("paid", 30, 0)
    assert (small.amount_paid, small.amount_remaining) == (0, 0)
    assert (small.starting_balance, small.ending_balance) == (0, 30)
    assert small.attempt_count == 0 and small.auto_advance is False
    assert small.status_transitions.paid_at is not None
    assert client.v1.customers.retrieve(customer.id).balance == 30

    # Oldest first: what finalizing the invoice set off, in order; no charge was tried.
    listed = [event.type for event in reversed(client.v1.events.list(params={"limit": 4}).data)]
    assert listed == [
        "invoice.finalized",
        "customer.updated",
        "invoice.paid",
        "invoice.payment_succeeded",
    ]
    events = [stripe.Webhook.construct_event(p, sig, endpoint.secret) for p, sig in received]
    assert {"invoice.finalized", "customer.updated", "invoice.paid"} <= {e.type for e in events}
    assert "invoice.payment_failed" not in {event.type for event in events}
    updated = next(event for event in events if event.type == "customer.updated")
    assert updated.data.object.balance == 30
    assert updated.data.previous_attributes.balance == 0
    paid = next(event for event in events if event.type == "invoice.paid")
    assert (paid.data.object.status, paid.data.object.ending_balance) == ("paid", 30)

    # The next invoice starts from the balance and collects it.
    draft = client.v1.invoices.create(params={"customer": customer.id})
    item(client, customer.id, 100, invoice=draft.id)
    draft = client.v1.invoices.retrieve(draft.id)
    assert (draft.total, draft.starting_balance, draft.amount_due) == (100, 30, 130)
    assert draft.ending_balance is None
    next_invoice = client.v1.invoices.finalize_invoice(draft.id)
    assert (next_invoice.status, next_invoice.amount_due) == ("open", 130)
    assert (next_invoice.starting_balance, next_invoice.ending_balance) == (30, 0)
    assert client.v1.customers.retrieve(customer.id).balance == 0
    paid = client.v1.invoices.pay(next_invoice.id, params={"payment_method": "pm_card_visa"})
    assert (paid.status, paid.amount_paid, paid.amount_remaining) == ("paid", 130, 0)


def test_small_amounts_add_up_until_they_can_be_charged(client):
    customer = client.v1.customers.create()
    first = finalized(client, customer.id, 20)
    second = finalized(client, customer.id, 20)
    assert (first.status, second.status) == ("paid", "paid")
    assert (second.starting_balance, second.ending_balance) == (20, 40)
    assert client.v1.customers.retrieve(customer.id).balance == 40
    third = finalized(client, customer.id, 20)
    assert (third.status, third.amount_due, third.total) == ("open", 60, 20)
    assert client.v1.customers.retrieve(customer.id).balance == 0


@pytest.mark.parametrize(
    ("currency", "below", "at_least"),
    [("usd", 49, 50), ("eur", 49, 50), ("gbp", 29, 30), ("jpy", 49, 50), ("huf", 17400, 17500)],
)
def test_the_minimum_follows_the_currency(client, currency, below, at_least):
    customer = client.v1.customers.create()
    assert finalized(client, customer.id, below, currency=currency).status == "paid"
    other = client.v1.customers.create()
    charged = finalized(client, other.id, at_least, currency=currency)
    assert (charged.status, charged.amount_due) == ("open", at_least)


def test_no_minimum_is_applied_where_stripe_publishes_none(client):
    # Stripe converts these to the settlement currency's minimum; without exchange rates
    # the server charges whatever is due.
    customer = client.v1.customers.create()
    invoice = finalized(client, customer.id, 10, currency="kwd")
    assert (invoice.status, invoice.amount_due) == ("open", 10)


def test_paying_or_sending_a_draft_below_the_minimum_charges_nothing(client):
    customer = client.v1.customers.create()
    item(client, customer.id, 25)
    draft = client.v1.invoices.create(
        params={"customer": customer.id, "pending_invoice_items_behavior": "include"}
    )
    paid = client.v1.invoices.pay(draft.id)  # no card needed: nothing is charged
    assert (paid.status, paid.attempt_count, paid.ending_balance) == ("paid", 0, 25)

    sent = finalized(client, customer.id, 10, collection_method="send_invoice", days_until_due=7)
    assert (sent.status, sent.starting_balance, sent.ending_balance) == ("paid", 25, 35)
    with pytest.raises(stripe.InvalidRequestError) as already:
        client.v1.invoices.pay(sent.id, params={"payment_method": "pm_card_visa"})
    assert already.value.code == "invoice_already_paid"


def test_drafts_show_the_balance_as_it_changes_and_voiding_gives_it_back(client):
    customer = client.v1.customers.create()
    waiting = client.v1.invoices.create(params={"customer": customer.id})
    finalized(client, customer.id, 40)
    waiting = client.v1.invoices.retrieve(waiting.id)
    assert (waiting.starting_balance, waiting.amount_due) == (40, 40)

    item(client, customer.id, 500, invoice=waiting.id)
    opened = client.v1.invoices.finalize_invoice(waiting.id)
    assert (opened.amount_due, opened.ending_balance) == (540, 0)
    assert client.v1.customers.retrieve(customer.id).balance == 0
    voided = client.v1.invoices.void_invoice(opened.id)
    assert voided.status == "void"
    assert client.v1.customers.retrieve(customer.id).balance == 40


# --- automatic advancement ----------------------------------------------------------------


def test_paid_void_and_uncollectible_invoices_never_auto_advance(client):
    customer = client.v1.customers.create()
    invoices = [finalized(client, customer.id, 1000, auto_advance=True) for _ in range(3)]
    assert [invoice.auto_advance for invoice in invoices] == [True, True, True]

    paid = client.v1.invoices.pay(invoices[0].id, params={"payment_method": "pm_card_visa"})
    voided = client.v1.invoices.void_invoice(invoices[1].id)
    lost = client.v1.invoices.mark_uncollectible(invoices[2].id)
    assert [invoice.auto_advance for invoice in (paid, voided, lost)] == [False, False, False]
    for invoice in (paid, voided, lost):
        assert client.v1.invoices.retrieve(invoice.id).auto_advance is False
        with pytest.raises(stripe.InvalidRequestError) as refused:
            client.v1.invoices.update(invoice.id, params={"auto_advance": True})
        assert refused.value.param == "auto_advance"

    nothing_due = client.v1.invoices.create(params={"customer": customer.id, "auto_advance": True})
    settled = client.v1.invoices.finalize_invoice(nothing_due.id, params={"auto_advance": True})
    assert (settled.status, settled.auto_advance) == ("paid", False)

    still_open = finalized(client, customer.id, 1000)
    updated = client.v1.invoices.update(still_open.id, params={"auto_advance": True})
    assert updated.auto_advance is True


# --- API versions of events ---------------------------------------------------------------


def test_each_endpoint_receives_events_in_its_api_version(client, stripe_server):
    with (
        webhook_receiver() as (pinned_url, pinned),
        webhook_receiver() as (default_url, default),
    ):
        client.v1.webhook_endpoints.create(
            params={
                "url": pinned_url,
                "enabled_events": ["customer.created"],
                "api_version": "2024-06-20",
            }
        )
        plain = client.v1.webhook_endpoints.create(
            params={"url": default_url, "enabled_events": ["customer.created"]}
        )
        assert plain.api_version is None
        customer = client.v1.customers.create()
        stripe_control(stripe_server, "POST", "/_test/deliver")

    [(pinned_payload, _)] = pinned
    [(default_payload, _)] = default
    pinned_event, default_event = json.loads(pinned_payload), json.loads(default_payload)
    assert pinned_event["id"] == default_event["id"]
    assert pinned_event["data"]["object"]["id"] == customer.id
    assert pinned_event["api_version"] == "2024-06-20"
    # Without its own version an endpoint gets the account's: the one the SDK calls with.
    assert default_event["api_version"] == stripe.api_version
    assert client.v1.events.retrieve(default_event["id"]).api_version == stripe.api_version


def test_an_account_that_never_named_a_version_gets_the_default(stripe_server):
    status, _, _ = raw(stripe_server, "POST", "/v1/customers", key=OTHER_KEY)
    assert status == 200
    status, _, events = raw(stripe_server, "GET", "/v1/events", key=OTHER_KEY)
    assert status == 200
    assert [event["api_version"] for event in events["data"]] == [DEFAULT_API_VERSION]


def test_a_malformed_endpoint_api_version_is_refused(client):
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.webhook_endpoints.create(
            params={"url": "http://127.0.0.1:9/hook", "enabled_events": ["*"], "api_version": "v2"}
        )
    assert (refused.value.http_status, refused.value.param) == (400, "api_version")


# --- restricted keys ----------------------------------------------------------------------


def test_restricted_test_keys_work_like_secret_keys(stripe_server):
    restricted = stripe.StripeClient(
        "rk_test_agency_one", base_addresses={"api": stripe_server}, max_network_retries=0
    )
    customer = restricted.v1.customers.create(params={"email": "rk@acme.test"})
    assert [c.id for c in restricted.v1.customers.list().data] == [customer.id]
    # Each key is its own account.
    status, _, body = raw(stripe_server, "GET", "/v1/customers", key=API_KEY)
    assert status == 200 and body["data"] == []

    live = stripe.StripeClient(
        "rk_live_agency_one", base_addresses={"api": stripe_server}, max_network_retries=0
    )
    with pytest.raises(stripe.AuthenticationError):
        live.v1.customers.list()


# --- the port -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def _serve(*args, env_port=None):
    """Run `python -m stripe_test_server` and yield the address it says it listens on."""
    env = {k: v for k, v in os.environ.items() if k != "STRIPE_TEST_SERVER_PORT"}
    if env_port is not None:
        env["STRIPE_TEST_SERVER_PORT"] = str(env_port)
    process = subprocess.Popen(
        [sys.executable, "-m", "stripe_test_server", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert "listening on" in line, process.stderr.read()
        yield line.rsplit(" ", 1)[-1].strip()
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()


def _answers(base_url) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{base_url}/_test/faults", timeout=10) as response:
        return response.status == 200


def test_the_port_comes_from_the_command_line_or_the_environment():
    from_env = _free_port()
    with _serve(env_port=from_env) as base_url:
        assert base_url == f"http://127.0.0.1:{from_env}" and _answers(base_url)

    from_flag = _free_port()
    with _serve("--port", str(from_flag), env_port=from_env) as base_url:
        assert base_url == f"http://127.0.0.1:{from_flag}" and _answers(base_url)

    refused = subprocess.run(
        [sys.executable, "-m", "stripe_test_server"],
        cwd=REPO,
        env={**os.environ, "STRIPE_TEST_SERVER_PORT": "not-a-port"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert refused.returncode == 2 and "STRIPE_TEST_SERVER_PORT" in refused.stderr
