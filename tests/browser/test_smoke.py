import io

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DEMO_PASSWORD = "demo-pass-2026"


@pytest.fixture
def demo_agency():
    call_command("seed_demo", password=DEMO_PASSWORD, stdout=io.StringIO())


def sign_in(page, email, password=DEMO_PASSWORD):
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign In").click()


@pytest.mark.parametrize(
    ("email", "heading", "nav"),
    [
        ("owner@demo.test", "Harbor Assist", "Team"),
        ("maria@demo.test", "My queue", None),
        ("alice@acme.test", "Acme Dental", None),
    ],
)
def test_each_demo_role_signs_in_and_sees_its_dashboard(
    demo_agency, page, screenshot, email, heading, nav
):
    sign_in(page, email)
    expect(page).to_have_url("/a/demo/")
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    agency_nav = page.get_by_role("navigation", name="Agency")
    if nav:
        expect(agency_nav.get_by_role("link", name=nav)).to_be_visible()
    else:
        expect(agency_nav.get_by_role("link", name="Team", exact=True)).to_have_count(0)
    screenshot(f"dashboard-{email.split('@')[0]}")


def test_a_wrong_password_is_a_clear_form_error(demo_agency, page):
    sign_in(page, "owner@demo.test", "not-the-password")
    expect(page.get_by_text("not correct")).to_be_visible()
    expect(page).to_have_url("/accounts/login/")


def test_a_visitor_finds_the_demo_agencys_public_page_and_its_plan(demo_agency, page):
    page.goto("/p/demo/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Harbor Assist")
    expect(page.get_by_text("Inbox care, 10 hours a month").first).to_be_visible()
    expect(page.get_by_text("Travel booking")).to_be_visible()
