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
import functools
from collections import defaultdict
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import (
    Case,
    Count,
    DateField,
    DateTimeField,
    Exists,
    OuterRef,
    Prefetch,
    Q,
    Sum,
    When,
)
from django.db.models.functions import TruncMonth

from accounts.models import Membership
from assistants.models import AssistantProfile, Payout
from billing.models import (
    Charge,
    ChargeKind,
    ChargeStatus,
)
from billing.payouts import as_date, pay_for_seconds, pay_lines
from billing.retainer import expiry_words, line_banks, topped_up_minutes
from clients.models import Client
from contracts.models import ContractLine, ContractStatus, ContractTerms, PricingModel, Service
from core.periods import Period, month_bounds, month_end
from reports import rollups
from reports.models import (
    OnTimeMonth,
    OwedClientMonth,
    OwedMonth,
    RevenueMonth,
    ShareMonth,
    ShareTotalMonth,
    TimeMonth,
)
from reports.raw import (
    BILLABLE,
    MONEY_SUMS,
    NOT_WRITTEN_OFF,
    ON_TIME,
    TAX_SUMS,
    charges_in,
    completed_in,
    credit_taxes_in,
    credits_in,
    logged_in,
    shares,
    task_charges_in,
)
from reports.tables import INT, MINUTES, MONEY, PERCENT, Column, Table, percent

# A row of MONEY_SUMS for a group with credits but no charges in the range.
NO_CHARGES = dict.fromkeys(("invoiced", "voided", "unbilled", "written_off", "task_charges"), 0)
NO_TAX = dict.fromkeys(("tax", "included", "credited_tax"), 0)


def money_row(row: dict, credited: int = 0, credited_tax: int = 0) -> dict:
    """Billed, unbilled and revenue (net of what credit notes took off) from a row of
    MONEY_SUMS; with TAX_SUMS, revenue is before tax, and tax and gross beside it (a
    credit note's total is its part before tax and its tax)."""
    voided = row.pop("voided") or 0
    billed = (row.pop("invoiced") or 0) - voided
    unbilled = row["unbilled"] or 0
    revenue = billed + unbilled - (row.pop("included", 0) or 0) - (credited - credited_tax)
    tax = (row.pop("tax", 0) or 0) - credited_tax
    return {
        **row,
        "billed": billed,
        "unbilled": unbilled,
        "credited": credited,
        "revenue": revenue,
        "tax": tax,
        "gross": revenue + tax,
        "voided": voided,
        "written_off": row["written_off"] or 0,
    }


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
    Column("tax", "Tax", MONEY),
    Column("gross", "Revenue with tax", MONEY),
    Column("written_off", "Written off", MONEY),
    Column("voided", "On voided invoices", MONEY),
    Column("task_charges", "Tasks charged", INT),
]


def revenue_by_currency(*, agency, period: Period) -> list[dict]:
    """The range's billed, unbilled, credited and revenue (before tax), its tax and gross
    per currency (three queries)."""
    rows = (
        charges_in(agency=agency, period=period)
        .values("currency")
        .annotate(**MONEY_SUMS, **TAX_SUMS)
        .order_by("currency")
    )
    credits = {
        currency: credited
        for (currency,), credited in credits_in(agency=agency, period=period, by=()).items()
    }
    credit_taxes = {
        currency: tax
        for (currency,), tax in credit_taxes_in(agency=agency, period=period, by=()).items()
    }
    by_currency = {row["currency"]: row for row in rows}
    for currency in credits.keys() - by_currency.keys():
        by_currency[currency] = {"currency": currency, **NO_CHARGES}
    return [
        money_row(
            by_currency[currency],
            credits.get(currency, 0),
            credit_taxes.get(currency, 0),
        )
        for currency in sorted(by_currency)
    ]


def money_by(
    *, agency, period: Period, key: str, client_id=None, service_id=None
) -> dict[tuple, dict]:
    """MONEY_SUMS and credits of the range per (`key`, currency), `key` being "client" or
    "service": closed months from their kept figures (reports.rollups), the rest of the
    range from the raw rows. Three queries (four when a month is counted afresh)."""
    kept, live = rollups.split(agency, period)
    kept = rollups.kept_months(agency, kept)
    found: dict[tuple, dict] = defaultdict(
        lambda: {**NO_CHARGES, **NO_TAX, "credited": 0, "charges": 0}
    )
    kept_rows = RevenueMonth.objects.filter(agency=agency, month__in=kept)
    charges = charges_in(agency=agency, period=live)
    if client_id:
        kept_rows = kept_rows.filter(client_id=client_id)
        charges = charges.filter(client_id=client_id)
    if service_id:
        kept_rows = kept_rows.filter(service_id=service_id)
        charges = charges.filter(contract_line__service_id=service_id)
    fields = (*NO_CHARGES, "credited", *NO_TAX, "charges")
    for row in (
        kept_rows.values(f"{key}_id", "currency")
        .annotate(**{field: Sum(field) for field in fields})
        .order_by()
    ):
        slot = found[(row[f"{key}_id"], row["currency"])]
        for field in fields:
            slot[field] += row[field] or 0
    path = {"client": "client_id", "service": "contract_line__service_id"}[key]
    if live:
        for row in charges.values(path, "currency").annotate(**MONEY_SUMS, **TAX_SUMS).order_by():
            slot = found[(row[path], row["currency"])]
            for field in (*NO_CHARGES, "tax", "included"):
                slot[field] += row[field] or 0
            slot["charges"] += 1
        by = ("invoice__client_id", "charge__contract_line__service_id")
        for (client, service, currency), credited in credits_in(
            agency=agency, period=live, by=by
        ).items():
            if (client_id and client != int(client_id)) or (
                service_id and service != int(service_id)
            ):
                continue
            found[(client if key == "client" else service, currency)]["credited"] += credited
        for (client, service, currency), tax in credit_taxes_in(
            agency=agency, period=live, by=by
        ).items():
            if (client_id and client != int(client_id)) or (
                service_id and service != int(service_id)
            ):
                continue
            slot = found[(client if key == "client" else service, currency)]
            slot["credited_tax"] += tax
    return found


def _money_rows(found: dict[tuple, dict], key: str, names: dict) -> list[dict]:
    rows = []
    for (value, currency), figures in found.items():
        figures = dict(figures)
        credited = figures.pop("credited")
        credited_tax = figures.pop("credited_tax")
        figures.pop("charges")
        row = {key: value, "currency": currency, "name": names.get(value), **figures}
        rows.append(money_row(row, credited, credited_tax))
    return sorted(rows, key=lambda row: (str(row["name"] or ""), row["currency"]))


def revenue_tables(*, agency, period: Period, client_id=None, service_id=None) -> list[Table]:
    filters = {"client_id": client_id, "service_id": service_id}
    clients = money_by(agency=agency, period=period, key="client", **filters)
    services = money_by(agency=agency, period=period, key="service", **filters)
    by_client = _money_rows(clients, "client_id", _client_names(agency, {k[0] for k in clients}))
    by_service = _money_rows(
        services,
        "contract_line__service_id",
        {
            **dict(
                Service.objects.filter(
                    agency=agency, pk__in={k[0] for k in services if k[0]}
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
            note=(
                "Retainer fees and top-up hours count under the retainer's service, a late"
                " fee under the service of the overdue work it was charged on."
            ),
        ).add_totals(label_key="name"),
    ]


# -- hours ------------------------------------------------------------------------------


def logged_minutes(*, agency, period: Period, by: str, client_id=None, assistant_id=None) -> dict:
    """Finished time entries started in the range, summed per assistant, client or contract
    line (`by`): closed months from their kept figures (not per line: that is read from
    the entries). Three queries at most."""
    key = {
        "assistant": "assistant_id",
        "client": "task__client_id",
        "line": "task__contract_line_id",
    }[by]
    kept, live = rollups.split(agency, period) if by != "line" else ([], [period])
    found: dict = defaultdict(int)
    if kept:
        rows = TimeMonth.objects.filter(agency=agency, month__in=rollups.kept_months(agency, kept))
        if client_id:
            rows = rows.filter(client_id=client_id)
        if assistant_id:
            rows = rows.filter(assistant_id=assistant_id)
        for row in rows.values(f"{by}_id").annotate(minutes=Sum("minutes")).order_by():
            found[row[f"{by}_id"]] += row["minutes"]
    if live:
        entries = logged_in(
            agency=agency, period=live, client_id=client_id, assistant_id=assistant_id
        )
        for row in entries.values(key).annotate(minutes=Sum("minutes")).order_by():
            found[row[key]] += row["minutes"] or 0
    return dict(found)


def _billable_by_client(*, agency, period: Period, client_id=None) -> dict:
    kept, live = rollups.split(agency, period)
    found: dict = defaultdict(int)
    if kept:
        rows = RevenueMonth.objects.filter(
            agency=agency, month__in=rollups.kept_months(agency, kept), billable_charges__gt=0
        )
        if client_id:
            rows = rows.filter(client_id=client_id)
        for row in rows.values("client_id").annotate(billable=Sum("billable")).order_by():
            found[row["client_id"]] += row["billable"]
    if live:
        charges = task_charges_in(agency=agency, period=live).filter(status__in=NOT_WRITTEN_OFF)
        if client_id:
            charges = charges.filter(client_id=client_id)
        for row in charges.values("client_id").annotate(billable=Sum(BILLABLE)).order_by():
            found[row["client_id"]] += row["billable"] or 0
    return dict(found)


def kept_shares(*, agency, period: Period, client_id=None) -> tuple[dict, dict]:
    """reports.raw.shares per assistant over the range: billable minutes (unrounded) and
    charged amounts per (assistant, currency), closed months from their kept figures.
    Three queries at most."""
    kept, live = rollups.split(agency, period)
    billable: dict = defaultdict(float)
    charged: dict = defaultdict(int)
    if kept:
        months = rollups.kept_months(agency, kept)
        # Per client only when one is asked for: the totals over clients are kept apart.
        if client_id:
            rows = ShareMonth.objects.filter(agency=agency, month__in=months, client_id=client_id)
        else:
            rows = ShareTotalMonth.objects.filter(agency=agency, month__in=months)
        for row in (
            rows.values("assistant_id", "currency")
            .annotate(
                billable=Sum("billable"),
                charged=Sum("charged"),
                charged_count=Sum("charged_count"),
            )
            .order_by()
        ):
            billable[row["assistant_id"]] += row["billable"]
            if row["charged_count"]:
                charged[(row["assistant_id"], row["currency"])] += row["charged"]
    if live:
        live_billable, live_charged, _ = shares(agency=agency, period=live, client_id=client_id)
        for (person, _client), minutes in live_billable.items():
            billable[person] += minutes
        for (person, _client, currency), amount in live_charged.items():
            charged[(person, currency)] += amount
    return billable, charged


def _billable_by_assistant(*, agency, period: Period, client_id=None) -> dict:
    """Each task charge's billable minutes shared out by who logged the task's time;
    a charge with no time logged (a minimum) goes to the task's assignee."""
    billable, _ = kept_shares(agency=agency, period=period, client_id=client_id)
    return {person: round(minutes) for person, minutes in billable.items()}


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

ON_TIME_COLUMNS = [
    Column("completed", "Completed", INT),
    Column("on_time", "On time", INT),
    Column("late", "Late", INT),
    Column("rate", "On-time rate", PERCENT, total=False),
]


def on_time_counts(*, agency, period: Period) -> dict:
    counts = completed_in(agency=agency, period=period).aggregate(
        completed=Count("pk"), on_time=Count("pk", filter=ON_TIME)
    )
    counts["rate"] = percent(counts["on_time"], counts["completed"])
    return counts


def completed_by(
    *, agency, period: Period, key: str, client_id=None, service_id=None, assistant_id=None
) -> dict:
    """{`key` (service_id or assignee_id): {completed, on_time}} of the range: closed
    months from their kept counts (reports.rollups), the rest from the tasks. The kept
    counts have no client: narrowed to one client, the whole range is read from its
    tasks."""
    kept, live = rollups.split(agency, period) if not client_id else ([], [period])
    found: dict = defaultdict(lambda: {"completed": 0, "on_time": 0})
    if kept:
        kept_rows = OnTimeMonth.objects.filter(
            agency=agency, month__in=rollups.kept_months(agency, kept)
        )
        if service_id:
            kept_rows = kept_rows.filter(service_id=service_id)
        if assistant_id:
            kept_rows = kept_rows.filter(assignee_id=assistant_id)
        for row in (
            kept_rows.values(key)
            .annotate(completed=Sum("completed"), on_time=Sum("on_time"))
            .order_by()
        ):
            found[row[key]]["completed"] += row["completed"]
            found[row[key]]["on_time"] += row["on_time"]
    if live:
        tasks = completed_in(agency=agency, period=live)
        if client_id:
            tasks = tasks.filter(client_id=client_id)
        if service_id:
            tasks = tasks.filter(service_id=service_id)
        if assistant_id:
            tasks = tasks.filter(assignee_id=assistant_id)
        for row in (
            tasks.values(key)
            .annotate(completed=Count("pk"), on_time=Count("pk", filter=ON_TIME))
            .order_by()
        ):
            found[row[key]]["completed"] += row["completed"]
            found[row[key]]["on_time"] += row["on_time"]
    return found


def on_time_tables(
    *, agency, period: Period, client_id=None, service_id=None, assistant_id=None
) -> list[Table]:
    filters = {"client_id": client_id, "service_id": service_id, "assistant_id": assistant_id}

    def rows(found: dict, names: dict) -> list[dict]:
        result = [
            {
                "name": names.get(value, "Nobody" if value is None else f"#{value}"),
                "completed": counts["completed"],
                "on_time": counts["on_time"],
                "late": counts["completed"] - counts["on_time"],
                "rate": percent(counts["on_time"], counts["completed"]),
            }
            for value, counts in found.items()
        ]
        return sorted(result, key=lambda row: row["name"].lower())

    services = dict(Service.objects.filter(agency=agency).values_list("pk", "name"))
    by_service = rows(
        completed_by(agency=agency, period=period, key="service_id", **filters), services
    )
    assignees = completed_by(agency=agency, period=period, key="assignee_id", **filters)
    by_assistant = rows(assignees, _people(agency, set(assignees)))
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
    """Completed and on-time counts per agency month: closed months from their kept counts,
    the others from the tasks (three queries)."""
    if not months:
        return {}
    period = Period(months[0], month_end(months[-1]), agency.time_zone)
    kept, live = rollups.split(agency, period)
    found = {
        row["month"]: row
        for row in OnTimeMonth.objects.filter(
            agency=agency, month__in=rollups.kept_months(agency, kept)
        )
        .values("month")
        .annotate(completed=Sum("completed"), on_time=Sum("on_time"))
        .order_by()
    }
    if live:
        rows = (
            completed_in(agency=agency, period=live)
            .annotate(
                month=TruncMonth(
                    "completed_at", tzinfo=ZoneInfo(agency.time_zone), output_field=DateField()
                )
            )
            .values("month")
            .annotate(completed=Count("pk"), on_time=Count("pk", filter=ON_TIME))
            .order_by()
        )
        for row in rows:
            found[as_date(row["month"])] = {**row, "month": as_date(row["month"])}
    return found


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
    Column("topped_up", "Bought", MINUTES, total=False),
    Column("expires", "Expiring"),
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


# Every line of a report asks for the same few months in a handful of zones.
_month_bounds = functools.lru_cache(maxsize=4096)(month_bounds)


def _terms_for_month(versions, month: dt.date, zone: str):
    """The terms a client month is under: those in force when it begins, else the first
    version that starts during it (a line added mid-month)."""
    begins, ends = _month_bounds(month, zone)
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
        # Hundreds of lines: leave out the clients' manuals, the services' request forms
        # and whatever else the rows never show.
        .only(
            "contract__client__name",
            "contract__client__time_zone",
            "contract__status",
            "contract__starts_on",
            "contract__ends_on",
            "contract__currency",
            "service__name",
        )
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
    # Ids, not instances: the lookup would otherwise check each of hundreds of lines.
    ids = [line.pk for line in retainers]
    used: dict[int, dict] = defaultdict(dict)
    overage: dict[tuple, int] = {}
    for line_id, period_start, bank_minutes, overage_minutes in (
        Charge.objects.filter(
            agency=agency,
            contract_line_id__in=ids,
            kind=ChargeKind.TASK,
            period_start__isnull=False,
        )
        .values("contract_line_id", "period_start")
        .annotate(used=Sum("minutes_from_bank"), overage=Sum("minutes_billed"))
        .values_list("contract_line_id", "period_start", "used", "overage")
        .order_by()
    ):
        used[line_id][period_start] = bank_minutes or 0
        overage[(line_id, period_start)] = overage_minutes or 0
    fees = {
        (line_id, period_start): amount
        for line_id, period_start, amount in Charge.objects.filter(
            agency=agency,
            contract_line_id__in=ids,
            kind=ChargeKind.RETAINER_FEE,
            period_start__in=months,
        )
        .exclude(status=ChargeStatus.WRITTEN_OFF)
        .values_list("contract_line_id", "period_start", "amount")
        .order_by()
    }
    bought = topped_up_minutes(agency, ids)
    # Thousands of rows: what each line and month says is looked up once, not per row.
    labels = {month: f"{month:%b %Y}" for month in months}
    ends = {month: month_end(month) for month in months}
    rows = []
    for line in retainers:
        contract, line_id = line.contract, line.pk
        line_bought = bought.get(line_id, {})
        line_used = used[line_id]
        # One walk of the line's months serves every month shown.
        banks = line_banks(
            line.terms.all(), contract.client.time_zone, line_used, line_bought, months
        )
        client_id, client, service = contract.client_id, contract.client.name, line.service.name
        starts_on, ends_on, currency = contract.starts_on, contract.ends_on, contract.currency
        for month in months:
            found = banks[month]
            # in the contract: the month ends on or after its start, and begins by its end
            if found is None or ends[month] < starts_on or (ends_on and month > ends_on):
                continue
            bank, soon = found.bank, found.expiring
            month_used = line_used.get(month, 0)
            rows.append(
                {
                    "line_id": line_id,
                    "client_id": client_id,
                    "client": client,
                    "service": service,
                    "month": labels[month],
                    "period_start": month,
                    "included": found.terms.included_minutes,
                    "rollover": found.rollover,
                    "topped_up": line_bought.get(month, 0),
                    "expiring": soon,
                    "expires": expiry_words(soon) if soon else "",
                    "bank": bank,
                    "used": month_used,
                    "left": max(bank - month_used, 0),
                    "used_share": percent(month_used, bank),
                    "overage": overage.get((line_id, month), 0),
                    "fee": fees.get((line_id, month)),
                    "currency": currency,
                }
            )
    return rows


def cap_rows(*, agency, lines: list[ContractLine], months: list[dt.date]) -> list[dict]:
    """Each capped line's months: its budget and what was charged in the client's month
    (written-off charges do not count, as contracts.caps counts them). One query."""
    capped = []
    for line in lines:
        versions = list(line.terms.all())
        # Most lines are retainers that never had a cap: no month of theirs can have one.
        if all(version.monthly_budget_cap is None for version in versions):
            continue
        zone = line.contract.client.time_zone
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
        .exclude(kind__in=(ChargeKind.LATE_FEE, ChargeKind.TOP_UP))
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
    to the task's assignee."""
    _, charged = kept_shares(agency=agency, period=period, client_id=client_id)
    return charged


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


def _kept_owed(agency, months, *, client_id=None, assistant_id=None) -> tuple[dict, dict]:
    """Kept months' time priced as billing.payouts prices it (each assistant, client and
    month on its own, rate x seconds / 3600 half-up, at the month's payout rate or else
    the current one), summed in SQL per (client, currency) and per (assistant, currency):
    one query, whatever the rows.

    The current rates (one per assistant) travel as a VALUES list; a join on the kept rows
    would otherwise be a lookup per row. On PostgreSQL both sums come from one pass over
    the kept rows (GROUPING SETS); elsewhere the two groupings are read one after the
    other in the same query."""
    rates = list(
        AssistantProfile.objects.filter(agency=agency).values_list(
            "membership_id", "pay_rate", "pay_currency"
        )
    ) or [(0, 0, "")]
    where = ["t.agency_id = %s", "t.month >= %s", "t.month <= %s"]
    params = [agency.pk, months[0], months[-1]]
    if client_id:
        where.append("t.client_id = %s")
        params.append(int(client_id))
    if assistant_id:
        where.append("t.assistant_id = %s")
        params.append(int(assistant_id))
    values = [value for rate in rates for value in rate]
    priced = (
        "WITH rates (assistant_id, rate, currency) AS (VALUES "
        + ", ".join(["(%s, %s, %s)"] * len(rates))
        + "), priced AS (SELECT t.client_id, t.assistant_id,"
        " COALESCE(p.currency, r.currency, %s) AS currency,"
        " (2 * COALESCE(p.rate, r.rate, 0) * t.seconds + 3600) / 7200 AS amount"
        f" FROM {TimeMonth._meta.db_table} t"
        " LEFT JOIN (SELECT assistant_id, period_start, MAX(rate) AS rate,"
        " MAX(currency) AS currency"
        f" FROM {Payout._meta.db_table} WHERE agency_id = %s"
        " GROUP BY assistant_id, period_start) p"
        " ON p.assistant_id = t.assistant_id AND p.period_start = t.month"
        " LEFT JOIN rates r ON r.assistant_id = t.assistant_id"
        f" WHERE {' AND '.join(where)}) "
    )
    head = [*values, agency.default_currency, agency.pk, *params]
    if connection.vendor == "postgresql":
        sql = (
            priced + "SELECT GROUPING(client_id), client_id, assistant_id, currency, SUM(amount)"
            " FROM priced GROUP BY GROUPING SETS ((client_id, currency), (assistant_id, currency))"
        )
    else:
        sql = (
            priced + "SELECT 0, client_id, NULL, currency, SUM(amount) FROM priced"
            " GROUP BY client_id, currency UNION ALL"
            " SELECT 1, NULL, assistant_id, currency, SUM(amount) FROM priced"
            " GROUP BY assistant_id, currency"
        )
    owed_clients: dict = {}
    owed_people: dict = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, head)
        for by_assistant, client, person, currency, amount in cursor.fetchall():
            if by_assistant:
                owed_people[(person, currency)] = int(amount or 0)
            else:
                owed_clients[(client, currency)] = int(amount or 0)
    return owed_clients, owed_people


def _kept_owed_totals(agency, months) -> tuple[dict, dict]:
    """_kept_owed for the whole agency, from the months' priced totals (reports.models.
    OwedMonth, OwedClientMonth): an assistant month whose rate or currency is no longer the
    one it was priced at (a raise, a payout since) is priced again from its kept time, and
    its clients' amounts moved with it. Four queries; five when a rate changed."""
    paid, current = rollups.pay_rates(agency, months)
    owed_people: dict = defaultdict(int)
    repriced: dict[tuple, tuple] = {}
    for person, month, rate, currency, amount in OwedMonth.objects.filter(
        agency=agency, month__in=months
    ).values_list("assistant_id", "month", "rate", "currency", "amount"):
        now = rollups.pay_rate(agency, paid, current, person, month)
        if now == (rate, currency):
            owed_people[(person, currency)] += amount
        else:
            repriced[(person, month)] = ((rate, currency), now)
    owed_clients: dict = defaultdict(int)
    times: dict = defaultdict(int)
    for client, currency, amount, count in (
        OwedClientMonth.objects.filter(agency=agency, month__in=months)
        .values("client_id", "currency")
        .annotate(owed=Sum("amount"), count=Sum("times"))
        .values_list("client_id", "currency", "owed", "count")
        .order_by()
    ):
        owed_clients[(client, currency)] += amount
        times[(client, currency)] += count
    if repriced:
        stale = Q(pk__in=[])
        for person, month in repriced:
            stale |= Q(assistant_id=person, month=month)
        for person, client, month, seconds in (
            TimeMonth.objects.filter(agency=agency)
            .filter(stale)
            .values_list("assistant_id", "client_id", "month", "seconds")
        ):
            (rate, currency), (new_rate, new_currency) = repriced[(person, month)]
            owed_clients[(client, currency)] -= pay_for_seconds(rate, seconds)
            times[(client, currency)] -= 1
            amount = pay_for_seconds(new_rate, seconds)
            owed_clients[(client, new_currency)] += amount
            times[(client, new_currency)] += 1
            owed_people[(person, new_currency)] += amount
    return {key: owed_clients[key] for key, count in times.items() if count}, dict(owed_people)


def owed_by(*, agency, period: Period, client_id=None, assistant_id=None) -> tuple[dict, dict]:
    """Time logged in the range at each assistant's pay rate (billing.payouts: a paid month
    at the rate it was paid at, else the current rate), per (client, currency) and per
    (assistant, currency). Closed months are priced in SQL from their kept time, once per
    assistant, client and month as payouts price them; the rest is billing's own pay lines.
    A fixed number of queries."""
    kept, live = rollups.split(agency, period)
    owed_clients: dict = defaultdict(int)
    owed_people: dict = defaultdict(int)
    if kept:
        kept = rollups.kept_months(agency, kept)
        if client_id or assistant_id:
            clients, people = _kept_owed(
                agency, kept, client_id=client_id, assistant_id=assistant_id
            )
        else:
            clients, people = _kept_owed_totals(agency, kept)
        for key, amount in clients.items():
            owed_clients[key] += amount
        for key, amount in people.items():
            owed_people[key] += amount
    for part in live:
        for line in pay_lines(
            agency=agency,
            begins=part.begins,
            ends=part.ends,
            assistant_id=assistant_id,
            client_id=client_id,
        ):
            owed_clients[(line.client_id, line.currency)] += line.amount
            owed_people[(line.assistant_id, line.currency)] += line.amount
    return owed_clients, owed_people


def margin_tables(*, agency, period: Period, client_id=None, assistant_id=None) -> list[Table]:
    owed_clients, owed_people = owed_by(
        agency=agency, period=period, client_id=client_id, assistant_id=assistant_id
    )
    charged_clients = {}
    if not assistant_id:
        for (client, currency), figures in money_by(
            agency=agency, period=period, key="client", client_id=client_id
        ).items():
            if figures["charges"]:
                row = {"client_id": client, **{k: figures[k] for k in NO_CHARGES}}
                charged_clients[(client, currency)] = money_row(row)["revenue"]
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
