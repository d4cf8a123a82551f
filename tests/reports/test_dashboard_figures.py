"""The admin dashboard reads its figures in fewer, narrower reads than the reports do (this
month's charges and completions once for its figures and its charts, the kept months
checked once, the retainer lines as plain columns, their recent bank use first and the
older months only of lines whose rollover goes back further) and draws its charts in
Python: every figure is still the one the reports' own selectors give, and every chart is
well-formed SVG with its name, its description and its figures as a table."""

import datetime as dt
import xml.etree.ElementTree as ET

import pytest
from django.urls import reverse

from billing.models import Charge, ChargeKind, TopUp
from core.periods import last_months, months_between, next_month, this_month
from core.roles import Role
from core.tenancy import agency_scope
from core.times import local_midnight
from reports import dashboard, selectors
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import ContractFactory, LineFactory, TermsFactory
from tests.factories import ClientFactory
from tests.reports.test_reports import credit, more_work
from tests.reports.test_reports_books import NOW, build_books
from tests.tasks.factories import TaskFactory

pytestmark = pytest.mark.django_db

THIS_MONTH = dt.date(2026, 4, 1)
RETAINER = {
    "pricing_model": "retainer",
    "hourly_rate": None,
    "minimum_minutes": None,
    "retainer_fee": 90000,
    "included_minutes": 600,
    "rollover_cap_minutes": 240,
    "overage_rate": 6000,
    "rounding_increment_minutes": 15,
}


@pytest.fixture
def books(agency, time_machine):
    return build_books(agency, time_machine)


def usage_line(agency, *, months: int, used: int, status="active", zone="UTC", starts=None):
    """A retainer line with `months` months of task charges up to this one, each drawing
    `used` minutes from the bank, and this month's fee."""
    first = THIS_MONTH
    for _ in range(months - 1):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    client = ClientFactory(agency=agency, time_zone=zone)
    contract = ContractFactory(
        agency=agency, client=client, status=status, starts_on=starts or first
    )
    line = LineFactory(agency=agency, contract=contract, terms=None)
    terms = TermsFactory(
        agency=agency, line=line, effective_from=local_midnight(first, zone), **RETAINER
    )
    for month in months_between(first, next_month(THIS_MONTH)):
        done = local_midnight(month, zone) + dt.timedelta(days=2)
        task = TaskFactory(agency=agency, contract_line=line, status="completed", completed_at=done)
        Charge.objects.create(
            agency=agency,
            kind=ChargeKind.TASK,
            task=task,
            task_completed_at=done,
            contract_line=line,
            terms=terms,
            client=client,
            period_start=month,
            minutes_from_bank=used,
            minutes_billed=max(used - 600, 0),
            amount=0,
            currency=contract.currency,
            description="work",
            idempotency_key=f"figures-{line.pk}-{month}",
        )
    Charge.objects.create(
        agency=agency,
        kind=ChargeKind.RETAINER_FEE,
        contract_line=line,
        terms=terms,
        client=client,
        period_start=THIS_MONTH,
        amount=90000,
        currency=contract.currency,
        description="fee",
        idempotency_key=f"figures-fee-{line.pk}",
    )
    return line


@pytest.fixture
def retainers(agency):
    with agency_scope(agency):
        lines = {
            # half the hours each month: the rollover reaches its cap, the walk is short
            "light": usage_line(agency, months=14, used=300),
            # most of the hours each month: the rollover goes back to the first month
            "heavy": usage_line(agency, months=20, used=500, zone="Europe/Berlin"),
            "over": usage_line(agency, months=5, used=900, zone="America/Santiago"),
            "new": usage_line(agency, months=1, used=60),
            "ended": usage_line(agency, months=6, used=300, status="ended"),
            "draft": usage_line(agency, months=2, used=300, status="draft"),
            "paused": usage_line(agency, months=8, used=550, status="paused"),
            "later": usage_line(agency, months=1, used=0, starts=dt.date(2026, 5, 1)),
        }
        heavy = lines["heavy"]
        TopUp.objects.create(
            agency=agency,
            client=heavy.contract.client,
            contract_line=heavy,
            terms=heavy.terms.first(),
            period_start=dt.date(2025, 9, 1),
            minutes=300,
            hourly_price=5000,
            amount=25000,
            currency="USD",
            token="figures",
        )
    return lines


def report_rows(agency, month):
    """The usage report's rows of the month for the lines the dashboard shows."""
    lines = [
        line for line in selectors.usage_lines(agency=agency) if line.contract.status != "ended"
    ]
    return selectors.retainer_rows(agency=agency, lines=lines, months=[month])


@pytest.mark.parametrize("bank_months", [1, 3, 400])
def test_retainer_months_are_the_usage_reports_rows(agency, retainers, monkeypatch, bank_months):
    monkeypatch.setattr(dashboard, "BANK_MONTHS", bank_months)
    with agency_scope(agency):
        rows = dashboard.retainer_months(agency=agency, month=THIS_MONTH)
        expected = report_rows(agency, THIS_MONTH)
    assert rows == expected
    shown = {row["line_id"] for row in rows}
    assert shown == {retainers[name].pk for name in ("light", "heavy", "over", "new", "paused")}
    heavy = next(row for row in rows if row["line_id"] == retainers["heavy"].pk)
    assert heavy["fee"] == 90000 and heavy["used"] == 500


def test_only_lines_whose_rollover_goes_back_further_have_their_older_months_read(
    agency, retainers, monkeypatch, django_assert_num_queries
):
    reads = []
    bank_use = dashboard._bank_use

    def counting(agency, which):
        used, overage = bank_use(agency, which)
        reads.append({line: len(months) for line, months in used.items()})
        return used, overage

    monkeypatch.setattr(dashboard, "_bank_use", counting)
    with agency_scope(agency), django_assert_num_queries(5):
        dashboard.retainer_months(agency=agency, month=THIS_MONTH)
    recent, older = reads
    assert max(recent.values()) == dashboard.BANK_MONTHS
    # The heavy line's bank carries what each month left since its first: all of it is
    # read. The light line's cap is reached every month: nothing older is.
    assert older.get(retainers["heavy"].pk) == 20 - dashboard.BANK_MONTHS
    assert retainers["light"].pk not in older


def test_this_months_figures_and_the_charts_are_the_reports(books):
    agency = books.agency
    with agency_scope(agency):
        credit(books, "A1", 1500)  # April's, on a line
        credit(books, "A4", 500, on_line=False)  # April's, off a March invoice
        period = this_month(agency.time_zone, NOW)
        months = last_months(agency.time_zone, dashboard.CHART_MONTHS, NOW)
        closed = dashboard.closed_months(agency=agency, period=period, months=months)
        assert closed == months[:-1]
        figures, by_month = dashboard.dashboard_revenue(
            agency=agency, period=period, months=months, closed=closed
        )
        counts, on_time = dashboard.dashboard_on_time(
            agency=agency, period=period, months=months, closed=closed
        )
        assert figures == selectors.revenue_by_currency(agency=agency, period=period)
        expected = dashboard.revenue_by_month(agency=agency, months=months)
        assert {c: dict(m) for c, m in by_month.items()} == {
            c: dict(m) for c, m in expected.items()
        }
        assert counts == selectors.on_time_counts(agency=agency, period=period)
        assert on_time == selectors.on_time_by_month(agency=agency, months=months)
    usd = {row["currency"]: row for row in figures}["USD"]
    assert usd["credited"] == 2000 and by_month["USD"][THIS_MONTH] == {
        "billed": 4000,
        "unbilled": 6000,
    }


def test_a_month_not_the_calendars_own_is_read_as_the_reports_read_it(books):
    later = NOW + dt.timedelta(days=45)
    agency = books.agency
    with agency_scope(agency):
        period = this_month(agency.time_zone, later)
        months = last_months(agency.time_zone, dashboard.CHART_MONTHS, later)
        assert dashboard.closed_months(agency=agency, period=period, months=months) is None
        numbers = dashboard.staff_dashboard(agency=agency, now=later)
        assert numbers["on_time"] == selectors.on_time_counts(agency=agency, period=period)
    assert {c.dom_id for c in numbers["revenue_charts"]} == {
        "chart-revenue-eur",
        "chart-revenue-usd",
    }


def test_the_charts_are_well_formed_svg_with_every_name_escaped(books):
    agency = books.agency
    odd = AssistantProfileFactory(agency=agency)
    odd.membership.user.full_name = 'Zoë <b>"Bold"</b> & Co, a name longer than the bar'
    odd.membership.user.save()
    with agency_scope(agency):
        numbers = dashboard.staff_dashboard(agency=agency, now=NOW)
    charts = numbers["charts"]
    assert [chart.dom_id for chart in charts] == [
        "chart-revenue-eur",
        "chart-revenue-usd",
        "chart-on-time",
        "chart-utilisation",
    ]
    for chart in charts:
        drawn = ET.fromstring(str(chart.svg))
        assert drawn.get("role") == "img"
        assert drawn.get("aria-labelledby") == f"{chart.dom_id}-title {chart.dom_id}-desc"
        assert drawn.find("title").text == chart.title
        assert drawn.find("desc").text == chart.description
        marks = drawn.findall("rect") + drawn.findall("circle")
        assert len(marks) == len(chart.segments) + len(chart.dots)
        assert [mark.find("title").text for mark in marks] == [
            mark.title for mark in [*chart.segments, *chart.dots]
        ]
        table = ET.fromstring(str(chart.figures_table))
        assert [th.text for th in table.iter("th")][: len(chart.columns)] == chart.columns
        assert len(table.findall("./tbody/tr")) == len(chart.table)
    usd = charts[1]
    april = ET.fromstring(str(usd.figures_table)).findall("./tbody/tr")[-1]
    assert [cell.text for cell in april] == ["April 2026", "$40.00", "$60.00"]
    people = charts[-1]
    names = [text.text for text in ET.fromstring(str(people.svg)).iter("text")]
    (cut,) = [name for name in names if name.startswith("Zoë")]
    assert cut.startswith('Zoë <b>"Bold"</b>') and cut.endswith("…") and len(cut) == 24
    assert "<b>" not in str(people.svg) and "<b>" not in str(people.figures_table)


def test_the_page_draws_each_chart_once_with_its_figures(books, signed_in):
    page = signed_in(books.owner.user).get(reverse("dashboard", args=[books.agency.slug]))
    html = page.content.decode()
    assert html.count("<svg") >= 4 and html.count('<figure class="chart"') == 4
    assert html.count('data-testid="chart-revenue"') == 2
    assert html.count("<summary>The figures</summary>") == 4
    assert "Revenue by month appears once work is charged." not in html


def test_an_agency_with_no_charges_says_so_and_still_draws_its_trend(agency, member, signed_in):
    html = (
        signed_in(member(Role.ADMIN).user)
        .get(reverse("dashboard", args=[agency.slug]))
        .content.decode()
    )
    assert "Revenue by month appears once work is charged." in html
    assert html.count('<figure class="chart"') == 2  # the on-time trend and utilisation
    assert "no completed tasks yet" in html and "no active assistants" in html


def test_more_work_and_more_retainers_cost_no_more_queries(books, signed_in, count_queries):
    http = signed_in(books.owner.user)
    url = reverse("dashboard", args=[books.agency.slug])

    def page():
        assert http.get(url).status_code == 200

    page()
    few = count_queries(page)
    more_work(books, 12)
    with agency_scope(books.agency):
        for _ in range(3):
            usage_line(books.agency, months=9, used=500)
    assert count_queries(page) == few
