"""The client's dashboard in a browser: what needs them, their requests, what happened,
what they owe; paying from it on Stripe's hosted page (a tab of its own, with no way back)
and finding the dashboard up to date on coming back to its tab."""

import datetime as dt
import json
import urllib.request

import pytest
import stripe
from django.urls import reverse
from playwright.sync_api import expect

from billing.models import Invoice
from contracts.models import PricingModel
from core.roles import Role
from core.tenancy import agency_scope, scopes_disabled
from stripe_test_server.runner import running_server
from tasks import services
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import (
    CategoryFactory,
    ContractFactory,
    LineFactory,
    ServiceFactory,
    TermsFactory,
)
from tests.factories import PASSWORD, AgencyFactory, ClientFactory, MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PLATFORM_KEY = "sk_test_platform"
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture
def stripe_base(settings):
    with running_server() as base_url:
        settings.STRIPE_API_BASE = base_url
        settings.STRIPE_SECRET_KEY = PLATFORM_KEY
        settings.STRIPE_MAX_NETWORK_RETRIES = 0
        yield base_url


def deliver_webhooks(base_url: str) -> dict:
    request = urllib.request.Request(f"{base_url}/_test/deliver", data=b"{}", method="POST")
    request.add_header("Content-Type", "application/json")
    with _opener.open(request, timeout=30) as response:
        return json.loads(response.read())


def test_the_client_sees_what_needs_them_and_pays_from_the_dashboard(
    page, screenshot, live_server, stripe_base, settings
):
    agency = AgencyFactory(slug="harbor", name="Harbor Assist")
    sdk = stripe.StripeClient(
        PLATFORM_KEY, base_addresses={"api": stripe_base}, max_network_retries=0
    )
    # Only the payment's event, which happens on Stripe's page while nothing else writes.
    endpoint = sdk.v1.webhook_endpoints.create(
        params={
            "url": live_server.url + reverse("stripe_webhook", args=[agency.slug]),
            "enabled_events": ["invoice.paid"],
        }
    )
    settings.STRIPE_WEBHOOK_SECRET = endpoint.secret

    category = CategoryFactory(agency=agency, name="Travel")
    service = ServiceFactory(agency=agency, name="Travel booking", category=category)
    client = ClientFactory(agency=agency, name="Cedar Legal", time_zone="Europe/London")
    contract = ContractFactory(
        agency=agency,
        client=client,
        status="active",
        starts_on=dt.date(2026, 1, 1),
        billing_cadence="per_task",
        collection_method="send_invoice",
        days_until_due=7,
    )
    line = LineFactory(agency=agency, contract=contract, service=service, terms=None)
    TermsFactory(
        agency=agency,
        line=line,
        pricing_model=PricingModel.FLAT,
        flat_fee=4500,
        effective_from=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
    carla = MembershipFactory(agency=agency, role=Role.CLIENT, client=client)
    dana = AssistantProfileFactory(agency=agency, skills=[category], capacity=10).membership
    with scopes_disabled():
        dana.user.full_name = "Dana Ortiz"
        dana.user.save()

    with agency_scope(agency):

        def requested(title):
            task = services.task_request(
                agency=agency, actor=carla.user, client=client, service=service, title=title
            )
            return services.task_take(agency=agency, actor=dana.user, membership=dana, task=task)

        asked = requested("Book Lisbon")
        services.task_start(agency=agency, actor=dana.user, membership=dana, task=asked)
        services.task_ask_client(
            agency=agency, actor=dana.user, membership=dana, task=asked, question="Aisle or window?"
        )
        done = requested("Book Porto hotel")
        # Completing it bills it (the completion's job, on commit): an invoice to pay by link.
        services.task_complete(
            agency=agency, actor=dana.user, membership=dana, task=done, summary="Booked"
        )
        invoice = Invoice.objects.get()
    assert invoice.status == "open" and invoice.hosted_invoice_url

    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(carla.user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url("/a/harbor/")

    needs = page.get_by_test_id("needs-you-card")
    expect(needs.get_by_test_id("waiting-row")).to_contain_text("Book Lisbon")
    expect(needs.get_by_test_id("waiting-row")).to_contain_text("Aisle or window?")
    expect(needs.get_by_test_id("approve-row")).to_contain_text("Book Porto hotel")
    requests = page.get_by_test_id("requests-card")
    expect(requests.get_by_test_id("open-row")).to_have_count(1)
    expect(requests.get_by_test_id("open-row")).to_contain_text("Waiting on client")
    activity = page.get_by_test_id("activity-card")
    expect(activity).to_contain_text("Dana Ortiz completed it and wrote what was done.")
    owed = page.get_by_test_id("owed-card")
    expect(owed.get_by_test_id("owed-total")).to_have_text("$45.00 to pay")
    screenshot("client-dashboard")

    # The question leads to the conversation on the task.
    needs.get_by_role("link", name="Book Lisbon").click()
    expect(page).to_have_url(f"/a/harbor/tasks/{asked.pk}/#conversation")
    expect(page.get_by_test_id("explainer")).to_contain_text("in the conversation")
    page.go_back()

    # Paying opens Stripe's page in a tab of its own; coming back shows it paid.
    with page.context.expect_page() as hosted_opened:
        page.get_by_test_id("owed-card").get_by_test_id("dashboard-pay-link").click()
    hosted = hosted_opened.value
    hosted.get_by_label("Card number").fill("4242424242424242")
    hosted.get_by_role("button", name="Pay 45.00 USD").click()
    expect(hosted.get_by_role("status")).to_have_text("Payment succeeded. Thank you!")
    hosted.close()
    result = deliver_webhooks(stripe_base)
    assert (result["delivered"], result["failed"]) == (1, 0)
    page.bring_to_front()
    # A headless browser has no window to give focus back to: send the event a person's
    # browser sends when they return to the tab.
    page.evaluate("window.dispatchEvent(new Event('focus'))")
    expect(page.get_by_test_id("owed-card").get_by_test_id("nothing-owed")).to_be_visible()
    expect(page).to_have_url("/a/harbor/")  # the same page, brought up to date in place
