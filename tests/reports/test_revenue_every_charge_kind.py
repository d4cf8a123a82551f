"""Revenue counts everything the client is billed: task charges, retainer fees, late fees and
top-up hours (and any kind added later), net of write-offs and credit notes. The revenue
report, its CSV and the dashboard's series must equal the charges summed by hand per client,
currency and month, with the closed months kept (reports.rollups) and after a write into
one of them."""

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing.charges import charge_write_off
from billing.late_fees import late_fee_apply
from billing.models import (
    Charge,
    ChargeKind,
    ChargeStatus,
    CreditNote,
    InvoiceStatus,
    LatePaymentPolicy,
)
from billing.tax import charge_fix_tax
from billing.top_ups import top_up_buy
from core.periods import Period, month_end
from core.tenancy import agency_scope
from reports import dashboard, selectors
from reports.models import ReportMonth
from reports.tables import csv_rows
from tests.reports.test_reports_books import NOW, at, build_books

pytestmark = pytest.mark.django_db

MARCH, APRIL, MAY = dt.date(2026, 3, 1), dt.date(2026, 4, 1), dt.date(2026, 5, 1)
MAY_10 = dt.datetime(2026, 5, 10, 12, tzinfo=dt.UTC)


@pytest.fixture
def books(agency, time_machine):
    books = build_books(agency, time_machine)  # the clock at 15 April
    with agency_scope(agency):
        LatePaymentPolicy.objects.create(
            agency=agency, fee_kind="fixed", fixed_amounts={"USD": 2500}, fee_after_days=7
        )
        # March's invoice is 16 days overdue: a $25.00 late fee, made in April.
        books.charges["late_fee"] = late_fee_apply(
            agency=agency, invoice=books.invoices["A4"], now=NOW
        )
        # Bloom buys 2 h for April's bank at the overage rate: €100.00.
        top_up = top_up_buy(
            agency=agency,
            actor=books.bloom_member.user,
            client=books.bloom,
            line_id=books.bookkeeping.pk,
            minutes=120,
            token="april-top-up",
        )
        books.charges["top_up"] = top_up.charge
        CreditNote.objects.create(
            agency=agency,
            invoice=books.invoices["A1"],
            charge=books.charges["A1"],
            amount=1500,
            currency="USD",
            settlement="credit_balance",
            reason="order_change",
            memo="Part of it",
            status="issued",
            issued_at=at("2026-04-14"),
        )
    assert books.charges["late_fee"].amount == 2500
    assert books.charges["top_up"].amount == 10000
    time_machine.move_to(MAY_10, tick=False)  # March and April have closed
    return books


def by_hand(agency) -> tuple[dict, dict]:
    """(revenue, charged) per (client, currency, month) summed from the rows: every charge
    not written off nor on a void invoice, in the month it was made (a retainer fee in the
    month it pays for); revenue net of the credit notes issued in the month."""
    zone = ZoneInfo(agency.time_zone)
    charged: dict = defaultdict(int)
    for charge in Charge.objects.filter(agency=agency).select_related("invoice"):
        if charge.status == ChargeStatus.WRITTEN_OFF:
            continue
        if charge.invoice and charge.invoice.status == InvoiceStatus.VOID:
            continue
        if charge.kind == ChargeKind.RETAINER_FEE:
            month = charge.period_start.replace(day=1)
        else:
            month = charge.created_at.astimezone(zone).date().replace(day=1)
        charged[(charge.client_id, charge.currency, month)] += charge.amount
    revenue = dict(charged)
    for note in CreditNote.objects.filter(agency=agency, status="issued").select_related("invoice"):
        month = note.issued_at.astimezone(zone).date().replace(day=1)
        key = (note.invoice.client_id, note.currency, month)
        revenue[key] = revenue.get(key, 0) - note.amount
    return revenue, dict(charged)


def reported(agency) -> tuple[dict, dict, dict]:
    """(revenue from the report, revenue from its CSV, billed and unbilled from the
    dashboard's series) per (client or currency, currency, month)."""
    table_revenue, csv_revenue = {}, {}
    for month in (MARCH, APRIL, MAY):
        period = Period(month, month_end(month), agency.time_zone)
        by_client = selectors.revenue_tables(agency=agency, period=period)[0]
        for row in by_client.rows:
            table_revenue[(row["client_id"], row["currency"], month)] = row["revenue"]
        header, *lines = list(csv_rows(by_client))
        names = {row["name"]: row["client_id"] for row in by_client.rows}
        for line in lines[: len(by_client.rows)]:
            values = dict(zip(header, line, strict=False))
            key = (names[values["Client"]], values["Currency"], month)
            csv_revenue[key] = int(Decimal(values["Revenue"]) * 100)
    series = dashboard.revenue_by_month(agency=agency, months=[MARCH, APRIL, MAY])
    charts = {
        (currency, month): slot["billed"] + slot["unbilled"]
        for currency, months in series.items()
        for month, slot in months.items()
        if slot["billed"] or slot["unbilled"]
    }
    return table_revenue, csv_revenue, charts


def assert_books_balance(books):
    agency = books.agency
    with agency_scope(agency):
        revenue, charged = by_hand(agency)
        table_revenue, csv_revenue, charts = reported(agency)
    assert table_revenue == revenue
    assert csv_revenue == revenue
    per_currency: dict = defaultdict(int)
    for (_, currency, month), amount in charged.items():
        if amount:
            per_currency[(currency, month)] += amount
    assert charts == dict(per_currency)


def test_revenue_counts_late_fees_and_top_ups_with_months_kept(books):
    assert_books_balance(books)
    with agency_scope(books.agency):
        kept = {row.month: row.counted_version == row.version for row in ReportMonth.objects.all()}
    assert kept[APRIL] is True  # April was read from its kept figures
    with agency_scope(books.agency):
        revenue, _ = by_hand(books.agency)
    # April, USD: A1 $40 - $15 credited, A3 $60, the late fee $25; EUR: the fee €800,
    # B3 €37.50, the top-up €100.
    assert revenue[(books.acme.pk, "USD", APRIL)] == 4000 - 1500 + 6000 + 2500
    assert revenue[(books.bloom.pk, "EUR", APRIL)] == 80000 + 3750 + 10000


def test_revenue_follows_a_write_into_a_closed_month(books):
    assert_books_balance(books)  # April counted and kept
    agency = books.agency
    with agency_scope(agency):
        charge_write_off(
            agency=agency, actor=books.owner.user, charge=books.charges["late_fee"], reason="Waived"
        )
        april = ReportMonth.objects.get(agency=agency, month=APRIL)
        assert april.counted_version != april.version
    assert_books_balance(books)
    with agency_scope(agency):
        revenue, _ = by_hand(agency)
    assert revenue[(books.acme.pk, "USD", APRIL)] == 4000 - 1500 + 6000


def test_tax_fixed_on_a_charge_of_a_closed_month_marks_that_month(books):
    assert_books_balance(books)
    agency = books.agency
    with agency_scope(agency):
        top_up = Charge.objects.get(pk=books.charges["top_up"].pk)
        top_up.tax_rates = None
        charge_fix_tax(top_up)
        april = ReportMonth.objects.get(agency=agency, month=APRIL)
        assert april.counted_version != april.version
    assert_books_balance(books)
