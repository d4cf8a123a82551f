"""Telling the reports that a past month's money changed (see tasks.report_months).

A charge counts on the day it was made (a retainer fee in the month it pays for); a credit
note on the day it was issued; an invoice's status decides whether its charges are
revenue, so an invoice that moves touches the months of all of them.
"""

from collections.abc import Iterable

from billing.models import Charge, CreditNote
from tasks.report_months import touch


def charges_touched(*, agency_id: int, charges: Iterable) -> None:
    moments = []
    for charge in charges:
        moments += [charge.created_at, charge.period_start]
    touch(agency_id=agency_id, moments=moments)


def invoice_touched(*, invoice, changed=("status",)) -> None:
    """After an invoice's fields `changed`: when its status moved (a void takes its charges
    out of revenue), every month with a charge or a credit note on it (two queries)."""
    if "status" not in changed:
        return
    moments = list(
        Charge.objects.filter(agency_id=invoice.agency_id, invoice_id=invoice.pk)
        .values_list("created_at", "period_start")
        .distinct()
    )
    moments = [moment for pair in moments for moment in pair]
    moments += CreditNote.objects.filter(
        agency_id=invoice.agency_id, invoice_id=invoice.pk
    ).values_list("issued_at", flat=True)
    touch(agency_id=invoice.agency_id, moments=moments)
