import datetime as dt
from zoneinfo import ZoneInfo

from django.utils import timezone


def local_midnight(day: dt.date, zone: str) -> dt.datetime:
    """The moment a calendar day begins in a time zone, as an aware datetime."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=ZoneInfo(zone))


def local_today(zone: str, now: dt.datetime | None = None) -> dt.date:
    """The calendar day it is (or was at `now`) in a time zone."""
    return (now or timezone.now()).astimezone(ZoneInfo(zone)).date()
