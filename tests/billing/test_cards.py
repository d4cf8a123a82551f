"""Cards on file from the browser: a client's people save, replace and remove the card
their invoices are charged to, on Stripe's own pages (Checkout in setup mode, the customer
portal), against the in-repo Stripe test server over real HTTP; what the webhooks say is
applied the same way, once."""

import datetime as dt
from urllib.parse import urlsplit

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse

from billing.cards import (
    CARD_EVENTS,
    card_event_apply,
    card_missing,
    card_on_file,
    card_setup_finish,
    card_setup_start,
)
from billing.models import Invoice
from core.errors import ApplicationError
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope
from tests.billing.test_invoice_pages import make_invoice
from tests.billing.test_invoicing import make_charge, per_task, push
from tests.conftest import stripe_control
from tests.factories import AgencyFactory, ClientFactory, MembershipFactory
from tests.stripe_test_server.test_checkout import browse, portal_act, save_card


@pytest.fixture
def person(member):
    """A client member whose client has a live per-task "card on file" contract."""
    person = member(Role.CLIENT)
    person.line = per_task(person.agency, person.client, fee=4000)
    return person


@pytest.fixture
def http(person, signed_in):
    return signed_in(person.user)


def invoices_url(agency) -> str:
    return reverse("our_invoices", args=[agency.slug])


def start_setup(http, agency) -> str:
    """Press "Add a card": the Checkout page's URL on the test server."""
    response = http.post(reverse("our_card_setup", args=[agency.slug]))
    assert response.status_code == 303, response.content
    return response["Location"]


def come_back(http, location: str):
    """Follow Stripe's redirect back to our site, as the browser does."""
    parts = urlsplit(location)
    assert parts.netloc == "testserver"
    return http.get(f"{parts.path}?{parts.query}", follow=True)


def add_card(http, agency, card_number="4242424242424242"):
    checkout = start_setup(http, agency)
    status, headers, body = save_card(checkout, card_number)
    assert status == 303, body
    return come_back(http, headers["Location"])


def said(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def default_card(sdk, customer_id):
    customer = sdk.v1.customers.retrieve(
        customer_id, params={"expand": ["invoice_settings.default_payment_method"]}
    )
    return customer.invoice_settings.default_payment_method


def customer_of(person) -> str:
    person.client.refresh_from_db()
    return person.client.stripe_customer_id


def bill(person):
    """The next per-task charge of the client, pushed to Stripe: its invoice."""
    invoice = push(person.agency, make_charge(person.agency, person.line))
    with agency_scope(person.agency):
        return Invoice.objects.get(pk=invoice.pk)


# -- saving a card -----------------------------------------------------------------------------


def test_a_card_saved_on_stripes_page_pays_the_next_invoice(person, http, stripe_on):
    agency = person.agency
    page = http.get(invoices_url(agency)).content.decode()
    assert 'data-testid="no-card"' in page and 'data-testid="card-missing"' in page
    assert "Add a card" in page and 'data-testid="card-portal"' not in page

    checkout = start_setup(http, agency)
    session_id = checkout.rsplit("/", 1)[1]
    session = stripe_on.v1.checkout.sessions.retrieve(session_id)
    assert (session.mode, session.currency, session.status) == ("setup", "usd", "open")
    assert session.customer == customer_of(person)
    assert session.metadata["client_id"] == str(person.client.pk)
    status, _, body = browse(checkout)
    assert status == 200 and person.client.name in body

    status, headers, _ = save_card(checkout)
    assert status == 303
    assert headers["Location"] == (
        f"http://testserver{invoices_url(agency)}?card_setup={session_id}"
    )
    back = come_back(http, headers["Location"])
    assert back.redirect_chain[-1][0] == invoices_url(agency)  # the id is not left in the URL
    assert said(back) == ["Card saved."]
    html = back.content.decode()
    assert "Visa •••• 4242" in html and "Replace the card" in html
    assert 'data-testid="card-missing"' not in html and 'data-testid="card-portal"' in html
    card = default_card(stripe_on, customer_of(person))
    assert (card.card.last4, card.customer) == ("4242", customer_of(person))
    with agency_scope(agency):
        saved = AuditEvent.objects.get(action="client.card_saved")
    assert saved.actor == person.user and saved.details["payment_method"] == card.id

    invoice = bill(person)
    assert invoice.status == "paid" and invoice.collection_method == "charge_automatically"
    assert stripe_on.v1.invoices.retrieve(invoice.stripe_invoice_id).amount_paid == 4000

    # Opening the return address again (history, a reload) changes nothing.
    again = come_back(http, headers["Location"])
    assert said(again) == ["Card saved."]
    with agency_scope(agency):
        assert AuditEvent.objects.filter(action="client.card_saved").count() == 1


def test_a_declined_card_is_refused_on_stripes_page_and_nothing_is_saved(person, http, stripe_on):
    checkout = start_setup(http, person.agency)
    status, _, body = save_card(checkout, "4000000000000002")
    assert status == 200 and "Your card was declined." in body
    # Coming back by hand with the unfinished session saves nothing either.
    session_id = checkout.rsplit("/", 1)[1]
    back = http.get(f"{invoices_url(person.agency)}?card_setup={session_id}", follow=True)
    assert said(back) == ["No card was saved: Stripe's page was left before the card was saved."]
    assert 'data-testid="no-card"' in back.content.decode()
    assert default_card(stripe_on, customer_of(person)) is None
    cancelled = http.get(f"{invoices_url(person.agency)}?card_setup=cancelled", follow=True)
    assert said(cancelled) == ["No card was saved."]

    invoice = bill(person)  # so the invoice goes by e-mail
    assert invoice.collection_method == "send_invoice" and invoice.sent_at is not None


def test_a_new_card_replaces_the_one_on_file(person, http, stripe_on):
    add_card(http, person.agency)
    first = default_card(stripe_on, customer_of(person)).id
    back = add_card(http, person.agency, "5555 5555 5555 4444")
    assert said(back) == ["Card saved."]
    assert "Mastercard •••• 4444" in back.content.decode()
    assert "Visa •••• 4242" not in back.content.decode()
    card = default_card(stripe_on, customer_of(person))
    assert card.card.last4 == "4444" and card.id != first
    # The old card stays saved, for the portal; the new one is charged.
    listed = stripe_on.v1.customers.payment_methods.list(customer_of(person)).data
    assert {pm.id for pm in listed} == {first, card.id}
    invoice = bill(person)
    assert invoice.status == "paid"


def test_a_card_removed_in_the_portal_sends_the_next_invoice_by_email(person, http, stripe_on):
    add_card(http, person.agency)
    card = default_card(stripe_on, customer_of(person))
    response = http.post(reverse("our_card_portal", args=[person.agency.slug]))
    assert response.status_code == 303
    portal = response["Location"]
    status, _, body = browse(portal)
    assert status == 200 and "Visa •••• 4242" in body
    assert f"http://testserver{invoices_url(person.agency)}" in body  # the way back
    assert portal_act(portal, "remove", card.id)[0] == 200

    page = http.get(invoices_url(person.agency)).content.decode()
    assert 'data-testid="no-card"' in page and 'data-testid="card-missing"' in page
    assert 'data-testid="card-portal"' in page  # the portal stays at hand

    invoice = bill(person)
    assert invoice.collection_method == "send_invoice" and invoice.status == "open"
    assert invoice.sent_at is not None and invoice.last_payment_error.startswith("No card")
    remote = stripe_on.v1.invoices.retrieve(invoice.stripe_invoice_id)
    assert remote.collection_method == "send_invoice" and remote.amount_paid == 0


def test_a_card_saved_for_another_client_is_refused(person, http, member, signed_in, stripe_on):
    other = member(Role.CLIENT)
    per_task(other.agency, other.client)
    theirs = start_setup(signed_in(other.user), other.agency)
    assert save_card(theirs)[0] == 303
    their_session = theirs.rsplit("/", 1)[1]

    add_card(http, person.agency)  # so that our client has a customer and a card
    mine = default_card(stripe_on, customer_of(person)).id
    back = http.get(f"{invoices_url(person.agency)}?card_setup={their_session}", follow=True)
    assert said(back) == ["That card setup is not one of yours."]
    assert default_card(stripe_on, customer_of(person)).id == mine
    assert default_card(stripe_on, customer_of(other)) is None  # nor theirs, by our hand
    for nonsense in ("", "cs_nothing_here", "seti_123", "../../v1/customers"):
        back = http.get(f"{invoices_url(person.agency)}?card_setup={nonsense}", follow=True)
        assert said(back) == ["That card setup is not one of yours."], nonsense


def test_only_the_clients_own_people_handle_its_card(person, member, signed_in, stripe_on):
    for role in (Role.ASSISTANT, Role.ADMIN, Role.OWNER):
        http = signed_in(member(role).user)
        for name in ("our_card_setup", "our_card_portal"):
            response = http.post(reverse(name, args=[person.agency.slug]))
            assert response.status_code == 403, (role, name)
        assert http.get(invoices_url(person.agency)).status_code == 403
    assert customer_of(person) == ""  # nothing was made at Stripe


def test_a_double_click_gets_the_same_page_and_a_saved_session_is_not_reused(
    person, http, stripe_on
):
    first, second = start_setup(http, person.agency), start_setup(http, person.agency)
    assert first == second
    assert save_card(first)[0] == 303
    third = start_setup(http, person.agency)  # same five minutes, but that one is used up
    assert third != first and browse(third)[0] == 200
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)):
        assert start_setup(http, person.agency) != third


def test_stripe_failures_are_a_message_never_a_500(person, http, stripe_on, stripe_server):
    stripe_control(
        stripe_server, "POST", "/_test/faults", {"mode": "error", "paths": ["/v1/checkout"]}
    )
    response = http.post(reverse("our_card_setup", args=[person.agency.slug]), follow=True)
    assert said(response) == ["Stripe could not be reached. Try again in a minute."]
    stripe_control(stripe_server, "POST", "/_test/faults", {"mode": "error", "paths": ["/v1/"]})
    cache.clear()  # the page above read the card (none) a moment ago
    page = http.get(invoices_url(person.agency))
    assert page.status_code == 200
    assert "Stripe could not be reached" in page.content.decode()
    assert http.get(reverse("dashboard", args=[person.agency.slug])).status_code == 200
    stripe_control(stripe_server, "DELETE", "/_test/faults")


def test_without_stripe_there_is_no_card_box_and_no_notice(person, http, settings):
    settings.STRIPE_SECRET_KEY = ""
    page = http.get(invoices_url(person.agency)).content.decode()
    assert 'data-testid="card-on-file"' not in page and 'data-testid="card-missing"' not in page
    response = http.post(reverse("our_card_setup", args=[person.agency.slug]), follow=True)
    assert said(response) == [
        "Cards cannot be saved yet: the agency has not set up online payments."
    ]


# -- the notices ---------------------------------------------------------------------------------


def test_the_dashboard_and_the_contract_page_say_when_a_card_is_missing(
    person, http, member, signed_in, stripe_on
):
    agency = person.agency
    dashboard = reverse("dashboard", args=[agency.slug])
    contract_page = reverse("contract_detail", args=[agency.slug, person.line.contract_id])
    staff = signed_in(member(Role.ADMIN).user)
    assert 'data-testid="card-missing"' in http.get(dashboard).content.decode()
    assert 'data-testid="card-missing"' in staff.get(contract_page).content.decode()

    add_card(http, agency)
    assert 'data-testid="card-missing"' not in http.get(dashboard).content.decode()
    assert 'data-testid="card-missing"' not in staff.get(contract_page).content.decode()

    # A client billed by e-mail needs no card: nothing to say.
    by_email = member(Role.CLIENT)
    per_task(agency, by_email.client, collection="send_invoice")
    page = signed_in(by_email.user).get(dashboard).content.decode()
    assert 'data-testid="card-missing"' not in page


def test_the_contract_form_says_what_happens_without_a_card(member, signed_in, agency):
    page = signed_in(member(Role.ADMIN).user).get(reverse("contract_create", args=[agency.slug]))
    assert "each invoice is sent by e-mail to pay with a link" in page.content.decode()


def test_the_invoices_page_costs_the_same_with_a_card_and_many_invoices(
    person, http, stripe_on, count_queries
):
    add_card(http, person.agency)
    url = invoices_url(person.agency)
    make_invoice(person.agency, person.client, line=person.line)
    http.get(url)
    few = count_queries(lambda: http.get(url))
    for _ in range(30):
        make_invoice(person.agency, person.client, line=person.line, lines=2)
    assert count_queries(lambda: http.get(url)) == few
    assert "Visa •••• 4242" in http.get(url).content.decode()


def test_the_notice_reads_stripe_at_most_once_in_a_while(person, http, stripe_on, stripe_server):
    def reads():
        stats = stripe_control(stripe_server, "GET", "/_test/stats")["requests"]
        return stats.get(f"GET /v1/customers/{customer_of(person)}", 0)

    add_card(http, person.agency)
    dashboard = reverse("dashboard", args=[person.agency.slug])
    http.get(dashboard)
    before = reads()
    for _ in range(3):
        http.get(dashboard)
    assert reads() == before


# -- webhooks --------------------------------------------------------------------------------


def event(kind, object_id):
    return {"id": "evt_test", "type": kind, "data": {"object": {"id": object_id}}}


def saved_without_coming_back(http, agency, card_number="4242424242424242") -> str:
    """A card saved on Stripe's page by someone who then closed the tab: the session id."""
    checkout = start_setup(http, agency)
    assert save_card(checkout, card_number)[0] == 303
    return checkout.rsplit("/", 1)[1]


def test_the_webhook_makes_a_card_saved_without_coming_back_the_default(person, http, stripe_on):
    agency = person.agency
    session_id = saved_without_coming_back(http, agency)
    customer_of(person)  # the client as the request left it
    with agency_scope(agency):
        assert card_missing(agency=agency, client=person.client)
        assert card_event_apply(
            agency=agency, event=event("checkout.session.completed", session_id)
        )
        # Redelivered, or its setup_intent.succeeded, or the return page later: once.
        assert not card_event_apply(
            agency=agency, event=event("checkout.session.completed", session_id)
        )
        intent = stripe_on.v1.checkout.sessions.retrieve(session_id).setup_intent
        assert not card_event_apply(agency=agency, event=event("setup_intent.succeeded", intent))
        assert not card_setup_finish(agency=agency, client=person.client, session_id=session_id)
        assert not card_missing(agency=agency, client=person.client)
    assert default_card(stripe_on, customer_of(person)).card.last4 == "4242"
    assert bill(person).status == "paid"


def test_the_signed_webhook_applies_the_card_once_and_503s_while_stripe_is_away(
    person, http, stripe_on, stripe_server, settings, client
):
    """Through our webhook URL, as Stripe delivers: the card becomes the default; a
    delivery while Stripe cannot be asked is stored nowhere, so Stripe delivers it again."""
    import json

    from billing.models import StripeEvent
    from tests.billing.test_webhooks import SECRET, sign

    settings.STRIPE_WEBHOOK_SECRET = SECRET
    agency = person.agency
    session_id = saved_without_coming_back(http, agency)
    payload = json.dumps(
        {
            "id": "evt_card_saved",
            "type": "checkout.session.completed",
            "data": {"object": {"id": session_id, "object": "checkout.session"}},
        }
    ).encode()
    url = reverse("stripe_webhook", args=[agency.slug])

    def deliver():
        return client.post(
            url,
            data=payload,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=sign(payload),
        )

    stripe_control(
        stripe_server, "POST", "/_test/faults", {"mode": "drop", "paths": ["/v1/checkout"]}
    )
    assert deliver().status_code == 503
    stripe_control(stripe_server, "DELETE", "/_test/faults")
    with agency_scope(agency):
        assert not StripeEvent.objects.exists()
    assert default_card(stripe_on, customer_of(person)) is None
    assert deliver().status_code == 200
    assert default_card(stripe_on, customer_of(person)).card.last4 == "4242"
    assert deliver().status_code == 200  # redelivered: stored once, applied once
    with agency_scope(agency):
        assert StripeEvent.objects.get().event_id == "evt_card_saved"
        assert AuditEvent.objects.filter(action="client.card_saved").count() == 1


def test_setup_intent_succeeded_alone_is_enough(person, http, stripe_on):
    session_id = saved_without_coming_back(http, person.agency)
    intent = stripe_on.v1.checkout.sessions.retrieve(session_id).setup_intent
    with agency_scope(person.agency):
        assert card_event_apply(agency=person.agency, event=event("setup_intent.succeeded", intent))
    assert default_card(stripe_on, customer_of(person)) is not None


def test_an_older_card_never_replaces_a_newer_one_nor_a_choice_made_in_the_portal(
    person, http, stripe_on
):
    agency = person.agency
    older = saved_without_coming_back(http, agency)
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)):
        newer = saved_without_coming_back(http, agency, "5555555555554444")
    customer_id = customer_of(person)
    with agency_scope(agency):
        assert card_event_apply(agency=agency, event=event("checkout.session.completed", newer))
        assert not card_event_apply(agency=agency, event=event("checkout.session.completed", older))
    newest = default_card(stripe_on, customer_id)
    assert newest.card.last4 == "4444"
    # The client makes the older card the default in the portal: a late event keeps it.
    visa = next(
        pm.id
        for pm in stripe_on.v1.customers.payment_methods.list(customer_id).data
        if pm.card.last4 == "4242"
    )
    portal = stripe_on.v1.billing_portal.sessions.create(params={"customer": customer_id})
    portal_act(portal.url, "default", visa)
    with agency_scope(agency):
        assert not card_event_apply(agency=agency, event=event("checkout.session.completed", newer))
        assert not card_event_apply(agency=agency, event=event("customer.updated", customer_id))
    assert default_card(stripe_on, customer_id).id == visa


def test_card_events_of_no_client_of_the_agency_are_ignored(person, http, stripe_on):
    session_id = saved_without_coming_back(http, person.agency)
    elsewhere = AgencyFactory()
    ClientFactory(agency=elsewhere)
    with agency_scope(elsewhere):
        assert not card_event_apply(
            agency=elsewhere, event=event("checkout.session.completed", session_id)
        )
        assert not card_event_apply(agency=elsewhere, event=event("invoice.paid", "in_123"))
        assert not card_event_apply(agency=elsewhere, event={"type": "setup_intent.succeeded"})
        assert not card_event_apply(
            agency=elsewhere, event=event("checkout.session.completed", "cs_test_nothing")
        )
    assert default_card(stripe_on, customer_of(person)) is None
    assert {"checkout.session.completed", "payment_method.detached"} <= CARD_EVENTS


def test_the_services_refuse_what_is_not_the_clients(person, stripe_on, stripe_server):
    agency = person.agency
    with agency_scope(agency):
        with pytest.raises(ApplicationError) as refused:
            card_setup_finish(agency=agency, client=person.client, session_id="cs_test_x")
        assert refused.value.code == "card_setup_unknown"  # no customer yet
        assert card_on_file(agency=agency, client=person.client) is None
        url = card_setup_start(
            agency=agency,
            actor=person.user,
            client=person.client,
            success_url="https://app.test/ok?s={CHECKOUT_SESSION_ID}",
            cancel_url="https://app.test/no",
        )
        assert url.startswith(f"{stripe_server}/hosted/checkout/cs_test_")
        cache.clear()
        someone = MembershipFactory(agency=agency, role=Role.CLIENT)
        assert not card_missing(agency=agency, client=someone.client)  # no contract at all
