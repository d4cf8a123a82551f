"""The service form in a real browser: "Add a field" adds request-field rows in the page
(from our own static script) and Remove takes one away, and what is saved is what is seen."""

import pytest
from playwright.sync_api import expect

from contracts.models import Service
from core.roles import Role
from core.tenancy import agency_scope
from tests.contracts.factories import CategoryFactory, ServiceFactory
from tests.factories import PASSWORD, AgencyFactory, MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def catalogue():
    agency = AgencyFactory(slug="harbor", name="Harbor Assist")
    category = CategoryFactory(agency=agency, name="Travel arrangements")
    admin = MembershipFactory(agency=agency, role=Role.ADMIN)
    return {"agency": agency, "category": category, "admin": admin.user}


def sign_in(page, email):
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url("/a/harbor/")


def label_inputs(page):
    return page.locator("[data-formset-rows] tr:not([hidden]) input[name$='-label']")


def test_staff_add_and_remove_request_fields_in_the_page(page, catalogue):
    sign_in(page, catalogue["admin"].email)
    page.goto("/a/harbor/services/new/")
    expect(page.locator("table[data-formset][data-formset-ready=true]")).to_have_count(1)
    page.get_by_label("Name").fill("Travel booking")
    page.get_by_label("Category").select_option(label="Travel arrangements")
    page.get_by_label("Default price").fill("60")
    expect(label_inputs(page)).to_have_count(3)

    add = page.get_by_role("button", name="Add a field")
    add.click()
    add.click()
    expect(label_inputs(page)).to_have_count(5)
    expect(page.locator("[name=template-TOTAL_FORMS]")).to_have_value("5")
    expect(label_inputs(page).nth(4)).to_be_focused()  # the new row is ready to type in

    for index, label in enumerate(["From", "To", "Departure date", "Mistake", "Passengers"]):
        label_inputs(page).nth(index).fill(label)
    page.locator("[name=template-2-type]").select_option("date")
    page.locator("[name=template-4-type]").select_option("number")
    page.get_by_role("button", name="Remove Mistake").click()
    expect(label_inputs(page)).to_have_count(4)
    page.get_by_role("button", name="Save service").click()
    expect(page).to_have_url("/a/harbor/services/")

    with agency_scope(catalogue["agency"]):
        template = Service.objects.get(name="Travel booking").request_template
    assert [(f["label"], f["type"]) for f in template] == [
        ("From", "text"),
        ("To", "text"),
        ("Departure date", "date"),
        ("Passengers", "number"),
    ]


def test_a_saved_field_is_removed_with_its_button(page, catalogue):
    service = ServiceFactory(
        agency=catalogue["agency"],
        name="Travel booking",
        category=catalogue["category"],
        request_template=[
            {"name": "origin", "label": "From", "type": "text", "required": True, "choices": []},
            {"name": "seat", "label": "Seat", "type": "text", "required": False, "choices": []},
        ],
    )
    sign_in(page, catalogue["admin"].email)
    page.goto(f"/a/harbor/services/{service.pk}/edit/")
    expect(page.locator("table[data-formset][data-formset-ready=true]")).to_have_count(1)
    page.get_by_role("button", name="Remove Seat").click()
    expect(label_inputs(page)).to_have_count(1 + 3)
    page.get_by_role("button", name="Save service").click()
    expect(page).to_have_url("/a/harbor/services/")
    with agency_scope(catalogue["agency"]):
        service.refresh_from_db()
    assert [f["name"] for f in service.request_template] == ["origin"]
