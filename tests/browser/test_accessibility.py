"""Everyone can use it: axe-core finds nothing on each role's main pages, a skip link leads
to the content, keyboard focus survives the buttons that redraw part of the page, and
results are read out from a live region."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.main_pages import an_agency, sign_in, walk

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# axe-core from npm (MPL-2.0, its licence beside it); only the tests load it.
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"

RUN_AXE = """async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations.map(v => `${v.id} (${v.impact}): ${v.help} at ` +
    v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", "));
}"""
EMPTY_HEADERS = """() => [...document.querySelectorAll("th")]
  .filter(th => !th.textContent.trim()).map(th => th.closest("table").outerHTML.slice(0, 120))"""


def test_axe_finds_nothing_on_each_roles_main_pages_and_a_skip_link_leads_to_the_content(page):
    # One agency and one sign-in per role for every width: these checks only read.
    agency = an_agency()

    def look(role, width, name):
        page.add_script_tag(path=str(AXE))
        violations = page.evaluate(RUN_AXE)
        empty_headers = page.evaluate(EMPTY_HEADERS)
        return violations + [f"a header cell with no text in {t}" for t in empty_headers]

    def skip_link(role, width):
        if role == "staff" and width == 1280:
            check_the_skip_link(page, agency)

    assert (
        walk(page, agency, widths=[1280, 390], height=900, look=look, after_width=skip_link) == {}
    )


def check_the_skip_link(page, agency):
    """The skip link is the first stop and leads to the main content."""
    page.goto(agency.pages["staff"][1][1])
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()  # it shows itself once it has the focus
    page.keyboard.press("Enter")
    expect(page.get_by_role("main")).to_be_focused()
    # The next Tab goes into the page's own content, past the header and its menu.
    page.keyboard.press("Tab")
    assert page.evaluate("document.querySelector('main').contains(document.activeElement)")


def test_start_timer_on_the_queue_keeps_focus_and_says_so(page):
    agency = an_agency()
    sign_in(page, agency, "assistant")
    page.goto(agency.pages["assistant"][0][1])
    row = page.get_by_test_id("queue-mine").get_by_test_id("queue-row")
    region = page.locator("#queue-messages")
    region.evaluate("element => { element.dataset.sameRegion = 'yes'; }")

    row.get_by_role("button", name="Start timer").focus()
    page.keyboard.press("Enter")

    stop = (
        page.get_by_test_id("queue-mine").get_by_test_id("queue-row").get_by_test_id("timer-stop")
    )
    expect(stop).to_be_focused()
    # Said in a live region that was on the page before the answer came, so it is read out.
    status = page.get_by_role("status").filter(has_text="Timer running")
    expect(status).to_have_attribute("data-same-region", "yes")


def test_taking_from_the_pool_keeps_focus_on_the_task_taken(page):
    agency = an_agency()
    sign_in(page, agency, "assistant")
    page.goto(agency.pages["assistant"][0][1])
    page.get_by_test_id("queue-pool").get_by_role("button", name="Take").focus()
    page.keyboard.press("Enter")

    expect(page.get_by_role("status").filter(has_text="is yours now")).to_be_visible()
    taken = (
        page.get_by_test_id("queue-mine")
        .locator("[data-task]")
        .filter(has_text="Flights to the Lisbon conference")
    )
    expect(taken.get_by_role("button", name="Start timer")).to_be_focused()


def test_start_timer_on_the_task_page_keeps_focus_and_says_so(page):
    agency = an_agency()
    sign_in(page, agency, "assistant")
    page.goto(agency.pages["assistant"][1][1])
    page.get_by_test_id("work-panel").get_by_role("button", name="Start timer").focus()
    page.keyboard.press("Enter")

    expect(page.get_by_role("button", name="Stop timer")).to_be_focused()
    expect(page.get_by_role("status").filter(has_text="Timer running")).to_be_visible()


def test_a_form_success_is_said_in_a_live_region(page):
    agency = an_agency()
    sign_in(page, agency, "client")
    page.goto(agency.pages["client"][3][1])
    page.get_by_test_id("approve").click()
    expect(page.get_by_role("status").filter(has_text="approved")).to_be_visible()
