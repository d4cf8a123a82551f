"""A card on file in the browser: the client's member adds a card on Stripe's Checkout
page (the test server's), comes back to a page that says it is saved, and removes it in
Stripe's customer portal."""

import pytest
from playwright.sync_api import expect

from core.roles import Role
from stripe_test_server.runner import running_server
from tests.browser.test_billing_journey import PLATFORM_KEY, sign_in
from tests.contracts.factories import ContractFactory
from tests.factories import AgencyFactory, ClientFactory, MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def stripe_base(settings):
    """A Stripe test server of this test's own, with billing pointed at it."""
    with running_server() as base_url:
        settings.STRIPE_API_BASE = base_url
        settings.STRIPE_SECRET_KEY = PLATFORM_KEY
        settings.STRIPE_MAX_NETWORK_RETRIES = 0
        yield base_url


def test_add_a_card_on_checkout_then_remove_it_in_the_portal(page, screenshot, stripe_base):
    agency = AgencyFactory(slug="harbor", name="Harbor Assist")
    client = ClientFactory(agency=agency, name="Acme Dental")
    ContractFactory(
        agency=agency,
        client=client,
        status="active",
        billing_cadence="per_task",
        collection_method="charge_automatically",
        days_until_due=None,
    )
    alice = MembershipFactory(agency=agency, role=Role.CLIENT, client=client).user

    sign_in(page, alice.email)
    expect(page.get_by_test_id("card-missing")).to_be_visible()  # on the dashboard
    page.goto("/a/harbor/our-invoices/")
    box = page.get_by_test_id("card-on-file")
    expect(box.get_by_test_id("no-card")).to_have_text("No card on file.")

    box.get_by_role("button", name="Add a card").click()
    expect(page.locator("[data-status]")).to_have_text("open")
    page.get_by_label("Card number").fill("4000 0000 0000 0002")
    page.get_by_role("button", name="Save card").click()
    expect(page.get_by_role("status")).to_have_text("Your card was declined.")
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_role("button", name="Save card").click()

    expect(page).to_have_url("/a/harbor/our-invoices/")
    expect(page.locator(".message.success")).to_have_text("Card saved.")
    expect(box.get_by_test_id("card")).to_contain_text("Visa •••• 4242")
    screenshot("card-saved")

    box.get_by_role("button", name="Manage cards").click()
    expect(page.locator("[data-default]")).to_have_text("Default")
    page.get_by_role("button", name="Remove").click()
    expect(page.get_by_role("status")).to_have_text("Visa •••• 4242 removed.")
    page.get_by_role("link", name="Return to the site").click()
    expect(page).to_have_url("/a/harbor/our-invoices/")
    expect(box.get_by_test_id("no-card")).to_be_visible()
    expect(box.get_by_test_id("card-missing")).to_be_visible()
