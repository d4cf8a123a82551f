"""The day's work in the browser: a client requests with a file, an assistant takes it,
runs the timer, asks a question, the client answers, the assistant completes, the client
approves."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from core.roles import Role
from core.tenancy import agency_scope
from tasks.models import Task
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import CategoryFactory, ContractFactory, LineFactory, ServiceFactory
from tests.factories import PASSWORD, AgencyFactory, ClientFactory, MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ALWAYS = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def sign_in(browser_page, email):
    browser_page.context.clear_cookies()
    browser_page.goto("/accounts/login/")
    browser_page.get_by_label("Email").fill(email)
    browser_page.get_by_label("Password").fill(PASSWORD)
    browser_page.get_by_role("button", name="Sign In").click()
    expect(browser_page).to_have_url("/a/harbor/")


def test_request_take_time_ask_answer_complete_approve(page, screenshot, tmp_path):
    agency = AgencyFactory(slug="harbor", name="Harbor Assist")
    category = CategoryFactory(agency=agency, name="Travel")
    service = ServiceFactory(
        agency=agency,
        name="Travel booking",
        category=category,
        request_template=[
            {
                "name": "destination",
                "label": "Destination",
                "type": "text",
                "required": True,
                "choices": [],
            }
        ],
    )
    client = ClientFactory(
        agency=agency,
        name="Acme Dental",
        time_zone="America/Chicago",
        manual="# Acme\n\nAlways book aisle seats.",
    )
    contract = ContractFactory(
        agency=agency, client=client, status="active", starts_on=dt.date(2026, 1, 1)
    )
    LineFactory(agency=agency, contract=contract, service=service)
    alice = MembershipFactory(agency=agency, role=Role.CLIENT, client=client).user
    maria = AssistantProfileFactory(agency=agency, skills=[category], working_hours=ALWAYS)
    itinerary = tmp_path / "itinerary.pdf"
    itinerary.write_bytes(b"%PDF-1.4 itinerary")

    # The client asks, with a file.
    sign_in(page, alice.email)
    page.get_by_role("navigation", name="Agency").get_by_role("link", name="Requests").click()
    page.get_by_role("link", name="New request").first.click()
    page.get_by_label("Service").select_option(label="Travel booking")
    page.wait_for_load_state("networkidle")  # the service's own fields are swapped in
    page.get_by_label("Destination").fill("Lisbon")
    page.get_by_label("Title").fill("Flights to the Lisbon conference")
    page.get_by_label("Files (optional)").set_input_files(str(itinerary))
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_test_id("task-status")).to_have_text("Queued")
    expect(page.get_by_role("link", name="itinerary.pdf")).to_be_visible()

    # The assistant takes it and runs the timer.
    sign_in(page, maria.membership.user.email)
    page.get_by_role("navigation", name="Agency").get_by_role("link", name="Queue").click()
    page.get_by_test_id("take-next").click()
    expect(page.get_by_text("Flights to the Lisbon conference").first).to_be_visible()
    page.get_by_test_id("timer-start").first.click()
    expect(page.get_by_test_id("timer-stop").first).to_be_visible()
    page.get_by_role("link", name="Flights to the Lisbon conference").first.click()
    expect(page.get_by_text("Always book aisle seats.")).to_be_visible()  # the manual, beside
    page.get_by_text("Ask the client").click()
    page.get_by_label("Question").fill("Morning or evening flight?")
    page.get_by_role("button", name="Send the question").click()
    expect(page.get_by_test_id("task-status")).to_have_text("Waiting on client")

    # The client answers.
    sign_in(page, alice.email)
    with agency_scope(agency):
        task = Task.objects.get()
    page.goto(f"/a/harbor/tasks/{task.pk}/")
    expect(page.get_by_text("Morning or evening flight?")).to_be_visible()
    page.get_by_label("Your answer").fill("Morning, please.")
    page.get_by_role("button", name="Send answer").click()
    expect(page.get_by_test_id("task-status")).to_have_text("In progress")

    # The assistant completes.
    sign_in(page, maria.membership.user.email)
    page.goto(f"/a/harbor/tasks/{task.pk}/")
    expect(page.get_by_text("Morning, please.")).to_be_visible()
    page.get_by_text("Complete", exact=True).click()
    page.get_by_label("What was done").fill("Booked TAP 201 on 3 May, 08:10, aisle seat.")
    page.get_by_role("button", name="Complete the task").click()
    expect(page.get_by_test_id("task-status")).to_have_text("Completed")

    # The client approves.
    sign_in(page, alice.email)
    page.goto(f"/a/harbor/tasks/{task.pk}/")
    expect(page.get_by_test_id("summary")).to_contain_text("TAP 201")
    page.get_by_test_id("approve").click()
    screenshot("task-approved")
    with agency_scope(agency):
        task.refresh_from_db()
    assert task.status == "completed" and task.approved_at is not None
    # The timer ran from Start until the question stopped it, second for second.
    with agency_scope(agency):
        (run,) = task.time_entries.all()
    assert run.ended_at is not None
    assert run.seconds == int((run.ended_at - run.started_at).total_seconds())
    assert task.minutes_logged == -(-run.seconds // 60)  # a started minute counts
