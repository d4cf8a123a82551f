"""Date ranges of the reports, in the agency's time zone (end day included)."""

import datetime as dt
from dataclasses import dataclass

from billing.pricing import next_period
from core.times import local_midnight, local_today


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
        months, month = [], self.start.replace(day=1)
        while month <= self.end:
            months.append(month)
            month = next_period(month)
        return months

    @property
    def label(self) -> str:
        if self.start.day == 1 and self.end == month_end(self.start):
            return f"{self.start:%B %Y}"
        return f"{self.start.day} {self.start:%b %Y} to {self.end.day} {self.end:%b %Y}"


def month_end(month: dt.date) -> dt.date:
    return next_period(month.replace(day=1)) - dt.timedelta(days=1)


def this_month(zone: str, now: dt.datetime | None = None) -> Period:
    first = local_today(zone, now).replace(day=1)
    return Period(first, month_end(first), zone)


def month_period(month: dt.date, zone: str) -> Period:
    first = month.replace(day=1)
    return Period(first, month_end(first), zone)


def last_months(zone: str, count: int, now: dt.datetime | None = None) -> list[dt.date]:
    """The first days of the last `count` months, this one included, oldest first."""
    month = local_today(zone, now).replace(day=1)
    months = [month]
    for _ in range(count - 1):
        month = (month - dt.timedelta(days=1)).replace(day=1)
        months.append(month)
    return months[::-1]
