"""Weekly and monthly invoices carry exactly the period's billable charges: nothing written
off, nothing of the next period, and a charge that comes late goes on the next invoice."""

import datetime as dt

from billing import invoicing
from billing.charges import charge_for_task, charge_write_off
from billing.invoicing import close_billing_periods
from billing.models import Charge, ChargeStatus, Invoice
from contracts.models import PricingModel
from core.tenancy import agency_scope
from tasks.models import Task
from tests.billing.test_invoicing import at, flat_line, make_charge, push, stripe_items
from tests.contracts.factories import ContractFactory, LineFactory, TermsFactory
from tests.factories import ClientFactory
from tests.tasks.factories import TaskFactory

WEEKLY = {"billing_cadence": "weekly", "collection_method": "send_invoice", "days_until_due": 7}
MONTHLY = {"billing_cadence": "monthly", "collection_method": "send_invoice", "days_until_due": 7}


def remote_total(sdk, invoice) -> int:
    return sdk.v1.invoices.retrieve(invoice.stripe_invoice_id).total


def test_written_off_charges_never_reach_the_invoice(agency, member, stripe_on):
    line = flat_line(agency, ClientFactory(agency=agency), **MONTHLY)
    charges = [
        make_charge(agency, line, at=at("2026-03-05 12:00"), fee=1000 * n) for n in (1, 2, 3)
    ]
    for charge in charges:
        push(agency, charge)  # the job that follows each charge: nothing to Stripe yet
    admin = member("admin").user
    with agency_scope(agency):
        charge_write_off(agency=agency, actor=admin, charge=charges[1], reason="goodwill")

    assert close_billing_periods(now=at("2026-04-01 12:00")) == 1
    with agency_scope(agency):
        invoice = Invoice.objects.get()
        assert invoice.amount_due == 4000
        assert set(invoice.charges.values_list("pk", flat=True)) == {charges[0].pk, charges[2].pk}
        assert Charge.objects.get(pk=charges[1].pk).status == ChargeStatus.WRITTEN_OFF
    assert remote_total(stripe_on, invoice) == 4000
    assert sorted(item.amount for item in stripe_items(stripe_on)) == [1000, 3000]


def test_an_item_left_pending_at_stripe_is_deleted_when_its_charge_is_written_off(
    agency, member, stripe_on, django_capture_on_commit_callbacks
):
    # An earlier release made a pending item for each weekly or monthly charge.
    line = flat_line(agency, ClientFactory(agency=agency), **MONTHLY)
    charge = make_charge(agency, line, at=at("2026-03-05 12:00"), fee=1500)
    with agency_scope(agency):
        customer = invoicing.stripe_customer_for(agency=agency, client=charge.client)
    item = stripe_on.v1.invoice_items.create(
        params={
            "customer": customer,
            "amount": 1500,
            "currency": "usd",
            "metadata": {"charge_id": str(charge.pk)},
        }
    )
    with agency_scope(agency):
        Charge.objects.filter(pk=charge.pk).update(stripe_invoice_item_id=item.id)
    with agency_scope(agency), django_capture_on_commit_callbacks(execute=True):
        charge_write_off(agency=agency, actor=member("admin").user, charge=charge, reason="dup")
    assert stripe_items(stripe_on) == []
    with agency_scope(agency):  # the job again finds nothing to do
        assert invoicing.charge_item_withdraw(agency=agency, charge_id=charge.pk) is False


def test_a_charge_written_off_while_its_invoice_is_drafted_comes_off_the_draft(
    agency, member, stripe_on
):
    # The close has put both items on the draft when an admin writes one charge off, just
    # before the draft is settled and finalized.
    line = flat_line(agency, ClientFactory(agency=agency), **MONTHLY)
    keep = make_charge(agency, line, at=at("2026-03-05 12:00"), fee=1000)
    forgive = make_charge(agency, line, at=at("2026-03-06 12:00"), fee=2500)
    with agency_scope(agency):
        client = keep.client
        sdk = invoicing.stripe_client_for(agency)
        customer = invoicing.stripe_customer_for(agency=agency, client=client)
        draft = sdk.v1.invoices.create(
            params={
                "customer": customer,
                "collection_method": "send_invoice",
                "days_until_due": 7,
                "pending_invoice_items_behavior": "exclude",
                "auto_advance": False,
            }
        )
        invoice = invoicing._record_invoice(
            agency,
            client=client,
            contract=line.contract,
            stripe_invoice=draft,
            period=(dt.date(2026, 3, 1), dt.date(2026, 4, 1)),
        )
        on_it = invoicing._items_on(sdk, invoice)
        for charge in (keep, forgive):
            invoicing._put_on_invoice(agency, sdk, charge, invoice, customer, on_it)
        charge_write_off(agency=agency, actor=member("admin").user, charge=forgive, reason="x")

        invoicing._advance(agency, sdk, invoice, on_it)
        invoice.refresh_from_db()
        assert invoice.amount_due == 1000 and invoice.status == "open"
        assert list(invoice.charges.values_list("pk", flat=True)) == [keep.pk]
    assert remote_total(stripe_on, invoice) == 1000


def test_a_charge_belongs_to_the_period_its_work_was_completed_in(agency, stripe_on):
    ny = flat_line(agency, ClientFactory(agency=agency, time_zone="America/New_York"), **WEEKLY)
    # Completed Sunday 8 March 22:00 in New York, charged by a job that ran Monday morning.
    late_job = make_charge(agency, ny, at=at("2026-03-09 02:00"), fee=1000)
    with agency_scope(agency):
        Charge.objects.filter(pk=late_job.pk).update(created_at=at("2026-03-09 13:00"))
    # Work of the new week, made (and pushed) before the sweep closed the old one.
    next_week = make_charge(agency, ny, at=at("2026-03-09 14:00"), fee=4000)
    push(agency, next_week)

    assert close_billing_periods(now=at("2026-03-09 15:00")) == 1  # the sweep ran 11 h late
    with agency_scope(agency):
        invoice = Invoice.objects.get()
        assert invoice.period_start == dt.date(2026, 3, 2)
        assert list(invoice.charges.values_list("pk", flat=True)) == [late_job.pk]
        assert Charge.objects.get(pk=next_week.pk).status == ChargeStatus.PENDING
    assert remote_total(stripe_on, invoice) == 1000


def test_a_send_back_never_moves_a_charge_out_of_the_period_its_work_was_done_in(agency, stripe_on):
    ny = flat_line(agency, ClientFactory(agency=agency, time_zone="America/New_York"), **WEEKLY)
    # Completed Sunday 8 March in New York and charged by a job that ran late, on Monday;
    # the client sends it back before beat has closed the week, and it is done again on
    # Tuesday.
    first = make_charge(agency, ny, at=at("2026-03-08 18:00"), fee=1000)
    with agency_scope(agency):
        Charge.objects.filter(pk=first.pk).update(created_at=at("2026-03-09 06:00"))
        Task.objects.filter(pk=first.task_id).update(status="queued", completed_at=None)
        assert close_billing_periods(now=at("2026-03-09 12:00")) == 1
        first.refresh_from_db()
        assert first.invoice.period_start == dt.date(2026, 3, 2)
        TermsFactory(
            agency=agency,
            line=ny,
            pricing_model=PricingModel.HOURLY,
            hourly_rate=6000,
            effective_from=at("2026-03-10 00:00"),
        )
        Task.objects.filter(pk=first.task_id).update(
            status="completed", completed_at=at("2026-03-10 15:00"), minutes_logged=90
        )
        rework = charge_for_task(agency=agency, task=first.task)
        Charge.objects.filter(pk=rework.pk).update(created_at=at("2026-03-10 15:01"))
    assert rework.pk != first.pk and rework.amount == 9000 - 1000
    assert rework.billable_since == at("2026-03-10 15:00")
    assert close_billing_periods(now=at("2026-03-16 12:00")) == 1
    with agency_scope(agency):
        rework.refresh_from_db()
        first.refresh_from_db()
        assert rework.invoice.period_start == dt.date(2026, 3, 9)
        assert first.invoice.period_start == dt.date(2026, 3, 2)


def test_a_charge_made_after_its_periods_invoice_went_out_goes_on_the_next(agency, stripe_on):
    ny = flat_line(agency, ClientFactory(agency=agency, time_zone="America/New_York"), **WEEKLY)
    make_charge(agency, ny, at=at("2026-03-04 15:00"), fee=1000)
    assert close_billing_periods(now=at("2026-03-09 06:00")) == 1
    # Work of that week whose charge was only made now (its job was lost and retried).
    straggler = make_charge(agency, ny, at=at("2026-03-06 15:00"), fee=700)
    with agency_scope(agency):
        Charge.objects.filter(pk=straggler.pk).update(created_at=at("2026-03-10 12:00"))

    assert close_billing_periods(now=at("2026-03-10 13:00")) == 0  # the next week isn't over
    assert close_billing_periods(now=at("2026-03-16 06:00")) == 1
    with agency_scope(agency):
        straggler.refresh_from_db()
        assert straggler.invoice.period_start == dt.date(2026, 3, 9)
        assert straggler.invoice.amount_due == 700


def test_retainer_work_the_bank_covers_makes_no_invoice_but_the_months_fee_is_billed(
    agency, stripe_on, django_capture_on_commit_callbacks
):
    client = ClientFactory(agency=agency)
    contract = ContractFactory(
        agency=agency,
        client=client,
        status="active",
        billing_cadence="per_task",
        collection_method="send_invoice",
        days_until_due=14,
    )
    line = LineFactory(agency=agency, contract=contract, terms=None)
    TermsFactory(
        agency=agency,
        line=line,
        pricing_model=PricingModel.RETAINER,
        hourly_rate=None,
        minimum_minutes=None,
        retainer_fee=80000,
        included_minutes=600,
        rollover_cap_minutes=0,
        overage_rate=6000,
        rounding_increment_minutes=15,
        effective_from=at("2026-03-01 00:00"),
    )
    task = TaskFactory(
        agency=agency,
        contract_line=line,
        status="completed",
        completed_at=at("2026-03-05 12:00"),
        minutes_logged=45,
    )
    with agency_scope(agency), django_capture_on_commit_callbacks(execute=True):
        work = charge_for_task(agency=agency, task=task)
        push(agency, work)  # the job after the charge: nothing to bill
    with agency_scope(agency):
        work.refresh_from_db()
        assert work.amount == 0 and work.status == ChargeStatus.COVERED and work.invoice is None
        fee = Charge.objects.get(kind="retainer_fee")
        assert fee.status == ChargeStatus.INVOICED and fee.invoice.amount_due == 80000
        assert Invoice.objects.count() == 1
    assert [i.total for i in stripe_on.v1.invoices.list().data] == [80000]
