"""Choosing a contract's dedicated assistants in a real browser: typing part of a name lists
the matching current assistants, picking one (by mouse or keyboard) adds it as a ticked box
and empties the field for the next name, axe-core finds nothing wrong with the field, and
what is saved is the two picked."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from contracts.models import ServiceContract
from core.roles import Role
from core.tenancy import agency_scope, scopes_disabled
from tests.assistants.factories import AssistantProfileFactory
from tests.factories import PASSWORD, AgencyFactory, ClientFactory, MembershipFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
RUN_AXE = """async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations.map(v => `${v.id}: ${v.help} at ` +
    v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", "));
}"""


def assistant(agency, name):
    return AssistantProfileFactory(
        agency=agency, membership__user=UserFactory(full_name=name)
    ).membership


def test_two_assistants_are_chosen_by_typing(page):
    agency = AgencyFactory(slug="dedicate", name="Dedicate Agency")
    owner = MembershipFactory(agency=agency, role=Role.OWNER).user
    client = ClientFactory(agency=agency, name="Acme Dental")
    ana, bea = assistant(agency, "Ana Lima"), assistant(agency, "Bea Souza")
    assistant(agency, "Anabel Costa")
    former = assistant(agency, "Ana Former")
    with scopes_disabled():
        former.is_active = False
        former.save()
    for n in range(30):
        assistant(agency, f"Zed {n:02d}")

    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(owner.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url("/a/dedicate/")
    page.goto(f"/a/dedicate/contracts/new/?client={client.pk}")
    page.get_by_label("Name", exact=True).fill("Front desk 2026")

    field = page.get_by_role("combobox", name="Dedicated assistants")
    field.fill("ana")
    listbox = page.locator("#id_dedicated_listbox")
    # current assistants only: the former one is not offered
    expect(listbox.get_by_role("option")).to_have_count(2)
    expect(field).to_have_attribute("aria-expanded", "true")
    listbox.get_by_role("option", name="Ana Lima").click()
    expect(page.get_by_role("checkbox", name="Ana Lima")).to_be_checked()
    expect(field).to_have_value("")
    expect(field).to_be_focused()

    field.press_sequentially("sou")
    expect(listbox.get_by_role("option")).to_have_count(1)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.get_by_role("checkbox", name="Bea Souza")).to_be_checked()
    expect(page.get_by_role("checkbox")).to_have_count(3)  # the two, and "Bill on approval"

    page.add_script_tag(path=str(AXE))
    assert page.evaluate(RUN_AXE) == []

    page.get_by_role("button", name="Create draft").click()
    expect(page.get_by_text("Draft “Front desk 2026” created")).to_be_visible()
    with agency_scope(agency):
        contract = ServiceContract.objects.get(client=client)
        assert {d.membership_id for d in contract.dedicated.all()} == {ana.pk, bea.pk}
    expect(page.get_by_text("Ana Lima, Bea Souza")).to_be_visible()
