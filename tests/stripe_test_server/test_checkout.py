"""Saving a card for later on the Stripe test server, as Stripe does it: a Checkout
Session in setup mode and its hosted page, the SetupIntent it completes, and the customer
portal where cards are made the default or removed. Driven through the real stripe SDK
over HTTP, and the hosted pages as a browser posts them."""

import json
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest
import stripe

from stripe_test_server.api import EVENT_TYPES
from stripe_test_server.fixtures import fixture
from tests.stripe_test_server.test_stripe_test_server import (
    API_KEY,
    OTHER_KEY,
    _assert_shaped_like,
    raw,
)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 303 is answered as it is, for the test to read


_browser = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())


def browse(url: str, form: dict | None = None) -> tuple[int, dict, str]:
    """GET a hosted page, or POST a form to it: (status, headers, body), redirects not
    followed."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    try:
        with _browser.open(urllib.request.Request(url, data=data), timeout=10) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def save_card(url: str, card_number="4242424242424242") -> tuple[int, dict, str]:
    return browse(url, {"card_number": card_number})


def portal_act(url: str, action: str, payment_method: str) -> tuple[int, dict, str]:
    return browse(url, {"action": action, "payment_method": payment_method})


@pytest.fixture
def client(stripe_server):
    return stripe.StripeClient(
        API_KEY, base_addresses={"api": stripe_server}, max_network_retries=0
    )


@pytest.fixture
def customer(client):
    return client.v1.customers.create(params={"name": "Cedar Legal", "email": "ap@cedar.test"})


def setup_session(client, customer_id, **params):
    return client.v1.checkout.sessions.create(
        params={
            "mode": "setup",
            "customer": customer_id,
            "currency": "usd",
            "success_url": "https://app.test/our-invoices/?card_setup={CHECKOUT_SESSION_ID}",
            "cancel_url": "https://app.test/our-invoices/?card_setup=cancelled",
            **params,
        }
    )


def event_types(client, limit=10) -> list[str]:
    """The account's latest events, oldest first."""
    listed = client.v1.events.list(params={"limit": limit}).data
    return [event.type for event in reversed(listed)]


# -- Checkout in setup mode ------------------------------------------------------------------


def test_a_setup_session_is_open_with_a_setup_intent_and_a_hosted_page(
    client, customer, stripe_server
):
    session = setup_session(client, customer.id, metadata={"client_id": "7"})
    assert session.id.startswith("cs_test_") and session.object == "checkout.session"
    assert (session.mode, session.status, session.payment_status) == (
        "setup",
        "open",
        "no_payment_required",
    )
    assert (session.customer, session.currency) == (customer.id, "usd")
    assert session.url == f"{stripe_server}/hosted/checkout/{session.id}"
    assert session.success_url.endswith("card_setup={CHECKOUT_SESSION_ID}")  # kept as given
    assert session.metadata.to_dict() == {"client_id": "7"}
    assert session.expires_at - session.created == 24 * 3600
    intent = client.v1.setup_intents.retrieve(session.setup_intent)
    assert (intent.status, intent.customer, intent.payment_method) == (
        "requires_payment_method",
        customer.id,
        None,
    )
    assert intent.usage == "off_session" and intent.client_secret.startswith(intent.id)
    expanded = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["setup_intent"]})
    assert expanded.setup_intent.id == intent.id and expanded.setup_intent.object == "setup_intent"
    # Another account sees none of it.
    status, _, body = raw(
        stripe_server, "GET", f"/v1/checkout/sessions/{session.id}", key=OTHER_KEY
    )
    assert status == 404 and body["error"]["code"] == "resource_missing"


def test_setup_mode_wants_a_currency_stripe_charges_in_unless_the_types_are_given(client, customer):
    with pytest.raises(stripe.InvalidRequestError) as missing:
        setup_session(client, customer.id, currency="")
    assert missing.value.param == "currency"
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        setup_session(client, customer.id, currency="xyz")
    assert unknown.value.param == "currency"
    typed = setup_session(client, customer.id, currency="", payment_method_types=["card"])
    assert typed.currency is None and typed.payment_method_types == ["card"]
    with pytest.raises(stripe.InvalidRequestError) as not_a_card:
        setup_session(client, customer.id, payment_method_types=["sepa_debit"])
    assert not_a_card.value.param == "payment_method_types"


def test_a_session_is_refused_what_stripe_refuses(client, customer):
    for params, param in [
        ({"mode": "payment"}, "mode"),
        ({"mode": ""}, "mode"),
        ({"customer": "cus_nobody"}, "customer"),
        ({"success_url": "not a url"}, "success_url"),
        ({"expires_at": "1"}, "expires_at"),
        ({"shipping_address_collection": {"allowed_countries": ["US"]}}, None),
    ]:
        with pytest.raises(stripe.InvalidRequestError) as refused:
            setup_session(client, customer.id, **params)
        if param:
            assert refused.value.param == param, params


def test_a_good_card_on_the_hosted_page_saves_it_and_goes_on_to_success_url(client, customer):
    session = setup_session(client, customer.id)
    status, _, body = browse(session.url)
    assert status == 200 and "Cedar Legal" in body and "<form" in body
    assert "data-status>open<" in body

    status, headers, _ = save_card(session.url, "4242 4242 4242 4242")
    assert status == 303
    assert headers["Location"] == f"https://app.test/our-invoices/?card_setup={session.id}"

    done = client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["setup_intent"]})
    assert (done.status, done.url) == ("complete", None)
    assert done.customer_details.email == "ap@cedar.test"
    intent = done.setup_intent
    assert intent.status == "succeeded" and intent.payment_method.startswith("pm_")
    card = client.v1.payment_methods.retrieve(intent.payment_method)
    assert (card.customer, card.card.brand, card.card.last4) == (customer.id, "visa", "4242")
    listed = client.v1.customers.payment_methods.list(customer.id).data
    assert [pm.id for pm in listed] == [card.id]
    # As on Stripe, the card is saved, not made the default: the integration does that.
    assert client.v1.customers.retrieve(customer.id).invoice_settings.default_payment_method is None
    assert event_types(client, 3) == [
        "payment_method.attached",
        "setup_intent.succeeded",
        "checkout.session.completed",
    ]
    completed = client.v1.events.list(params={"type": "checkout.session.completed"}).data[0]
    assert completed.data.object.id == session.id and completed.request.id is None


def test_a_declined_card_is_refused_on_the_page_and_changes_nothing(client, customer):
    session = setup_session(client, customer.id)
    before = event_types(client, 100)
    for number, said in [
        ("4000000000000002", "Your card was declined."),
        ("4000000000009995", "Your card has insufficient funds."),
        ("1234", "Use a Stripe test card number"),
    ]:
        status, _, body = save_card(session.url, number)
        assert status == 200 and said in body and "<form" in body
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    assert client.v1.setup_intents.retrieve(session.setup_intent).payment_method is None
    assert client.v1.customers.payment_methods.list(customer.id).data == []
    assert event_types(client, 100) == before


def test_a_card_that_declines_charges_is_saved_all_the_same(client, customer):
    session = setup_session(client, customer.id)
    assert save_card(session.url, "4000 0000 0000 0341")[0] == 303
    intent = client.v1.setup_intents.retrieve(session.setup_intent)
    assert client.v1.payment_methods.retrieve(intent.payment_method).card.last4 == "0341"


def test_a_complete_or_expired_session_takes_no_second_card(client, customer):
    session = setup_session(client, customer.id)
    assert save_card(session.url)[0] == 303
    status, _, body = save_card(session.url, "5555555555554444")
    assert status == 409 and "complete" in body and "<form" not in body
    assert len(client.v1.customers.payment_methods.list(customer.id).data) == 1
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.expire(session.id)

    abandoned = setup_session(client, customer.id)
    expired = client.v1.checkout.sessions.expire(abandoned.id)
    assert (expired.status, expired.url) == ("expired", None)
    assert client.v1.setup_intents.retrieve(abandoned.setup_intent).status == "canceled"
    assert event_types(client, 2) == ["setup_intent.canceled", "checkout.session.expired"]
    status, _, body = save_card(abandoned.url)
    assert status == 409 and "expired" in body
    assert len(client.v1.customers.payment_methods.list(customer.id).data) == 1


def test_unknown_sessions_have_no_page(stripe_server):
    for path in ("/hosted/checkout/cs_test_nothing", "/hosted/billing_portal/bps_nothing"):
        assert browse(f"{stripe_server}{path}")[0] == 404
        assert browse(f"{stripe_server}{path}", {"card_number": "4242424242424242"})[0] == 404


# -- the customer portal ---------------------------------------------------------------------


def saved(client, customer_id, card_number="4242424242424242") -> str:
    session = setup_session(client, customer_id)
    assert save_card(session.url, card_number)[0] == 303
    return client.v1.setup_intents.retrieve(session.setup_intent).payment_method


def test_the_portal_lists_the_cards_and_makes_one_the_default(client, customer, stripe_server):
    visa, mastercard = saved(client, customer.id), saved(client, customer.id, "5555555555554444")
    portal = client.v1.billing_portal.sessions.create(
        params={"customer": customer.id, "return_url": "https://app.test/our-invoices/"}
    )
    assert portal.id.startswith("bps_") and portal.object == "billing_portal.session"
    assert portal.url == f"{stripe_server}/hosted/billing_portal/{portal.id}"
    assert portal.configuration.startswith("bpc_") and portal.livemode is False
    status, _, body = browse(portal.url)
    assert status == 200 and "Visa •••• 4242" in body and "Mastercard •••• 4444" in body
    assert "data-default" not in body
    assert "href='https://app.test/our-invoices/' data-return" in body

    status, _, body = portal_act(portal.url, "default", mastercard)
    assert status == 200 and "Mastercard •••• 4444 is now the default." in body
    assert re.search(rf"data-card='{mastercard}'>.*?data-default", body)
    after = client.v1.customers.retrieve(customer.id)
    assert after.invoice_settings.default_payment_method == mastercard
    updated = client.v1.events.list(params={"type": "customer.updated", "limit": 1}).data[0]
    assert updated.data.object.invoice_settings.default_payment_method == mastercard
    assert updated.data.previous_attributes.invoice_settings.default_payment_method is None
    # Another customer's card is not this portal's to touch.
    other = client.v1.customers.create()
    theirs = saved(client, other.id)
    status, _, _ = portal_act(portal.url, "default", theirs)
    assert status == 404
    assert client.v1.customers.retrieve(other.id).invoice_settings.default_payment_method is None
    assert visa in [pm.id for pm in client.v1.customers.payment_methods.list(customer.id).data]


def test_removing_the_default_card_in_the_portal_leaves_no_default(client, customer):
    card = saved(client, customer.id)
    client.v1.customers.update(
        customer.id, params={"invoice_settings": {"default_payment_method": card}}
    )
    portal = client.v1.billing_portal.sessions.create(params={"customer": customer.id})
    status, _, body = portal_act(portal.url, "remove", card)
    assert status == 200 and "Visa •••• 4242 removed." in body and "data-no-cards" in body
    assert "data-return" not in body  # no return_url given
    assert client.v1.payment_methods.retrieve(card).customer is None
    assert client.v1.customers.retrieve(customer.id).invoice_settings.default_payment_method is None
    assert event_types(client, 2) == ["payment_method.detached", "customer.updated"]
    detached = client.v1.events.list(params={"type": "payment_method.detached"}).data[0]
    assert detached.data.previous_attributes.customer == customer.id
    assert portal_act(portal.url, "remove", card)[0] == 404  # gone already
    assert portal_act(portal.url, "explode", card)[0] == 404


def test_a_portal_session_wants_a_customer_of_the_account(client, customer, stripe_server):
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.billing_portal.sessions.create(params={})
    assert refused.value.param == "customer"
    status, _, _ = raw(
        stripe_server,
        "POST",
        "/v1/billing_portal/sessions",
        {"customer": customer.id},
        key=OTHER_KEY,
    )
    assert status == 404


# -- the API's own attach, detach and update say so too --------------------------------------


def test_attaching_detaching_and_updating_through_the_api_emit_their_events(client, customer):
    card = client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    client.v1.customers.update(
        customer.id, params={"invoice_settings": {"default_payment_method": card.id}}
    )
    client.v1.customers.update(customer.id, params={"name": "Cedar Legal"})  # no change
    client.v1.payment_methods.detach(card.id)
    assert event_types(client, 4) == [
        "payment_method.attached",
        "customer.updated",
        "payment_method.detached",
        "customer.updated",
    ]
    first_update = client.v1.events.list(params={"type": "customer.updated"}).data[1]
    assert first_update.data.previous_attributes.to_dict() == {
        "invoice_settings": {"default_payment_method": None}
    }


def test_every_new_event_type_is_declared():
    for kind in (
        "checkout.session.completed",
        "checkout.session.expired",
        "setup_intent.created",
        "setup_intent.succeeded",
        "setup_intent.canceled",
        "payment_method.attached",
        "payment_method.detached",
        "customer.updated",
    ):
        assert kind in EVENT_TYPES


# -- shapes ----------------------------------------------------------------------------------


def test_sessions_intents_and_their_events_have_stripes_fields_and_types(
    client, customer, stripe_server
):
    def get(path):
        status, _, body = raw(stripe_server, "GET", path)
        assert status == 200, body
        return body

    session = setup_session(client, customer.id)
    shapes = [
        ("checkout.session", get(f"/v1/checkout/sessions/{session.id}")),
        ("setup_intent", get(f"/v1/setup_intents/{session.setup_intent}")),
    ]
    save_card(session.url)
    shapes += [
        ("checkout.session", get(f"/v1/checkout/sessions/{session.id}")),
        ("setup_intent", get(f"/v1/setup_intents/{session.setup_intent}")),
    ]
    status, _, portal = raw(
        stripe_server,
        "POST",
        "/v1/billing_portal/sessions",
        {"customer": customer.id, "return_url": "https://app.test/"},
    )
    assert status == 200
    shapes.append(("billing_portal.session", portal))
    for event in get("/v1/events?limit=20")["data"]:
        kind = event["data"]["object"]["object"]
        if kind in ("checkout.session", "setup_intent", "payment_method"):
            shapes.append((kind, event["data"]["object"]))
    assert {kind for kind, _ in shapes} >= {"checkout.session", "setup_intent", "payment_method"}
    for kind, obj in shapes:
        _assert_shaped_like(obj, fixture(kind), kind)
        assert obj["livemode"] is False
        json.dumps(obj)  # plain JSON all through
