"""A client's account page: this month's use of their contract (hours, tasks, caps, the
retainer bank), what is unbilled and what is owed, for their own client only."""

import pytest
from django.urls import reverse

from core.tenancy import agency_scope
from reports.account import client_account
from tests.reports.test_reports import more_work
from tests.reports.test_reports_books import NOW, build_books


@pytest.fixture
def books(agency, time_machine):
    return build_books(agency, time_machine)


def test_acmes_month(books):
    with agency_scope(books.agency):
        account = client_account(agency=books.agency, client=books.acme, now=NOW)
    usage = {row["line"].service.name: row for row in account["usage"]}
    inbox, travel = usage["Inbox"], usage["Travel"]
    assert (inbox["completed"], inbox["logged"]) == (2, 60)
    assert (inbox["cap"]["spent"], inbox["cap"]["cap"]) == (4000, 20000)
    assert inbox["retainer"] is None
    assert (travel["completed"], travel["logged"], travel["cap"]) == (1, 90, None)
    (unbilled,) = account["unbilled"]
    assert (unbilled["currency"], unbilled["total"], unbilled["count"]) == ("USD", 6000, 1)
    (owed,) = account["owed"]
    assert (owed["total"], owed["count"], owed["overdue"], owed["overdue_count"]) == (
        12000,
        2,
        8000,
        1,
    )


def test_blooms_retainer_and_unbilled_fees(books):
    with agency_scope(books.agency):
        account = client_account(agency=books.agency, client=books.bloom, now=NOW)
    (row,) = account["usage"]
    assert (row["retainer"]["bank"], row["retainer"]["used"], row["retainer"]["left"]) == (
        720,
        720,
        0,
    )
    assert (row["retainer"]["rollover"], row["retainer"]["overage"]) == (120, 45)
    (unbilled,) = account["unbilled"]
    # both retainer fees and the overage: €800 + €800 + €37.50
    assert (unbilled["currency"], unbilled["total"]) == ("EUR", 163750)
    assert account["owed"] == []


def test_the_page_shows_only_the_members_own_client(books, signed_in):
    page = signed_in(books.acme_member.user).get(reverse("our_account", args=[books.agency.slug]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "$60.00" in html and "$120.00" in html and "$80.00 is overdue" in html
    assert "$40.00 of $200.00" in html
    assert "Bloom" not in html and "€" not in html
    other = signed_in(books.bloom_member.user).get(reverse("our_account", args=[books.agency.slug]))
    assert "12 h used" in other.content.decode() and "Acme" not in other.content.decode()
    # When the retainer's fee is billed, in words (a monthly contract here).
    html = other.content.decode()
    assert "€800.00 fee is billed on the month's invoice, when the month ends" in html


def test_account_queries_do_not_grow_with_rows(books, signed_in, count_queries):
    http = signed_in(books.acme_member.user)
    url = reverse("our_account", args=[books.agency.slug])

    def page():
        assert http.get(url).status_code == 200

    page()
    few = count_queries(page)
    more_work(books, 12)
    assert count_queries(page) == few
