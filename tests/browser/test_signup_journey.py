"""A visitor signs their business up from the agency's public page: choose a plan, give
the company and an account, confirm the e-mail, and start on the client dashboard."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from contracts.models import ContractStatus, ServiceContract
from contracts.public_page import AgencyPublicPage
from core.tenancy import scopes_disabled
from tests.browser.test_accessibility import AXE, EMPTY_HEADERS, RUN_AXE
from tests.contracts.test_public_page import published_page_of
from tests.factories import AgencyFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-and-unusual-passphrase"


def test_a_visitor_signs_up_confirms_and_reaches_the_dashboard(
    page, live_server, screenshot, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    shown = published_page_of(AgencyFactory(name="Harbor Assist", slug="harbor"))
    with scopes_disabled():
        AgencyPublicPage.objects.filter(pk=shown["page"].pk).update(signups_need_approval=False)

    page.goto("/p/harbor/")
    page.get_by_role("link", name="Choose this plan").click()
    expect(page.get_by_role("heading", name="Sign up for the Twenty hours 0 plan")).to_be_visible()
    page.add_script_tag(path=str(AXE))  # axe finds nothing on the sign-up page
    assert page.evaluate(RUN_AXE) + page.evaluate(EMPTY_HEADERS) == []
    page.get_by_label("Company name").fill("Acme Dental")
    page.get_by_label("Time zone").select_option("America/Chicago")
    page.get_by_label("Email").fill("dana@acme.test")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    screenshot("signup-form")
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/accounts/confirm-email/$"))

    link = re.search(r"https?://[^/\s]+(/\S+)", mail.outbox[-1].body).group(1)
    page.goto(link)
    page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url("/a/harbor/")
    expect(page.get_by_text("Welcome to Harbor Assist.")).to_be_visible()
    screenshot("signup-dashboard")
    with scopes_disabled():
        contract = ServiceContract.objects.get(agency=shown["agency"])
    assert contract.client.name == "Acme Dental" and contract.status == ContractStatus.ACTIVE
