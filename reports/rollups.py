"""Each closed month's figures, kept per agency (reports.models), and the split of a range
into the months read from them and the days read live.

Months are marked, not maintained: a write below (tasks.report_months, called by the
services of tasks and billing inside their transactions) only raises the month's
version, and the next report that reads the month counts it again from the raw rows with
the very queries the live reports run (reports.raw). So a kept month can never disagree
with its rows by a rule applied twice in two places, and a write costs one UPDATE
whatever it changed. The current month is never kept: it is always read live.
"""

import datetime as dt
from collections import defaultdict

from django.db import transaction
from django.db.models import BigIntegerField, Count, F, Max, Q, Sum
from django.utils import timezone

from accounts.models import Agency
from assistants.models import AssistantProfile, Payout
from billing.models import Charge, ChargeKind, CreditNote
from billing.payouts import pay_for_seconds
from core.periods import Period, month_end, month_start, next_month
from core.tenancy import agency_scope
from reports.models import (
    OnTimeMonth,
    OwedClientMonth,
    OwedMonth,
    ReportMonth,
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
)
from tasks.models import Task, entry_seconds

# Billable time: task charges not written off (as reports.selectors counts them).
_BILLABLE = Q(kind=ChargeKind.TASK, status__in=NOT_WRITTEN_OFF)

MONEY_FIELDS = ("invoiced", "voided", "unbilled", "written_off", "task_charges")

# Enough for every zone: a month this far into the current UTC month has begun everywhere.
_EVERY_ZONE = dt.timedelta(hours=14)


# -- the split of a range ---------------------------------------------------------------


def current_month(agency, now: dt.datetime | None = None) -> dt.date:
    return month_start(now or timezone.now(), agency.time_zone)


def split(agency, period: Period, now: dt.datetime | None = None):
    """(kept months, live ranges): the closed whole months of the range, and the days of
    the range outside them (at most one piece before and one after)."""
    this = current_month(agency, now)
    kept = [
        month
        for month in period.months()
        if month < this and month >= period.start and month_end(month) <= period.end
    ]
    if not kept:
        return [], [period]
    live = []
    if period.start < kept[0]:
        live.append(Period(period.start, kept[0] - dt.timedelta(days=1), period.zone))
    after = next_month(kept[-1])
    if after <= period.end:
        live.append(Period(after, period.end, period.zone))
    return kept, live


def kept_months(agency, months: list[dt.date]) -> list[dt.date]:
    """The months given, each counted afresh first where a write changed it or it was
    never counted (one query when all are current)."""
    if not months:
        return months
    found = {
        row.month: row
        for row in ReportMonth.objects.filter(agency=agency, month__in=months).only(
            "month", "version", "counted_version", "time_zone"
        )
    }
    for month in months:
        row = found.get(month)
        if row is None or row.counted_version != row.version or row.time_zone != agency.time_zone:
            count_month(agency=agency, month=month)
    return months


# -- marking ----------------------------------------------------------------------------


def months_touched(*, agency_id: int, moments) -> None:
    """Registered on tasks.report_months.month_touched: raise the versions of the kept
    months these moments fall in. Free when all of them are in the current month."""
    this_utc = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    old = [
        moment
        for moment in moments
        if (
            moment < this_utc + _EVERY_ZONE
            if isinstance(moment, dt.datetime)
            else moment < this_utc.date()
        )
    ]
    if not old:
        return
    zone = Agency.objects.filter(pk=agency_id).values_list("time_zone", flat=True).first()
    if zone is None:
        return
    months = {
        month_start(moment, zone) if isinstance(moment, dt.datetime) else moment.replace(day=1)
        for moment in old
    }
    ReportMonth.objects.filter(agency_id=agency_id, month__in=months).update(
        version=F("version") + 1
    )


# -- counting ---------------------------------------------------------------------------


def count_month(*, agency, month: dt.date) -> None:
    """Count one closed month again from its raw rows, under a lock on its mark so that two
    readers never count it at once; a write during the count leaves it marked."""
    with transaction.atomic():
        ReportMonth.objects.get_or_create(
            agency=agency, month=month, defaults={"time_zone": agency.time_zone}
        )
        mark = ReportMonth.objects.select_for_update().get(agency=agency, month=month)
        seen = mark.version
        period = Period(month, month_end(month), agency.time_zone)
        RevenueMonth.objects.filter(agency=agency, month=month).delete()
        OnTimeMonth.objects.filter(agency=agency, month=month).delete()
        TimeMonth.objects.filter(agency=agency, month=month).delete()
        ShareMonth.objects.filter(agency=agency, month=month).delete()
        ShareTotalMonth.objects.filter(agency=agency, month=month).delete()
        OwedMonth.objects.filter(agency=agency, month=month).delete()
        OwedClientMonth.objects.filter(agency=agency, month=month).delete()
        RevenueMonth.objects.bulk_create(_revenue_rows(agency, month, period), batch_size=2000)
        OnTimeMonth.objects.bulk_create(_on_time_rows(agency, month, period), batch_size=2000)
        times = _time_rows(agency, month, period)
        TimeMonth.objects.bulk_create(times, batch_size=2000)
        owed, owed_clients = _owed_rows(agency, month, times)
        OwedMonth.objects.bulk_create(owed, batch_size=2000)
        OwedClientMonth.objects.bulk_create(owed_clients, batch_size=2000)
        share_rows = _share_rows(agency, month, period)
        ShareMonth.objects.bulk_create(share_rows, batch_size=2000)
        ShareTotalMonth.objects.bulk_create(_share_totals(agency, month, share_rows))
        ReportMonth.objects.filter(pk=mark.pk).update(
            counted_version=seen, counted_at=timezone.now(), time_zone=agency.time_zone
        )


def _revenue_rows(agency, month: dt.date, period: Period) -> list[RevenueMonth]:
    sums: dict[tuple, dict] = defaultdict(lambda: dict.fromkeys(MONEY_FIELDS, 0))
    charges = (
        charges_in(agency=agency, period=period)
        .values("client_id", "contract_line__service_id", "currency")
        .annotate(
            **MONEY_SUMS,
            **TAX_SUMS,
            charges=Count("pk"),
            billable=Sum(BILLABLE, filter=_BILLABLE, output_field=BigIntegerField()),
            billable_charges=Count("pk", filter=_BILLABLE),
        )
        .order_by()
    )
    for row in charges:
        key = (row["client_id"], row["contract_line__service_id"], row["currency"])
        slot = sums[key]
        fields = (*MONEY_FIELDS, "charges", "tax", "included", "billable", "billable_charges")
        for field in fields:
            slot[field] = slot.get(field, 0) + (row[field] or 0)
    by = ("invoice__client_id", "charge__contract_line__service_id")
    for (client, service, currency), credited in credits_in(
        agency=agency, period=period, by=by
    ).items():
        slot = sums[(client, service, currency)]
        slot["credited"] = slot.get("credited", 0) + credited
    for (client, service, currency), tax in credit_taxes_in(
        agency=agency, period=period, by=by
    ).items():
        slot = sums[(client, service, currency)]
        slot["credited_tax"] = slot.get("credited_tax", 0) + tax
    return [
        RevenueMonth(
            agency=agency,
            month=month,
            client_id=client,
            service_id=service,
            currency=currency,
            **figures,
        )
        for (client, service, currency), figures in sums.items()
    ]


def _on_time_rows(agency, month: dt.date, period: Period) -> list[OnTimeMonth]:
    rows = (
        completed_in(agency=agency, period=period)
        .values("service_id", "assignee_id")
        .annotate(completed=Count("pk"), on_time=Count("pk", filter=ON_TIME))
        .order_by()
    )
    return [OnTimeMonth(agency=agency, month=month, **row) for row in rows]


def _time_rows(agency, month: dt.date, period: Period) -> list[TimeMonth]:
    rows = (
        logged_in(agency=agency, period=period)
        .values("assistant_id", "task__client_id")
        # the seconds first: after it, "minutes" names the sum, not the column
        .annotate(worked_seconds=Sum(entry_seconds()), minutes=Sum("minutes"))
        .order_by()
    )
    return [
        TimeMonth(
            agency=agency,
            month=month,
            assistant_id=row["assistant_id"],
            client_id=row["task__client_id"],
            minutes=row["minutes"] or 0,
            seconds=row["worked_seconds"] or 0,
        )
        for row in rows
    ]


def pay_rates(agency, months) -> tuple[dict, dict]:
    """What billing.payouts prices a month's time at: ({(assistant, month): (rate,
    currency)} of the months' payouts, {assistant: (rate, currency)} of the current
    profiles). Two queries."""
    paid = {
        (row["assistant_id"], row["period_start"]): (row["rate"], row["currency"])
        for row in Payout.objects.filter(agency=agency, period_start__in=months)
        .values("assistant_id", "period_start")
        .annotate(rate=Max("rate"), currency=Max("currency"))
        .order_by()
    }
    current = {
        person: (rate, currency)
        for person, rate, currency in AssistantProfile.objects.filter(agency=agency).values_list(
            "membership_id", "pay_rate", "pay_currency"
        )
    }
    return paid, current


def pay_rate(agency, paid: dict, current: dict, assistant_id, month: dt.date) -> tuple:
    """The (rate, currency) of one assistant's month: a payout's, else the current one."""
    found = paid.get((assistant_id, month)) or current.get(assistant_id)
    if found is None:
        return 0, agency.default_currency
    rate, currency = found
    return (
        0 if rate is None else rate,
        agency.default_currency if currency is None else currency,
    )


def _owed_rows(agency, month: dt.date, times: list[TimeMonth]):
    """The month's time priced at today's rates, per assistant and per client."""
    paid, current = pay_rates(agency, [month])
    people: dict[int, OwedMonth] = {}
    clients: dict[tuple, OwedClientMonth] = {}
    for time in times:
        rate, currency = pay_rate(agency, paid, current, time.assistant_id, month)
        amount = pay_for_seconds(rate, time.seconds)
        person = people.get(time.assistant_id)
        if person is None:
            person = people[time.assistant_id] = OwedMonth(
                agency=agency,
                month=month,
                assistant_id=time.assistant_id,
                rate=rate,
                currency=currency,
            )
        person.amount += amount
        client = clients.get((time.client_id, currency))
        if client is None:
            client = clients[(time.client_id, currency)] = OwedClientMonth(
                agency=agency, month=month, client_id=time.client_id, currency=currency
            )
        client.amount += amount
        client.times += 1
    return list(people.values()), list(clients.values())


def _share_totals(agency, month: dt.date, rows: list[ShareMonth]) -> list[ShareTotalMonth]:
    totals: dict[tuple, ShareTotalMonth] = {}
    for row in rows:
        total = totals.get((row.assistant_id, row.currency))
        if total is None:
            total = totals[(row.assistant_id, row.currency)] = ShareTotalMonth(
                agency=agency, month=month, assistant_id=row.assistant_id, currency=row.currency
            )
        total.billable += row.billable
        total.charged += row.charged
        total.charged_count += row.charged_count
    return list(totals.values())


def _share_rows(agency, month: dt.date, period: Period) -> list[ShareMonth]:
    billable, charged, counted = shares(agency=agency, period=period)
    rows: dict[tuple, ShareMonth] = {}
    currencies: dict[tuple, set] = defaultdict(set)
    for person, client, currency in charged:
        currencies[(person, client)].add(currency)
    for (person, client), minutes in billable.items():
        # Billable minutes have no currency: they go on the row of the first one.
        first = min(currencies.get((person, client)) or {""})
        rows[(person, client, first)] = ShareMonth(
            agency=agency,
            month=month,
            assistant_id=person,
            client_id=client,
            currency=first,
            billable=minutes,
        )
    for (person, client, currency), amount in charged.items():
        row = rows.setdefault(
            (person, client, currency),
            ShareMonth(
                agency=agency,
                month=month,
                assistant_id=person,
                client_id=client,
                currency=currency,
            ),
        )
        row.charged = amount
        row.charged_count = counted[(person, client, currency)]
    return list(rows.values())


def rebuild(*, agency, now: dt.datetime | None = None) -> int:
    """Count every closed month of the agency that has a charge, a credit or a completion
    again (the management command); the months counted."""
    this = current_month(agency, now)
    firsts = [
        Charge.objects.filter(agency=agency)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first(),
        CreditNote.objects.filter(agency=agency, issued_at__isnull=False)
        .order_by("issued_at")
        .values_list("issued_at", flat=True)
        .first(),
        Task.objects.filter(agency=agency, completed_at__isnull=False)
        .order_by("completed_at")
        .values_list("completed_at", flat=True)
        .first(),
    ]
    firsts = [month_start(moment, agency.time_zone) for moment in firsts if moment]
    fees = (
        Charge.objects.filter(agency=agency, kind=ChargeKind.RETAINER_FEE)
        .order_by("period_start")
        .values_list("period_start", flat=True)
        .first()
    )
    if fees:
        firsts.append(fees.replace(day=1))
    ReportMonth.objects.filter(agency=agency, month__gte=this).delete()
    if not firsts:
        return 0
    month, counted = min(firsts), 0
    while month < this:
        count_month(agency=agency, month=month)
        month, counted = next_month(month), counted + 1
    return counted


def rebuild_all(*, agency_slug: str | None = None) -> dict[str, int]:
    agencies = Agency.objects.order_by("slug")
    if agency_slug:
        agencies = agencies.filter(slug=agency_slug)
    counted = {}
    for agency in agencies:
        with agency_scope(agency):
            counted[agency.slug] = rebuild(agency=agency)
    return counted
