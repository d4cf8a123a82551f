"""The admin dashboard's figures and charts: a fixed number of queries, whatever the size
of the agency. The month is the agency's calendar month, in its time zone."""

import datetime as dt
from collections import defaultdict
from zoneinfo import ZoneInfo

from django.db.models import Count, DateField, F, Q, Sum
from django.db.models.functions import TruncMonth

from assistants.models import AssistantProfile
from assistants.schedule import WEEKDAYS, clock_minutes
from billing.models import Invoice, InvoiceStatus
from core.money import format_money, to_major
from core.periods import Period, last_months, month_end, this_month
from core.roles import Role
from core.times import local_today
from reports import rollups, selectors
from reports.charts import horizontal_bars, line_chart, stacked_bars
from reports.models import RevenueMonth
from reports.raw import BY_MONTH
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
    by the month it was made and retainer fees by the month they pay for. Three
    queries."""
    period = Period(months[0], month_end(months[-1]), agency.time_zone)
    kept, live = rollups.split(agency, period)
    result: dict = defaultdict(lambda: defaultdict(lambda: {"billed": 0, "unbilled": 0}))
    kept_rows = (
        # Rows of credits alone are not on the chart: it shows charges.
        RevenueMonth.objects.filter(
            agency=agency, month__in=rollups.kept_months(agency, kept), charges__gt=0
        )
        .values("month", "currency")
        .annotate(**{field: Sum(field) for field in rollups.MONEY_FIELDS})
        .order_by()
    )
    task_rows = fee_rows = []
    if live:
        charges = selectors.charges_in(agency=agency, period=live)
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
    for row in [*kept_rows, *task_rows, *fee_rows]:
        month = row["month"].date() if isinstance(row["month"], dt.datetime) else row["month"]
        row = selectors.money_row(row)
        slot = result[row["currency"]][month.replace(day=1)]
        slot["billed"] += row["billed"]
        slot["unbilled"] += row["unbilled"]
    return result


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


def staff_dashboard(*, agency, now: dt.datetime) -> dict:
    """Everything the admin dashboard shows."""
    period = this_month(agency.time_zone, now)
    months = last_months(agency.time_zone, CHART_MONTHS, now)
    labels = [f"{m:%b}" if m.month != 1 else f"{m:%b %Y}" for m in months]

    by_month = revenue_by_month(agency=agency, months=months)
    revenue_charts = []
    for currency in sorted(by_month):
        figures = by_month[currency]
        billed = [figures[m]["billed"] for m in months]
        unbilled = [figures[m]["unbilled"] for m in months]
        chart = stacked_bars(
            title=f"Revenue by month ({currency})",
            description=(
                f"Billed and unbilled charges in {currency} for each of the last "
                f"{len(months)} months."
            ),
            categories=labels,
            series=[("Billed", "billed", billed), ("Unbilled", "unbilled", unbilled)],
            axis_label=lambda v, c=currency: f"{to_major(int(v), c):,.0f}",
            value_label=lambda v, c=currency: format_money(v, c),
        )
        chart.dom_id = f"chart-revenue-{currency.lower()}"
        chart.table = [
            {
                "month": f"{m:%B %Y}",
                "billed": b,
                "unbilled": u,
                "currency": currency,
            }
            for m, b, u in zip(months, billed, unbilled, strict=True)
        ]
        revenue_charts.append(chart)

    on_time = selectors.on_time_by_month(agency=agency, months=months)
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
    on_time_chart.table = [
        {
            "month": f"{m:%B %Y}",
            "completed": (on_time.get(m) or {}).get("completed", 0),
            "on_time": (on_time.get(m) or {}).get("on_time", 0),
            "rate": r,
        }
        for m, r in zip(months, rates, strict=True)
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
    utilisation_chart.table = busiest

    retainers = selectors.retainer_rows(
        agency=agency,
        lines=[
            line for line in selectors.usage_lines(agency=agency) if line.contract.status != "ended"
        ],
        months=[period.start],
    )
    retainers.sort(key=lambda row: (-(row["used_share"] or 0), row["client"].lower()))

    return {
        "period": period,
        "now": now,
        "months": months,
        "revenue": selectors.revenue_by_currency(agency=agency, period=period),
        "receivables": receivables(agency=agency, now=now),
        "on_time": selectors.on_time_counts(agency=agency, period=period),
        "work": work_counts(agency=agency, now=now),
        # read here, once, rather than by a tag while the page renders
        "waiting": waiting_for_skill(agency=agency),
        "retainers": retainers[:RETAINER_ROWS],
        "retainer_count": len(retainers),
        "revenue_charts": revenue_charts,
        "on_time_chart": on_time_chart,
        "utilisation_chart": utilisation_chart,
        "assistant_count": len(people),
    }
