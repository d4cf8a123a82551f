"""The search field that replaces selects of every client or assistant works by keyboard
and reads out to a screen reader: typing lists matches, arrows move through them (the
active one named by aria-activedescendant), Enter chooses, Escape closes, the choice is
kept after filtering, and axe-core finds nothing wrong with the field open."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from core.roles import Role
from tests.factories import PASSWORD, AgencyFactory, ClientFactory, MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
RUN_AXE = """async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations.map(v => `${v.id}: ${v.help} at ` +
    v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", "));
}"""


def test_a_client_is_found_chosen_and_kept_by_keyboard(page):
    agency = AgencyFactory(slug="keys", name="Keys Agency")
    owner = MembershipFactory(agency=agency, role=Role.OWNER).user
    for name in ("Acme Dental", "Acme Legal", "Bloom Studio"):
        ClientFactory(agency=agency, name=name)
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(owner.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.goto("/a/keys/tasks/")

    field = page.get_by_role("combobox", name="Client")
    field.fill("acme")
    listbox = page.get_by_role("listbox")
    expect(listbox.get_by_role("option")).to_have_count(2)
    expect(field).to_have_attribute("aria-expanded", "true")
    expect(page.locator("[data-search-select] [role=status]").first).to_have_text("2 matches")

    page.add_script_tag(path=str(AXE))
    assert page.evaluate(RUN_AXE) == []

    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    second = listbox.get_by_role("option", name="Acme Legal")
    expect(second).to_have_attribute("aria-selected", "true")
    expect(field).to_have_attribute("aria-activedescendant", second.get_attribute("id"))
    page.keyboard.press("Escape")
    expect(field).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("ArrowDown")  # opens the list again, from its first option
    expect(listbox.get_by_role("option", name="Acme Dental")).to_have_attribute(
        "aria-selected", "true"
    )
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(field).to_have_value("Acme Legal")

    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("combobox", name="Client")).to_have_value("Acme Legal")
    assert "client=" in page.url
