"""Double clicks in a real browser: the page's script holds a sent form until its answer
comes (the one-time form key behind it is tested over HTTP, tests/core/test_idempotency.py);
an assistant takes the pool task they are reading."""

import contextlib

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from core.tenancy import agency_scope
from tasks.models import Task
from tests.assistants.factories import AssistantProfileFactory
from tests.browser.test_task_journey import ALWAYS
from tests.contracts.factories import CategoryFactory, ContractFactory, LineFactory, ServiceFactory
from tests.factories import PASSWORD, AgencyFactory, ClientFactory
from tests.tasks.factories import TaskFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def queue():
    agency = AgencyFactory(slug="harbor", name="Harbor Assist")
    category = CategoryFactory(agency=agency, name="Inbox")
    line = LineFactory(
        agency=agency,
        contract=ContractFactory(
            agency=agency, client=ClientFactory(agency=agency), status="active"
        ),
        service=ServiceFactory(agency=agency, category=category, name="Inbox care"),
    )
    first = TaskFactory(agency=agency, contract_line=line, title="Sort the March inbox")
    later = first.due_at.replace(year=first.due_at.year + 1)
    second = TaskFactory(
        agency=agency, contract_line=line, title="Answer the supplier", due_at=later
    )
    maria = AssistantProfileFactory(agency=agency, skills=[category], working_hours=ALWAYS)
    return {"agency": agency, "first": first, "second": second, "maria": maria.membership}


def sign_in(page, email):
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url("/a/harbor/")


def held_by(queue) -> list[str]:
    with agency_scope(queue["agency"]):
        return list(
            Task.objects.filter(assignee=queue["maria"])
            .order_by("pk")
            .values_list("title", flat=True)
        )


class Held:
    """Take next's POSTs, held: each is sent on to the server and answered to the browser
    only when the test says, so the first press is still on its way when the second comes
    (as on a slow connection)."""

    def __init__(self, page):
        self.page = page
        self.routes = []
        page.route("**/queue/take-next/", self.hold)

    def hold(self, route):
        self.routes.append(route)

    def answer(self):
        # A press's request reaches the route a moment after the click returns: wait
        # for it (the route handler runs while Playwright waits), then answer it.
        for _ in range(100):
            if self.routes:
                break
            self.page.wait_for_timeout(50)
        assert self.routes, "the press sent no request"
        routes, self.routes = self.routes, []
        for route in routes:
            response = route.fetch(max_redirects=0)  # the server sees this request now
            with contextlib.suppress(PlaywrightError):  # unless the browser gave up on it
                route.fulfill(response=response)


def test_the_script_holds_take_next_until_its_answer_comes(page, queue, screenshot):
    sign_in(page, queue["maria"].user.email)
    page.goto("/a/harbor/queue/")
    held = Held(page)
    button = page.get_by_test_id("take-next")
    with page.expect_request("**/queue/take-next/"):
        button.click()
    expect(button).to_be_disabled()
    button.dispatch_event("click")  # a second press while the first is on its way
    assert len(held.routes) == 1
    held.answer()
    mine = page.get_by_test_id("queue-mine")
    expect(mine.get_by_text("Sort the March inbox")).to_be_visible()
    expect(page.get_by_text("“Sort the March inbox” is yours now.")).to_be_visible()
    screenshot("take-next-once")
    assert held_by(queue) == ["Sort the March inbox"]
    # Its answer came: the button works again, with a new key, for a deliberate press.
    expect(page.get_by_test_id("take-next")).to_be_enabled()
    page.get_by_test_id("take-next").click()
    held.answer()
    expect(mine.get_by_text("Answer the supplier")).to_be_visible()
    assert held_by(queue) == ["Sort the March inbox", "Answer the supplier"]


def test_an_assistant_takes_the_pool_task_they_are_reading(page, queue):
    sign_in(page, queue["maria"].user.email)
    page.goto(f"/a/harbor/tasks/{queue['second'].pk}/")
    page.get_by_test_id("take-this").click()
    expect(page.get_by_text("“Answer the supplier” is yours now.")).to_be_visible()
    expect(page.get_by_test_id("task-status")).to_have_text("Assigned")
    assert held_by(queue) == ["Answer the supplier"]
