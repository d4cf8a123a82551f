"""The reports' figures, each a fixed number of queries whatever the number of rows.

What counts where (the pages say the same):
- **Revenue** is what clients were charged, not written off, on an invoice or not yet:
  *billed* charges are on an invoice that is not void; *unbilled* charges wait for one
  (including those held for the client's approval past a budget cap). Written-off charges
  (forgiven) and charges on a voided invoice are never revenue; they are shown apart.
  *Credited* is what credit notes took off invoices (issued in the range, agency's
  zone, under the line's client and service; a credit off a whole invoice under its
  client alone): revenue is net of it.
- A task's charge counts on the day it was made (completion, or the client's approval
  where the contract bills on approval), in the agency's time zone; a retainer fee counts
  in the month it pays for, on that month's first day.
- **Logged** time is finished time entries, on the day they started (agency's zone).
  **Billable** time is what the task charges of the range bill by the hour: minutes after
  rounding and minimums, retainer minutes drawn from the bank plus overage; flat-fee work
  bills no hours. An assistant's share of a task's billable time (and, in the margin
  report, of its charge) follows their share of the time logged on it.
- **On time** means completed no later than the task's due time.
- Amounts stay in their currency: every total is per currency, never across them.
"""

import datetime as dt
from collections import defaultdict
from zoneinfo import ZoneInfo

from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    DateField,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    OuterRef,
    Prefetch,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, TruncMonth

from accounts.models import Membership
from billing.models import (
    Charge,
    ChargeKind,
    ChargeStatus,
    CreditNote,
    CreditNoteStatus,
    InvoiceStatus,
)
from billing.payouts import as_date, pay_lines
from billing.retainer import month_bank, month_terms
from clients.models import Client
from contracts.models import ContractLine, ContractStatus, ContractTerms, PricingModel, Service
from core.periods import Period, month_bounds, month_end
from reports.tables import INT, MINUTES, MONEY, PERCENT, Column, Table, percent
from tasks.models import Task, TaskStatus, TimeEntry

NOT_WRITTEN_OFF = (
    ChargeStatus.PENDING,
    ChargeStatus.HELD,
    ChargeStatus.INVOICED,
    ChargeStatus.COVERED,
)
UNBILLED = (ChargeStatus.PENDING, ChargeStatus.HELD)


# -- charges of a range -------------------------------------------------------------------


def charges_in(*, agency, period: Period):
    """Charges that count in the range: task charges made in it, retainer fees of the
    months whose first day is in it."""
    return Charge.objects.filter(agency=agency).filter(
        Q(kind=ChargeKind.TASK, created_at__gte=period.begins, created_at__lt=period.ends)
        | Q(
            kind=ChargeKind.RETAINER_FEE,
            period_start__gte=period.start,
            period_start__lte=period.end,
        )
    )


def task_charges_in(*, agency, period: Period):
    return Charge.objects.filter(
        agency=agency,
        kind=ChargeKind.TASK,
        created_at__gte=period.begins,
        created_at__lt=period.ends,
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


# A row of MONEY_SUMS for a group with credits but no charges in the range.
NO_CHARGES = dict.fromkeys(("invoiced", "voided", "unbilled", "written_off", "task_charges"), 0)


def money_row(row: dict, credited: int = 0) -> dict:
    """Billed, unbilled and revenue (net of what credit notes took off) from a row of
    MONEY_SUMS."""
    voided = row.pop("voided") or 0
    billed = (row.pop("invoiced") or 0) - voided
    unbilled = row["unbilled"] or 0
    return {
        **row,
        "billed": billed,
        "unbilled": unbilled,
        "credited": credited,
        "revenue": billed + unbilled - credited,
        "voided": voided,
        "written_off": row["written_off"] or 0,
    }


def credits_in(*, agency, period: Period, by: tuple[str, ...]) -> dict[tuple, int]:
    """Issued credit notes of the range, summed by `by` (fields of CreditNote) and
    currency: one query."""
    rows = (
        CreditNote.objects.filter(
            agency=agency,
            status=CreditNoteStatus.ISSUED,
            issued_at__gte=period.begins,
            issued_at__lt=period.ends,
        )
        .values(*by, "currency")
        .annotate(credited=Sum("amount"))
        .order_by()
    )
    return {(*(row[key] for key in by), row["currency"]): row["credited"] for row in rows}


def _with_credits(rows: list[dict], credits: dict, key: str, names: dict) -> list[dict]:
    """money rows by `key` and currency, net of their credits; a credit with no row of
    charges in the range (its charge made earlier) gets a row of its own."""
    merged = []
    for row in rows:
        merged.append(money_row(row, credits.pop((row[key], row["currency"]), 0)))
    for (value, currency), credited in credits.items():
        row = {key: value, "currency": currency, "name": names.get(value), **NO_CHARGES}
        merged.append(money_row(row, credited))
    return sorted(merged, key=lambda row: (str(row["name"] or ""), row["currency"]))


REVENUE_COLUMNS = [
    Column("billed", "Billed", MONEY),
    Column("unbilled", "Unbilled", MONEY),
    Column("credited", "Credited", MONEY),
    Column("revenue", "Revenue", MONEY),
    Column("written_off", "Written off", MONEY),
    Column("voided", "On voided invoices", MONEY),
    Column("task_charges", "Tasks charged", INT),
]


def revenue_by_currency(*, agency, period: Period) -> list[dict]:
    """The range's billed, unbilled, credited and revenue per currency (two queries)."""
    rows = (
        charges_in(agency=agency, period=period)
        .values("currency")
        .annotate(**MONEY_SUMS)
        .order_by("currency")
    )
    credits = {
        currency: credited
        for (currency,), credited in credits_in(agency=agency, period=period, by=()).items()
    }
    by_currency = {row["currency"]: row for row in rows}
    for currency in credits.keys() - by_currency.keys():
        by_currency[currency] = {"currency": currency, **NO_CHARGES}
    return [
        money_row(by_currency[currency], credits.get(currency, 0))
        for currency in sorted(by_currency)
    ]


def revenue_tables(*, agency, period: Period, client_id=None, service_id=None) -> list[Table]:
    charges = charges_in(agency=agency, period=period)
    if client_id:
        charges = charges.filter(client_id=client_id)
    if service_id:
        charges = charges.filter(contract_line__service_id=service_id)
    # The range's credits by client and service (one query), narrowed as the charges are.
    client_credits, service_credits = defaultdict(int), defaultdict(int)
    by = ("invoice__client_id", "charge__contract_line__service_id")
    for (client, service, currency), credited in credits_in(
        agency=agency, period=period, by=by
    ).items():
        if (client_id and client != int(client_id)) or (service_id and service != int(service_id)):
            continue
        client_credits[(client, currency)] += credited
        service_credits[(service, currency)] += credited
    by_client = _with_credits(
        list(
            charges.values("client_id", "currency")
            .annotate(name=F("client__name"), **MONEY_SUMS)
            .order_by("client__name", "currency")
        ),
        client_credits,
        "client_id",
        _client_names(agency, {k[0] for k in client_credits}),
    )
    by_service = _with_credits(
        list(
            charges.values("contract_line__service_id", "currency")
            .annotate(name=F("contract_line__service__name"), **MONEY_SUMS)
            .order_by("contract_line__service__name", "currency")
        ),
        service_credits,
        "contract_line__service_id",
        {
            **dict(
                Service.objects.filter(
                    agency=agency, pk__in={k[0] for k in service_credits if k[0]}
                ).values_list("pk", "name")
            ),
            None: "Credits off whole invoices",
        },
    )
    return [
        Table(
            "by_client",
            "Revenue by client",
            [Column("name", "Client"), *REVENUE_COLUMNS],
            by_client,
        ).add_totals(label_key="name"),
        Table(
            "by_service",
            "Revenue by service",
            [Column("name", "Service"), *REVENUE_COLUMNS],
            by_service,
            note="Retainer fees count under the retainer's service.",
        ).add_totals(label_key="name"),
    ]


# -- hours ------------------------------------------------------------------------------

BILLABLE = F("minutes_billed") + F("minutes_from_bank")


def logged_minutes(*, agency, period: Period, by: str, client_id=None, assistant_id=None) -> dict:
    """Finished time entries started in the range, summed per assistant, client or contract
    line (`by`). One query."""
    entries = TimeEntry.objects.filter(
        agency=agency,
        ended_at__isnull=False,
        started_at__gte=period.begins,
        started_at__lt=period.ends,
    )
    if client_id:
        entries = entries.filter(task__client_id=client_id)
    if assistant_id:
        entries = entries.filter(assistant_id=assistant_id)
    key = {
        "assistant": "assistant_id",
        "client": "task__client_id",
        "line": "task__contract_line_id",
    }[by]
    return {
        row[key]: row["minutes"]
        for row in entries.values(key).annotate(minutes=Sum("minutes")).order_by()
    }


def _billable_by_client(*, agency, period: Period, client_id=None) -> dict:
    charges = task_charges_in(agency=agency, period=period).filter(status__in=NOT_WRITTEN_OFF)
    if client_id:
        charges = charges.filter(client_id=client_id)
    return {
        row["client_id"]: row["billable"]
        for row in charges.values("client_id").annotate(billable=Sum(BILLABLE)).order_by()
    }


def _billable_by_assistant(*, agency, period: Period, client_id=None) -> dict:
    """Each task charge's billable minutes shared out by who logged the task's time;
    a charge with no time logged (a minimum) goes to the task's assignee. Two queries."""
    charges = task_charges_in(agency=agency, period=period).filter(status__in=NOT_WRITTEN_OFF)
    if client_id:
        charges = charges.filter(client_id=client_id)
    share = ExpressionWrapper(
        Cast("task__time_entries__minutes", FloatField())
        * Cast(BILLABLE, FloatField())
        / Cast("minutes_logged", FloatField()),
        output_field=FloatField(),
    )
    result: dict = defaultdict(float)
    for row in (
        charges.filter(minutes_logged__gt=0, task__time_entries__ended_at__isnull=False)
        .values("task__time_entries__assistant_id")
        .annotate(billable=Sum(share))
        .order_by()
    ):
        result[row["task__time_entries__assistant_id"]] += row["billable"] or 0
    for row in (
        charges.filter(minutes_logged=0)
        .values("task__assignee_id")
        .annotate(billable=Sum(BILLABLE))
        .order_by()
    ):
        result[row["task__assignee_id"]] += row["billable"] or 0
    return {person: round(minutes) for person, minutes in result.items()}


def _people(agency, ids) -> dict[int, str]:
    ids = {pk for pk in ids if pk}
    return {
        m.pk: m.user.get_full_name()
        for m in Membership.objects.filter(agency=agency, pk__in=ids).select_related("user")
    }


def _client_names(agency, ids) -> dict[int, str]:
    return dict(
        Client.objects.filter(agency=agency, pk__in={pk for pk in ids if pk}).values_list(
            "pk", "name"
        )
    )


HOURS_COLUMNS = [
    Column("logged", "Logged", MINUTES),
    Column("billable", "Billable", MINUTES),
    Column("billable_share", "Billable of logged", PERCENT, total=False),
]


def _hours_rows(logged: dict, billable: dict, names: dict) -> list[dict]:
    rows = [
        {
            "name": names.get(key, "Not attributed" if key is None else f"#{key}"),
            "logged": logged.get(key, 0),
            "billable": billable.get(key, 0),
            "billable_share": percent(billable.get(key, 0), logged.get(key, 0)),
        }
        for key in set(logged) | set(billable)
    ]
    return sorted(rows, key=lambda row: row["name"].lower())


def _share_total(table: Table) -> Table:
    for total in table.totals:
        total["billable_share"] = percent(total.get("billable"), total.get("logged"))
    return table


def hours_tables(*, agency, period: Period, client_id=None, assistant_id=None) -> list[Table]:
    logged_people = logged_minutes(
        agency=agency,
        period=period,
        by="assistant",
        client_id=client_id,
        assistant_id=assistant_id,
    )
    billable_people = _billable_by_assistant(agency=agency, period=period, client_id=client_id)
    if assistant_id:
        billable_people = {k: v for k, v in billable_people.items() if k == assistant_id}
    logged_clients = logged_minutes(
        agency=agency, period=period, by="client", client_id=client_id, assistant_id=assistant_id
    )
    billable_clients = (
        {}
        if assistant_id
        else _billable_by_client(agency=agency, period=period, client_id=client_id)
    )
    people = _people(agency, set(logged_people) | set(billable_people))
    clients = _client_names(agency, set(logged_clients) | set(billable_clients))
    return [
        _share_total(
            Table(
                "by_assistant",
                "Hours by assistant",
                [Column("name", "Assistant"), *HOURS_COLUMNS],
                _hours_rows(logged_people, billable_people, people),
                note="Billable hours are shared out by who logged each task's time.",
            ).add_totals(label_key="name")
        ),
        _share_total(
            Table(
                "by_client",
                "Hours by client",
                [Column("name", "Client"), *HOURS_COLUMNS],
                _hours_rows(logged_clients, billable_clients, clients),
                note=(
                    "Filtered to one assistant: their logged time per client; billable "
                    "time per client is for the whole team."
                    if assistant_id
                    else ""
                ),
            ).add_totals(label_key="name")
        ),
    ]


# -- on time ----------------------------------------------------------------------------

ON_TIME = Q(completed_at__lte=F("due_at"))
ON_TIME_COLUMNS = [
    Column("completed", "Completed", INT),
    Column("on_time", "On time", INT),
    Column("late", "Late", INT),
    Column("rate", "On-time rate", PERCENT, total=False),
]


def completed_in(*, agency, period: Period):
    return Task.objects.filter(
        agency=agency,
        status=TaskStatus.COMPLETED,
        completed_at__gte=period.begins,
        completed_at__lt=period.ends,
    )


def on_time_counts(*, agency, period: Period) -> dict:
    counts = completed_in(agency=agency, period=period).aggregate(
        completed=Count("pk"), on_time=Count("pk", filter=ON_TIME)
    )
    counts["rate"] = percent(counts["on_time"], counts["completed"])
    return counts


def on_time_tables(
    *, agency, period: Period, client_id=None, service_id=None, assistant_id=None
) -> list[Table]:
    tasks = completed_in(agency=agency, period=period)
    if client_id:
        tasks = tasks.filter(client_id=client_id)
    if service_id:
        tasks = tasks.filter(service_id=service_id)
    if assistant_id:
        tasks = tasks.filter(assignee_id=assistant_id)

    def rows(key: str, names: dict) -> list[dict]:
        found = tasks.values(key).annotate(
            completed=Count("pk"), on_time=Count("pk", filter=ON_TIME)
        )
        result = [
            {
                "name": names.get(row[key], "Nobody" if row[key] is None else f"#{row[key]}"),
                "completed": row["completed"],
                "on_time": row["on_time"],
                "late": row["completed"] - row["on_time"],
                "rate": percent(row["on_time"], row["completed"]),
            }
            for row in found.order_by()
        ]
        return sorted(result, key=lambda row: row["name"].lower())

    services = dict(Service.objects.filter(agency=agency).values_list("pk", "name"))
    by_service = rows("service_id", services)
    assignees = list(tasks.values_list("assignee_id", flat=True).distinct().order_by())
    by_assistant = rows("assignee_id", _people(agency, assignees))
    tables = []
    for key, title, label, found in (
        ("by_service", "On-time rate by service", "Service", by_service),
        ("by_assistant", "On-time rate by assistant", "Assistant", by_assistant),
    ):
        table = Table(key, title, [Column("name", label), *ON_TIME_COLUMNS], found)
        table.add_totals(label_key="name")
        for total in table.totals:
            total["rate"] = percent(total.get("on_time"), total.get("completed"))
        tables.append(table)
    return tables


def on_time_by_month(*, agency, months: list[dt.date]) -> dict[dt.date, dict]:
    """Completed and on-time counts per agency month (one query)."""
    if not months:
        return {}
    period = Period(months[0], month_end(months[-1]), agency.time_zone)
    rows = (
        completed_in(agency=agency, period=period)
        .annotate(
            month=TruncMonth(
                "completed_at", tzinfo=ZoneInfo(agency.time_zone), output_field=DateField()
            )
        )
        .values("month")
        .annotate(completed=Count("pk"), on_time=Count("pk", filter=ON_TIME))
        .order_by()
    )
    return {as_date(row["month"]): row for row in rows}


# -- contract usage ---------------------------------------------------------------------

RETAINER_COLUMNS = [
    Column("client", "Client"),
    Column("service", "Service"),
    Column("month", "Month"),
    Column("included", "Included", MINUTES, total=False),
    Column("rollover", "Rolled over", MINUTES, total=False),
    Column("bank", "Bank", MINUTES, total=False),
    Column("used", "Used", MINUTES, total=False),
    Column("left", "Left", MINUTES, total=False),
    Column("used_share", "Used of bank", PERCENT, total=False),
    Column("overage", "Overage", MINUTES, total=False),
    Column("fee", "Retainer fee", MONEY, total=False),
]
CAP_COLUMNS = [
    Column("client", "Client"),
    Column("service", "Service"),
    Column("month", "Month"),
    Column("cap", "Monthly budget", MONEY, total=False),
    Column("spent", "Charged", MONEY, total=False),
    Column("left", "Left", MONEY, total=False),
    Column("used_share", "Used of budget", PERCENT, total=False),
    Column("behaviour", "At the cap"),
]


def _terms_for_month(versions, month: dt.date, zone: str):
    """The terms a client month is under: those in force when it begins, else the first
    version that starts during it (a line added mid-month)."""
    begins, ends = month_bounds(month, zone)
    for version in versions:  # newest first
        if version.effective_from <= begins:
            return version
    during = [v for v in versions if begins < v.effective_from < ends]
    return min(during, key=lambda v: v.effective_from) if during else None


def usage_lines(*, agency, client_id=None, service_id=None) -> list[ContractLine]:
    """Lines that ever had a retainer or a monthly budget cap, with client, service and
    every terms version (newest first). Two queries."""
    special = ContractTerms.objects.filter(line=OuterRef("pk")).filter(
        Q(pricing_model=PricingModel.RETAINER) | Q(monthly_budget_cap__isnull=False)
    )
    lines = (
        ContractLine.objects.filter(agency=agency)
        .exclude(contract__status=ContractStatus.DRAFT)
        .filter(Exists(special))
        .select_related("contract__client", "service")
        .prefetch_related(
            Prefetch("terms", queryset=ContractTerms.objects.order_by("-effective_from"))
        )
        .order_by("contract__client__name", "service__name", "pk")
    )
    if client_id:
        lines = lines.filter(contract__client_id=client_id)
    if service_id:
        lines = lines.filter(service_id=service_id)
    return list(lines)


def _in_contract(line: ContractLine, month: dt.date) -> bool:
    contract = line.contract
    if month_end(month) < contract.starts_on:
        return False
    return not (contract.ends_on and month > contract.ends_on)


def retainer_rows(*, agency, lines: list[ContractLine], months: list[dt.date]) -> list[dict]:
    """Each retainer line's months: bank (included plus rollover), used, left, overage and
    fee, from billing's own bank rules (billing.charges). Two queries."""
    retainers = [
        line
        for line in lines
        if any(v.pricing_model == PricingModel.RETAINER for v in line.terms.all())
    ]
    if not retainers or not months:
        return []
    used: dict[int, dict] = defaultdict(dict)
    overage: dict[tuple, int] = {}
    for row in (
        Charge.objects.filter(
            agency=agency,
            contract_line__in=retainers,
            kind=ChargeKind.TASK,
            period_start__isnull=False,
        )
        .values("contract_line_id", "period_start")
        .annotate(used=Sum("minutes_from_bank"), overage=Sum("minutes_billed"))
        .order_by()
    ):
        used[row["contract_line_id"]][row["period_start"]] = row["used"] or 0
        overage[(row["contract_line_id"], row["period_start"])] = row["overage"] or 0
    fees = {
        (row["contract_line_id"], row["period_start"]): row["amount"]
        for row in Charge.objects.filter(
            agency=agency,
            contract_line__in=retainers,
            kind=ChargeKind.RETAINER_FEE,
            period_start__in=months,
        )
        .exclude(status=ChargeStatus.WRITTEN_OFF)
        .values("contract_line_id", "period_start", "amount")
    }
    rows = []
    for line in retainers:
        zone = line.contract.client.time_zone
        versions = list(line.terms.all())
        for month in months:
            terms = month_terms(versions, month, zone)
            if terms is None or not _in_contract(line, month):
                continue
            bank, rollover = month_bank(versions, month, zone, used[line.pk])
            month_used = used[line.pk].get(month, 0)
            rows.append(
                {
                    "line_id": line.pk,
                    "client_id": line.contract.client_id,
                    "client": line.contract.client.name,
                    "service": line.service.name,
                    "month": f"{month:%b %Y}",
                    "period_start": month,
                    "included": terms.included_minutes,
                    "rollover": rollover,
                    "bank": bank,
                    "used": month_used,
                    "left": max(bank - month_used, 0),
                    "used_share": percent(month_used, bank),
                    "overage": overage.get((line.pk, month), 0),
                    "fee": fees.get((line.pk, month)),
                    "currency": line.contract.currency,
                }
            )
    return rows


def cap_rows(*, agency, lines: list[ContractLine], months: list[dt.date]) -> list[dict]:
    """Each capped line's months: its budget and what was charged in the client's month
    (written-off charges do not count, as contracts.caps counts them). One query."""
    capped = []
    for line in lines:
        zone = line.contract.client.time_zone
        versions = list(line.terms.all())
        for month in months:
            terms = _terms_for_month(versions, month, zone)
            has_cap = terms is not None and terms.monthly_budget_cap is not None
            if has_cap and _in_contract(line, month):
                capped.append((line, month, terms))
    if not capped:
        return []
    zones = sorted({line.contract.client.time_zone for line, _, _ in capped})
    # Each client's month is their own calendar month: truncate in their zone.
    client_month = Case(
        *[
            When(client__time_zone=zone, then=TruncMonth("created_at", tzinfo=ZoneInfo(zone)))
            for zone in zones
        ],
        output_field=DateTimeField(),
    )
    first, last = months[0], months[-1]
    spent = {
        (row["contract_line_id"], as_date(row["month"])): row["spent"]
        for row in Charge.objects.filter(
            agency=agency,
            contract_line__in={line.pk for line, _, _ in capped},
            created_at__gte=month_bounds(first, "Pacific/Kiritimati")[0],
            created_at__lt=month_bounds(last, "Etc/GMT+12")[1],
        )
        .exclude(status=ChargeStatus.WRITTEN_OFF)
        .annotate(month=client_month)
        .values("contract_line_id", "month")
        .annotate(spent=Sum("amount"))
        .order_by()
    }
    rows = []
    for line, month, terms in capped:
        charged = spent.get((line.pk, month), 0)
        rows.append(
            {
                "line_id": line.pk,
                "client_id": line.contract.client_id,
                "client": line.contract.client.name,
                "service": line.service.name,
                "month": f"{month:%b %Y}",
                "period_start": month,
                "cap": terms.monthly_budget_cap,
                "spent": charged,
                "left": max(terms.monthly_budget_cap - charged, 0),
                "used_share": percent(charged, terms.monthly_budget_cap),
                "behaviour": terms.get_cap_behaviour_display(),
                "currency": line.contract.currency,
            }
        )
    return rows


def usage_tables(*, agency, period: Period, client_id=None, service_id=None) -> list[Table]:
    lines = usage_lines(agency=agency, client_id=client_id, service_id=service_id)
    months = period.months()
    return [
        Table(
            "retainers",
            "Retainers: hours used against the bank",
            RETAINER_COLUMNS,
            retainer_rows(agency=agency, lines=lines, months=months),
            note=(
                "Each client's own calendar month. The bank is the month's included hours "
                "plus what the previous month left, up to the rollover cap; written-off "
                "work still used its hours."
            ),
        ),
        Table(
            "caps",
            "Monthly budget caps",
            CAP_COLUMNS,
            cap_rows(agency=agency, lines=lines, months=months),
            note="Charged in the client's calendar month, written-off charges left out.",
        ),
    ]


# -- margin -----------------------------------------------------------------------------

MARGIN_COLUMNS = [
    Column("charged", "Charged", MONEY),
    Column("owed", "Owed to assistants", MONEY),
    Column("margin", "Margin", MONEY),
    Column("margin_share", "Margin of charged", PERCENT, total=False),
]


def _charged_by_assistant(*, agency, period: Period, client_id=None) -> dict:
    """Task charges (revenue only) shared out by who logged each task's time, in integer
    minor units: each entry's share is rounded half-up. A charge with no time logged goes
    to the task's assignee. Two queries."""
    charges = (
        task_charges_in(agency=agency, period=period)
        .filter(status__in=NOT_WRITTEN_OFF)
        .exclude(invoice__status=InvoiceStatus.VOID)
    )
    if client_id:
        charges = charges.filter(client_id=client_id)
    big = BigIntegerField()
    # round(minutes x amount / logged) with integers only: (2ma + l) // 2l
    share = ExpressionWrapper(
        (
            Value(2, output_field=big)
            * Cast("task__time_entries__minutes", big)
            * Cast("amount", big)
            + Cast("minutes_logged", big)
        )
        / (Value(2, output_field=big) * Cast("minutes_logged", big)),
        output_field=big,
    )
    result: dict = defaultdict(int)
    for row in (
        charges.filter(minutes_logged__gt=0, task__time_entries__ended_at__isnull=False)
        .values("task__time_entries__assistant_id", "currency")
        .annotate(charged=Sum(share))
        .order_by()
    ):
        result[(row["task__time_entries__assistant_id"], row["currency"])] += row["charged"] or 0
    for row in (
        charges.filter(minutes_logged=0)
        .values("task__assignee_id", "currency")
        .annotate(charged=Sum("amount"))
        .order_by()
    ):
        result[(row["task__assignee_id"], row["currency"])] += row["charged"] or 0
    return result


def _margin_rows(charged: dict, owed: dict, names: dict) -> list[dict]:
    rows = []
    for key in set(charged) | set(owed):
        entity, currency = key
        c, o = charged.get(key, 0), owed.get(key, 0)
        rows.append(
            {
                "name": names.get(entity, "Not attributed" if entity is None else f"#{entity}"),
                "currency": currency,
                "charged": c,
                "owed": o,
                "margin": c - o,
                "margin_share": percent(c - o, c),
            }
        )
    return sorted(rows, key=lambda row: (row["name"].lower(), row["currency"]))


def margin_tables(*, agency, period: Period, client_id=None, assistant_id=None) -> list[Table]:
    lines = pay_lines(
        agency=agency,
        begins=period.begins,
        ends=period.ends,
        assistant_id=assistant_id,
        client_id=client_id,
    )
    owed_clients: dict = defaultdict(int)
    owed_people: dict = defaultdict(int)
    for line in lines:
        owed_clients[(line.client_id, line.currency)] += line.amount
        owed_people[(line.assistant_id, line.currency)] += line.amount

    charges = charges_in(agency=agency, period=period)
    if client_id:
        charges = charges.filter(client_id=client_id)
    charged_clients = {}
    if not assistant_id:
        for row in charges.values("client_id", "currency").annotate(**MONEY_SUMS).order_by():
            row = money_row(row)
            charged_clients[(row["client_id"], row["currency"])] = row["revenue"]
    charged_people = _charged_by_assistant(agency=agency, period=period, client_id=client_id)
    if assistant_id:
        charged_people = {k: v for k, v in charged_people.items() if k[0] == assistant_id}

    clients = _client_names(agency, {k[0] for k in (*charged_clients, *owed_clients)})
    people = _people(agency, {k[0] for k in (*charged_people, *owed_people)})
    tables = []
    for key, title, label, charged, owed, names, note in (
        (
            "by_client",
            "Margin by client",
            "Client",
            charged_clients,
            owed_clients,
            clients,
            "Charged: the client's revenue in the range (retainer fees included). Owed: "
            "the time assistants logged on the client's work in the range, at their pay "
            "rate. An assistant paid in another currency than the client is billed in "
            "shows on a row of that currency: convert it yourself, currencies are never "
            "added together.",
        ),
        (
            "by_assistant",
            "Margin by assistant",
            "Assistant",
            charged_people,
            owed_people,
            people,
            "Charged: the task charges of the range, shared out by who logged each "
            "task's time (retainer fees belong to no one task and are left out). Owed: "
            "their time logged in the range at their pay rate.",
        ),
    ):
        table = Table(
            key,
            title,
            [Column("name", label), *MARGIN_COLUMNS],
            _margin_rows(charged, owed, names),
            note=note,
        ).add_totals(label_key="name")
        for total in table.totals:
            total["margin_share"] = percent(total.get("margin"), total.get("charged"))
        tables.append(table)
    return tables
