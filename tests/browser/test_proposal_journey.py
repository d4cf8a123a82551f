"""A client asks for a quote, staff send a draft contract as a proposal, and the client's
double click on Accept activates the contract once."""

import pytest
from playwright.sync_api import expect

from contracts.models import Proposal, ServiceContract
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope
from tests.contracts.factories import ContractFactory, LineFactory
from tests.factories import PASSWORD, AgencyFactory, ClientFactory, MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, email, slug):
    page.context.clear_cookies()
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(f"/a/{slug}/")


def test_a_client_asks_staff_propose_and_a_double_click_accepts_once(page, screenshot):
    agency = AgencyFactory(slug="harbor", name="Harbor Assist")
    acme = ClientFactory(agency=agency, name="Acme Ltd")
    buyer = MembershipFactory(agency=agency, role=Role.CLIENT, client=acme)
    admin = MembershipFactory(agency=agency, role=Role.ADMIN)
    draft = ContractFactory(agency=agency, client=acme, name="Inbox care", status="draft")
    LineFactory(agency=agency, contract=draft)

    sign_in(page, buyer.user.email, "harbor")
    page.goto("/a/harbor/our-contracts/")
    page.get_by_test_id("ask-for-quote").click()
    page.get_by_label("What do you need?").fill("Someone to keep our inbox at zero, daily.")
    page.get_by_role("button", name="Send the request").click()
    expect(page.get_by_text("Your request is with the agency")).to_be_visible()

    sign_in(page, admin.user.email, "harbor")
    page.goto("/a/harbor/proposals/")
    page.get_by_role("link", name="Someone to keep our inbox at zero, daily.").click()
    page.get_by_role("link", name="send as a proposal").click()
    page.get_by_label("Note to the client").fill("Weekdays, 9 to 5 your time.")
    page.get_by_role("button", name="Send to the client").click()
    expect(page.get_by_test_id("proposal-state")).to_have_text("Waiting for the client")

    sign_in(page, buyer.user.email, "harbor")
    page.goto("/a/harbor/our-contracts/")
    page.get_by_role("link", name="Inbox care").click()
    expect(page.get_by_test_id("proposal-note")).to_contain_text("Weekdays, 9 to 5")
    screenshot("proposal-to-accept")
    page.get_by_test_id("proposal-accept").dblclick()
    expect(page).to_have_url("/a/harbor/our-contracts/")
    expect(page.get_by_text("“Inbox care” is now active.")).to_be_visible()
    with agency_scope(agency):
        assert ServiceContract.objects.get(pk=draft.pk).status == "active"
        assert Proposal.objects.get().status == "accepted"
        assert AuditEvent.objects.filter(action="contract.active").count() == 1
