"""The raw rows each report counts: the querysets and sums that define its figures,
shared by the live reports (reports.selectors) and the kept months (reports.rollups)."""

from collections import defaultdict

from django.db import connection
from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    ExpressionWrapper,
    F,
    FloatField,
    Q,
    Sum,
    Value,
    When,
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
    by_assignee = (
        charges.filter(minutes_logged=0)
        .values("task__assignee_id", "client_id", "currency")
        .annotate(
            billable=Sum(Cast(BILLABLE, FloatField())),
            charged=Sum("amount", filter=_NOT_VOID),
            charged_count=Count("pk", filter=_NOT_VOID),
        )
        .values_list(
            "task__assignee_id", "client_id", "currency", "billable", "charged", "charged_count"
        )
        .order_by()
    )
    for person, client, currency, minutes, amount, count in (
        *_entry_shares(agency, charges.filter(minutes_logged__gt=0)),
        *by_assignee,
    ):
        billable[(person, client)] += minutes or 0
        if count:
            # PostgreSQL adds bigints up as numerics: back to whole numbers
            charged[(person, client, currency)] += int(amount or 0)
            counted[(person, client, currency)] += int(count)
    return billable, charged, counted


def _entry_shares(agency, charges) -> list[tuple]:
    """(assistant, client, currency, billable, charged, charged count) of the charges'
    finished time entries: each entry's share of the billable minutes (minutes x billable /
    logged, unrounded) and of the amount, rounded half-up with integers only:
    round(minutes x amount / logged) = (2ma + l) // 2l.
    The entries are joined to the charges on the task's id: a join through the task row
    itself would read one row of the task table per charge for nothing."""
    rows = (
        charges.annotate(
            billable_minutes=ExpressionWrapper(BILLABLE, output_field=_BIG),
            counts=Case(When(_NOT_VOID, then=Value(1)), default=Value(0), output_field=_BIG),
        )
        .values_list(
            "task_id",
            "client_id",
            "currency",
            "amount",
            "minutes_logged",
            "billable_minutes",
            "counts",
        )
        .order_by()
    )
    sql, params = rows.query.sql_with_params()
    entries = connection.ops.quote_name(TimeEntry._meta.db_table)
    where = "e.task_id = c.task_id AND e.agency_id = %s AND e.ended_at IS NOT NULL"
    if connection.vendor == "postgresql":
        # Each charge's entries by the task index. A month's charges are a few thousand of
        # the year's entries; a plain join lets the planner read every entry instead.
        joined = (
            f"CROSS JOIN LATERAL (SELECT e.assistant_id, e.minutes FROM {entries} e"
            f" WHERE {where} OFFSET 0) e"
        )
    else:
        joined = f"INNER JOIN {entries} e ON {where}"
    query = (
        "SELECT e.assistant_id, c.client_id, c.currency,"
        " SUM(CAST(e.minutes AS DOUBLE PRECISION) * CAST(c.billable_minutes AS DOUBLE PRECISION)"
        " / CAST(c.minutes_logged AS DOUBLE PRECISION)),"
        " SUM(CASE WHEN c.counts = 1 THEN (2 * CAST(e.minutes AS BIGINT)"
        " * CAST(c.amount AS BIGINT) + CAST(c.minutes_logged AS BIGINT))"
        " / (2 * CAST(c.minutes_logged AS BIGINT)) END),"
        " SUM(c.counts)"
        f" FROM ({sql}) c {joined}"
        " GROUP BY e.assistant_id, c.client_id, c.currency"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, (*params, agency.pk))
        return cursor.fetchall()


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
