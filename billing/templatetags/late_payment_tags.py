"""`{% late_payment_notices client %}`: what happens if the client's open invoices stay
unpaid (a late fee, new requests paused) before it happens, and the pause while it lasts,
on the client's dashboard, invoices page and request form (billing.late_fees)."""

from django import template
from django.utils import timezone

from billing.late_fees import NOTICE_AHEAD, late_payment_notices, paused_by, policy_for
from billing.models import Invoice, InvoiceStatus

register = template.Library()


@register.inclusion_tag("billing/late_payment_notices.html", takes_context=True)
def late_payment_box(context, client):
    """The notices of a client's open invoices due within NOTICE_AHEAD or overdue. A fixed
    number of queries: the policy, then (only with one) the invoices, their fees and the
    pause."""
    agency = context.get("agency")
    shown = {"agency": agency, "client": client, "rows": [], "paused": None}
    if agency is None or client is None or policy_for(agency) is None:
        return shown
    now = timezone.now()
    invoices = list(
        Invoice.objects.filter(
            agency=agency,
            client=client,
            status=InvoiceStatus.OPEN,
            due_date__lte=now + NOTICE_AHEAD,
        ).order_by("due_date", "pk")[:20]
    )
    notices = late_payment_notices(agency=agency, invoices=invoices, now=now)
    shown["rows"] = [
        {"invoice": invoice, "notices": notices[invoice.pk]}
        for invoice in invoices
        if invoice.pk in notices
    ]
    shown["paused"] = paused_by(agency=agency, client=client, now=now)
    return shown
