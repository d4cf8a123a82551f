"""The kept months (reports.rollups): a closed month's report figures are counted once from
its rows and read from then on, and stay equal to the rows whatever is written to that
month later (a write-off, a release, a void, a credit note, a send-back, time edited)."""

import datetime as dt
from contextlib import contextmanager

import pytest
from django.core.management import call_command
from django.db import transaction

from billing.charges import charge_release, charge_write_off
from billing.models import Charge, ChargeStatus, CreditNote, Invoice
from billing.webhooks import _apply_invoice_event
from core.periods import Period
from core.tenancy import agency_scope
from reports import dashboard, rollups, selectors
from reports.models import OnTimeMonth, ReportMonth, RevenueMonth
from tasks.models import Task
from tasks.services import task_send_back
from tests.reports.test_reports_books import at, build_books

MAY_10 = dt.datetime(2026, 5, 10, 12, tzinfo=dt.UTC)
JUNE_10 = dt.datetime(2026, 6, 10, 12, tzinfo=dt.UTC)


@pytest.fixture
def books(agency, time_machine):
    books = build_books(agency, time_machine)
    time_machine.move_to(MAY_10, tick=False)  # March and April have closed
    return books


def year(books) -> Period:
    return Period(dt.date(2026, 1, 1), dt.date(2026, 6, 30), books.agency.time_zone)


@contextmanager
def live_only():
    """Every figure from the raw rows, as the reports counted before months were kept."""
    kept = rollups.split
    rollups.split = lambda agency, period, now=None: ([], [period])
    try:
        yield
    finally:
        rollups.split = kept


def figures(books, period=None) -> dict:
    agency, period = books.agency, period or year(books)
    months = period.months()
    tables = {
        "revenue": selectors.revenue_tables(agency=agency, period=period),
        "revenue_inbox": selectors.revenue_tables(
            agency=agency, period=period, service_id=books.inbox.pk
        ),
        "revenue_bloom": selectors.revenue_tables(
            agency=agency, period=period, client_id=books.bloom.pk
        ),
        "on_time": selectors.on_time_tables(agency=agency, period=period),
        "on_time_joao": selectors.on_time_tables(
            agency=agency, period=period, assistant_id=books.joao.membership_id
        ),
        "on_time_acme": selectors.on_time_tables(
            agency=agency, period=period, client_id=books.acme.pk
        ),
        "hours": selectors.hours_tables(agency=agency, period=period),
        "hours_acme": selectors.hours_tables(agency=agency, period=period, client_id=books.acme.pk),
        "hours_maria": selectors.hours_tables(
            agency=agency, period=period, assistant_id=books.maria.membership_id
        ),
        "margin": selectors.margin_tables(agency=agency, period=period),
        "margin_bloom": selectors.margin_tables(
            agency=agency, period=period, client_id=books.bloom.pk
        ),
        "margin_joao": selectors.margin_tables(
            agency=agency, period=period, assistant_id=books.joao.membership_id
        ),
    }
    found = {key: [(t.key, t.rows, t.totals) for t in value] for key, value in tables.items()}
    found["by_month"] = {
        currency: dict(by_month)
        for currency, by_month in dashboard.revenue_by_month(agency=agency, months=months).items()
    }
    found["on_time_by_month"] = {
        month: (row["completed"], row["on_time"])
        for month, row in selectors.on_time_by_month(agency=agency, months=months).items()
    }
    return found


def assert_kept_equal_rows(books, period=None):
    with agency_scope(books.agency):
        kept = figures(books, period)
        with live_only():
            raw = figures(books, period)
    assert kept == raw


def kept_months(books) -> dict:
    with agency_scope(books.agency):
        return {
            row.month: row.counted_version == row.version
            for row in ReportMonth.objects.filter(agency=books.agency)
        }


def test_a_closed_month_is_counted_once_and_the_current_one_never(books):
    assert_kept_equal_rows(books)
    assert kept_months(books) == {
        dt.date(2026, month, 1): True for month in (1, 2, 3, 4)
    }  # May is this month: read live
    with agency_scope(books.agency):
        april = RevenueMonth.objects.filter(agency=books.agency, month=dt.date(2026, 4, 1))
        usd = {row.service_id: row for row in april if row.currency == "USD"}
        assert usd[books.inbox.service_id].invoiced == 4000
        assert usd[books.inbox.service_id].written_off == 2000
        assert usd[books.travel.service_id].unbilled == 6000
        assert (
            sum(row.completed for row in OnTimeMonth.objects.filter(month=dt.date(2026, 4, 1))) == 5
        )


def test_kept_months_follow_every_kind_of_change_to_a_closed_month(books, time_machine):
    """Each write below changes March or April after they were counted: the kept figures
    must come out as the rows say, and only the months written to are counted again."""
    agency, owner = books.agency, books.owner.user
    assert_kept_equal_rows(books)
    with agency_scope(agency):
        # April's travel charge forgiven, April's held inbox charge approved.
        charge_write_off(agency=agency, actor=owner, charge=books.charges["A3"], reason="Sorry")
        Charge.objects.filter(pk=books.charges["B3"].pk).update(status=ChargeStatus.HELD)
        rollups.count_month(agency=agency, month=dt.date(2026, 4, 1))
        charge_release(agency=agency, actor=owner, charge=books.charges["B3"])
    assert kept_months(books)[dt.date(2026, 4, 1)] is False
    assert kept_months(books)[dt.date(2026, 3, 1)] is True
    assert_kept_equal_rows(books)

    with agency_scope(agency):
        # March's invoice voided at Stripe: its charge is no longer revenue.
        invoice = books.invoices["A4"]
        Invoice.objects.filter(pk=invoice.pk).update(stripe_invoice_id="in_march")
        with transaction.atomic():
            _apply_invoice_event(
                agency,
                "invoice.voided",
                {"id": "in_march", "status": "void", "currency": "usd", "amount_due": 8000},
            )
        assert Invoice.objects.get(pk=invoice.pk).status == "void"
    assert kept_months(books)[dt.date(2026, 3, 1)] is False
    assert_kept_equal_rows(books)

    with agency_scope(agency):
        # The client sends April's inbox work back: it no longer counts as completed.
        task = Task.objects.get(pk=books.tasks["A1"].pk)
        task_send_back(agency=agency, actor=books.acme_member.user, task=task, reason="Redo")
    assert kept_months(books)[dt.date(2026, 4, 1)] is False
    assert_kept_equal_rows(books)

    with agency_scope(agency):
        # A credit note issued in May, then May closes: it is kept with May.
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
            issued_at=at("2026-05-11"),
        )
    time_machine.move_to(JUNE_10, tick=False)
    assert_kept_equal_rows(books)
    with agency_scope(agency):
        may = RevenueMonth.objects.get(
            agency=agency, month=dt.date(2026, 5, 1), credited__gt=0, currency="USD"
        )
        assert may.credited == 1500


def test_a_range_that_cuts_months_reads_its_edges_live(books):
    with agency_scope(books.agency):
        kept, live = rollups.split(
            books.agency, Period(dt.date(2026, 2, 15), dt.date(2026, 5, 3), "Europe/London")
        )
    assert kept == [dt.date(2026, 3, 1), dt.date(2026, 4, 1)]
    assert [(p.start, p.end) for p in live] == [
        (dt.date(2026, 2, 15), dt.date(2026, 2, 28)),
        (dt.date(2026, 5, 1), dt.date(2026, 5, 3)),
    ]
    assert_kept_equal_rows(
        books, Period(dt.date(2026, 3, 10), dt.date(2026, 4, 20), "Europe/London")
    )


def test_a_write_in_the_current_month_marks_nothing(books, count_queries):
    from tasks.report_months import touch

    assert_kept_equal_rows(books)
    with agency_scope(books.agency):
        assert count_queries(lambda: touch(agency_id=books.agency.pk, moments=[MAY_10])) == 0
        assert (
            count_queries(lambda: touch(agency_id=books.agency.pk, moments=[at("2026-04-30")])) == 2
        )


def test_a_new_time_zone_counts_the_months_again(books):
    assert_kept_equal_rows(books)
    books.agency.time_zone = "Pacific/Auckland"
    books.agency.save()
    assert_kept_equal_rows(books)
    with agency_scope(books.agency):
        assert set(ReportMonth.objects.values_list("time_zone", flat=True)) == {"Pacific/Auckland"}


def test_report_queries_do_not_grow_with_months(books, count_queries):
    agency = books.agency
    one = Period(dt.date(2026, 4, 1), dt.date(2026, 5, 10), agency.time_zone)
    with agency_scope(agency):
        figures(books)  # every closed month counted once

        def queries(period):
            return count_queries(lambda: figures(books, period))

        assert queries(one) == queries(year(books))


def test_rebuild_report_months_counts_every_closed_month(books, capsys):
    call_command("rebuild_report_months", agency=books.agency.slug)
    assert f"{books.agency.slug}: " in capsys.readouterr().out
    assert kept_months(books) == {dt.date(2026, month, 1): True for month in (3, 4)}
    with agency_scope(books.agency):
        counted = sorted(
            RevenueMonth.objects.values_list("month", "client_id", "service_id", "invoiced")
        )
    assert_kept_equal_rows(books)
    with agency_scope(books.agency):
        assert counted == sorted(
            RevenueMonth.objects.filter(month__gte=dt.date(2026, 3, 1)).values_list(
                "month", "client_id", "service_id", "invoiced"
            )
        )
    with pytest.raises(Exception, match="No agency"):
        call_command("rebuild_report_months", agency="nobody-here")


def test_a_page_shows_the_first_rows_and_the_csv_streams_them_all():
    from reports.tables import PAGE_ROWS, STREAM_ROWS, Column, Table, csv_response

    rows = [{"name": f"Client {n:04}", "minutes": n} for n in range(STREAM_ROWS + 1)]
    table = Table("by_client", "Clients", [Column("name", "Client"), Column("minutes", "M", "int")])
    table.rows = rows
    assert len(table.cells) == PAGE_ROWS
    assert table.rows_not_shown == len(rows) - PAGE_ROWS
    response = csv_response(table, filename="clients.csv")
    assert response.streaming
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == 1 + len(rows)
    assert lines[-1] == f"Client {STREAM_ROWS:04},{STREAM_ROWS}"


def test_time_logged_edited_and_deleted_in_a_closed_month_is_counted_again(books, time_machine):
    from tasks.services import time_entry_add, time_entry_delete, time_entry_update
    from tests.tasks.factories import TaskFactory

    agency, maria = books.agency, books.maria.membership
    time_machine.move_to(at("2026-04-20", 9), tick=False)
    task = TaskFactory(
        agency=agency, contract_line=books.inbox, status="in_progress", assignee=maria
    )
    time_machine.move_to(MAY_10, tick=False)
    assert_kept_equal_rows(books)
    with agency_scope(agency):
        entry = time_entry_add(
            agency=agency,
            actor=maria.user,
            membership=maria,
            task=task,
            minutes=40,
            worked_on=dt.date(2026, 4, 22),
        )
    assert kept_months(books)[dt.date(2026, 4, 1)] is False
    assert_kept_equal_rows(books)
    with agency_scope(agency):
        entry = time_entry_update(
            agency=agency, actor=maria.user, membership=maria, entry=entry, seconds=3000
        )
    assert kept_months(books)[dt.date(2026, 4, 1)] is False
    assert_kept_equal_rows(books)
    with agency_scope(agency):
        time_entry_delete(agency=agency, actor=maria.user, membership=maria, entry=entry)
    assert kept_months(books)[dt.date(2026, 4, 1)] is False
    assert_kept_equal_rows(books)


def test_kept_pay_follows_a_raise_a_new_currency_and_a_payout_after_counting(books):
    """A closed month's time is priced when counted; a later raise, a pay currency changed
    or a month paid at its rate changes what it owes, with no write to the month."""
    from billing.payouts import payout_record
    from reports.models import OwedClientMonth, OwedMonth

    agency = books.agency
    assert_kept_equal_rows(books)
    with agency_scope(agency):
        assert OwedMonth.objects.filter(month=dt.date(2026, 4, 1)).count() == 2
        assert OwedClientMonth.objects.filter(month=dt.date(2026, 4, 1)).exists()
        payout_record(
            agency=agency,
            actor=books.owner.user,
            membership=books.maria.membership,
            month=dt.date(2026, 3, 1),
        )
        books.maria.pay_rate = 2100  # March keeps the rate it was paid at, April does not
        books.maria.save()
        books.joao.pay_currency = "GBP"
        books.joao.pay_rate = 1001
        books.joao.save()
    assert_kept_equal_rows(books)
    with agency_scope(agency):
        by_client, by_assistant = selectors.margin_tables(agency=agency, period=year(books))
    joao = {
        row["currency"]: row["owed"]
        for row in by_assistant.rows
        if row["name"] == "João Silva" and row["owed"]
    }
    # every month of João's time is now owed in pounds, none in euros
    assert set(joao) == {"GBP"}
    assert {row["currency"] for row in by_client.rows if row["owed"]} >= {"GBP", "USD"}


def test_the_kept_share_totals_equal_the_per_client_rows(books):
    from reports.models import ShareMonth, ShareTotalMonth

    assert_kept_equal_rows(books)
    with agency_scope(books.agency):
        for month in (dt.date(2026, 3, 1), dt.date(2026, 4, 1)):
            totals = {
                (row.assistant_id, row.currency): (row.billable, row.charged, row.charged_count)
                for row in ShareTotalMonth.objects.filter(month=month)
            }
            summed: dict = {}
            for row in ShareMonth.objects.filter(month=month):
                billable, charged, count = summed.get((row.assistant_id, row.currency), (0, 0, 0))
                summed[(row.assistant_id, row.currency)] = (
                    billable + row.billable,
                    charged + row.charged,
                    count + row.charged_count,
                )
            assert totals == summed
            assert totals


def test_rebuild_report_months_counts_the_priced_time_and_share_totals(books):
    from reports.models import OwedClientMonth, OwedMonth, ShareTotalMonth

    def kept() -> dict:
        with agency_scope(books.agency):
            return {
                model.__name__: sorted(model.objects.values_list("month", flat=True).distinct())
                for model in (OwedMonth, OwedClientMonth, ShareTotalMonth)
            }

    call_command("rebuild_report_months", agency=books.agency.slug)
    months = [dt.date(2026, 3, 1), dt.date(2026, 4, 1)]
    assert kept() == dict.fromkeys(("OwedMonth", "OwedClientMonth", "ShareTotalMonth"), months)
    with agency_scope(books.agency):
        before = sorted(OwedMonth.objects.values_list("month", "assistant_id", "amount"))
    call_command("rebuild_report_months", agency=books.agency.slug)
    with agency_scope(books.agency):
        assert sorted(OwedMonth.objects.values_list("month", "assistant_id", "amount")) == before
    assert_kept_equal_rows(books)
