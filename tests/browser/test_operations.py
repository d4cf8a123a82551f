"""An admin sets up the business in the browser: a client, an assistant's profile, a
service, and a contract with an hourly line and a retainer line, then activates it."""

import pytest
from playwright.sync_api import expect

from assistants.services import assistant_profile_ensure
from core.roles import Role
from core.tenancy import agency_scope
from tests.factories import PASSWORD, AgencyFactory, MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_sets_up_a_client_an_assistant_a_service_and_a_contract(page, screenshot):
    from contracts.services import service_categories_seed

    agency = AgencyFactory(slug="harbor", name="Harbor Assist", default_currency="USD")
    admin = MembershipFactory(agency=agency, role=Role.ADMIN).user
    assistant = MembershipFactory(agency=agency, role=Role.ASSISTANT)
    with agency_scope(agency):
        service_categories_seed(agency=agency)
        assistant_profile_ensure(agency=agency, membership=assistant)

    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(admin.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url("/a/harbor/")

    # A client.
    page.get_by_role("navigation", name="Agency").get_by_role("link", name="Clients").click()
    page.get_by_role("link", name="Add a client").click()
    page.get_by_label("Name").fill("Acme Dental")
    page.get_by_label("Billing e-mail").fill("ap@acme.test")
    page.get_by_label("Time zone").select_option("America/Chicago")
    page.get_by_label("Currency").fill("usd")
    page.get_by_role("button", name="Add client").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Dental")

    # The assistant's profile: skills, zone, capacity, pay, hours.
    page.get_by_role("navigation", name="Agency").get_by_role("link", name="Assistants").click()
    page.get_by_role("link", name="Edit").click()
    # Skills are service categories; "Bookkeeping" is also a specialisation on the form.
    skills = page.locator("input[name=skills]")
    skills.and_(page.get_by_label("Bookkeeping")).check()
    skills.and_(page.get_by_label("Inbox management")).check()
    page.get_by_label("Time zone").select_option("Asia/Manila")
    page.get_by_label("Capacity").fill("4")
    page.get_by_label("Pay rate per hour").fill("12.50")
    page.get_by_label("Saturday from (1)").fill("09:00")
    page.get_by_label("Saturday to (1)").fill("12:00")
    page.get_by_role("button", name="Save").click()
    row = page.get_by_role("row", name=assistant.user.get_full_name())
    expect(row).to_contain_text("Bookkeeping")
    expect(row).to_contain_text("$12.50")

    # A service with a request field.
    page.get_by_role("navigation", name="Agency").get_by_role("link", name="Services").click()
    page.get_by_role("link", name="Add a service").click()
    page.get_by_label("Name").fill("Monthly bookkeeping")
    page.get_by_label("Category").select_option(label="Bookkeeping")
    page.get_by_label("Default pricing").select_option("hourly")
    page.get_by_label("Default price").fill("45")
    page.locator("[name=template-0-label]").fill("Accounting software")
    page.get_by_role("button", name="Save service").click()
    expect(page.get_by_role("row", name="Monthly bookkeeping")).to_contain_text("$45.00 / hour")
    page.get_by_role("link", name="Add a service").click()
    page.get_by_label("Name").fill("Inbox triage")
    page.get_by_label("Category").select_option(label="Inbox management")
    page.get_by_label("Default price").fill("35")
    page.get_by_role("button", name="Save service").click()

    # The contract: an hourly line and a retainer line, then activate.
    page.get_by_role("navigation", name="Agency").get_by_role("link", name="Contracts").click()
    page.get_by_role("link", name="Draft a contract").click()
    # The client is searched, not picked from a select of every client: type, then choose
    # with the keyboard.
    page.get_by_role("combobox", name="Client").fill("acme")
    expect(page.get_by_role("option", name="Acme Dental")).to_be_visible()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.get_by_role("combobox", name="Client")).to_have_value("Acme Dental")
    page.get_by_label("Name").fill("Acme 2026 support")
    page.get_by_label("Starts on").fill("2026-01-01")
    page.get_by_label("Billing cadence").select_option("monthly")
    page.get_by_label("Collection method").select_option("send_invoice")
    page.get_by_label("Days until due").fill("14")
    page.get_by_role("button", name="Create draft").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Acme 2026 support")

    page.get_by_role("link", name="Add a service").click()
    page.get_by_label("Service").select_option(label="Monthly bookkeeping")
    page.get_by_label("Pricing model").select_option("hourly")
    expect(page.get_by_label("Monthly retainer fee")).to_be_hidden()
    page.get_by_label("Hourly rate", exact=True).fill("45")
    page.get_by_label("Round time up to (minutes)").fill("15")
    page.get_by_label("Minimum per task (minutes)").fill("30")
    page.get_by_role("button", name="Add service").click()

    page.get_by_role("link", name="Add a service").click()
    page.get_by_label("Service").select_option(label="Inbox triage")
    page.get_by_label("Pricing model").select_option("retainer")
    page.get_by_label("Monthly retainer fee").fill("800")
    page.get_by_label("Hours included per month").fill("20")
    page.get_by_label("Rollover cap (hours)").fill("5")
    page.get_by_label("Overage hourly rate").fill("56.25")
    page.get_by_label("Round time up to (minutes)").fill("15")
    page.get_by_role("button", name="Add service").click()

    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_text("The contract is now Active.")).to_be_visible()
    lines = page.get_by_test_id("lines")
    expect(lines).to_contain_text("$45.00 / hour, rounded up to 15 min, minimum 30 min")
    expect(lines).to_contain_text("$800.00 / month for 20 h (rollover up to 5 h)")
    screenshot("contract-active")
