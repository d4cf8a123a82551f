"""A client's own account figures: this month's use of their contract, what is unbilled and
what is owed. The month is the client's calendar month, in the client's time zone, the
same month their retainer banks and budget caps count in."""

import datetime as dt

from django.db.models import Count, F, Min, Prefetch, Q, Sum

from billing.models import Charge, ChargeStatus, Invoice, InvoiceStatus
from billing.top_ups import top_up_list
from contracts.models import ContractLine, ContractStatus, ContractTerms
from contracts.selectors import terms_in_force
from core.periods import this_month
from reports.raw import UNBILLED
from reports.selectors import cap_rows, logged_minutes, retainer_rows
from tasks.models import Task, TaskStatus


def client_account(*, agency, client, now: dt.datetime) -> dict:
    """Everything the client's account page shows. A fixed number of queries."""
    period = this_month(client.time_zone, now)
    months = [period.start]
    lines = list(
        ContractLine.objects.filter(
            agency=agency,
            contract__client=client,
            contract__status__in=(ContractStatus.ACTIVE, ContractStatus.PAUSED),
            removed_at=None,
        )
        .select_related("contract__client", "service")
        .prefetch_related(
            Prefetch("terms", queryset=ContractTerms.objects.order_by("-effective_from"))
        )
        .order_by("service__name", "pk")
    )
    in_month = {"gte": period.begins, "lt": period.ends}
    tasks = {
        row["contract_line_id"]: row
        for row in Task.objects.filter(agency=agency, client=client)
        .filter(
            Q(created_at__gte=in_month["gte"], created_at__lt=in_month["lt"])
            | Q(completed_at__gte=in_month["gte"], completed_at__lt=in_month["lt"])
        )
        .values("contract_line_id")
        .annotate(
            requested=Count(
                "pk",
                filter=Q(created_at__gte=in_month["gte"], created_at__lt=in_month["lt"]),
            ),
            completed=Count(
                "pk",
                filter=Q(
                    status=TaskStatus.COMPLETED,
                    completed_at__gte=in_month["gte"],
                    completed_at__lt=in_month["lt"],
                ),
            ),
        )
        .order_by()
    }
    logged = logged_minutes(agency=agency, period=period, by="line", client_id=client.pk)
    retainers = {
        row["line_id"]: row for row in retainer_rows(agency=agency, lines=lines, months=months)
    }
    caps = {row["line_id"]: row for row in cap_rows(agency=agency, lines=lines, months=months)}
    usage = []
    for line in lines:
        counts = tasks.get(line.pk, {})
        usage.append(
            {
                "line": line,
                "terms": terms_in_force(line, now),
                "currency": line.contract.currency,
                "requested": counts.get("requested", 0),
                "completed": counts.get("completed", 0),
                "logged": logged.get(line.pk, 0),
                "retainer": retainers.get(line.pk),
                "cap": caps.get(line.pk),
            }
        )
    unbilled = list(
        Charge.objects.filter(agency=agency, client=client, status__in=UNBILLED)
        .values("currency")
        .annotate(
            total=Sum("amount"),
            count=Count("pk"),
            held=Sum("amount", filter=Q(status=ChargeStatus.HELD)),
            held_count=Count("pk", filter=Q(status=ChargeStatus.HELD)),
        )
        .order_by("currency")
    )
    outstanding = F("amount_due") - F("amount_paid")
    owed = list(
        Invoice.objects.filter(agency=agency, client=client, status=InvoiceStatus.OPEN)
        .values("currency")
        .annotate(
            total=Sum(outstanding),
            count=Count("pk"),
            overdue=Sum(outstanding, filter=Q(due_date__lt=now)),
            overdue_count=Count("pk", filter=Q(due_date__lt=now)),
            next_due=Min("due_date", filter=Q(due_date__gte=now)),
        )
        .order_by("currency")
    )
    return {
        "period": period,
        "usage": usage,
        "unbilled": unbilled,
        "owed": owed,
        # Hours bought lately, shown beside the month's use (billing.top_ups).
        "top_ups": top_up_list(agency=agency, client=client, limit=10),
    }
