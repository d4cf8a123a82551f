"""CSV files open on their header row and say in their name what they hold; contractor
earnings open on the latest month with time logged."""

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse

from core.periods import Period
from core.tenancy import scopes_disabled
from reports.tables import download_name, range_label
from tasks.models import TimeEntry
from tests.assistants.factories import AssistantProfileFactory
from tests.reports.test_reports_books import at, build_books
from tests.tasks.factories import TaskFactory


@pytest.fixture
def books(agency, time_machine):
    agency.slug = "cedar"
    agency.save()
    return build_books(agency, time_machine)  # the clock stays at 2026-04-15 12:00 UTC


def page(books, name, **kwargs):
    return reverse(name, kwargs={"agency_slug": books.agency.slug, **kwargs})


def rows_of(response):
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.content.decode())))


def disposition(response):
    return response["Content-Disposition"]


# -- CSV files ---------------------------------------------------------------------------------


def test_a_report_csv_starts_with_its_header_and_names_itself(books, signed_in):
    http = signed_in(books.owner.user)
    response = http.get(
        page(books, "report_revenue"),
        {
            "start": "2026-01-01",
            "end": "2026-12-31",
            "client": books.acme.pk,
            "format": "csv",
            "table": "by_client",
        },
    )
    lines = rows_of(response)
    assert lines[0][:2] == ["Client", "Billed"] and lines[0][-1] == "Currency"
    assert lines[1][0] == "Acme Dental"
    assert disposition(response) == (
        'attachment; filename="revenue-by-client-2026-01-to-2026-12-cedar-acme-dental.csv"'
    )


def test_a_filtered_assistant_is_named_in_the_file_name(books, signed_in):
    response = signed_in(books.owner.user).get(
        page(books, "report_hours"),
        {
            "start": "2026-04-03",
            "end": "2026-04-20",
            "assistant": books.joao.membership_id,
            "format": "csv",
            "table": "by_client",
        },
    )
    assert rows_of(response)[0][0] == "Client"
    assert disposition(response) == (
        'attachment; filename="hours-by-client-2026-04-03-to-2026-04-20-cedar-joao-silva.csv"'
    )


@pytest.mark.parametrize("name", ["report_hours", "report_on_time", "report_usage"])
def test_every_report_csv_starts_with_its_header(books, signed_in, name):
    lines = rows_of(signed_in(books.owner.user).get(page(books, name), {"format": "csv"}))
    assert lines[0][0] in ("Assistant", "Service", "Client")
    assert not any("cedar" in cell.lower() or "From " in cell for cell in lines[0])


def test_a_file_name_holds_only_safe_characters(books):
    april = Period(dt.date(2026, 4, 1), dt.date(2026, 4, 30), "Europe/London")
    some_days = Period(dt.date(2026, 4, 3), dt.date(2026, 4, 20), "Europe/London")
    assert range_label(april) == "2026-04"
    assert range_label(some_days) == "2026-04-03-to-2026-04-20"
    name = download_name("hours", "by_client", "2026-04", "cedar", 'João "Zé" / Ça; rm -rf')
    assert name == "hours-by-client-2026-04-cedar-joao-ze-ca-rm-rf.csv"


def test_a_statement_csv_starts_with_its_header_and_names_itself(books, signed_in):
    http = signed_in(books.joao.membership.user)
    response = http.get(page(books, "my_earnings_statement"), {"month": "2026-04", "format": "csv"})
    lines = rows_of(response)
    assert lines[0] == ["Client", "Hours", "Rate per hour", "Amount", "Currency"]
    assert lines[1:] == [
        ["Acme Dental", "0.75", "12.00", "9.00", "EUR"],
        ["Bloom Studio", "12.75", "12.00", "153.00", "EUR"],
        ["Total", "13.50", "", "162.00", "EUR"],
    ]
    assert disposition(response) == 'attachment; filename="earnings-2026-04-joao-silva-cedar.csv"'


# -- the month earnings open on --------------------------------------------------------------


def assistant_with_time(books, *started):
    """A new assistant with an hour logged on each day given."""
    profile = AssistantProfileFactory(agency=books.agency, pay_rate=1000, pay_currency="USD")
    for day in started:
        task = TaskFactory(
            agency=books.agency,
            contract_line=books.inbox,
            status="in_progress",
            assignee=profile.membership,
        )
        with scopes_disabled():
            TimeEntry.objects.create(
                agency=books.agency,
                task=task,
                assistant=profile.membership,
                started_at=at(day, 10),
                ended_at=at(day, 11),
                minutes=60,
            )
    return profile


def opened(http, books, name="my_earnings", **kwargs):
    return http.get(page(books, name, **kwargs)).context["selected"].month


def statement_month(http, books):
    return http.get(page(books, "my_earnings_statement")).context["earned"].month


def test_this_months_time_opens_this_month_page_and_statement(books, signed_in):
    http = signed_in(books.joao.membership.user)  # time in March and April
    assert opened(http, books) == dt.date(2026, 4, 1)
    assert statement_month(http, books) == dt.date(2026, 4, 1)


def test_without_time_this_month_the_latest_earlier_month_opens(books, signed_in):
    profile = assistant_with_time(books, "2025-12-03", "2026-02-10")
    http = signed_in(profile.membership.user)
    assert opened(http, books) == dt.date(2026, 2, 1)
    assert statement_month(http, books) == dt.date(2026, 2, 1)
    staff = signed_in(books.owner.user)
    pk = profile.membership_id
    assert opened(staff, books, "assistant_earnings", pk=pk) == dt.date(2026, 2, 1)


def test_time_older_than_the_months_shown_still_opens_its_month(books, signed_in):
    profile = assistant_with_time(books, "2024-06-20")
    page_context = signed_in(profile.membership.user).get(page(books, "my_earnings")).context
    assert page_context["selected"].month == dt.date(2024, 6, 1)
    assert page_context["selected"].minutes == 60


def test_without_any_time_this_month_opens(books, signed_in):
    profile = AssistantProfileFactory(agency=books.agency)
    http = signed_in(profile.membership.user)
    assert opened(http, books) == dt.date(2026, 4, 1)
    assert statement_month(http, books) == dt.date(2026, 4, 1)


def test_a_month_asked_for_is_the_month_opened(books, signed_in):
    http = signed_in(books.joao.membership.user)
    assert http.get(page(books, "my_earnings"), {"month": "2026-03"}).context[
        "selected"
    ].month == dt.date(2026, 3, 1)
    assert http.get(page(books, "my_earnings"), {"month": "2100-01"}).status_code == 400


def test_the_api_opens_on_the_same_month(books, api):
    profile = assistant_with_time(books, "2026-02-10")
    body = api(profile.membership.user).get(
        reverse("api:my-earnings", kwargs={"agency_slug": books.agency.slug})
    )
    assert body.json()["selected"]["month"] == "2026-02-01"
