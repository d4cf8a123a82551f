"""An assistant asks for time off in the browser, and an admin approves it, naming who
covers the assistant's dedicated client meanwhile."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from assistants.models import TimeOff, TimeOffStatus
from contracts.models import ContractAssistant
from core.roles import Role
from core.tenancy import agency_scope, scopes_disabled
from notifications.models import Notification
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import CategoryFactory, ContractFactory, LineFactory, ServiceFactory
from tests.factories import PASSWORD, AgencyFactory, ClientFactory, MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, user):
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()


def test_an_assistant_asks_for_time_off_and_an_admin_approves_it_with_a_cover(page, screenshot):
    agency = AgencyFactory(slug="harbor", name="Harbor Assist")
    admin = MembershipFactory(agency=agency, role=Role.ADMIN).user
    inbox = CategoryFactory(agency=agency, name="Inbox management")
    acme = ClientFactory(agency=agency, name="Acme Dental")
    contract = ContractFactory(agency=agency, client=acme, status="active")
    LineFactory(
        agency=agency, contract=contract, service=ServiceFactory(agency=agency, category=inbox)
    )
    MembershipFactory(agency=agency, role=Role.CLIENT, client=acme)
    dee = AssistantProfileFactory(agency=agency, time_zone="Asia/Manila", skills=[inbox]).membership
    cover = AssistantProfileFactory(agency=agency, skills=[inbox]).membership
    cover.user.full_name = "Cody Cover"
    cover.user.save(update_fields=["full_name"])
    with agency_scope(agency):
        ContractAssistant.objects.create(agency=agency, contract=contract, membership=dee)
    first = timezone.now().astimezone(dt.UTC).date() + dt.timedelta(days=10)
    last = first + dt.timedelta(days=4)

    # The assistant asks, from their profile.
    sign_in(page, dee.user)
    page.goto("/a/harbor/me/profile/")
    page.get_by_test_id("time-off-link").get_by_role("link", name="My time off").click()
    page.get_by_label("First day off").fill(first.isoformat())
    page.get_by_label("Last day off").fill(last.isoformat())
    page.get_by_label("Note").fill("Family wedding")
    page.get_by_role("button", name="Ask for time off").click()
    row = page.get_by_test_id("my-time-off").get_by_role("row").nth(1)
    expect(row).to_contain_text("Waiting for approval")
    expect(row).to_contain_text("5 days")
    screenshot("time-off-asked")
    page.context.clear_cookies()

    # The admin approves it with a cover.
    sign_in(page, admin)
    page.goto("/a/harbor/assistants/")
    page.get_by_role("link", name="Time off").first.click()
    page.get_by_test_id("time-off-requests").get_by_role("link", name="Review").click()
    expect(page.get_by_test_id("time-off-request")).to_contain_text("Acme Dental")
    page.get_by_label("Cover").select_option(label="Cody Cover")
    page.get_by_label("Note to the assistant").fill("Enjoy it")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".messages")).to_contain_text("Cody Cover takes their dedicated work")
    row = page.get_by_test_id("time-off-requests").get_by_role("row").nth(1)
    expect(row).to_contain_text("Approved")
    expect(row).to_contain_text("Cody Cover")
    screenshot("time-off-approved")

    with scopes_disabled():
        asked = TimeOff.objects.get()
        assert asked.status == TimeOffStatus.APPROVED and asked.cover_id == cover.pk
        assert (asked.starts_on, asked.ends_on) == (first, last)
        assert Notification.objects.filter(kind="cover_arranged").count() == 1
