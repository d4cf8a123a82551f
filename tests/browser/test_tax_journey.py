"""Tax in the browser: a client's member saves a card on Stripe's Checkout page, the
per-task work of a card contract carrying 20% exclusive tax is charged to it on
completion, and the invoice shows paid with its tax; an admin credits half its line and
the client sees the credit and the refund, with its share of the tax."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from billing.models import CreditNote, Invoice
from billing.tax import client_tax_update, tax_rate_create
from core.roles import Role
from core.tenancy import agency_scope
from stripe_test_server.runner import running_server
from tests.assistants.factories import AssistantProfileFactory
from tests.browser.test_billing_journey import ALWAYS, PLATFORM_KEY, sign_in
from tests.contracts.factories import CategoryFactory, ContractFactory, LineFactory, ServiceFactory
from tests.factories import AgencyFactory, ClientFactory, MembershipFactory
from tests.tasks.factories import TaskFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MINUS = "\N{MINUS SIGN}"


@pytest.fixture
def stripe_base(settings):
    """A Stripe test server of this test's own, with billing pointed at it."""
    with running_server() as base_url:
        settings.STRIPE_API_BASE = base_url
        settings.STRIPE_SECRET_KEY = PLATFORM_KEY
        settings.STRIPE_MAX_NETWORK_RETRIES = 0
        yield base_url


def test_taxed_work_is_charged_to_the_card_and_half_a_line_credited(
    page,
    screenshot,
    stripe_base,
):
    agency = AgencyFactory(slug="harbor", name="Harbor Assist")
    admin = MembershipFactory(agency=agency, role=Role.ADMIN).user
    category = CategoryFactory(agency=agency, name="Inbox")
    service = ServiceFactory(agency=agency, name="Inbox zero", category=category)
    client = ClientFactory(agency=agency, name="Acme Dental", currency="USD")
    contract = ContractFactory(
        agency=agency,
        client=client,
        status="active",
        starts_on=dt.date(2026, 1, 1),
        billing_cadence="per_task",
        collection_method="charge_automatically",
        days_until_due=None,
    )
    # Hourly at 40.00 with a 30-minute minimum: the task bills 20.00, and 4.00 of tax.
    line = LineFactory(agency=agency, contract=contract, service=service)
    with agency_scope(agency):
        vat = tax_rate_create(
            agency=agency, actor=admin, display_name="VAT", percentage="20", inclusive=False
        )
        client_tax_update(
            agency=agency, actor=admin, client=client, tax_status="none", tax_rate_ids=[vat.pk]
        )
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

    # The client's member saves a card on Stripe's Checkout page.
    sign_in(page, alice.email)
    page.goto("/a/harbor/our-invoices/")
    expect(page.get_by_test_id("our-tax-details")).to_contain_text("VAT 20% (excl.)")
    box = page.get_by_test_id("card-on-file")
    box.get_by_role("button", name="Add a card").click()
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_role("button", name="Save card").click()
    expect(page.locator(".message.success")).to_have_text("Card saved.")

    # The assistant completes the task: it is charged to the card at once.
    sign_in(page, maria.membership.user.email)
    page.goto(f"/a/harbor/tasks/{task.pk}/")
    page.get_by_text("Complete", exact=True).click()
    page.get_by_label("What was done").fill("Archived 412 messages.")
    page.get_by_role("button", name="Complete the task").click()
    expect(page.get_by_test_id("task-status")).to_have_text("Completed")

    sign_in(page, alice.email)
    page.goto("/a/harbor/our-invoices/")
    row = page.get_by_test_id("invoice-row")
    expect(row).to_contain_text("Paid")
    row.get_by_role("link").first.click()
    expect(page.locator("h1 .badge")).to_have_text("Paid")
    expect(page.get_by_test_id("invoice-net")).to_have_text("$20.00")
    expect(page.get_by_test_id("invoice-tax")).to_have_text("$4.00")
    expect(page.get_by_test_id("invoice-total")).to_have_text("$24.00")
    expect(page.get_by_test_id("line-tax")).to_have_text("$4.00")
    screenshot("taxed-invoice-paid")

    # An admin credits half the line, refunded to the card: 10.00 and its 2.00 of tax.
    with agency_scope(agency):
        invoice = Invoice.objects.get()
    sign_in(page, admin.email)
    page.goto(f"/a/harbor/billing/invoices/{invoice.pk}/")
    form = page.get_by_test_id("credit-form")
    form.locator("summary").click()
    form.get_by_label("Line").select_option(label="Clear the March inbox")
    form.get_by_label("Amount").fill("10.00")
    form.get_by_label("Note to the client").fill("Half the inbox was done by you.")
    form.get_by_label("The money").select_option("refund")
    form.get_by_role("button", name="Issue the credit note").click()
    expect(page.get_by_test_id("credit-note")).to_contain_text(f"{MINUS}$12.00")

    sign_in(page, alice.email)
    page.goto(f"/a/harbor/our-invoices/{invoice.pk}/")
    note = page.get_by_test_id("credit-note")
    expect(note).to_contain_text(f"{MINUS}$12.00")
    expect(note).to_contain_text("Refunded to the card")
    expect(note.get_by_test_id("credit-note-tax")).to_have_text(f"{MINUS}$2.00")
    screenshot("taxed-invoice-credited")
    with agency_scope(agency):
        credit = CreditNote.objects.get()
    assert (credit.net, credit.tax, credit.amount) == (1000, 200, 1200)
