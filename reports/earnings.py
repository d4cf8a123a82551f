"""One assistant's earnings as the Earnings page, its statement and the API show them: the
last twelve months and the month opened, which is the latest month with time logged."""

import datetime as dt
from collections import defaultdict

from django.db import connection
from django.db.models import Exists, F, OuterRef, Q, Sum

from assistants.models import AssistantProfile, Payout
from billing.payouts import AssistantMonth, MonthEarnings, months_of
from core.periods import Period, last_months, month_end, month_start
from core.roles import Role
from core.times import local_midnight
from reports import rollups
from reports.models import TimeMonth
from reports.raw import logged_in
from tasks.models import TimeEntry, entry_seconds

EARNINGS_MONTHS = 12


def opening_month(
    *, agency, membership, earned: list[MonthEarnings], now: dt.datetime | None = None
) -> dt.date:
    """The month to open on: this month if it has time; otherwise the latest earlier month
    with time (looked up past the months shown, in one query through the assistant's
    index, only when none of them has any); this month if there is no time at all.

    `earned` are the months shown, newest first."""
    this = last_months(agency.time_zone, 1, now)[0]
    for month in earned:
        if month.minutes > 0:
            return month.month
    oldest = earned[-1].month if earned else this
    started = (
        TimeEntry.objects.filter(
            agency=agency,
            assistant=membership,
            ended_at__isnull=False,
            minutes__gt=0,
            started_at__lt=local_midnight(oldest, agency.time_zone),
        )
        .order_by("-started_at")
        .values_list("started_at", flat=True)
        .first()
    )
    return month_start(started, agency.time_zone) if started else this


def earnings_of(
    *, agency, membership, month: dt.date | None = None, now: dt.datetime | None = None
) -> tuple[list[MonthEarnings], MonthEarnings]:
    """The last twelve months (newest first) and the month asked for, or the opening
    month when none is. A month older than those shown costs its own few queries."""
    months = last_months(agency.time_zone, EARNINGS_MONTHS, now)
    earned = months_of(agency=agency, membership=membership, months=months)
    if month is None:
        month = opening_month(agency=agency, membership=membership, earned=earned, now=now)
    month = month.replace(day=1)
    selected = next((e for e in earned if e.month == month), None)
    if selected is None:
        selected = months_of(agency=agency, membership=membership, months=[month])[0]
    return earned, selected


# -- the staff overview: every assistant's month, a page at a time --------------------------

OVERVIEW_PER_PAGE = 50
OVERVIEW_ORDER = ("membership__user__full_name", "membership__user__email", "pk")
OVERVIEW_FIELDS = (
    "membership_id",
    "pay_rate",
    "pay_currency",
    "membership__user__full_name",
    "membership__user__email",
)


def _is_kept(agency, month: dt.date) -> bool:
    return month < rollups.current_month(agency)


def overview_profiles(*, agency, month: dt.date):
    """The assistants the overview lists for the month: every active assistant, and anyone
    else with finished time in it (a closed month from its kept time, the current one from
    the entries), with their people. Ordered and paged by the caller (OVERVIEW_ORDER)."""
    if _is_kept(agency, month):
        rollups.kept_months(agency, [month])
        worked = TimeMonth.objects.filter(
            agency=agency, month=month, assistant_id=OuterRef("membership_id")
        )
    else:
        period = Period(month, month_end(month), agency.time_zone)
        worked = logged_in(agency=agency, period=period).filter(
            assistant_id=OuterRef("membership_id")
        )
    return (
        AssistantProfile.objects.filter(agency=agency)
        .filter(Q(membership__is_active=True, membership__role=Role.ASSISTANT) | Exists(worked))
        .select_related("membership__user")
        # What a row shows and is priced and paged by: a page's rows are all it reads.
        .only(*OVERVIEW_FIELDS)
    )


def _client_time(*, agency, month: dt.date, people: list[int]):
    """The month's finished time of `people` per (assistant, client): whole minutes and
    exact seconds, the grain pay is rounded at (billing.payouts.pay_lines)."""
    if _is_kept(agency, month):
        return TimeMonth.objects.filter(agency=agency, month=month, assistant_id__in=people).values(
            person=F("assistant_id"), worked_minutes=F("minutes"), worked_seconds=F("seconds")
        )
    period = Period(month, month_end(month), agency.time_zone)
    return (
        logged_in(agency=agency, period=period)
        .filter(assistant_id__in=people)
        .values(person=F("assistant_id"), client=F("task__client_id"))
        .annotate(worked_minutes=Sum("minutes"), worked_seconds=Sum(entry_seconds()))
        .values("person", "worked_minutes", "worked_seconds")
        .order_by()
    )


def _priced_by_assistant(*, agency, month: dt.date, rates: dict[int, int]) -> dict:
    """Minutes and pay per assistant for the month, priced in SQL as billing.payouts prices
    it: each (assistant, client) on its own, rate x seconds / 3600 rounded half-up, then
    added up. One query, one row per assistant."""
    if not rates:
        return {}
    inner, params = _client_time(
        agency=agency, month=month, people=list(rates)
    ).query.sql_with_params()
    # The rates (one per assistant on the page) travel in the query: the time is priced
    # where it is summed, and only one row per assistant comes back.
    cases = " ".join(["WHEN %s THEN %s"] * len(rates))
    sql = (
        f"SELECT g.person, SUM(g.worked_minutes), SUM((2 * (CASE g.person {cases} ELSE 0 END)"
        f" * g.worked_seconds + 3600) / 7200) FROM ({inner}) g GROUP BY g.person"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*(v for pair in rates.items() for v in pair), *params])
        return {
            person: (int(minutes or 0), int(amount or 0))
            for person, minutes, amount in cursor.fetchall()
        }


def overview_rows(*, agency, month: dt.date, profiles) -> list[AssistantMonth]:
    """The overview's rows for the given profiles (one page): each assistant's minutes and
    pay for the month (a paid month at its payout's rate and currency, else the current
    ones) and its payouts. Two queries whatever the number of assistants or entries."""
    profiles = list(profiles)
    people = [p.membership_id for p in profiles]
    payouts = defaultdict(list)
    for payout in (
        Payout.objects.filter(agency=agency, period_start=month, assistant_id__in=people)
        .select_related("paid_by")
        .order_by("currency", "pk")
    ):
        payouts[payout.assistant_id].append(payout)
    terms = {}
    for profile in profiles:
        paid = payouts.get(profile.membership_id)
        terms[profile.membership_id] = (
            (paid[-1].rate, paid[-1].currency) if paid else (profile.pay_rate, profile.pay_currency)
        )
    priced = _priced_by_assistant(
        agency=agency, month=month, rates={person: rate for person, (rate, _) in terms.items()}
    )
    rows = []
    for profile in profiles:
        row = AssistantMonth(profile=profile, payouts=payouts.get(profile.membership_id, []))
        if profile.membership_id in priced:
            row.minutes, amount = priced[profile.membership_id]
            row.amounts = {terms[profile.membership_id][1]: amount}
        rows.append(row)
    return rows
