import datetime as dt

from django.db.models import Max, Prefetch, QuerySet, Sum

from billing.models import Charge, ChargeKind, ChargeStatus, CreditNote, Invoice, InvoiceStatus
from contracts.models import ContractLine
from core.periods import month_bounds, month_start


def month_spent(*, agency, line: ContractLine, at: dt.datetime) -> int:
    """What the line has been charged in the client's calendar month around `at` (written-off
    charges do not count, nor late fees and bought hours, which the client did not ask to
    spend on work)."""
    zone = line.contract.client.time_zone
    start, end = month_bounds(month_start(at, zone), zone)
    spent = (
        Charge.objects.filter(
            agency=agency, contract_line=line, created_at__gte=start, created_at__lt=end
        )
        .exclude(status=ChargeStatus.WRITTEN_OFF)
        .exclude(kind__in=(ChargeKind.LATE_FEE, ChargeKind.TOP_UP))
        .aggregate(total=Sum("amount"))["total"]
    )
    return spent or 0


def task_billed_until(*, agency, task) -> dt.datetime | None:
    """The latest completion of the task that has a charge, whatever became of it (held,
    invoiced, covered or written off): time recorded before it is on that charge."""
    return Charge.objects.filter(agency=agency, kind=ChargeKind.TASK, task=task).aggregate(
        until=Max("task_completed_at")
    )["until"]


def invoice_list(
    *, agency, client=None, status: str | None = None, include_drafts: bool = True
) -> QuerySet[Invoice]:
    """Invoices newest first, with their client and their lines (the charges, with task,
    service and terms) loaded alongside: a list or an invoice page costs the same queries
    whatever its size. Drafts are the agency's work in progress; clients never see them."""
    invoices = (
        Invoice.objects.filter(agency=agency)
        .select_related("client", "contract")
        .prefetch_related(
            Prefetch(
                "charges",
                queryset=Charge.objects.select_related(
                    "task", "contract_line__service", "terms"
                ).order_by("created_at", "pk"),
            ),
            Prefetch(
                "credit_notes",
                queryset=CreditNote.objects.select_related("charge").order_by("created_at", "pk"),
            ),
        )
    )
    if client is not None:
        invoices = invoices.filter(client=client)
    if status:
        invoices = invoices.filter(status=status)
    if not include_drafts:
        invoices = invoices.exclude(status=InvoiceStatus.DRAFT)
    return invoices.order_by("-created_at", "-pk")
