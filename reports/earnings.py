"""One assistant's earnings as the Earnings page, its statement and the API show them: the
last twelve months and the month opened, which is the latest month with time logged."""

import datetime as dt

from billing.payouts import MonthEarnings, months_of
from core.periods import last_months, month_start
from core.times import local_midnight
from tasks.models import TimeEntry

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
