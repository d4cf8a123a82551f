"""The staff earnings overview in the API lists the agency's assistants a page at a time,
by name, as the page does and with the page's figures: `next` and `previous` walk every
assistant once, a cursor it did not give out or a bad page size is a 400 naming it, and a
page costs the same queries for 1 assistant as for 200."""

import pytest
from django.urls import reverse

from tests import test_schemathesis
from tests.assistants.factories import AssistantProfileFactory
from tests.reports.test_earnings_speed import _log
from tests.reports.test_reports_books import NOW, build_books
from tests.test_schemathesis import PREFIX, checked, token_for

# The schema checks' own fixtures: the WSGI app in the test's transaction, and its schema.
wsgi_app = test_schemathesis.wsgi_app
api_schema = test_schemathesis.api_schema


@pytest.fixture
def books(agency, time_machine):
    return build_books(agency, time_machine)


def overview_url(books) -> str:
    return reverse("api:earnings-overview", kwargs={"agency_slug": books.agency.slug})


def row_figures(row) -> tuple:
    amounts = {a["currency"]: a["amount"] for a in row["amounts"]}
    return (row["assistant"]["membership"], row["minutes"], amounts, row["paid"])


def page_figures(context) -> list[tuple]:
    return [(r.profile.membership_id, r.minutes, r.amounts, r.paid) for r in context["rows"]]


def test_the_pages_walk_every_assistant_once_with_the_pages_figures(books, api, signed_in):
    for n in range(60):
        person = AssistantProfileFactory(
            agency=books.agency, membership__user__full_name=f"Zed {n:02d}", pay_rate=1000 + n
        )
        if n % 7 == 0:
            _log(books, person, day=f"2026-03-0{1 + n % 9}", seconds=600 + n)
    http = api(books.owner.user)
    first = http.get(overview_url(books), {"month": "2026-03"})
    assert first.status_code == 200
    body = first.json()
    assert (body["month"], body["payable"], body["previous"]) == ("2026-03-01", True, None)
    assert len(body["assistants"]) == 50
    second = http.get(body["next"]).json()
    assert second["next"] is None and "month=2026-03" in second["previous"]
    rows = body["assistants"] + second["assistants"]
    names = [row["assistant"]["name"] for row in rows]
    assert len(names) == 62 == len(set(names))
    assert names[:2] == ["João Silva", "Maria Santos"]
    assert http.get(second["previous"]).json()["assistants"] == body["assistants"]

    # The HTML page shows the same assistants in the same order with the same figures.
    page = signed_in(books.owner.user)
    url = reverse("earnings_overview", args=[books.agency.slug])
    html_first = page.get(url, {"month": "2026-03"}).context
    html_second = page.get(url + html_first["page"].next_url).context
    assert [row_figures(r) for r in rows] == page_figures(html_first) + page_figures(html_second)

    smaller = http.get(overview_url(books), {"month": "2026-03", "page_size": 20}).json()
    assert smaller["assistants"] == body["assistants"][:20]


def test_the_pages_and_their_errors_keep_to_the_schema(books, api_schema):
    for n in range(55):
        AssistantProfileFactory(agency=books.agency, membership__user__full_name=f"Zed {n:02d}")
    headers = token_for(books.owner.user)
    slug = {"agency_slug": books.agency.slug}

    def call(query):
        return checked(
            api_schema,
            "GET",
            f"{PREFIX}/earnings/",
            headers=headers,
            path_parameters=slug,
            query=query,
        )

    first = call({"month": "2026-03"}).json()
    cursor = first["next"].split("cursor=")[1].split("&")[0]
    second = call({"month": "2026-03", "cursor": cursor}).json()
    assert second["next"] is None and len(second["assistants"]) == 7
    assert call({"cursor": "not-a-cursor"}).status_code == 400
    assert call({"page_size": 0}).status_code == 400


@pytest.mark.parametrize(
    "params,field",
    [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "eyJkIjoibiIsInYiOlsxXX0"}, "cursor"),  # a position of another list
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "201"}, "page_size"),
        ({"page_size": "many"}, "page_size"),
    ],
)
def test_a_bad_cursor_or_page_size_is_a_400_naming_it(books, api, params, field):
    response = api(books.owner.user).get(overview_url(books), params)
    assert response.status_code == 400
    error = response.json()
    if field == "cursor":
        assert (error["code"], error["extra"]["field"]) == ("cursor_invalid", "cursor")
    else:
        assert field in error["extra"]["fields"]


@pytest.mark.parametrize("month", ["2026-03", "2026-04"])
def test_a_page_costs_the_same_queries_for_one_or_two_hundred_assistants(
    agency, time_machine, api, count_queries, month
):
    books = build_books(agency, time_machine)
    http = api(books.owner.user)
    url = overview_url(books)

    def call():
        response = http.get(url, {"month": month})
        assert response.status_code == 200
        return response.json()

    call()
    few = count_queries(call)
    for n in range(198):
        person = AssistantProfileFactory(agency=agency, pay_rate=1000 + n)
        if n % 10 == 0:
            _log(books, person, day=f"{month}-0{1 + n % 9}", seconds=600 + n)
    time_machine.move_to(NOW, tick=False)
    assert len(call()["assistants"]) == 50
    assert count_queries(call) == few
    following = call()["next"]
    assert count_queries(lambda: http.get(following)) == few
