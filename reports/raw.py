"""The raw rows each report counts: the querysets and sums that define its figures,
shared by the live reports (reports.selectors) and the kept months (reports.rollups)."""

from collections import defaultdict

from django.db.models import (
    BigIntegerField,
    Count,
    ExpressionWrapper,
    F,
    FloatField,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce

from billing.models import (
    Charge,
    ChargeKind,
    ChargeStatus,
    CreditNote,
    CreditNoteStatus,
    InvoiceStatus,
)
from core.periods import Period
from tasks.models import Task, TaskStatus, TimeEntry

NOT_WRITTEN_OFF = (
    ChargeStatus.PENDING,
    ChargeStatus.HELD,
    ChargeStatus.INVOICED,
    ChargeStatus.COVERED,
)
UNBILLED = (ChargeStatus.PENDING, ChargeStatus.HELD)


# -- charges of a range -------------------------------------------------------------------


def pieces(period) -> list[Period]:
    """A range, or the parts of one that are read live (reports.rollups.split)."""
    return [period] if isinstance(period, Period) else list(period)


def moments_in(field: str, period) -> Q:
    """`field` (a moment) inside any of the ranges; nothing when there is none."""
    found = Q(pk__in=[])
    for part in pieces(period):
        found |= Q(**{f"{field}__gte": part.begins, f"{field}__lt": part.ends})
    return found


def days_in(field: str, period) -> Q:
    found = Q(pk__in=[])
    for part in pieces(period):
        found |= Q(**{f"{field}__gte": part.start, f"{field}__lte": part.end})
    return found


# Kinds that pay for a month and count in it (a retainer fee is made as the client's month
# begins, which may be the agency's previous day). Every other charge the client is billed
# counts when it was made, so a kind added later is revenue without a change here.
DATED_BY_MONTH = (ChargeKind.RETAINER_FEE,)
BY_MONTH = Q(kind__in=DATED_BY_MONTH)


def charges_in(*, agency, period):
    """Every charge that counts in the range, whatever its kind: a month's fee in the
    month it pays for, any other charge (task work, a late fee, top-up hours) when it was
    made."""
    return Charge.objects.filter(agency=agency).filter(
        (~BY_MONTH & moments_in("created_at", period))
        | (BY_MONTH & days_in("period_start", period))
    )


def task_charges_in(*, agency, period):
    return Charge.objects.filter(agency=agency, kind=ChargeKind.TASK).filter(
        moments_in("created_at", period)
    )


MONEY_SUMS = {
    "invoiced": Sum("amount", filter=Q(status=ChargeStatus.INVOICED)),
    "voided": Sum(
        "amount", filter=Q(status=ChargeStatus.INVOICED, invoice__status=InvoiceStatus.VOID)
    ),
    "unbilled": Sum("amount", filter=Q(status__in=UNBILLED)),
    "written_off": Sum("amount", filter=Q(status=ChargeStatus.WRITTEN_OFF)),
    "task_charges": Count("pk", filter=Q(kind=ChargeKind.TASK)),
}


def credits_in(*, agency, period, by: tuple[str, ...]) -> dict[tuple, int]:
    """Issued credit notes of the range, summed by `by` (fields of CreditNote) and
    currency: one query."""
    rows = (
        CreditNote.objects.filter(agency=agency, status=CreditNoteStatus.ISSUED)
        .filter(moments_in("issued_at", period))
        .values(*by, "currency")
        .annotate(credited=Sum("amount"))
        .order_by()
    )
    return {(*(row[key] for key in by), row["currency"]): row["credited"] for row in rows}


BILLABLE = F("minutes_billed") + F("minutes_from_bank")


ON_TIME = Q(completed_at__lte=F("due_at"))


def completed_in(*, agency, period):
    return Task.objects.filter(agency=agency, status=TaskStatus.COMPLETED).filter(
        moments_in("completed_at", period)
    )


# Tax in a group's revenue (charges unbilled, or on an invoice that is not void): the tax
# the charges carry, and the part of their amounts that is inclusive tax (billing.tax).
_REVENUE = Q(status__in=(ChargeStatus.PENDING, ChargeStatus.HELD)) | (
    Q(status=ChargeStatus.INVOICED) & ~Q(invoice__status=InvoiceStatus.VOID)
)
_WHOLE = BigIntegerField()
TAX_SUMS = {
    "tax": Sum(Coalesce("tax_amount", 0, output_field=_WHOLE), filter=_REVENUE),
    "included": Sum(
        ExpressionWrapper(
            F("amount") - Coalesce("net_amount", "amount", output_field=_WHOLE),
            output_field=_WHOLE,
        ),
        filter=_REVENUE,
    ),
}


def credit_taxes_in(*, agency, period, by: tuple[str, ...]) -> dict[tuple, int]:
    """The tax the range's issued credit notes took back, by `by` and currency: one query."""
    rows = (
        CreditNote.objects.filter(agency=agency, status=CreditNoteStatus.ISSUED)
        .filter(moments_in("issued_at", period))
        .values(*by, "currency")
        .annotate(tax=Sum("tax"))
        .order_by()
    )
    return {(*(row[key] for key in by), row["currency"]): row["tax"] or 0 for row in rows}


# -- task charges shared out by who logged the time -----------------------------------

_BIG = BigIntegerField()
# round(minutes x amount / logged) with integers only: (2ma + l) // 2l
_CHARGED_SHARE = ExpressionWrapper(
    (
        Value(2, output_field=_BIG)
        * Cast("task__time_entries__minutes", _BIG)
        * Cast("amount", _BIG)
        + Cast("minutes_logged", _BIG)
    )
    / (Value(2, output_field=_BIG) * Cast("minutes_logged", _BIG)),
    output_field=_BIG,
)
_BILLABLE_SHARE = ExpressionWrapper(
    Cast("task__time_entries__minutes", FloatField())
    * Cast(BILLABLE, FloatField())
    / Cast("minutes_logged", FloatField()),
    output_field=FloatField(),
)
_NOT_VOID = ~Q(invoice__status=InvoiceStatus.VOID)


def shares(*, agency, period, client_id=None) -> tuple[dict, dict, dict]:
    """The range's task charges (not written off) shared out by who logged each task's
    time, a charge with no time logged going to the task's assignee: billable minutes per
    (assistant, client), unrounded, and charged amounts (off void invoices left out, each
    entry's share rounded half-up to a minor unit) per (assistant, client, currency),
    with how many charges each of those counts. Two queries."""
    charges = task_charges_in(agency=agency, period=period).filter(status__in=NOT_WRITTEN_OFF)
    if client_id:
        charges = charges.filter(client_id=client_id)
    billable: dict = defaultdict(float)
    charged: dict = defaultdict(int)
    counted: dict = defaultdict(int)
    for person, amounts in (
        (
            "task__time_entries__assistant_id",
            charges.filter(minutes_logged__gt=0, task__time_entries__ended_at__isnull=False),
        ),
        ("task__assignee_id", charges.filter(minutes_logged=0)),
    ):
        by_entry = person != "task__assignee_id"
        for row in (
            amounts.values(person, "client_id", "currency")
            .annotate(
                billable=Sum(_BILLABLE_SHARE if by_entry else Cast(BILLABLE, FloatField())),
                charged=Sum(_CHARGED_SHARE if by_entry else "amount", filter=_NOT_VOID),
                charged_count=Count("pk", filter=_NOT_VOID),
            )
            .order_by()
        ):
            billable[(row[person], row["client_id"])] += row["billable"] or 0
            if row["charged_count"]:
                key = (row[person], row["client_id"], row["currency"])
                charged[key] += row["charged"] or 0
                counted[key] += row["charged_count"]
    return billable, charged, counted


def logged_in(*, agency, period, client_id=None, assistant_id=None):
    """Finished time entries started in the range."""
    entries = TimeEntry.objects.filter(agency=agency, ended_at__isnull=False).filter(
        moments_in("started_at", period)
    )
    if client_id:
        entries = entries.filter(task__client_id=client_id)
    if assistant_id:
        entries = entries.filter(assistant_id=assistant_id)
    return entries
