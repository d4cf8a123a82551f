"""Each invoice has a printable page and a PDF with the agency's and the client's billing
details, its lines, credits, totals and the pay link; private like every invoice."""

import io

import pytest
from django.urls import reverse
from pypdf import PdfReader

from core.roles import Role
from core.tenancy import agency_scope
from tests.billing.test_credit_notes import issue, sent_invoice
from tests.factories import ClientFactory


@pytest.fixture
def invoice(agency, member, stripe_on):
    agency.billing_address = "12 Harbour Street\nLisbon 1100-001"
    agency.tax_id = "PT509999990"
    agency.save()
    made, charge = sent_invoice(agency, fee=5000)
    client = made.client
    client.billing_address = "Cedar Legal\n400 Main St, Denver CO"
    client.tax_id = "US-EIN-12-3456789"
    client.save()
    issue(agency, member(Role.ADMIN).user, made, charge=charge, amount=1250)
    with agency_scope(agency):
        made.refresh_from_db()
    return made


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_client_prints_and_downloads_their_invoice(agency, member, signed_in, invoice):
    http = signed_in(member(Role.CLIENT, client=invoice.client).user)
    url = reverse("our_invoice_document", args=[agency.slug, invoice.pk])
    page = http.get(url)
    assert page.status_code == 200 and page["Cache-Control"] == "private, no-store"
    html = page.content.decode()
    with agency_scope(agency):
        charge = invoice.charges.select_related("task", "contract_line__service").get()
    for expected in (
        agency.name,
        "12 Harbour Street",
        "PT509999990",
        "US-EIN-12-3456789",
        charge.task.title,
        charge.contract_line.service.name,
        "$50.00 per task",
        "$50.00",  # the total
        "$37.50",  # due after the credit note of $12.50
        invoice.hosted_invoice_url,
    ):
        assert expected in html, expected

    pdf = http.get(url, {"format": "pdf"})
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf["Content-Disposition"] == f'attachment; filename="invoice-{invoice.number}.pdf"'
    text = text_of(pdf.content)
    for expected in (agency.name, "PT509999990", charge.task.title, "$37.50", "Amount due"):
        assert expected in text, expected


def test_staff_have_it_too_and_nobody_else(agency, member, signed_in, invoice):
    staff = signed_in(member(Role.ADMIN).user)
    url = reverse("invoice_document", args=[agency.slug, invoice.pk])
    assert staff.get(url).status_code == 200
    assert text_of(staff.get(url, {"format": "pdf"}).content).count("Credit note") == 1
    detail = staff.get(reverse("invoice_detail", args=[agency.slug, invoice.pk])).content.decode()
    assert 'data-testid="document-link"' in detail

    other = signed_in(member(Role.CLIENT, client=ClientFactory(agency=agency)).user)
    mine = reverse("our_invoice_document", args=[agency.slug, invoice.pk])
    assert other.get(mine).status_code == 404
    assert other.get(mine, {"format": "pdf"}).status_code == 404
    assistant = signed_in(member(Role.ASSISTANT).user)
    assert assistant.get(url).status_code == 403
    assert assistant.get(mine).status_code == 403


def test_staff_keep_the_agencys_billing_details(agency, member, signed_in):
    http = signed_in(member(Role.ADMIN).user)
    url = reverse("agency_settings", args=[agency.slug])
    assert http.get(url).status_code == 200
    saved = http.post(
        url,
        {
            "name": "Harbour VA",
            "time_zone": "Europe/Lisbon",
            "default_currency": "eur",
            "billing_address": "12 Harbour Street",
            "tax_id": "PT509999990",
        },
    )
    assert saved.status_code == 302
    agency.refresh_from_db()
    assert (agency.name, agency.default_currency, agency.tax_id) == (
        "Harbour VA",
        "EUR",
        "PT509999990",
    )
    bad = http.post(url, {"name": "", "time_zone": "Mars/Olympus", "default_currency": "XXX"})
    assert bad.status_code == 200
    form = bad.context["form"]
    assert {"name", "time_zone", "default_currency"} <= set(form.errors)
    agency.refresh_from_db()
    assert agency.name == "Harbour VA"
    assistant = signed_in(member(Role.ASSISTANT).user)
    assert assistant.get(url).status_code == 403
