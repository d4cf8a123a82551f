"""The staff earnings overview and the margin report at size: the overview equals each
assistant's own earnings (closed months from their kept time, the current month live),
shows 50 assistants a page, and costs the same queries for 1 or 200 assistants; closed
months are read from the kept rows, never from every time entry."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.payouts import months_of, payout_record
from core.tenancy import agency_scope, scopes_disabled
from reports.earnings import OVERVIEW_ORDER, overview_profiles, overview_rows
from tasks.models import TimeEntry
from tests.assistants.factories import AssistantProfileFactory
from tests.reports.test_reports import report_url
from tests.reports.test_reports_books import NOW, at, build_books
from tests.tasks.factories import TaskFactory

MARCH, APRIL = dt.date(2026, 3, 1), dt.date(2026, 4, 1)


@pytest.fixture
def books(agency, time_machine):
    return build_books(agency, time_machine)


def _log(books, person, *, day: str, seconds: int, line=None) -> None:
    """A finished entry of `seconds` (not whole minutes: pay is priced on seconds)."""
    task = TaskFactory(
        agency=books.agency,
        contract_line=line or books.inbox,
        status="in_progress",
        assignee=person.membership,
        due_at=at(day, 17),
    )
    with scopes_disabled():
        TimeEntry.objects.create(
            agency=books.agency,
            task=task,
            assistant=person.membership,
            started_at=at(day, 9),
            ended_at=at(day, 9) + dt.timedelta(seconds=seconds),
            minutes=seconds // 60,
            seconds=seconds,
        )


def _overview(agency, month):
    profiles = overview_profiles(agency=agency, month=month).order_by(*OVERVIEW_ORDER)
    return overview_rows(agency=agency, month=month, profiles=profiles)


def test_the_overview_equals_each_assistants_own_months(books):
    agency = books.agency
    # odd seconds on two clients, so that per-client rounding shows
    _log(books, books.maria, day="2026-03-05", seconds=1234)
    _log(books, books.maria, day="2026-03-06", seconds=601, line=books.bookkeeping)
    _log(books, books.joao, day="2026-04-14", seconds=3599)
    idle = AssistantProfileFactory(agency=agency, membership__user__full_name="Ana Idle")
    left = AssistantProfileFactory(agency=agency, membership__user__full_name="Bea Left")
    _log(books, left, day="2026-03-09", seconds=1800)
    with scopes_disabled():
        left.membership.is_active = False
        left.membership.save()
    with agency_scope(agency):
        payout_record(
            agency=agency, actor=books.owner.user, membership=books.maria.membership, month=MARCH
        )
        books.maria.pay_rate = 2100  # a raise: March keeps its paid rate, April does not
        books.maria.save()
        for month in (MARCH, APRIL):
            rows = _overview(agency, month)
            expected = []
            for profile in (books.joao, books.maria, idle, left):
                if month == APRIL and profile == left:
                    continue  # inactive, nothing logged in April
                (earned,) = months_of(agency=agency, membership=profile.membership, months=[month])
                expected.append(
                    (profile.membership_id, earned.minutes, earned.amounts, earned.paid)
                )
            got = [(r.profile.membership_id, r.minutes, r.amounts, r.paid) for r in rows]
            assert sorted(got) == sorted(expected)


def test_a_closed_month_reads_its_kept_time_not_the_entries(books, signed_in):
    http = signed_in(books.owner.user)
    url = reverse("earnings_overview", args=[books.agency.slug]) + "?month=2026-03"
    assert http.get(url).status_code == 200  # counts March's kept rows once
    with CaptureQueriesContext(connection) as captured:
        response = http.get(url)
    assert not [q for q in captured.captured_queries if "tasks_timeentry" in q["sql"]]
    assert {r.profile.membership_id: r.minutes for r in response.context["rows"]} == {
        books.maria.membership_id: 120,
        books.joao.membership_id: 480,
    }


def test_the_overview_shows_fifty_assistants_a_page(books, signed_in):
    agency = books.agency
    for n in range(60):
        AssistantProfileFactory(agency=agency, membership__user__full_name=f"Zed {n:02d}")
    http = signed_in(books.owner.user)
    url = reverse("earnings_overview", args=[agency.slug]) + "?month=2026-03"
    first = http.get(url)
    assert first.status_code == 200
    assert len(first.context["rows"]) == 50
    page = first.context["page"]
    assert page.has_next
    second = http.get(reverse("earnings_overview", args=[agency.slug]) + page.next_url)
    names = [r.profile.membership.user.full_name for r in first.context["rows"]] + [
        r.profile.membership.user.full_name for r in second.context["rows"]
    ]
    assert len(names) == 62 == len(set(names))
    assert names[:2] == ["João Silva", "Maria Santos"]
    assert 'rel="next"' in first.content.decode()
    assert "?month=2026-03" in page.next_url or "month=2026-03" in page.next_url


@pytest.mark.parametrize("month", ["2026-03", "2026-04"])
def test_overview_queries_are_flat_from_one_to_two_hundred_assistants(
    agency, time_machine, signed_in, count_queries, month
):
    books = build_books(agency, time_machine)
    http = signed_in(books.owner.user)
    url = reverse("earnings_overview", args=[agency.slug]) + f"?month={month}"

    def page():
        assert http.get(url).status_code == 200

    page()
    few = count_queries(page)
    for n in range(198):
        person = AssistantProfileFactory(agency=agency, pay_rate=1000 + n)
        if n % 10 == 0:
            _log(books, person, day=f"{month}-0{1 + n % 9}", seconds=600 + n)
    time_machine.move_to(NOW, tick=False)
    page()
    assert count_queries(page) == few


def test_the_margin_report_reads_the_kept_time_once(books, signed_in):
    """Owed per client and per assistant come from the closed months' priced totals; the
    kept time is read only for one client or one assistant, once."""
    http = signed_in(books.owner.user)
    url = report_url(books, "report_margin", start="2026-01-01", end="2026-04-15")
    assert http.get(url).status_code == 200
    with CaptureQueriesContext(connection) as captured:
        assert http.get(url).status_code == 200
    sql = [q["sql"] for q in captured.captured_queries]
    assert not [q for q in sql if "reports_timemonth" in q]
    assert len([q for q in sql if "reports_owedmonth" in q]) == 1
    assert len([q for q in sql if "reports_owedclientmonth" in q]) == 1
    with CaptureQueriesContext(connection) as captured:
        assert http.get(f"{url}&client={books.acme.pk}").status_code == 200
    kept = [q for q in captured.captured_queries if "reports_timemonth" in q["sql"]]
    assert len(kept) == 1
