"""A week of working hours as people write it: wall-clock intervals per weekday in one
time zone, {"mon": [["09:00", "17:00"]], ..., "sun": []}. Pure arithmetic, shared by the
assistants' schedules and by notifications, which hold an e-mail until a shift begins."""

import datetime as dt
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # datetime.weekday() order


def clock_minutes(clock: str) -> int:
    """Minutes since midnight of an "HH:MM" wall-clock time ("24:00" is 1440)."""
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def next_working_moment(working_hours: dict, zone: str, at: dt.datetime) -> dt.datetime | None:
    """`at` itself if it falls in the working hours, else the start of the next interval
    (within a week), as an aware UTC datetime; None if the week has no hours at all.

    Walked on the local calendar, so a DST change moves the UTC moment and never the
    wall-clock start ("09:00" stays 09:00 on the assistant's clock).
    """
    tz = ZoneInfo(zone)
    local = at.astimezone(tz)
    for offset in range(8):
        day = local.date() + dt.timedelta(days=offset)
        for start, end in sorted(
            (working_hours or {}).get(WEEKDAYS[day.weekday()], []),
            key=lambda interval: clock_minutes(interval[0]),
        ):
            begins = dt.datetime.combine(day, dt.time.min, tzinfo=tz) + dt.timedelta(
                minutes=clock_minutes(start)
            )
            ends = dt.datetime.combine(day, dt.time.min, tzinfo=tz) + dt.timedelta(
                minutes=clock_minutes(end)
            )
            # Wall-clock arithmetic on the local date, then normalised through UTC.
            begins = begins.astimezone(dt.UTC).astimezone(tz)
            if offset == 0 and begins <= local < ends:
                return at
            if begins > local:
                return begins.astimezone(dt.UTC)
    return None
