"""Voiding an invoice settles its charges as the admin chooses: billed again on the next
invoice, or written off, each once."""

import datetime as dt

from django.urls import reverse

from billing.invoicing import close_billing_periods, invoice_void
from billing.models import Charge, ChargeStatus, Invoice
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope
from tests.billing.test_invoicing import at, flat_line, make_charge, per_task, push
from tests.factories import ClientFactory


def open_invoices(sdk):
    return [i for i in sdk.v1.invoices.list(params={"limit": 100}).data if i.status == "open"]


def test_a_voided_per_task_invoices_charge_is_billed_again_on_a_new_invoice(
    agency, member, signed_in, stripe_on, django_capture_on_commit_callbacks
):
    line = per_task(agency, fee=12000, collection="send_invoice")
    charge = make_charge(agency, line)
    first = push(agency, charge)
    url = reverse("invoice_void", args=[agency.slug, first.pk])
    http = signed_in(member(Role.ADMIN).user)
    with django_capture_on_commit_callbacks(execute=True):
        response = http.post(url, {"reason": "Wrong address", "charges": "rebill"}, follow=True)
    assert "its charges go on the next invoice" in response.content.decode()
    with agency_scope(agency):
        charge.refresh_from_db()
        again = charge.invoice
        assert charge.status == ChargeStatus.INVOICED and charge.times_rebilled == 1
        assert again.pk != first.pk and again.status == "open" and again.amount_due == 12000
        assert Invoice.objects.get(pk=first.pk).status == "void"
        assert AuditEvent.objects.filter(action="charge.rebilled").count() == 1
    assert [i.id for i in open_invoices(stripe_on)] == [again.stripe_invoice_id]

    # Voiding the old one again is refused, and nothing moves twice.
    response = http.post(url, {"reason": "Again", "charges": "write_off"}, follow=True)
    assert "Only open or uncollectible invoices can be voided" in response.content.decode()
    with agency_scope(agency):
        charge.refresh_from_db()
    assert charge.status == ChargeStatus.INVOICED and charge.invoice_id == again.pk


def test_a_voided_invoices_charges_may_be_written_off_instead(agency, member, api, stripe_on):
    line = per_task(agency, fee=5000, collection="send_invoice")
    charge = make_charge(agency, line)
    invoice = push(agency, charge)
    response = api(member(Role.ADMIN).user).post(
        reverse("api:invoice-void", args=[agency.slug, invoice.pk]),
        {"reason": "Goodwill", "charges": "write_off"},
        format="json",
    )
    assert response.status_code == 200 and response.json()["status"] == "void"
    with agency_scope(agency):
        charge.refresh_from_db()
    assert charge.status == ChargeStatus.WRITTEN_OFF and charge.invoice is None
    assert charge.written_off_reason.endswith("voided: Goodwill")
    assert open_invoices(stripe_on) == []


def test_an_unknown_choice_is_a_400_and_voids_nothing(agency, member, api, stripe_on):
    invoice = push(agency, make_charge(agency, per_task(agency, collection="send_invoice")))
    response = api(member(Role.ADMIN).user).post(
        reverse("api:invoice-void", args=[agency.slug, invoice.pk]),
        {"reason": "x", "charges": "keep"},
        format="json",
    )
    assert response.status_code == 400
    with agency_scope(agency):
        invoice.refresh_from_db()
    assert invoice.status == "open"


def test_a_voided_period_invoices_charges_go_on_the_next_period(agency, member, stripe_on):
    weekly = {"billing_cadence": "weekly", "collection_method": "send_invoice", "days_until_due": 7}
    line = flat_line(agency, ClientFactory(agency=agency), **weekly)
    charge = make_charge(agency, line, at=at("2026-03-04 12:00"), fee=3000)
    assert close_billing_periods(now=at("2026-03-09 06:00")) == 1
    with agency_scope(agency):
        charge.refresh_from_db()
        invoice_void(
            agency=agency,
            actor=member(Role.ADMIN).user,
            invoice=charge.invoice,
            reason="Sent to the wrong client",
        )
        charge.refresh_from_db()
        assert charge.status == ChargeStatus.PENDING and charge.invoice is None
    assert close_billing_periods(now=at("2026-03-09 07:00")) == 0  # its week is invoiced
    assert close_billing_periods(now=at("2026-03-16 06:00")) == 1
    with agency_scope(agency):
        charge = Charge.objects.get(pk=charge.pk)
        assert charge.invoice.period_start == dt.date(2026, 3, 9)
        assert charge.invoice.amount_due == 3000
    assert len(open_invoices(stripe_on)) == 1
