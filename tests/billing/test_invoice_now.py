"""Invoice now: staff close a weekly or monthly client's open period early. One invoice,
exactly once; the period's later charges go on the next one."""

import datetime as dt

import pytest
from django.urls import reverse

from billing.invoicing import close_billing_periods, invoice_client_now
from billing.models import ChargeStatus, Invoice
from core.errors import ApplicationError
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope
from tests.billing.test_invoicing import (
    at,
    flat_line,
    make_charge,
    per_task,
    stripe_invoices,
    stripe_items,
)
from tests.factories import ClientFactory

WEEKLY = {"billing_cadence": "weekly", "collection_method": "send_invoice", "days_until_due": 7}


@pytest.fixture
def weekly_line(agency):
    return flat_line(agency, ClientFactory(agency=agency, time_zone="America/New_York"), **WEEKLY)


def test_closing_a_week_early_bills_it_once_and_sends_later_work_to_the_next(
    agency, member, stripe_on, weekly_line
):
    admin = member(Role.ADMIN).user
    client = weekly_line.contract.client
    # New York's week of Monday 2 March, closed early on Wednesday.
    early = [
        make_charge(agency, weekly_line, at=at("2026-03-02 15:00"), fee=1000),
        make_charge(agency, weekly_line, at=at("2026-03-03 15:00"), fee=2000),
    ]
    wednesday = at("2026-03-04 15:00")
    with agency_scope(agency):
        [invoice] = invoice_client_now(agency=agency, actor=admin, client=client, now=wednesday)
        assert (invoice.period_start, invoice.period_end) == (
            dt.date(2026, 3, 2),
            dt.date(2026, 3, 9),
        )
        assert invoice.status == "open" and invoice.total == 3000
        for charge in early:
            charge.refresh_from_db()
            assert charge.invoice == invoice and charge.status == ChargeStatus.INVOICED
        assert AuditEvent.objects.filter(action="invoice.closed_early", actor=admin).count() == 1
        # A second click finds nothing left to bill.
        with pytest.raises(ApplicationError) as nothing:
            invoice_client_now(agency=agency, actor=admin, client=client, now=wednesday)
        assert nothing.value.code == "nothing_to_invoice"

    later = make_charge(agency, weekly_line, at=at("2026-03-05 15:00"), fee=4000)
    # Beat's close at the end of the week leaves the early invoice as it was; the later
    # charge waits for the next week's invoice.
    assert close_billing_periods(now=at("2026-03-09 06:00")) == 0
    assert close_billing_periods(now=at("2026-03-16 06:00")) == 1
    with agency_scope(agency):
        later.refresh_from_db()
        assert later.invoice.period_start == dt.date(2026, 3, 9)
        assert later.invoice.total == 4000
        assert Invoice.objects.count() == 2
    assert sorted(i.total for i in stripe_invoices(stripe_on)) == [3000, 4000]
    assert len(stripe_items(stripe_on)) == 3


def test_a_per_task_client_has_nothing_to_invoice_now(agency, member, stripe_on):
    line = per_task(agency)
    make_charge(agency, line)
    with agency_scope(agency), pytest.raises(ApplicationError) as refused:
        invoice_client_now(agency=agency, actor=None, client=line.contract.client)
    assert refused.value.code == "nothing_to_invoice"


def test_the_charges_page_offers_it_to_staff_only(
    agency, member, signed_in, stripe_on, weekly_line
):
    client = weekly_line.contract.client
    make_charge(agency, weekly_line, fee=1500)
    staff = signed_in(member(Role.ADMIN).user)
    listing = reverse("charge_list", args=[agency.slug])
    assert 'data-testid="invoice-now"' not in staff.get(listing).content.decode()
    page = staff.get(listing, {"client": client.pk}).content.decode()
    assert 'data-testid="invoice-now"' in page

    url = reverse("invoice_client_now", args=[agency.slug, client.pk])
    outsider = signed_in(member(Role.CLIENT, client=client).user)
    assert outsider.post(url).status_code in (403, 404)
    with agency_scope(agency):
        assert not Invoice.objects.exists()

    done = staff.post(url)
    with agency_scope(agency):
        invoice = Invoice.objects.get()
    assert done.status_code == 302
    assert done["Location"] == reverse("invoice_detail", args=[agency.slug, invoice.pk])
    # A double submit bills nothing more and says why.
    again = staff.post(url, follow=True)
    assert "no unbilled weekly or monthly charges" in again.content.decode()
    assert len(stripe_invoices(stripe_on)) == 1
    page = staff.get(listing, {"client": client.pk}).content.decode()
    assert 'data-testid="invoice-now"' not in page
