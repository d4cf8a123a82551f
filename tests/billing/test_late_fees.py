"""Late payment: a late fee once per overdue invoice (also under two sweeps at once), new
requests paused while an invoice is long overdue and resumed once it is settled, and what
the client is told before either applies: dashboard, invoices page, request form, API and
the invoice reminder. Time moved by time-machine."""

import datetime as dt
import threading

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from billing.late_fees import (
    check_requests_allowed,
    late_fee_apply,
    late_payment_policy_update,
    sweep_late_fees,
)
from billing.models import (
    Charge,
    ChargeKind,
    ChargeStatus,
    Invoice,
    InvoiceStatus,
    LatePaymentPolicy,
)
from billing.reminders import sweep_billing_reminders
from billing.retainer import bank_usage
from billing.selectors import month_spent
from core.errors import ApplicationError
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope, scopes_disabled
from notifications.models import Notification
from tasks import services as task_services
from tasks.models import Task
from tests.contracts.factories import ContractFactory, LineFactory
from tests.factories import ClientFactory, MembershipFactory
from tests.tasks.factories import TaskFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
DUE = dt.datetime(2026, 5, 10, 16, tzinfo=UTC)  # 12:00 in New York


@pytest.fixture
def books(agency):
    client = ClientFactory(agency=agency, time_zone="America/New_York", currency="USD")
    contract = ContractFactory(agency=agency, client=client, status="active")
    line = LineFactory(agency=agency, contract=contract)
    person = MembershipFactory(agency=agency, role=Role.CLIENT, client=client)
    admin = MembershipFactory(agency=agency, role=Role.ADMIN)
    return {"client": client, "contract": contract, "line": line, "person": person, "admin": admin}


def overdue_invoice(agency, books, *, due=DUE, amount_due=10000, number="INV-0007", kind="task"):
    """An open invoice carrying one task charge (or one late fee), due at `due`."""
    with scopes_disabled():
        invoice = Invoice.objects.create(
            agency=agency,
            client=books["client"],
            contract=books["contract"],
            status=InvoiceStatus.OPEN,
            collection_method="send_invoice",
            currency="USD",
            amount_due=amount_due,
            total=amount_due,
            number=number,
            due_date=due,
            stripe_invoice_id=f"in_{number}",
        )
        line = books["line"]
        task = TaskFactory(agency=agency, contract_line=line, status="completed")
        fields = {"task": task} if kind == "task" else {"late_fee_for": _other(agency, books)}
        Charge.objects.create(
            agency=agency,
            kind=kind,
            contract_line=line,
            terms=line.terms.first(),
            client=books["client"],
            amount=amount_due,
            currency="USD",
            description="Work",
            idempotency_key=f"charge-{number}",
            status=ChargeStatus.INVOICED,
            invoice=invoice,
            task_completed_at=timezone.now() if kind == "task" else None,
            **fields,
        )
    return invoice


def _other(agency, books):
    return Invoice.objects.create(
        agency=agency, client=books["client"], status="paid", currency="USD",
        collection_method="send_invoice", period_start=dt.date(2026, 1, 1),
        period_end=dt.date(2026, 2, 1),
    )  # fmt: skip


def policy(agency, books, **values):
    values = {
        "fee_kind": "fixed",
        "fixed_amounts": {"USD": 2500},
        "fee_after_days": 7,
        "pause_requests": True,
        "pause_after_days": 14,
        **values,
    }
    with agency_scope(agency):
        return late_payment_policy_update(agency=agency, actor=books["admin"].user, **values)


def fees():
    with scopes_disabled():
        return list(Charge.objects.filter(kind=ChargeKind.LATE_FEE).order_by("pk"))


# -- the fee --------------------------------------------------------------------------------


def test_the_fee_comes_once_n_days_past_due(agency, books, time_machine):
    policy(agency, books)
    invoice = overdue_invoice(agency, books)
    time_machine.move_to(DUE + dt.timedelta(days=6, hours=23), tick=False)
    assert sweep_late_fees(now=timezone.now()) == 0
    time_machine.move_to(DUE + dt.timedelta(days=7), tick=False)
    assert sweep_late_fees(now=timezone.now()) == 1
    assert sweep_late_fees(now=timezone.now()) == 0  # a second run, or a retried one
    (fee,) = fees()
    assert fee.late_fee_for_id == invoice.pk and fee.amount == 2500 and fee.currency == "USD"
    assert fee.status == ChargeStatus.PENDING and fee.task_id is None
    assert fee.contract_line_id == books["line"].pk  # billed under the overdue work's line
    assert fee.description == "Late fee: invoice INV-0007 unpaid"
    with agency_scope(agency):
        assert late_fee_apply(agency=agency, invoice=invoice).pk == fee.pk
        assert AuditEvent.objects.filter(action="charge.late_fee").count() == 1
        invoice.refresh_from_db()
        assert invoice.late_fee_done_at is not None  # out of the sweep's index
        # Never bank or budget treatment: no hours drawn, not spent against the cap.
        assert bank_usage(agency, books["line"]) == {}
        assert month_spent(agency=agency, line=books["line"], at=timezone.now()) == 0


def test_a_percentage_of_what_is_still_due_rounds_half_up(agency, books, time_machine):
    policy(agency, books, fee_kind="percent", percent_basis_points=150, fixed_amounts={})
    invoice = overdue_invoice(agency, books, amount_due=10033)
    with scopes_disabled():
        Invoice.objects.filter(pk=invoice.pk).update(amount_paid=3)  # 100.30 still due
    time_machine.move_to(DUE + dt.timedelta(days=8), tick=False)
    sweep_late_fees(now=timezone.now())
    (fee,) = fees()
    assert fee.amount == 150  # 1.5 % of 10030 = 150.45 -> 150
    assert fee.breakdown["still_due"] == 10030 and fee.breakdown["percent_basis_points"] == 150


def test_no_fee_for_a_paid_invoice_another_currency_or_a_fee_alone(agency, books, time_machine):
    policy(agency, books, fixed_amounts={"EUR": 2000})
    usd = overdue_invoice(agency, books, number="INV-USD")
    time_machine.move_to(DUE + dt.timedelta(days=30), tick=False)
    assert sweep_late_fees(now=timezone.now()) == 0  # no amount set for USD
    policy(agency, books)
    with scopes_disabled():
        Invoice.objects.filter(pk=usd.pk).update(status=InvoiceStatus.PAID)
    fee_only = overdue_invoice(agency, books, number="INV-FEE", kind="late_fee")
    assert sweep_late_fees(now=timezone.now()) == 0
    with scopes_disabled():
        assert fees() == [fee_only.charges.get()]  # only the fee it was made of
    fee_only.refresh_from_db()
    assert fee_only.late_fee_done_at is not None  # no fee on a fee, and never looked at again


def test_the_sweep_reads_only_the_invoices_whose_fee_is_due(
    agency, books, time_machine, django_assert_max_num_queries
):
    policy(agency, books)
    for number in range(5):
        overdue_invoice(agency, books, number=f"INV-{number}")
    time_machine.move_to(DUE + dt.timedelta(days=8), tick=False)
    assert sweep_late_fees(now=timezone.now()) == 5
    with django_assert_max_num_queries(2):
        assert sweep_late_fees(now=timezone.now()) == 0  # the policies, then nothing due


def together(calls):
    results, failures = [], []

    def run(call):
        try:
            results.append(call())
        except BaseException as error:
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    return results


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_make_one_fee(agency, books):
    if connection.vendor != "postgresql":
        pytest.skip("the race needs PostgreSQL's row locks (set DATABASE_URL)")
    policy(agency, books)
    overdue_invoice(agency, books)
    later = DUE + dt.timedelta(days=9)
    made = together([lambda: sweep_late_fees(now=later) for _ in range(4)])
    assert sum(made) == 1
    assert len(fees()) == 1


def test_the_policy_is_checked_and_audited(agency, books):
    with agency_scope(agency), pytest.raises(ApplicationError) as refused:
        late_payment_policy_update(agency=agency, actor=None, fee_kind="fixed", fixed_amounts={})
    assert refused.value.code == "late_fee_amount_required"
    with agency_scope(agency), pytest.raises(ApplicationError) as refused:
        late_payment_policy_update(
            agency=agency, actor=None, fee_kind="percent", percent_basis_points=0
        )
    assert refused.value.code == "late_fee_percent_invalid"
    policy(agency, books)
    with agency_scope(agency):
        assert LatePaymentPolicy.objects.get().fixed_amounts == {"USD": 2500}
        assert AuditEvent.objects.filter(action="late_payment_policy.updated").count() == 1


def test_staff_set_the_policy_on_the_settings_page(agency, books, signed_in):
    url = reverse("late_payment_settings", args=[agency.slug])
    assert signed_in(books["person"].user).get(url).status_code == 403
    http = signed_in(books["admin"].user)
    assert http.get(url).status_code == 200
    response = http.post(
        url,
        {
            "fee_kind": "percent",
            "percent": "2.5",
            "fee_after_days": "10",
            "pause_requests": "on",
            "pause_after_days": "20",
        },
    )
    assert response.status_code == 302
    with agency_scope(agency):
        saved = LatePaymentPolicy.objects.get()
    assert (saved.fee_kind, saved.percent_basis_points, saved.pause_after_days) == (
        "percent",
        250,
        20,
    )
    bad = http.post(url, {"fee_kind": "fixed", "fee_after_days": "7", "pause_after_days": "9"})
    assert bad.status_code == 200 and "Enter the fee for at least one currency" in bad.text


# -- the pause ------------------------------------------------------------------------------


def request_as(agency, books, user):
    with agency_scope(agency):
        return task_services.task_request(
            agency=agency,
            actor=user,
            client=books["client"],
            service=books["line"].service,
            title="Book the flights",
        )


def test_requests_pause_m_days_past_due_for_the_client_not_for_staff(agency, books, time_machine):
    policy(agency, books)
    invoice = overdue_invoice(agency, books)
    time_machine.move_to(DUE + dt.timedelta(days=13), tick=False)
    request_as(agency, books, books["person"].user)  # not yet
    time_machine.move_to(DUE + dt.timedelta(days=14), tick=False)
    with pytest.raises(ApplicationError) as refused:
        request_as(agency, books, books["person"].user)
    assert refused.value.code == "requests_paused"
    assert "until invoice INV-0007 is paid" in refused.value.message
    assert "Pay it from your invoices page" in refused.value.message
    request_as(agency, books, books["admin"].user)  # staff still may
    for status in (InvoiceStatus.PAID, InvoiceStatus.VOID, InvoiceStatus.UNCOLLECTIBLE):
        with scopes_disabled():
            Invoice.objects.filter(pk=invoice.pk).update(status=status)
        request_as(agency, books, books["person"].user)  # lifted at once
        with scopes_disabled():
            Invoice.objects.filter(pk=invoice.pk).update(status=InvoiceStatus.OPEN)


def test_the_pause_lifts_when_the_paid_webhook_moves_the_invoice(agency, books, time_machine):
    from billing.invoicing import invoice_apply_stripe

    policy(agency, books)
    invoice = overdue_invoice(agency, books)
    time_machine.move_to(DUE + dt.timedelta(days=20), tick=False)
    with agency_scope(agency), pytest.raises(ApplicationError):
        check_requests_allowed(agency=agency, client=books["client"], actor=None)
    with agency_scope(agency):
        changed = invoice_apply_stripe(
            invoice, {"status": "paid", "amount_due": 10000, "amount_paid": 10000}
        )
        invoice.save(update_fields=changed)
        check_requests_allowed(agency=agency, client=books["client"], actor=None)


def test_no_policy_no_pause(agency, books, time_machine):
    overdue_invoice(agency, books)
    time_machine.move_to(DUE + dt.timedelta(days=90), tick=False)
    request_as(agency, books, books["person"].user)


def test_a_recurring_request_waits_out_the_pause_instead_of_stopping(agency, books, time_machine):
    from tasks.models import RecurringRequest
    from tasks.recurring import recurring_run_due

    policy(agency, books)
    overdue_invoice(agency, books)
    time_machine.move_to(DUE + dt.timedelta(days=20), tick=False)
    with scopes_disabled():
        recurring = RecurringRequest.objects.create(
            agency=agency, client=books["client"], service=books["line"].service,
            title="Weekly inbox", frequency="weekly", weekday=0,
            time_of_day=dt.time(9), next_run_at=timezone.now() - dt.timedelta(minutes=1),
            created_by=books["person"].user,
        )  # fmt: skip
    recurring_run_due(now=timezone.now())
    recurring.refresh_from_db()
    assert recurring.is_active and recurring.next_run_at > timezone.now()
    with scopes_disabled():
        assert not Task.objects.filter(recurrence=recurring).exists()


# -- what the client sees before ------------------------------------------------------------


def test_the_dashboard_and_invoices_page_say_what_comes_if_unpaid(
    agency, books, signed_in, time_machine
):
    policy(agency, books)
    overdue_invoice(agency, books)
    time_machine.move_to(DUE - dt.timedelta(days=2), tick=False)  # due in two days
    http = signed_in(books["person"].user)
    for name in ("dashboard", "our_invoices", "client_task_create"):
        page = http.get(reverse(name, args=[agency.slug])).text
        # New York: due 10 May, fee on the 17th, pause on the 24th.
        assert "A late fee of $25.00 will be added on 17 May 2026 if unpaid." in page, name
        assert "New requests pause on 24 May 2026 if unpaid." in page, name
        assert 'data-testid="requests-paused"' not in page
    time_machine.move_to(DUE + dt.timedelta(days=7, hours=1), tick=False)
    sweep_late_fees(now=timezone.now())
    page = http.get(reverse("our_invoices", args=[agency.slug])).text
    assert "A late fee of" not in page  # made now: it is on the invoices, not to come
    assert "New requests pause on 24 May 2026 if unpaid." in page


def test_no_notice_without_a_policy_or_long_before_the_due_date(
    agency, books, signed_in, time_machine
):
    overdue_invoice(agency, books)
    http = signed_in(books["person"].user)
    time_machine.move_to(DUE - dt.timedelta(days=2), tick=False)
    assert (
        'data-testid="late-payment"' not in http.get(reverse("dashboard", args=[agency.slug])).text
    )
    policy(agency, books)
    time_machine.move_to(DUE - dt.timedelta(days=20), tick=False)
    assert (
        'data-testid="late-payment"' not in http.get(reverse("dashboard", args=[agency.slug])).text
    )


def test_a_paused_client_is_told_why_and_how_to_resume(agency, books, signed_in, time_machine, api):
    policy(agency, books)
    overdue_invoice(agency, books)
    time_machine.move_to(DUE + dt.timedelta(days=15), tick=False)
    http = signed_in(books["person"].user)
    form_url = reverse("client_task_create", args=[agency.slug])
    page = http.get(form_url).text
    assert 'data-testid="requests-paused"' in page
    assert "New requests are paused until invoice INV-0007 is paid" in page
    assert "Pay it</a> and you can request work again straight away." in page
    response = http.post(
        form_url,
        {"service": books["line"].service.pk, "title": "Book the flights", "priority": 2},
    )
    assert response.status_code == 200
    assert "New requests are paused until invoice INV-0007 is paid" in response.text
    with scopes_disabled():
        assert not Task.objects.filter(title="Book the flights").exists()

    answer = api(books["person"].user).post(
        f"/api/v1/a/{agency.slug}/tasks/",
        {"service": books["line"].service.pk, "title": "Book the flights"},
        format="json",
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "requests_paused"
    assert "Pay it from your invoices page" in answer.json()["message"]


def test_the_invoice_reminder_says_what_comes_if_unpaid(agency, books, time_machine):
    policy(agency, books)
    overdue_invoice(agency, books)
    time_machine.move_to(DUE - dt.timedelta(days=1), tick=False)
    sweep_billing_reminders(now=timezone.now())
    with scopes_disabled():
        (due_soon,) = Notification.objects.filter(kind="invoice_due_soon")
    assert "A late fee of $25.00 will be added on Sun 17 May 2026, 12:00 EDT if unpaid." in (
        due_soon.body
    )
    assert "New requests pause on Sun 24 May 2026, 12:00 EDT if unpaid." in due_soon.body
    time_machine.move_to(DUE + dt.timedelta(hours=1), tick=False)
    sweep_billing_reminders(now=timezone.now())
    with scopes_disabled():
        (overdue,) = Notification.objects.filter(kind="invoice_overdue")
    assert "A late fee of $25.00 will be added on" in overdue.body


def test_the_notices_cost_the_same_queries_at_1_and_at_many_invoices(
    agency, books, signed_in, time_machine, count_queries
):
    policy(agency, books)
    overdue_invoice(agency, books, number="INV-1")
    time_machine.move_to(DUE - dt.timedelta(days=2), tick=False)
    http = signed_in(books["person"].user)
    url = reverse("our_invoices", args=[agency.slug])
    http.get(url)
    one = count_queries(lambda: http.get(url))
    for number in range(2, 7):
        overdue_invoice(agency, books, number=f"INV-{number}")
    many = count_queries(lambda: http.get(url))
    assert many == one
    assert http.get(url).text.count('data-testid="late-notice"') == 6


def test_the_reminder_sweep_reads_the_notices_once_whatever_the_number_of_invoices(
    agency, books, time_machine
):
    policy(agency, books)
    overdue_invoice(agency, books, number="INV-1")
    time_machine.move_to(DUE - dt.timedelta(days=1), tick=False)

    def sweep_counting_fee_reads():
        with CaptureQueriesContext(connection) as seen:
            sweep_billing_reminders(now=timezone.now())
        return sum('"late_fee_for_id" IN' in query["sql"] for query in seen.captured_queries)

    assert sweep_counting_fee_reads() == 1
    for number in range(2, 7):
        overdue_invoice(agency, books, number=f"INV-{number}")
    assert sweep_counting_fee_reads() == 1
    with scopes_disabled():
        assert Notification.objects.filter(kind="invoice_due_soon").count() == 6
