"""Reports, checked against the hand-worked books of tests/reports/test_reports_books.py
(a retainer with rollover, a written-off charge, a second currency), their CSV files,
bad input, access by role, and query counts flat in the number of rows."""

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse

from billing.charges import charge_write_off
from billing.models import Charge
from core.periods import Period
from core.roles import Role
from core.tenancy import agency_scope
from reports import selectors
from reports.views import REPORTS
from tests.reports.test_reports_books import at, build_books
from tests.tasks.factories import TaskFactory

APRIL = Period(dt.date(2026, 4, 1), dt.date(2026, 4, 30), "Europe/London")


@pytest.fixture
def books(agency, time_machine):
    return build_books(agency, time_machine)


def rows_by(table, *keys):
    return {tuple(row[k] for k in keys): row for row in table.rows}


def test_revenue_by_client_and_service(books):
    with agency_scope(books.agency):
        by_client, by_service = selectors.revenue_tables(agency=books.agency, period=APRIL)
    acme = rows_by(by_client, "name")[("Acme Dental",)]
    assert (acme["billed"], acme["unbilled"], acme["revenue"], acme["written_off"]) == (
        4000,
        6000,
        10000,
        2000,
    )
    assert acme["currency"] == "USD" and acme["task_charges"] == 3
    bloom = rows_by(by_client, "name")[("Bloom Studio",)]
    assert (bloom["billed"], bloom["unbilled"], bloom["revenue"]) == (0, 83750, 83750)
    # one total per currency, never a sum across them
    assert [(t["currency"], t["revenue"]) for t in by_client.totals] == [
        ("EUR", 83750),
        ("USD", 10000),
    ]
    services = rows_by(by_service, "name")
    assert services[("Inbox",)]["revenue"] == 4000
    assert services[("Inbox",)]["written_off"] == 2000
    assert services[("Travel",)]["unbilled"] == 6000
    # the April retainer fee counts under its service; March's fee is not April's
    assert services[("Bookkeeping",)]["revenue"] == 83750


def test_revenue_filters_and_a_march_range(books):
    with agency_scope(books.agency):
        march = Period(dt.date(2026, 3, 1), dt.date(2026, 3, 31), "Europe/London")
        by_client, _ = selectors.revenue_tables(agency=books.agency, period=march)
        only_acme, _ = selectors.revenue_tables(
            agency=books.agency, period=APRIL, client_id=books.acme.pk
        )
    assert {(r["name"], r["billed"], r["unbilled"]) for r in by_client.rows} == {
        ("Acme Dental", 8000, 0),
        ("Bloom Studio", 0, 80000),
    }
    assert [r["name"] for r in only_acme.rows] == ["Acme Dental"]


def test_a_voided_invoice_is_not_revenue(books):
    with agency_scope(books.agency):
        books.invoices["A1"].status = "void"
        books.invoices["A1"].save()
        by_client, _ = selectors.revenue_tables(agency=books.agency, period=APRIL)
    acme = rows_by(by_client, "name")[("Acme Dental",)]
    assert (acme["billed"], acme["voided"], acme["revenue"]) == (0, 4000, 6000)


def credit(books, invoice_key, amount, *, on_line=True, issued="2026-04-20", status="issued"):
    from billing.models import CreditNote

    invoice = books.invoices[invoice_key]
    return CreditNote.objects.create(
        agency=books.agency,
        invoice=invoice,
        charge=books.charges[invoice_key] if on_line else None,
        amount=amount,
        currency=invoice.currency,
        settlement="due",
        reason="order_change",
        memo="Part of the work was not done",
        status=status,
        issued_at=at(issued, 12),
    )


def test_revenue_is_net_of_credit_notes_issued_in_the_range(books):
    with agency_scope(books.agency):
        credit(books, "A1", 1500)  # on Inbox's April line
        credit(books, "A4", 500, on_line=False)  # off a March invoice as a whole
        credit(books, "A1", 999, issued="2026-05-02")  # May's, not April's
        credit(books, "A1", 7, status="pending")  # not issued yet: counts nowhere
        by_client, by_service = selectors.revenue_tables(agency=books.agency, period=APRIL)
        [usd] = [
            r
            for r in selectors.revenue_by_currency(agency=books.agency, period=APRIL)
            if r["currency"] == "USD"
        ]
        only_travel, travel_services = selectors.revenue_tables(
            agency=books.agency, period=APRIL, service_id=books.travel.pk
        )
    acme = rows_by(by_client, "name")[("Acme Dental",)]
    assert (acme["credited"], acme["revenue"]) == (2000, 8000)
    assert (usd["credited"], usd["revenue"]) == (2000, 8000)
    services = rows_by(by_service, "name")
    assert (services[("Inbox",)]["credited"], services[("Inbox",)]["revenue"]) == (1500, 2500)
    assert services[("Credits off whole invoices",)]["revenue"] == -500
    assert [t["revenue"] for t in by_service.totals if t["currency"] == "USD"] == [8000]
    # Filtered to a service, no credit of another line counts.
    assert all(r["credited"] == 0 for r in only_travel.rows + travel_services.rows)


def test_hours_logged_and_billable(books):
    with agency_scope(books.agency):
        by_assistant, by_client = selectors.hours_tables(agency=books.agency, period=APRIL)
    people = rows_by(by_assistant, "name")
    assert (people[("Maria Santos",)]["logged"], people[("Maria Santos",)]["billable"]) == (
        105,
        60,
    )
    assert (people[("João Silva",)]["logged"], people[("João Silva",)]["billable"]) == (810, 765)
    assert str(people[("Maria Santos",)]["billable_share"]) == "57.1"
    clients = rows_by(by_client, "name")
    assert (clients[("Acme Dental",)]["logged"], clients[("Acme Dental",)]["billable"]) == (
        150,
        60,
    )
    assert (clients[("Bloom Studio",)]["logged"], clients[("Bloom Studio",)]["billable"]) == (
        765,
        765,
    )
    assert by_assistant.totals[0]["logged"] == 915
    assert by_assistant.totals[0]["billable"] == 825


def test_hours_filtered_to_one_assistant(books):
    with agency_scope(books.agency):
        by_assistant, by_client = selectors.hours_tables(
            agency=books.agency, period=APRIL, assistant_id=books.maria.membership_id
        )
    assert [(r["name"], r["logged"]) for r in by_assistant.rows] == [("Maria Santos", 105)]
    assert [(r["name"], r["logged"]) for r in by_client.rows] == [("Acme Dental", 105)]


def test_on_time_by_service_and_assistant(books):
    with agency_scope(books.agency):
        by_service, by_assistant = selectors.on_time_tables(agency=books.agency, period=APRIL)
    services = {r["name"]: (r["completed"], r["on_time"], r["late"]) for r in by_service.rows}
    assert services == {"Bookkeeping": (2, 1, 1), "Inbox": (2, 2, 0), "Travel": (1, 0, 1)}
    people = {r["name"]: (r["on_time"], r["completed"], str(r["rate"])) for r in by_assistant.rows}
    assert people == {"Maria Santos": (2, 2, "100.0"), "João Silva": (1, 3, "33.3")}
    assert (by_service.totals[0]["completed"], str(by_service.totals[0]["rate"])) == (5, "60.0")


def test_usage_of_a_retainer_with_rollover_and_a_cap(books):
    with agency_scope(books.agency):
        retainers, caps = selectors.usage_tables(agency=books.agency, period=APRIL)
    (april,) = retainers.rows
    assert (april["included"], april["rollover"], april["bank"]) == (600, 120, 720)
    assert (april["used"], april["left"], april["overage"], april["fee"]) == (720, 0, 45, 80000)
    with agency_scope(books.agency):
        march_and_april = Period(dt.date(2026, 3, 1), dt.date(2026, 4, 30), "Europe/London")
        retainers, caps = selectors.usage_tables(agency=books.agency, period=march_and_april)
    march = rows_by(retainers, "month")[("Mar 2026",)]
    assert (march["bank"], march["used"], march["left"], march["rollover"]) == (600, 480, 120, 0)
    cap_rows = rows_by(caps, "month")
    # the written-off $20.00 does not count against the budget
    assert (cap_rows[("Apr 2026",)]["spent"], cap_rows[("Apr 2026",)]["cap"]) == (4000, 20000)
    assert str(cap_rows[("Apr 2026",)]["used_share"]) == "20.0"
    assert cap_rows[("Mar 2026",)]["spent"] == 8000


def test_margin_per_client_and_per_assistant(books):
    with agency_scope(books.agency):
        by_client, by_assistant = selectors.margin_tables(agency=books.agency, period=APRIL)
    clients = rows_by(by_client, "name", "currency")
    assert set(clients) == {
        ("Acme Dental", "USD"),
        ("Acme Dental", "EUR"),
        ("Bloom Studio", "EUR"),
    }
    acme = clients[("Acme Dental", "USD")]
    assert (acme["charged"], acme["owed"], acme["margin"]) == (10000, 2625, 7375)
    # João is paid in euros: his time on Acme's work stays a euro row
    assert (clients[("Acme Dental", "EUR")]["owed"], clients[("Acme Dental", "EUR")]["margin"]) == (
        900,
        -900,
    )
    bloom = clients[("Bloom Studio", "EUR")]
    assert (bloom["charged"], bloom["owed"], bloom["margin"]) == (83750, 15300, 68450)
    people = rows_by(by_assistant, "name", "currency")
    maria = people[("Maria Santos", "USD")]
    assert (maria["charged"], maria["owed"], maria["margin"]) == (7000, 2625, 4375)
    assert people[("João Silva", "USD")]["charged"] == 3000
    joao_eur = people[("João Silva", "EUR")]
    assert (joao_eur["charged"], joao_eur["owed"], joao_eur["margin"]) == (3750, 16200, -12450)
    assert {t["currency"]: t["margin"] for t in by_client.totals} == {
        "EUR": 68450 - 900,
        "USD": 7375,
    }


def test_margin_leaves_out_charges_on_voided_invoices(books):
    """Voiding INV-A1 takes A1's $40.00 (Maria's 50 minutes) out of what was charged, for
    the client and for the assistant who did the work; what she is owed stays."""
    with agency_scope(books.agency):
        books.invoices["A1"].status = "void"
        books.invoices["A1"].save()
        by_client, by_assistant = selectors.margin_tables(agency=books.agency, period=APRIL)
    acme = rows_by(by_client, "name", "currency")[("Acme Dental", "USD")]
    assert (acme["charged"], acme["owed"], acme["margin"]) == (6000, 2625, 3375)
    people = rows_by(by_assistant, "name", "currency")
    maria = people[("Maria Santos", "USD")]
    assert (maria["charged"], maria["owed"], maria["margin"]) == (3000, 2625, 375)
    assert people[("João Silva", "USD")]["charged"] == 3000
    assert {t["currency"]: t["charged"] for t in by_assistant.totals}["USD"] == 6000


def test_usage_leaves_out_a_written_off_retainer_fee(books):
    """April's €800.00 fee forgiven: the month still has its bank and its use, but no fee."""
    with agency_scope(books.agency):
        fee = Charge.objects.get(
            agency=books.agency, kind="retainer_fee", period_start=dt.date(2026, 4, 1)
        )
        charge_write_off(
            agency=books.agency, actor=books.owner.user, charge=fee, reason="First month free"
        )
        retainers, _ = selectors.usage_tables(agency=books.agency, period=APRIL)
        (april,) = retainers.rows
    assert (april["bank"], april["used"], april["overage"]) == (720, 720, 45)
    assert april["fee"] is None
    with agency_scope(books.agency):
        march_and_april = Period(dt.date(2026, 3, 1), dt.date(2026, 4, 30), "Europe/London")
        retainers, _ = selectors.usage_tables(agency=books.agency, period=march_and_april)
    fees = {row["month"]: row["fee"] for row in retainers.rows}
    assert fees == {"Mar 2026": 80000, "Apr 2026": None}


# -- pages and CSV ------------------------------------------------------------------------


def report_url(books, name, **params):
    from urllib.parse import urlencode

    url = reverse(name, args=[books.agency.slug])
    return f"{url}?{urlencode(params)}" if params else url


def test_each_report_page_renders_for_staff(books, signed_in):
    http = signed_in(books.owner.user)
    assert http.get(reverse("report_index", args=[books.agency.slug])).status_code == 200
    for report in REPORTS.values():
        response = http.get(
            report_url(books, report.url_name, start="2026-04-01", end="2026-04-30")
        )
        assert response.status_code == 200, report.slug
        assert b"Download CSV" in response.content


def test_revenue_page_shows_the_hand_worked_figures(books, signed_in):
    http = signed_in(books.owner.user)
    html = http.get(report_url(books, "report_revenue")).content.decode()  # April: this month
    assert "$100.00" in html and "€837.50" in html and "$20.00" in html


def read_csv(response):
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_revenue_csv(books, signed_in):
    http = signed_in(books.owner.user)
    response = http.get(
        report_url(
            books,
            "report_revenue",
            start="2026-04-01",
            end="2026-04-30",
            format="csv",
            table="by_client",
        )
    )
    lines = read_csv(response)
    header = lines.index(
        [
            "Client",
            "Billed",
            "Unbilled",
            "Credited",
            "Revenue",
            "Tax",
            "Revenue with tax",
            "Written off",
            "On voided invoices",
            "Tasks charged",
            "Currency",
        ]
    )
    body = lines[header + 1 :]
    acme = ["40.00", "60.00", "0.00", "100.00", "0.00", "100.00", "20.00", "0.00", "3", "USD"]
    bloom = ["0.00", "837.50", "0.00", "837.50", "0.00", "837.50", "0.00", "0.00", "2", "EUR"]
    assert ["Acme Dental", *acme] in body and ["Total", *acme] in body
    assert ["Bloom Studio", *bloom] in body and ["Total", *bloom] in body


def test_hours_csv_is_in_decimal_hours(books, signed_in):
    http = signed_in(books.owner.user)
    lines = read_csv(http.get(report_url(books, "report_hours", format="csv")))
    assert ["Maria Santos", "1.75", "1.00", "57.1"] in lines


def test_a_name_that_looks_like_a_formula_is_escaped_in_csv(books, signed_in):
    books.acme.name = "=HYPERLINK(1)"
    books.acme.save()
    http = signed_in(books.owner.user)
    lines = read_csv(http.get(report_url(books, "report_revenue", format="csv")))
    assert any(line and line[0] == "'=HYPERLINK(1)" for line in lines)


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2026-04-30", "end": "2026-04-01"},
        {"start": "not-a-date"},
        {"start": "2020-01-01", "end": "2026-01-01"},
        {"client": "999999"},
    ],
)
def test_bad_filters_are_a_400_with_a_reason(books, signed_in, params):
    http = signed_in(books.owner.user)
    response = http.get(report_url(books, "report_revenue", **params))
    assert response.status_code == 400
    assert b'role="alert"' in response.content
    csv_response = http.get(report_url(books, "report_revenue", format="csv", **params))
    assert csv_response.status_code == 400


def test_another_agencys_client_is_not_a_valid_filter(books, other_agency, signed_in):
    from tests.factories import ClientFactory

    foreign = ClientFactory(agency=other_agency)
    http = signed_in(books.owner.user)
    response = http.get(report_url(books, "report_revenue", client=foreign.pk))
    assert response.status_code == 400


@pytest.mark.parametrize("role", [Role.ASSISTANT, Role.CLIENT])
def test_reports_are_for_staff_only(books, member, signed_in, role):
    http = signed_in(member(role).user)
    for report in REPORTS.values():
        assert http.get(report_url(books, report.url_name)).status_code == 403
        assert http.get(report_url(books, report.url_name, format="csv")).status_code == 403
    assert http.get(reverse("report_index", args=[books.agency.slug])).status_code == 403


def test_reports_never_show_another_agencys_numbers(books, other_agency, time_machine, signed_in):
    from tests.reports.test_reports_books import build_books as build

    time_machine.move_to(at("2026-04-15"), tick=False)
    build(other_agency, time_machine)
    with agency_scope(books.agency):
        by_client, _ = selectors.revenue_tables(agency=books.agency, period=APRIL)
    assert {(t["currency"], t["revenue"]) for t in by_client.totals} == {
        ("EUR", 83750),
        ("USD", 10000),
    }


# -- query counts ---------------------------------------------------------------------------


def more_work(books, count):
    """`count` more completed and charged Acme tasks in April, each with time logged."""
    from billing.charges import charge_for_task
    from core.tenancy import scopes_disabled
    from tasks.models import TimeEntry

    for n in range(count):
        task = TaskFactory(
            agency=books.agency,
            contract_line=books.inbox if n % 2 else books.travel,
            status="completed",
            assignee=books.maria.membership,
            due_at=at("2026-04-14", 17),
            completed_at=at("2026-04-13", 12),
            minutes_logged=30,
        )
        with scopes_disabled():
            TimeEntry.objects.create(
                agency=books.agency,
                task=task,
                assistant=(books.maria if n % 3 else books.joao).membership,
                started_at=at("2026-04-13", 10),
                ended_at=at("2026-04-13", 11),
                minutes=30,
            )
        with agency_scope(books.agency):
            charge_for_task(agency=books.agency, task=task)


@pytest.mark.parametrize("name", ["report_index", *[r.url_name for r in REPORTS.values()]])
def test_report_queries_do_not_grow_with_rows(books, signed_in, count_queries, name):
    http = signed_in(books.owner.user)
    url = report_url(books, name)

    def page():
        assert http.get(url).status_code == 200

    page()
    few = count_queries(page)
    more_work(books, 12)
    assert count_queries(page) == few


@pytest.mark.parametrize("currency", ["USD", "EUR", "GBP", "JPY", "BHD", "CAD"])
def test_report_cells_format_money_as_the_rest_of_the_app(currency):
    from core.money import format_money
    from reports.tables import money_text

    for minor in (0, 7, 123456789, -2500):
        assert money_text(minor, currency) == format_money(minor, currency)
