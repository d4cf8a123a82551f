"""The reports API against the pages: the staff dashboard, every report and contractor
earnings answer with the figures their pages show (and the CSV files hold), with the same
filters, roles and bad-input answers, in queries flat in the number of rows."""

import csv
import io
import json
from decimal import Decimal

import pytest
from django.urls import reverse
from rest_framework.utils.encoders import JSONEncoder

from core.roles import Role
from reports.tables import Column, Table, spreadsheet_value
from reports.views import REPORTS
from tests.reports.test_reports import more_work
from tests.reports.test_reports_books import build_books


@pytest.fixture
def books(agency, time_machine):
    return build_books(agency, time_machine)  # the clock stays at 2026-04-15 12:00 UTC


def as_json(value):
    """A figure as JSON carries it (a percentage is a number, a date its ISO text)."""
    return json.loads(json.dumps(value, cls=JSONEncoder))


def api_url(books, name, **kwargs):
    return reverse(f"api:{name}", kwargs={"agency_slug": books.agency.slug, **kwargs})


def page_url(books, name, **kwargs):
    return reverse(name, kwargs={"agency_slug": books.agency.slug, **kwargs})


def table_from(data) -> Table:
    """A table of the API's answer, to draw its cells as the page and the CSV draw them."""
    columns = [Column(c["key"], c["label"], c["kind"], c["currency_key"]) for c in data["columns"]]

    def typed(row):
        kinds = {c.key: c.kind for c in columns}
        return {
            k: Decimal(str(v)) if kinds.get(k) == "percent" and v is not None else v
            for k, v in row.items()
        }

    table = Table(data["key"], data["title"], columns, [typed(r) for r in data["rows"]])
    table.totals = [typed(r) for r in data["totals"]]
    return table


FILTERED = {
    "revenue": {"client": "acme"},
    "hours": {"assistant": "maria"},
    "on-time": {"service": "travel"},
    "usage": {"client": "bloom"},
    "margin": {"client": "acme"},
}


def filter_values(books, slug) -> dict:
    ids = {
        "acme": books.acme.pk,
        "bloom": books.bloom.pk,
        "maria": books.maria.membership_id,
        "travel": books.travel.service_id,
    }
    return {name: ids[key] for name, key in FILTERED[slug].items()}


@pytest.mark.parametrize("slug", list(REPORTS))
@pytest.mark.parametrize("filtered", [False, True], ids=["all", "filtered"])
def test_each_report_answers_the_pages_figures_and_the_csvs(books, signed_in, api, slug, filtered):
    report = REPORTS[slug]
    params = {"start": "2026-03-01", "end": "2026-04-30"}
    if filtered:
        params |= filter_values(books, slug)
    answer = api(books.owner.user).get(api_url(books, f"report-{slug}"), params)
    assert answer.status_code == 200, answer.content
    body = answer.json()
    http = signed_in(books.owner.user)
    page = http.get(page_url(books, report.url_name), params)
    assert page.status_code == 200
    page_tables = page.context["tables"]

    assert body["report"] == slug and body["title"] == report.title
    assert body["period"] == {
        "start": "2026-03-01",
        "end": "2026-04-30",
        "time_zone": "Europe/London",
    }
    assert body["filters"] == {
        name: (params.get(name) if name in report.filters else None)
        for name in ("client", "service", "assistant")
    }
    assert [t["key"] for t in body["tables"]] == [t.key for t in page_tables]
    html = page.content.decode()
    for data, shown in zip(body["tables"], page_tables, strict=True):
        assert data["rows"] == as_json(shown.rows), (slug, data["key"])
        assert data["totals"] == as_json(shown.totals), (slug, data["key"])
        # Drawn as the page draws them, the JSON's figures are the page's cells...
        table = table_from(data)
        assert table.cells == shown.cells and table.total_cells == shown.total_cells
        for row in shown.cells:
            for cell in row:
                assert str(cell).replace("&", "&amp;").replace("'", "&#x27;") in html
        # ...and, written as the CSV writes them, the CSV file's rows.
        download = http.get(
            page_url(books, report.url_name), {**params, "format": "csv", "table": data["key"]}
        )
        lines = list(csv.reader(io.StringIO(download.content.decode())))
        currency_keys = list(
            dict.fromkeys(c.currency_key for c in table.columns if c.kind == "money")
        )
        assert lines[1:] == [
            [spreadsheet_value(row, c) for c in table.columns]
            + [row.get(key) or "" for key in currency_keys]
            for row in [*table.rows, *table.totals]
        ]


def test_the_revenue_report_has_the_hand_worked_figures(books, api):
    body = api(books.owner.user).get(api_url(books, "report-revenue")).json()  # this month
    by_client = {t["key"]: t for t in body["tables"]}["by_client"]
    totals = {row["currency"]: row["revenue"] for row in by_client["totals"]}
    assert totals == {"USD": 10000, "EUR": 83750}
    acme = next(row for row in by_client["rows"] if row["name"] == "Acme Dental")
    assert (acme["billed"], acme["unbilled"], acme["written_off"]) == (4000, 6000, 2000)


@pytest.mark.parametrize(
    "params,field",
    [
        ({"start": "2026-04-30", "end": "2026-04-01"}, "__all__"),
        ({"start": "not-a-date"}, "start"),
        ({"start": "2020-01-01", "end": "2026-01-01"}, "__all__"),
        ({"start": "9999-12-31"}, "start"),
        ({"end": "0001-01-01"}, "end"),
        ({"client": "999999"}, "client"),
        ({"client": str(2**70)}, "client"),
    ],
)
def test_bad_filters_are_a_400_naming_the_field(books, api, params, field):
    response = api(books.owner.user).get(api_url(books, "report-revenue"), params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and field in body["extra"]["fields"]


def test_a_filter_the_report_lacks_is_ignored_as_on_the_page(books, api):
    everyone = api(books.owner.user).get(api_url(books, "report-revenue")).json()
    ignored = api(books.owner.user).get(
        api_url(books, "report-revenue"), {"assistant": books.maria.membership_id}
    )
    assert ignored.status_code == 200 and ignored.json() == everyone


def test_the_index_lists_every_report_with_its_endpoint(books, api):
    http = api(books.owner.user)
    listed = http.get(api_url(books, "report-index")).json()
    assert [row["report"] for row in listed] == list(REPORTS)
    for row in listed:
        assert http.get(row["url"]).status_code == 200


@pytest.mark.parametrize("role", [Role.ASSISTANT, Role.CLIENT])
def test_reports_and_the_dashboard_are_for_staff_only(books, member, api, role):
    http = api(member(role).user)
    for name in ["dashboard", "report-index", *[f"report-{slug}" for slug in REPORTS]]:
        response = http.get(api_url(books, name))
        assert response.status_code == 403, name
        assert f"As a{'n' if role == Role.ASSISTANT else ''} {role}" in response.json()["message"]


def test_reports_never_count_another_agencys_books(books, other_agency, api, time_machine):
    build_books(other_agency, time_machine)
    body = api(books.owner.user).get(api_url(books, "report-revenue")).json()
    by_client = {t["key"]: t for t in body["tables"]}["by_client"]
    assert {row["currency"]: row["revenue"] for row in by_client["totals"]} == {
        "USD": 10000,
        "EUR": 83750,
    }


# -- the dashboard ----------------------------------------------------------------------------


def test_the_dashboard_answers_the_pages_figures(books, api, signed_in):
    body = api(books.owner.user).get(api_url(books, "dashboard")).json()
    page = signed_in(books.owner.user).get(page_url(books, "dashboard"))
    numbers = page.context["numbers"]
    assert body["period"] == {
        "start": "2026-04-01",
        "end": "2026-04-30",
        "time_zone": "Europe/London",
    }
    for key in ("revenue", "receivables", "on_time", "work", "retainer_count", "assistant_count"):
        assert body[key] == as_json(numbers[key]), key
    assert len(body["retainers"]) == len(numbers["retainers"]) == 1
    for answered, shown in zip(body["retainers"], numbers["retainers"], strict=True):
        assert answered == {k: v for k, v in as_json(shown).items() if k != "month"}
    assert body["utilisation"] == as_json(numbers["utilisation_chart"].table)
    charts = {chart.table[0]["currency"]: chart.table for chart in numbers["revenue_charts"]}
    assert {series["currency"] for series in body["revenue_by_month"]} == set(charts)
    for series in body["revenue_by_month"]:
        shown = charts[series["currency"]]
        assert len(series["months"]) == len(shown) == 12
        assert series["months"][-1]["month"] == "2026-04-01"
        for answered, row in zip(series["months"], shown, strict=True):
            assert (answered["billed"], answered["unbilled"]) == (row["billed"], row["unbilled"])
    on_time = numbers["on_time_chart"].table
    assert [(m["completed"], m["on_time"]) for m in body["on_time_by_month"]] == [
        (row["completed"], row["on_time"]) for row in on_time
    ]
    # The hand-worked April: USD $40.00 billed and $60.00 unbilled, 3 of 5 on time.
    usd = next(row for row in body["revenue"] if row["currency"] == "USD")
    assert (usd["billed"], usd["unbilled"]) == (4000, 6000)
    assert body["on_time"] == {"completed": 5, "on_time": 3, "rate": 60.0}


# -- contractor earnings ------------------------------------------------------------------------


def month_figures(months):
    return [
        (str(m.month), m.minutes, [[c, a] for c, a in m.amount_rows], as_json(m.clients))
        for m in months
    ]


def answered_figures(months):
    return [
        (
            m["month"],
            m["minutes"],
            [[a["currency"], a["amount"]] for a in m["amounts"]],
            m["clients"],
        )
        for m in months
    ]


@pytest.mark.parametrize("month", [None, "2026-03"])
def test_an_assistants_own_earnings_are_the_pages(books, api, signed_in, month):
    user = books.joao.membership.user
    params = {"month": month} if month else {}
    body = api(user).get(api_url(books, "my-earnings"), params).json()
    context = signed_in(user).get(page_url(books, "my_earnings"), params).context
    assert answered_figures(body["months"]) == month_figures(context["months"])
    assert answered_figures([body["selected"]]) == month_figures([context["selected"]])
    assert body["selected"]["month"] == f"{month or '2026-04'}-01"
    assert body["assistant"]["membership"] == books.joao.membership_id
    april = body["months"][0]
    assert (april["minutes"], april["amounts"]) == (810, [{"currency": "EUR", "amount": 16200}])


def test_staff_see_any_assistants_earnings_and_the_months_overview(books, api, signed_in):
    http = api(books.owner.user)
    joao = books.joao.membership_id
    body = http.get(api_url(books, "earnings-assistant", pk=joao), {"month": "2026-04"}).json()
    context = (
        signed_in(books.owner.user)
        .get(page_url(books, "assistant_earnings", pk=joao), {"month": "2026-04"})
        .context
    )
    assert answered_figures(body["months"]) == month_figures(context["months"])
    assert answered_figures([body["selected"]]) == month_figures([context["selected"]])
    assert http.get(api_url(books, "earnings-assistant", pk=books.acme_member.pk)).status_code == (
        404
    )

    overview = http.get(api_url(books, "earnings-overview")).json()  # last month by default
    assert (overview["month"], overview["payable"]) == ("2026-03-01", True)
    rows = {row["assistant"]["name"]: row for row in overview["assistants"]}
    assert rows["Maria Santos"]["amounts"] == [{"currency": "USD", "amount": 3000}]
    assert rows[books.joao.membership.user.get_full_name()]["minutes"] == 480
    this_month = http.get(api_url(books, "earnings-overview"), {"month": "2026-04"}).json()
    assert this_month["payable"] is False


def test_an_assistant_sees_only_their_own_earnings(books, api):
    http = api(books.maria.membership.user)
    joao = books.joao.membership_id
    assert http.get(api_url(books, "earnings-assistant", pk=joao)).status_code == 403
    assert http.get(api_url(books, "earnings-overview")).status_code == 403
    mine = http.get(api_url(books, "my-earnings")).json()
    assert "Bloom Studio" not in json.dumps(mine)
    assert mine["assistant"]["membership"] == books.maria.membership_id


@pytest.mark.parametrize("month", ["April", "2026-13", "1999-12", "2100-01", "9999-12"])
def test_a_bad_month_is_a_400_naming_it(books, api, month):
    http = api(books.owner.user)
    for url in (
        api_url(books, "earnings-overview"),
        api_url(books, "earnings-assistant", pk=books.joao.membership_id),
    ):
        response = http.get(url, {"month": month})
        assert response.status_code == 400
        assert "month" in response.json()["extra"]["fields"]


# -- queries flat in the number of rows -----------------------------------------------------------


@pytest.mark.parametrize(
    "name,who",
    [
        ("dashboard", "owner"),
        ("report-index", "owner"),
        *[(f"report-{slug}", "owner") for slug in REPORTS],
        ("my-earnings", "maria"),
        ("earnings-overview", "owner"),
        ("earnings-assistant", "owner"),
    ],
)
def test_queries_do_not_grow_with_rows(books, api, count_queries, name, who):
    user = books.owner.user if who == "owner" else books.maria.membership.user
    http = api(user)
    kwargs = {"pk": books.maria.membership_id} if name == "earnings-assistant" else {}
    url = api_url(books, name, **kwargs)
    params = {"month": "2026-04"} if "earnings" in name else {}

    def call():
        assert http.get(url, params).status_code == 200

    call()
    few = count_queries(call)
    more_work(books, 12)
    assert count_queries(call) == few
