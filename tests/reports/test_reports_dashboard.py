"""The admin dashboard's figures against the hand-worked books, its inline SVG charts (no
CDN, no script), who sees the numbers, and queries flat in the number of rows."""

import re

import pytest
from django.urls import reverse

from core.roles import Role
from core.tenancy import agency_scope
from reports.dashboard import receivables, scheduled_minutes, staff_dashboard
from tests.reports.test_reports import more_work
from tests.reports.test_reports_books import NOW, build_books


@pytest.fixture
def books(agency, time_machine):
    return build_books(agency, time_machine)


def test_this_months_figures(books):
    with agency_scope(books.agency):
        numbers = staff_dashboard(agency=books.agency, now=NOW)
    revenue = {row["currency"]: row for row in numbers["revenue"]}
    assert (revenue["USD"]["billed"], revenue["USD"]["unbilled"]) == (4000, 6000)
    assert revenue["USD"]["written_off"] == 2000
    assert (revenue["EUR"]["billed"], revenue["EUR"]["unbilled"]) == (0, 83750)
    assert numbers["on_time"]["completed"] == 5
    assert numbers["on_time"]["on_time"] == 3
    assert str(numbers["on_time"]["rate"]) == "60.0"
    (retainer,) = numbers["retainers"]
    assert (retainer["client"], retainer["used"], retainer["bank"]) == ("Bloom Studio", 720, 720)


def test_receivables_by_age(books):
    with agency_scope(books.agency):
        (usd,) = receivables(agency=books.agency, now=NOW)
    assert (usd["count"], usd["overdue"]) == (2, 1)
    # INV-A4 fell due on 30 March: 16 days past due on 15 April
    assert (usd["current"], usd["days_1_30"], usd["days_31_60"], usd["days_60_plus"]) == (
        4000,
        8000,
        0,
        0,
    )
    assert usd["total"] == 12000


def test_receivables_buckets_move_with_time(books):
    import datetime as dt

    later = NOW + dt.timedelta(days=45)  # INV-A4 61 days late, INV-A1 29 days late
    with agency_scope(books.agency):
        (usd,) = receivables(agency=books.agency, now=later)
    assert (usd["current"], usd["days_1_30"], usd["days_60_plus"]) == (0, 4000, 8000)


def test_revenue_chart_months_and_currencies(books):
    with agency_scope(books.agency):
        numbers = staff_dashboard(agency=books.agency, now=NOW)
    charts = {chart.dom_id: chart for chart in numbers["revenue_charts"]}
    assert set(charts) == {"chart-revenue-eur", "chart-revenue-usd"}
    usd = {
        row["month"]: (row["billed"], row["unbilled"]) for row in charts["chart-revenue-usd"].table
    }
    assert usd["March 2026"] == (8000, 0)
    assert usd["April 2026"] == (4000, 6000)
    eur = {row["month"]: row["unbilled"] for row in charts["chart-revenue-eur"].table}
    assert eur["March 2026"] == 80000 and eur["April 2026"] == 83750
    trend = {row["month"]: row["rate"] for row in numbers["on_time_chart"].table}
    assert str(trend["April 2026"]) == "60.0" and str(trend["March 2026"]) == "100.0"


def test_scheduled_minutes_follow_the_weekly_hours():
    import datetime as dt

    week = {"mon": [["09:00", "13:00"], ["14:00", "18:00"]], "sat": [["22:00", "24:00"]]}
    # 13-19 April 2026: Monday to Sunday
    assert scheduled_minutes(week, dt.date(2026, 4, 13), dt.date(2026, 4, 19)) == 8 * 60 + 120


def test_the_dashboard_draws_its_charts_inline(books, signed_in):
    html = signed_in(books.owner.user).get(reverse("dashboard", args=[books.agency.slug]))
    assert html.status_code == 200
    page = html.content.decode()
    assert page.count("<svg") >= 4  # revenue USD and EUR, on-time trend, utilisation
    assert 'role="img"' in page and "<title id=" in page and "<desc id=" in page
    assert "Revenue by month (USD)" in page and "Revenue by month (EUR)" in page
    # nothing is fetched from elsewhere: every src/href is on this site
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "$40.00" in page and "€837.50" in page  # billed USD, unbilled EUR
    assert 'data-testid="at-risk-count"' in page


@pytest.mark.parametrize("role", [Role.ASSISTANT, Role.CLIENT])
def test_other_roles_do_not_see_the_agencys_numbers(books, member, signed_in, role):
    page = signed_in(member(role).user).get(reverse("dashboard", args=[books.agency.slug]))
    assert page.status_code == 200
    assert b"dashboard-figures" not in page.content and b"Revenue by month" not in page.content


def test_dashboard_queries_do_not_grow_with_rows(books, signed_in, count_queries):
    http = signed_in(books.owner.user)
    url = reverse("dashboard", args=[books.agency.slug])

    def page():
        assert http.get(url).status_code == 200

    def figures():
        with agency_scope(books.agency):
            staff_dashboard(agency=books.agency, now=NOW)

    page()
    few = count_queries(page)
    few_figures = count_queries(figures)
    more_work(books, 12)
    assert count_queries(page) == few
    # this month's charges and completions read once for the figures and the charts, the
    # kept months checked once, the retainer lines read as plain columns
    assert count_queries(figures) == few_figures <= 19
