"""A client's owner runs their team in a browser: invites a colleague with the rights they
will hold, lets another see the invoices; that colleague then finds the invoices in the
menu, where before they had none."""

import pytest
from playwright.sync_api import expect

from accounts.models import Invitation
from clients.models import ClientMemberRights
from core.roles import Role
from core.tenancy import scopes_disabled
from tests.factories import PASSWORD, AgencyFactory, ClientFactory, MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, email):
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()


def test_an_owner_invites_a_colleague_and_lets_another_see_the_invoices(page, screenshot):
    agency = AgencyFactory(slug="harbor", name="Harbor Assist")
    client = ClientFactory(agency=agency, name="Cedar Legal")
    owner = MembershipFactory(agency=agency, role=Role.CLIENT, client=client)
    colleague = MembershipFactory(agency=agency, role=Role.CLIENT, client=client)
    with scopes_disabled():
        ClientMemberRights.objects.create(agency=agency, membership=owner, is_owner=True)
        ClientMemberRights.objects.create(agency=agency, membership=colleague)

    # The colleague has no invoices in the menu yet.
    sign_in(page, colleague.user.email)
    expect(page).to_have_url("/a/harbor/")
    nav = page.locator("nav.mainnav")
    expect(nav.get_by_role("link", name="Our team")).to_have_count(1)
    expect(nav.get_by_role("link", name="Invoices")).to_have_count(0)
    page.context.clear_cookies()

    sign_in(page, owner.user.email)
    page.locator("nav.mainnav").get_by_role("link", name="Our team").click()
    expect(page.get_by_role("heading", name="Our team")).to_be_visible()
    page.get_by_test_id("invite-colleague").click()
    page.get_by_label("Their e-mail address").fill("rita@cedar.test")
    page.get_by_label("May approve work").uncheck()
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_test_id("team-invitation")).to_contain_text("rita@cedar.test")

    row = page.get_by_test_id("team-member").filter(has_text=colleague.user.email)
    row.get_by_role("link", name="Change").click()
    page.get_by_label("May see invoices").check()
    page.get_by_role("button", name="Save").click()
    expect(
        page.get_by_test_id("team-member").filter(has_text=colleague.user.email)
    ).to_contain_text("Yes")
    screenshot("client-team")
    page.context.clear_cookies()

    sign_in(page, colleague.user.email)
    page.locator("nav.mainnav").get_by_role("link", name="Invoices").click()
    expect(page).to_have_url("/a/harbor/our-invoices/")

    with scopes_disabled():
        invitation = Invitation.objects.select_related("client_rights").get()
    assert invitation.client_id == client.pk and invitation.role == Role.CLIENT
    assert not invitation.client_rights.may_approve
