"""An invoice as a document: a printable page, and the same page as a PDF (xhtml2pdf)."""

import io

from django.template.loader import render_to_string
from xhtml2pdf import pisa

from core.errors import ApplicationError

TEMPLATE = "billing/invoice_document.html"


def invoice_document(*, agency, invoice, back: str, pdf: bool = False, request=None) -> str:
    """The invoice's document as HTML: the agency's and the client's billing details, its
    lines with task, service, time and terms, credits, totals and the pay link."""
    return render_to_string(
        TEMPLATE,
        {"agency": agency, "invoice": invoice, "client": invoice.client, "back": back, "pdf": pdf},
        request=request,
    )


def invoice_pdf(*, agency, invoice) -> bytes:
    html = invoice_document(agency=agency, invoice=invoice, back="", pdf=True)
    out = io.BytesIO()
    result = pisa.CreatePDF(html, dest=out, encoding="utf-8")
    if result.err:
        raise ApplicationError(
            f"Invoice {invoice} could not be made into a PDF.", code="invoice_pdf_failed"
        )
    return out.getvalue()


def pdf_filename(invoice) -> str:
    name = str(invoice).replace("/", "-").replace(" ", "-")
    return f"invoice-{name}.pdf"
