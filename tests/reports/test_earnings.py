"""Contractor earnings against the hand-worked books: per month and per client, statements
(printable and CSV), payouts that snapshot the rate, who may see whose, and queries flat
in the number of rows."""

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse

from assistants.models import Payout
from billing.payouts import months_of, payout_record
from core.errors import ApplicationError
from core.models import AuditEvent
from core.tenancy import agency_scope
from tests.reports.test_reports import more_work
from tests.reports.test_reports_books import build_books

MARCH, APRIL = dt.date(2026, 3, 1), dt.date(2026, 4, 1)


@pytest.fixture
def books(agency, time_machine):
    return build_books(agency, time_machine)


def test_months_and_clients(books):
    with agency_scope(books.agency):
        april, march = months_of(
            agency=books.agency, membership=books.joao.membership, months=[MARCH, APRIL]
        )
    assert (march.month, march.minutes, march.amounts) == (MARCH, 480, {"EUR": 9600})
    assert (april.minutes, april.amounts) == (810, {"EUR": 16200})
    assert [(row["client"], row["minutes"], row["amount"]) for row in april.clients] == [
        ("Acme Dental", 45, 900),
        ("Bloom Studio", 765, 15300),
    ]
    assert not april.paid


def test_a_payout_snapshots_the_rate(books):
    agency, maria = books.agency, books.maria
    with agency_scope(agency):
        (payout,) = payout_record(
            agency=agency,
            actor=books.owner.user,
            membership=maria.membership,
            month=MARCH,
            note="Wise transfer 123",
        )
        assert (payout.minutes, payout.rate, payout.amount, payout.currency) == (
            120,
            1500,
            3000,
            "USD",
        )
        assert AuditEvent.objects.filter(
            action="payout.recorded", target_id=str(payout.pk)
        ).exists()
        maria.pay_rate = 2000  # a raise from now on
        maria.save()
        april, march = months_of(agency=agency, membership=maria.membership, months=[MARCH, APRIL])
    assert march.paid and march.amounts == {"USD": 3000}  # paid at the old rate
    assert april.amounts == {"USD": 3500}  # 105 min at the new $20.00


def test_a_month_is_paid_once_and_only_once_it_has_ended(books):
    agency, maria = books.agency, books.maria
    with agency_scope(agency):
        payout_record(
            agency=agency, actor=books.owner.user, membership=maria.membership, month=MARCH
        )
        with pytest.raises(ApplicationError) as twice:
            payout_record(
                agency=agency, actor=books.owner.user, membership=maria.membership, month=MARCH
            )
        assert twice.value.code == "payout_already_paid"
        with pytest.raises(ApplicationError) as running:
            payout_record(
                agency=agency, actor=books.owner.user, membership=maria.membership, month=APRIL
            )
        assert running.value.code == "payout_month_not_ended"
        with pytest.raises(ApplicationError) as nothing:
            payout_record(
                agency=agency,
                actor=books.owner.user,
                membership=maria.membership,
                month=dt.date(2026, 1, 1),
            )
        assert nothing.value.code == "payout_nothing_to_pay"
        assert Payout.objects.filter(agency=agency).count() == 1


def test_the_assistant_sees_their_own_months(books, signed_in):
    http = signed_in(books.maria.membership.user)
    page = http.get(reverse("my_earnings", args=[books.agency.slug])).content.decode()
    assert "$26.25" in page  # April: 105 min at $15.00
    assert "$30.00" in page  # March: 120 min
    assert "João" not in page and "Bloom Studio" not in page


def test_statement_page_and_csv(books, signed_in):
    http = signed_in(books.joao.membership.user)
    url = reverse("my_earnings_statement", args=[books.agency.slug])
    page = http.get(f"{url}?month=2026-04")
    assert page.status_code == 200
    assert "€162.00" in page.content.decode() and "Not paid out yet" in page.content.decode()
    response = http.get(f"{url}?month=2026-04&format=csv")
    assert response["Content-Type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(response.content.decode())))
    assert ["Acme Dental", "0.75", "12.00", "9.00", "EUR"] in lines
    assert ["Bloom Studio", "12.75", "12.00", "153.00", "EUR"] in lines
    assert ["Total", "13.50", "", "162.00", "EUR"] in lines


def test_a_bad_month_is_a_400(books, signed_in):
    http = signed_in(books.joao.membership.user)
    url = reverse("my_earnings_statement", args=[books.agency.slug])
    assert http.get(f"{url}?month=April").status_code == 400


def test_staff_mark_a_month_paid_from_the_overview(books, signed_in):
    http = signed_in(books.owner.user)
    overview = reverse("earnings_overview", args=[books.agency.slug])
    page = http.get(f"{overview}?month=2026-03").content.decode()
    assert "$30.00" in page and "€96.00" in page and "Mark paid" in page
    url = reverse("earnings_payout", args=[books.agency.slug, books.maria.membership_id])
    response = http.post(url, {"month": "2026-03", "note": "Batch 7"})
    assert response.status_code == 302
    with agency_scope(books.agency):
        payout = Payout.objects.get(assistant=books.maria.membership)
    assert (payout.amount, payout.note, payout.paid_by) == (3000, "Batch 7", books.owner.user)
    again = http.post(url, {"month": "2026-03"}, follow=True)
    assert "already paid out" in again.content.decode()
    # the assistant sees it paid on their statement
    mine = signed_in(books.maria.membership.user).get(
        reverse("my_earnings_statement", args=[books.agency.slug]) + "?month=2026-03"
    )
    assert "Paid out on" in mine.content.decode() and "Batch 7" in mine.content.decode()


def test_an_assistant_cannot_open_anothers_earnings_or_pay_themselves(books, signed_in):
    http = signed_in(books.maria.membership.user)
    slug = books.agency.slug
    joao = books.joao.membership_id
    assert http.get(reverse("assistant_earnings", args=[slug, joao])).status_code == 403
    assert http.get(reverse("assistant_earnings_statement", args=[slug, joao])).status_code == 403
    assert http.get(reverse("earnings_overview", args=[slug])).status_code == 403
    payout = reverse("earnings_payout", args=[slug, books.maria.membership_id])
    assert http.post(payout, {"month": "2026-03"}).status_code == 403


def test_staff_open_one_assistants_earnings_but_not_a_non_assistant(books, signed_in):
    http = signed_in(books.owner.user)
    slug = books.agency.slug
    page = http.get(reverse("assistant_earnings", args=[slug, books.joao.membership_id]))
    assert page.status_code == 200 and "€162.00" in page.content.decode()
    client_member = books.acme_member.pk
    assert http.get(reverse("assistant_earnings", args=[slug, client_member])).status_code == 404


@pytest.mark.parametrize("name,who", [("earnings_overview", "owner"), ("my_earnings", "maria")])
def test_earnings_queries_do_not_grow_with_rows(books, signed_in, count_queries, name, who):
    user = books.owner.user if who == "owner" else books.maria.membership.user
    http = signed_in(user)
    url = reverse(name, args=[books.agency.slug]) + "?month=2026-04"

    def page():
        assert http.get(url).status_code == 200

    page()
    few = count_queries(page)
    more_work(books, 12)
    assert count_queries(page) == few
