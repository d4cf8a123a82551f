"""An admin publishes the agency's public page; a visitor, signed out and without scripts,
reads it and follows "Choose this plan" to a way of getting in touch."""

import pytest
from playwright.sync_api import expect

from contracts.plans import Plan, PlanLine, PlanStatus
from core.roles import Role
from core.tenancy import scopes_disabled
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_accessibility import AXE, EMPTY_HEADERS, RUN_AXE
from tests.contracts.factories import CategoryFactory, ServiceFactory
from tests.contracts.test_public_page import PNG
from tests.factories import PASSWORD, AgencyFactory, MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_publishes_the_page_and_a_visitor_reads_it(
    chromium, live_server, page, screenshot, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    agency = AgencyFactory(name="Harbor Assist", slug="harbor")
    admin = MembershipFactory(agency=agency, role=Role.ADMIN)
    category = CategoryFactory(agency=agency, name="Inbox management")
    service = ServiceFactory(agency=agency, category=category, name="Inbox zero")
    with scopes_disabled():
        plan = Plan.objects.create(
            agency=agency,
            name="Twenty hours",
            currency=agency.default_currency,
            days_until_due=14,
            status=PlanStatus.PUBLISHED,
        )
        PlanLine.objects.create(
            agency=agency, plan=plan, service=service, pricing_model="flat", flat_fee=4000
        )

    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(admin.user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url("/a/harbor/")
    page.get_by_role("link", name="Public page and plans").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Public page")

    page.get_by_label("Published").check()
    page.get_by_label("Brand colour").fill("#ffd400")  # pale: the header text turns black
    page.get_by_label("Pitch").fill("Assistants for **busy founders**.")
    page.get_by_label("Contact e-mail").fill("hello@harbor.test")
    page.get_by_label("Logo").set_input_files(
        files=[{"name": "logo.png", "mimeType": "image/png", "buffer": PNG}]
    )
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Public page saved; it is published.")).to_be_visible()

    page.get_by_role("link", name="services you list").click()
    page.get_by_role("checkbox", name="Inbox zero").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("The public page's services are saved.")).to_be_visible()
    screenshot("public-page-settings")

    visitor = chromium.new_context(base_url=live_server.url, java_script_enabled=False)
    stranger = visitor.new_page()
    stranger.goto("/p/harbor/")
    expect(stranger.get_by_role("heading", level=1)).to_have_text("Harbor Assist")
    expect(stranger.get_by_text("busy founders")).to_be_visible()
    expect(stranger.get_by_test_id("listed-service")).to_contain_text("Inbox zero")
    expect(stranger.get_by_role("img", name="Harbor Assist logo")).to_be_visible()
    header = stranger.get_by_test_id("public-header")
    expect(header).to_have_css("background-color", "rgb(255, 212, 0)")
    expect(header.get_by_role("link", name="Harbor Assist")).to_have_css("color", "rgb(0, 0, 0)")
    SCREENSHOTS.mkdir(exist_ok=True)
    stranger.screenshot(path=str(SCREENSHOTS / "public-page-visitor.png"), full_page=True)

    stranger.get_by_role("link", name="Choose this plan").click()
    expect(stranger.get_by_test_id("contact-link")).to_have_attribute(
        "href", "mailto:hello@harbor.test?subject=Twenty%20hours%20plan"
    )
    visitor.close()

    # axe finds nothing on the public pages nor on the staff pages behind them.
    found = {}
    for path in [
        "/p/harbor/",
        f"/p/harbor/plans/{plan.pk}/",
        "/a/harbor/settings/public-page/",
        "/a/harbor/settings/public-page/services/",
        "/a/harbor/plans/",
        f"/a/harbor/plans/{plan.pk}/",
        f"/a/harbor/plans/{plan.pk}/contract/",
    ]:
        page.goto(path)
        page.add_script_tag(path=str(AXE))
        problems = page.evaluate(RUN_AXE) + page.evaluate(EMPTY_HEADERS)
        if problems:
            found[path] = problems
    assert found == {}

    # Unpublished, the page is gone for the visitor.
    page.goto("/a/harbor/settings/public-page/")
    page.get_by_label("Published").uncheck()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("it is not published")).to_be_visible()
    response = page.request.get(f"{live_server.url}/p/harbor/")
    assert response.status == 404
