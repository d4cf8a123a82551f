"""The admin dashboard's figures and charts: a fixed number of queries, whatever the size
of the agency. The month is the agency's calendar month, in its time zone."""

import datetime as dt
import functools
from collections import defaultdict
from dataclasses import dataclass, field
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.db.models import Count, DateField, Exists, F, OuterRef, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils.formats import localize

from assistants.models import AssistantProfile
from assistants.schedule import WEEKDAYS, clock_minutes
from billing.models import Charge, ChargeKind, ChargeStatus, Invoice, InvoiceStatus
from billing.retainer import expiry_words, line_banks, topped_up_minutes
from contracts.models import ContractStatus, ContractTerms, PricingModel
from core.money import format_money, to_major
from core.periods import Period, last_months, month_end, this_month
from core.roles import Role
from core.templatetags.money import hours
from core.times import local_today
from reports import rollups, selectors
from reports.charts import horizontal_bars, line_chart, stacked_bars
from reports.models import OnTimeMonth, RevenueMonth
from reports.raw import BY_MONTH, MONEY_SUMS, TAX_SUMS, charges_in, credit_taxes_in, credits_in
from reports.tables import percent
from tasks.queries import waiting_for_skill, work_counts

CHART_MONTHS = 12
UTILISATION_ROWS = 15
RETAINER_ROWS = 10
OUTSTANDING = F("amount_due") - F("amount_paid")


def receivables(*, agency, now: dt.datetime) -> list[dict]:
    """Open invoices per currency: how many, how many overdue, and what is outstanding by
    days past due (current, 1-30, 31-60, 60+). One query."""
    day = dt.timedelta(days=1)
    rows = (
        Invoice.objects.filter(agency=agency, status=InvoiceStatus.OPEN)
        .values("currency")
        .annotate(
            count=Count("pk"),
            overdue=Count("pk", filter=Q(due_date__lt=now)),
            current=Sum(OUTSTANDING, filter=Q(due_date__gte=now) | Q(due_date__isnull=True)),
            days_1_30=Sum(OUTSTANDING, filter=Q(due_date__lt=now, due_date__gte=now - 30 * day)),
            days_31_60=Sum(
                OUTSTANDING, filter=Q(due_date__lt=now - 30 * day, due_date__gte=now - 60 * day)
            ),
            days_60_plus=Sum(OUTSTANDING, filter=Q(due_date__lt=now - 60 * day)),
            total=Sum(OUTSTANDING),
        )
        .order_by("currency")
    )
    keys = ("current", "days_1_30", "days_31_60", "days_60_plus", "total")
    return [{**row, **{key: row[key] or 0 for key in keys}} for row in rows]


def revenue_by_month(*, agency, months: list[dt.date]) -> dict[str, dict[dt.date, dict]]:
    """{currency: {month: {billed, unbilled}}} for the agency months given: closed months
    from their kept figures (reports.rollups), the others from the raw rows, every charge
    by the month it was made and retainer fees by the month they pay for. Four queries
    (the kept months' marks, their figures, task charges and fees)."""
    period = Period(months[0], month_end(months[-1]), agency.time_zone)
    kept, live = rollups.split(agency, period)
    result = _kept_revenue(agency, rollups.kept_months(agency, kept))
    if live:
        charges = charges_in(agency=agency, period=live)
        task_rows = (
            charges.exclude(BY_MONTH)
            .annotate(
                month=TruncMonth(
                    "created_at", tzinfo=ZoneInfo(agency.time_zone), output_field=DateField()
                )
            )
            .values("month", "currency")
            .annotate(**selectors.MONEY_SUMS)
            .order_by()
        )
        fee_rows = (
            charges.filter(BY_MONTH)
            .annotate(month=F("period_start"))
            .values("month", "currency")
            .annotate(**selectors.MONEY_SUMS)
            .order_by()
        )
        _add_revenue(result, [*task_rows, *fee_rows])
    return result


def _kept_revenue(agency, kept: list[dt.date]) -> dict:
    """{currency: {month: {billed, unbilled}}} of closed months, from their kept figures
    (rollups.kept_months: counted afresh where a write changed them)."""
    result: dict = defaultdict(lambda: defaultdict(lambda: {"billed": 0, "unbilled": 0}))
    if kept:
        _add_revenue(
            result,
            # Rows of credits alone are not on the chart: it shows charges.
            RevenueMonth.objects.filter(agency=agency, month__in=kept, charges__gt=0)
            .values("month", "currency")
            .annotate(**{name: Sum(name) for name in rollups.MONEY_FIELDS})
            .order_by(),
        )
    return result


def _add_revenue(result: dict, rows) -> None:
    for row in rows:
        month = row["month"].date() if isinstance(row["month"], dt.datetime) else row["month"]
        row = selectors.money_row(dict(row))
        slot = result[row["currency"]][month.replace(day=1)]
        slot["billed"] += row["billed"]
        slot["unbilled"] += row["unbilled"]


def this_month_revenue(*, agency, period: Period) -> tuple[list[dict], list[dict]]:
    """The month's figures per currency, as selectors.revenue_by_currency gives them, and
    its charges' sums per currency (MONEY_SUMS, one row per currency charged), which are
    also the revenue chart's current month: one read of the month's charges serves both.
    Three queries."""
    charged = list(
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
    by_currency = {row["currency"]: dict(row) for row in charged}
    for currency in credits.keys() - by_currency.keys():
        by_currency[currency] = {"currency": currency, **selectors.NO_CHARGES}
    figures = [
        selectors.money_row(
            by_currency[currency], credits.get(currency, 0), credit_taxes.get(currency, 0)
        )
        for currency in sorted(by_currency)
    ]
    return figures, charged


def closed_months(*, agency, period: Period, months: list[dt.date]) -> list[dt.date] | None:
    """The charts' months before this one, each counted afresh first where a write changed
    it (rollups.kept_months), when they are all closed and the rest is this month alone:
    the charts then read them from their kept figures and this month from the same reads
    as the month's own figures. None otherwise (the month asked for is not the calendar's
    current one: a clock moved in a test), and the charts are read as the reports read
    them. One query."""
    kept, live = rollups.split(agency, Period(months[0], month_end(months[-1]), agency.time_zone))
    if live != [period]:
        return None
    return rollups.kept_months(agency, kept)


def dashboard_revenue(*, agency, period: Period, months: list[dt.date], closed):
    """(this month's figures per currency, {currency: {month: {billed, unbilled}}} for the
    chart). Four queries, given the closed months."""
    figures, charged = this_month_revenue(agency=agency, period=period)
    if closed is None:
        return figures, revenue_by_month(agency=agency, months=months)
    by_month = _kept_revenue(agency, closed)
    _add_revenue(by_month, [{**row, "month": period.start} for row in charged])
    return figures, by_month


def dashboard_on_time(*, agency, period: Period, months: list[dt.date], closed):
    """(this month's completed and on-time counts, the same per month for the chart). Two
    queries, given the closed months."""
    counts = selectors.on_time_counts(agency=agency, period=period)
    if closed is None:
        return counts, selectors.on_time_by_month(agency=agency, months=months)
    by_month = {}
    if closed:
        by_month = {
            row["month"]: row
            for row in OnTimeMonth.objects.filter(agency=agency, month__in=closed)
            .values("month")
            .annotate(completed=Sum("completed"), on_time=Sum("on_time"))
            .order_by()
        }
    if counts["completed"]:
        by_month[period.start] = {
            "month": period.start,
            "completed": counts["completed"],
            "on_time": counts["on_time"],
        }
    return counts, by_month


def weekday_counts(first: dt.date, last: dt.date) -> dict[str, int]:
    """How many of each weekday fall from `first` to `last` (both included)."""
    counts = dict.fromkeys(WEEKDAYS, 0)
    days = (last - first).days + 1
    if days <= 0:
        return counts
    weeks, rest = divmod(days, 7)
    for offset in range(7):
        counts[WEEKDAYS[(first.weekday() + offset) % 7]] = weeks + (offset < rest)
    return counts


def scheduled_minutes(
    working_hours: dict, first: dt.date, last: dt.date, *, days: dict[str, int] | None = None
) -> int:
    """Minutes of working hours from `first` to `last` (both included), by weekday.
    `days` (weekday_counts for the same span) saves recounting them for every person."""
    days = weekday_counts(first, last) if days is None else days
    return sum(
        days[day]
        * sum(
            clock_minutes(end) - clock_minutes(start) for start, end in working_hours.get(day, [])
        )
        for day in WEEKDAYS
        if days[day]
    )


def utilisation(*, agency, now: dt.datetime) -> list[dict]:
    """Active assistants' logged time this month against their working hours so far this
    month (their weekly hours, day by day up to today). Two queries, reading only the
    columns shown: hundreds of assistants are otherwise hundreds of full rows of three
    tables made into objects."""
    period = this_month(agency.time_zone, now)
    today = local_today(agency.time_zone, now)
    days = weekday_counts(period.start, today)
    logged = selectors.logged_minutes(agency=agency, period=period, by="assistant")
    rows = []
    for membership_id, working_hours, full_name, email in AssistantProfile.objects.filter(
        agency=agency,
        is_active=True,
        membership__is_active=True,
        membership__role=Role.ASSISTANT,
    ).values_list(
        "membership_id", "working_hours", "membership__user__full_name", "membership__user__email"
    ):
        available = scheduled_minutes(working_hours, period.start, today, days=days)
        minutes = logged.get(membership_id, 0)
        rows.append(
            {
                # as User.get_full_name
                "name": full_name or email,
                "logged": minutes,
                "available": available,
                "share": percent(minutes, available),
            }
        )
    rows.sort(key=lambda row: (-(row["share"] or 0), -row["logged"], row["name"].lower()))
    return rows


class _Terms(NamedTuple):
    """A terms version of a retainer line: the columns the bank rules read."""

    effective_from: dt.datetime
    pricing_model: str
    included_minutes: int | None
    rollover_cap_minutes: int | None
    banked_hours_expire_after_months: int | None


@dataclass
class _RetainerLine:
    pk: int
    client_id: int
    client: str
    zone: str
    starts_on: dt.date
    ends_on: dt.date | None
    currency: str
    service: str
    versions: list[_Terms] = field(default_factory=list)


def retainer_lines(*, agency) -> list[_RetainerLine]:
    """The lines the dashboard shows: those of contracts neither draft nor ended that ever
    had a retainer version, with every terms version, in the order of the usage report
    (client, service). One query of plain columns: hundreds of lines are otherwise
    hundreds of lines, contracts, clients and services made into objects."""
    ever_retainer = ContractTerms.objects.filter(
        line=OuterRef("line_id"), pricing_model=PricingModel.RETAINER
    )
    rows = (
        ContractTerms.objects.filter(agency=agency)
        .exclude(line__contract__status__in=(ContractStatus.DRAFT, ContractStatus.ENDED))
        .filter(Exists(ever_retainer))
        .order_by(
            "line__contract__client__name", "line__service__name", "line_id", "-effective_from"
        )
        .values_list(
            "line_id",
            "line__contract__client_id",
            "line__contract__client__name",
            "line__contract__client__time_zone",
            "line__contract__starts_on",
            "line__contract__ends_on",
            "line__contract__currency",
            "line__service__name",
            *_Terms._fields,
        )
    )
    lines: dict[int, _RetainerLine] = {}
    for line_id, client_id, client, zone, starts_on, ends_on, currency, service, *terms in rows:
        line = lines.get(line_id)
        if line is None:
            line = lines[line_id] = _RetainerLine(
                line_id, client_id, client, zone, starts_on, ends_on, currency, service
            )
        line.versions.append(_Terms(*terms))
    return list(lines.values())


# The months of bank use read for every line: this one and the two before, where nearly
# every line's walk to this month's rollover starts (billing.retainer._walk_start).
BANK_MONTHS = 3


class _BankUse(dict):
    """A line's bank use per month, of the months read so far: notes whether the bank
    rules asked for an earlier one (or for the whole), so that the line's older months
    are read and its bank worked out again from all of them."""

    def __init__(self, minutes: dict, since: dt.date):
        super().__init__(minutes)
        self.since, self.wanted_older = since, False

    def get(self, month, default=None):
        self.wanted_older |= month < self.since
        return super().get(month, default)

    def __getitem__(self, month):
        self.wanted_older |= month < self.since
        return super().__getitem__(month)

    def __contains__(self, month):
        self.wanted_older |= month < self.since
        return super().__contains__(month)

    def __iter__(self):
        self.wanted_older = True
        return super().__iter__()

    def keys(self):
        self.wanted_older = True
        return super().keys()

    def values(self):
        self.wanted_older = True
        return super().values()

    def items(self):
        self.wanted_older = True
        return super().items()


def _bank_use(agency, which: Q) -> tuple[dict, dict]:
    """Minutes task charges drew from the bank, and their overage, per line and month
    (written-off work included: it still used its hours), of the charges `which` says:
    a range of the indexes on (agency, line, month)."""
    used: dict[int, dict] = defaultdict(dict)
    overage: dict[tuple, int] = {}
    for row in (
        Charge.objects.filter(
            which,
            agency=agency,
            kind=ChargeKind.TASK,
            period_start__isnull=False,
        )
        .values("contract_line_id", "period_start")
        .annotate(used=Sum("minutes_from_bank"), overage=Sum("minutes_billed"))
        .order_by()
    ):
        used[row["contract_line_id"]][row["period_start"]] = row["used"] or 0
        overage[(row["contract_line_id"], row["period_start"])] = row["overage"] or 0
    return used, overage


def retainer_months(*, agency, month: dt.date) -> list[dict]:
    """This month of each retainer line, the rows of selectors.retainer_rows for it: the
    bank (included plus rollover) from billing's own bank rules, used, left, overage and
    fee. Five queries: the lines with their terms; the bank use of the last BANK_MONTHS
    months, then of the earlier months of the few lines whose rollover goes back further
    (always asked, so the count does not depend on the lines' histories: a year of every
    line's charges is otherwise read to use a month or two of it); this month's fees; and
    the hours bought."""
    lines = retainer_lines(agency=agency)
    if not lines:
        return []
    since = month
    for _ in range(BANK_MONTHS - 1):
        since = (since - dt.timedelta(days=1)).replace(day=1)
    ids = [line.pk for line in lines]
    used, overage = _bank_use(agency, Q(contract_line_id__in=ids, period_start__gte=since))
    # This month's fees whatever line they are of: a list of hundreds of ids costs more to
    # send than the few rows of other lines.
    fees = dict(
        Charge.objects.filter(
            agency=agency,
            kind=ChargeKind.RETAINER_FEE,
            period_start=month,
        )
        .exclude(status=ChargeStatus.WRITTEN_OFF)
        .values_list("contract_line_id", "amount")
    )
    bought = topped_up_minutes(agency, ids)
    last_day = month_end(month)
    shown, banks, older = [], {}, []
    for line in lines:
        if last_day < line.starts_on or (line.ends_on and month > line.ends_on):
            continue  # the month is outside the contract
        line_used = _BankUse(used[line.pk], since)
        banks[line.pk] = line_banks(
            line.versions, line.zone, line_used, bought.get(line.pk, {}), [month]
        )[month]
        shown.append(line)
        if line_used.wanted_older:
            older.append(line)
    # No line has id 0: with no line to read, the query reads nothing.
    earlier, _ = _bank_use(
        agency,
        Q(contract_line_id__in=[line.pk for line in older] or [0], period_start__lt=since),
    )
    for line in older:
        used[line.pk].update(earlier.get(line.pk, {}))
        banks[line.pk] = line_banks(
            line.versions, line.zone, used[line.pk], bought.get(line.pk, {}), [month]
        )[month]
    rows = []
    for line in shown:
        found = banks[line.pk]
        if found is None:
            continue
        month_used = used[line.pk].get(month, 0)
        rows.append(
            {
                "line_id": line.pk,
                "client_id": line.client_id,
                "client": line.client,
                "service": line.service,
                "month": f"{month:%b %Y}",
                "period_start": month,
                "included": found.terms.included_minutes,
                "rollover": found.rollover,
                "topped_up": bought.get(line.pk, {}).get(month, 0),
                "expiring": found.expiring,
                "expires": expiry_words(found.expiring),
                "bank": found.bank,
                "used": month_used,
                "left": max(found.bank - month_used, 0),
                "used_share": percent(month_used, found.bank),
                "overage": overage.get((line.pk, month), 0),
                "fee": fees.get(line.pk),
                "currency": line.currency,
            }
        )
    return rows


def _percent_cell(share) -> str:
    return "—" if share is None else f"{localize(share)}%"


def staff_dashboard(*, agency, now: dt.datetime) -> dict:
    """Everything the admin dashboard shows."""
    period = this_month(agency.time_zone, now)
    months = last_months(agency.time_zone, CHART_MONTHS, now)
    labels = [f"{m:%b}" if m.month != 1 else f"{m:%b %Y}" for m in months]
    month_names = [f"{m:%B %Y}" for m in months]

    closed = closed_months(agency=agency, period=period, months=months)
    revenue, by_month = dashboard_revenue(
        agency=agency, period=period, months=months, closed=closed
    )
    revenue_charts = []
    for currency in sorted(by_month):
        figures = by_month[currency]
        billed = [figures[m]["billed"] for m in months]
        unbilled = [figures[m]["unbilled"] for m in months]
        # A bar's tooltip and its row of the table say the same amounts: written once.
        written = functools.lru_cache(maxsize=None)(lambda v, c=currency: format_money(v, c))
        chart = stacked_bars(
            title=f"Revenue by month ({currency})",
            description=(
                f"Billed and unbilled charges in {currency} for each of the last "
                f"{len(months)} months."
            ),
            categories=labels,
            series=[("Billed", "billed", billed), ("Unbilled", "unbilled", unbilled)],
            axis_label=lambda v, c=currency: f"{to_major(int(v), c):,.0f}",
            value_label=written,
        )
        chart.dom_id = f"chart-revenue-{currency.lower()}"
        chart.testid = "chart-revenue"
        chart.table = [
            {
                "month": name,
                "billed": b,
                "unbilled": u,
                "currency": currency,
            }
            for name, b, u in zip(month_names, billed, unbilled, strict=True)
        ]
        chart.columns = ["Month", "Billed", "Unbilled"]
        chart.figures = [
            (row["month"], [written(row["billed"]), written(row["unbilled"])])
            for row in chart.table
        ]
        revenue_charts.append(chart)

    on_time_counts, on_time = dashboard_on_time(
        agency=agency, period=period, months=months, closed=closed
    )
    rates = []
    for month in months:
        row = on_time.get(month)
        rates.append(percent(row["on_time"], row["completed"]) if row else None)
    on_time_chart = line_chart(
        title="On-time rate by month",
        description="The share of tasks completed by their due time, per month.",
        categories=labels,
        values=rates,
    )
    on_time_chart.dom_id = on_time_chart.testid = "chart-on-time"
    on_time_chart.table = [
        {
            "month": name,
            "completed": (on_time.get(m) or {}).get("completed", 0),
            "on_time": (on_time.get(m) or {}).get("on_time", 0),
            "rate": r,
        }
        for m, name, r in zip(months, month_names, rates, strict=True)
    ]
    on_time_chart.columns = ["Month", "Completed", "On time", "Rate"]
    on_time_chart.figures = [
        (
            row["month"],
            [localize(row["completed"]), localize(row["on_time"]), _percent_cell(row["rate"])],
        )
        for row in on_time_chart.table
    ]

    people = utilisation(agency=agency, now=now)
    busiest = people[:UTILISATION_ROWS]
    utilisation_chart = horizontal_bars(
        title="Assistant utilisation this month",
        description=(
            "Time logged this month against each assistant's working hours so far this "
            "month, busiest first."
        ),
        rows=[
            (
                row["name"],
                float(row["share"] or 0),
                f"{row['share'] or 0}%",
            )
            for row in busiest
        ],
    )
    utilisation_chart.dom_id = utilisation_chart.testid = "chart-utilisation"
    utilisation_chart.table = busiest
    utilisation_chart.columns = ["Assistant", "Logged", "Working hours so far", "Utilisation"]
    utilisation_chart.figures = [
        (
            row["name"],
            [hours(row["logged"]), hours(row["available"]), _percent_cell(row["share"])],
        )
        for row in busiest
    ]

    retainers = retainer_months(agency=agency, month=period.start)
    retainers.sort(key=lambda row: (-(row["used_share"] or 0), row["client"].lower()))

    return {
        "period": period,
        "now": now,
        "months": months,
        "revenue": revenue,
        "receivables": receivables(agency=agency, now=now),
        "on_time": on_time_counts,
        "work": work_counts(agency=agency, now=now),
        # read here, once, rather than by a tag while the page renders
        "waiting": waiting_for_skill(agency=agency),
        "retainers": retainers[:RETAINER_ROWS],
        "retainer_count": len(retainers),
        "revenue_charts": revenue_charts,
        "on_time_chart": on_time_chart,
        "utilisation_chart": utilisation_chart,
        # the page draws them in this order, in one loop
        "charts": [*revenue_charts, on_time_chart, utilisation_chart],
        "assistant_count": len(people),
    }
