"""Weeks and months on a calendar of one time zone: the client's, for what it is billed and
what its contract allows; the agency's, for reports and pay.

A month is named by its first day (a date); its bounds are the moments it begins and ends
(end exclusive) in the zone. A week runs Monday to Monday.
"""

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from core.times import local_midnight, local_today


def month_start(moment: dt.datetime, zone: str) -> dt.date:
    """The first day of the calendar month, in `zone`, that a moment falls in."""
    return moment.astimezone(ZoneInfo(zone)).date().replace(day=1)


def week_start(moment: dt.datetime, zone: str) -> dt.date:
    """The Monday, in `zone`, of the week a moment falls in."""
    day = moment.astimezone(ZoneInfo(zone)).date()
    return day - dt.timedelta(days=day.weekday())


def next_month(month: dt.date) -> dt.date:
    if month.month == 12:
        return month.replace(year=month.year + 1, month=1, day=1)
    return month.replace(month=month.month + 1, day=1)


def month_end(month: dt.date) -> dt.date:
    """The last day of the month."""
    return next_month(month.replace(day=1)) - dt.timedelta(days=1)


def month_bounds(month: dt.date, zone: str) -> tuple[dt.datetime, dt.datetime]:
    """The moments a month begins and ends (exclusive) in `zone`."""
    return local_midnight(month, zone), local_midnight(next_month(month), zone)


def months_between(first: dt.date, until: dt.date) -> list[dt.date]:
    """The month starts from `first` up to, not including, `until`."""
    months, month = [], first.replace(day=1)
    while month < until:
        months.append(month)
        month = next_month(month)
    return months


def last_months(zone: str, count: int, now: dt.datetime | None = None) -> list[dt.date]:
    """The first days of the last `count` months, this one included, oldest first."""
    month = local_today(zone, now).replace(day=1)
    months = [month]
    for _ in range(count - 1):
        month = (month - dt.timedelta(days=1)).replace(day=1)
        months.append(month)
    return months[::-1]


@dataclass(frozen=True)
class Period:
    """Days `start` to `end`, both included, on the calendar of `zone`."""

    start: dt.date
    end: dt.date
    zone: str

    @property
    def begins(self) -> dt.datetime:
        return local_midnight(self.start, self.zone)

    @property
    def ends(self) -> dt.datetime:
        """The moment after the last day (exclusive)."""
        return local_midnight(self.end + dt.timedelta(days=1), self.zone)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def months(self) -> list[dt.date]:
        """The first days of the calendar months the range touches, oldest first."""
        return months_between(self.start, self.end + dt.timedelta(days=1))

    @property
    def label(self) -> str:
        if self.start.day == 1 and self.end == month_end(self.start):
            return f"{self.start:%B %Y}"
        return f"{self.start.day} {self.start:%b %Y} to {self.end.day} {self.end:%b %Y}"


def this_month(zone: str, now: dt.datetime | None = None) -> Period:
    first = local_today(zone, now).replace(day=1)
    return Period(first, month_end(first), zone)


def month_period(month: dt.date, zone: str) -> Period:
    first = month.replace(day=1)
    return Period(first, month_end(first), zone)
