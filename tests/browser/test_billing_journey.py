"""Billing in the browser: an assistant completes a task, the client sees the invoice and
pays it on the hosted page, and the invoice shows paid after the webhook."""

import datetime as dt
import json
import urllib.request

import pytest
import stripe
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from billing.models import Invoice, StripeEvent
from core.roles import Role
from core.tenancy import agency_scope
from stripe_test_server.runner import running_server
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import CategoryFactory, ContractFactory, LineFactory, ServiceFactory
from tests.factories import PASSWORD, AgencyFactory, ClientFactory, MembershipFactory
from tests.tasks.factories import TaskFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PLATFORM_KEY = "sk_test_platform"
ALWAYS = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
# Test-server controls go straight to localhost; a proxy in the environment must not see them.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture
def stripe_base(settings):
    """A Stripe test server of this test's own, with billing pointed at it."""
    with running_server() as base_url:
        settings.STRIPE_API_BASE = base_url
        settings.STRIPE_SECRET_KEY = PLATFORM_KEY
        settings.STRIPE_MAX_NETWORK_RETRIES = 0
        yield base_url


def deliver_webhooks(base_url: str) -> dict:
    """Have the test server deliver every pending event now, waiting for each answer."""
    request = urllib.request.Request(f"{base_url}/_test/deliver", data=b"{}", method="POST")
    request.add_header("Content-Type", "application/json")
    with _opener.open(request, timeout=30) as response:
        return json.loads(response.read())


def sign_in(browser_page, email):
    browser_page.context.clear_cookies()
    browser_page.goto("/accounts/login/")
    browser_page.get_by_label("Email").fill(email)
    browser_page.get_by_label("Password").fill(PASSWORD)
    browser_page.get_by_role("button", name="Sign In").click()
    expect(browser_page).to_have_url("/a/harbor/")


def test_complete_invoice_pay_on_hosted_page_paid_after_webhook(
    page, screenshot, live_server, stripe_base, settings
):
    agency = AgencyFactory(slug="harbor", name="Harbor Assist")
    sdk = stripe.StripeClient(
        PLATFORM_KEY, base_addresses={"api": stripe_base}, max_network_retries=0
    )
    endpoint = sdk.v1.webhook_endpoints.create(
        params={
            "url": live_server.url + reverse("stripe_webhook", args=[agency.slug]),
            # Only the payment's event. The test server delivers in the background as soon
            # as an event happens, and the live server shares one in-memory SQLite
            # connection among its request threads: an invoice.finalized or invoice.sent
            # arriving while the completion request is still writing fails one of them
            # with "database table is locked". invoice.paid happens on Stripe's own page,
            # when nothing else is talking to the live server.
            "enabled_events": ["invoice.paid"],
        }
    )
    settings.STRIPE_WEBHOOK_SECRET = endpoint.secret

    category = CategoryFactory(agency=agency, name="Inbox")
    service = ServiceFactory(agency=agency, name="Inbox zero", category=category)
    client = ClientFactory(agency=agency, name="Acme Dental", time_zone="America/Chicago")
    contract = ContractFactory(
        agency=agency,
        client=client,
        status="active",
        starts_on=dt.date(2026, 1, 1),
        billing_cadence="per_task",
        collection_method="send_invoice",
        days_until_due=7,
    )
    # Hourly at 40.00 with a 30-minute minimum: no time logged still bills 20.00.
    line = LineFactory(agency=agency, contract=contract, service=service)
    alice = MembershipFactory(agency=agency, role=Role.CLIENT, client=client).user
    maria = AssistantProfileFactory(agency=agency, skills=[category], working_hours=ALWAYS)
    task = TaskFactory(
        agency=agency,
        contract_line=line,
        title="Clear the March inbox",
        status="in_progress",
        assignee=maria.membership,
        started_at=timezone.now(),
    )

    # The assistant completes: billing runs on the completion's commit.
    sign_in(page, maria.membership.user.email)
    page.goto(f"/a/harbor/tasks/{task.pk}/")
    page.get_by_text("Complete", exact=True).click()
    page.get_by_label("What was done").fill("Archived 412 messages, flagged 3 for you.")
    page.get_by_role("button", name="Complete the task").click()
    expect(page.get_by_test_id("task-status")).to_have_text("Completed")

    # The client finds the invoice open and pays it on the hosted page.
    sign_in(page, alice.email)
    page.get_by_role("navigation", name="Agency").get_by_role("link", name="Invoices").click()
    row = page.get_by_test_id("invoice-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Open")
    expect(row).to_contain_text("$20.00")
    row.get_by_role("link").first.click()
    with page.context.expect_page() as hosted_opened:
        page.get_by_test_id("pay-link").click()
    hosted = hosted_opened.value
    expect(hosted.locator("[data-status]")).to_have_text("open")
    hosted.get_by_label("Card number").fill("4242424242424242")
    hosted.get_by_role("button", name="Pay 20.00 USD").click()
    expect(hosted.get_by_role("status")).to_have_text("Payment succeeded. Thank you!")
    expect(hosted.locator("[data-status]")).to_have_text("paid")
    hosted.close()

    # Stripe tells us; our invoice shows it.
    result = deliver_webhooks(stripe_base)
    assert (result["delivered"], result["failed"]) == (1, 0)
    page.reload()
    expect(page.locator("h1 .badge")).to_have_text("Paid")
    expect(page.get_by_test_id("pay-link")).to_have_count(0)
    screenshot("invoice-paid")
    with agency_scope(agency):
        invoice = Invoice.objects.get()
        # Paid through the webhook: nothing else tells us the client paid on Stripe's page.
        assert StripeEvent.objects.filter(type="invoice.paid", object_id=invoice.stripe_invoice_id)
    assert invoice.status == "paid" and invoice.amount_paid == 2000
    assert invoice.collection_method == "send_invoice" and invoice.sent_at is not None
