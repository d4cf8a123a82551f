"""An assistant's week: working hours in their own time zone, and whether they are on shift.

Working hours are stored as wall-clock intervals per weekday in the assistant's zone,
{"mon": [["09:00", "13:00"], ["14:00", "17:00"]], ..., "sun": []}. A night shift that
crosses midnight is two intervals: [["22:00", "24:00"]] on one day, [["00:00", "02:00"]]
on the next. Wall-clock intervals are what people mean by "I work 9 to 5", so a DST change
moves the UTC hours and never the local ones.
"""

import re
from datetime import datetime, tzinfo
from itertools import pairwise
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.utils import timezone

from core.working_hours import WEEKDAYS, clock_minutes

WEEKDAY_NAMES = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}
MAX_INTERVALS_PER_DAY = 6
END_OF_DAY = "24:00"
DASH = "\u2013"  # between the ends of an interval, as people write hours
_CLOCK = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$")


def default_working_hours() -> dict[str, list[list[str]]]:
    """Monday to Friday, 09:00 to 17:00; the weekend off."""
    return {day: [["09:00", "17:00"]] if day not in ("sat", "sun") else [] for day in WEEKDAYS}


def working_hours_errors(value) -> dict[str | None, list[str]]:
    """Every problem with a working-hours value, by day (None: the value as a whole).

    Rules: an object naming each of mon..sun; per day a list of [start, end] pairs of
    "HH:MM" strings ("24:00" allowed as an end only); start before end; no two intervals
    of one day overlapping (touching is fine: 09:00-12:00 then 12:00-17:00).
    """
    if not isinstance(value, dict):
        return {None: ["Working hours must be an object with one entry per weekday."]}
    errors: dict[str | None, list[str]] = {}
    unknown = sorted(str(key) for key in value if key not in WEEKDAYS)
    if unknown:
        errors[None] = [f"Unknown day {', '.join(unknown)}: use mon, tue, wed, thu, fri, sat, sun."]
    missing = [day for day in WEEKDAYS if day not in value]
    if missing:
        errors.setdefault(None, []).append(
            f"Working hours must name every day; missing {', '.join(missing)} "
            "(an empty list is a day off)."
        )
    for day in WEEKDAYS:
        if day in value:
            problems = _day_errors(value[day])
            if problems:
                errors[day] = problems
    return errors


def _day_errors(intervals) -> list[str]:
    if not isinstance(intervals, list):
        return ["Give a list of [from, to] intervals (an empty list is a day off)."]
    if len(intervals) > MAX_INTERVALS_PER_DAY:
        return [f"At most {MAX_INTERVALS_PER_DAY} intervals a day."]
    problems = []
    valid = []
    for interval in intervals:
        if (
            not isinstance(interval, list | tuple)
            or len(interval) != 2
            or not all(isinstance(clock, str) for clock in interval)
        ):
            problems.append(f"{interval!r} is not a [from, to] pair of times.")
            continue
        start, end = interval
        bad = [
            clock
            for clock, may_end_day in ((start, False), (end, True))
            if not (_CLOCK.match(clock) or (may_end_day and clock == END_OF_DAY))
        ]
        if bad:
            problems.extend(
                f"“{clock}” is not a time in HH:MM (00:00 to 23:59, or 24:00 as an end)."
                for clock in bad
            )
            continue
        if clock_minutes(start) >= clock_minutes(end):
            problems.append(f"{start}{DASH}{end} must start before it ends.")
            continue
        valid.append((clock_minutes(start), clock_minutes(end), f"{start}{DASH}{end}"))
    valid.sort()
    for (_, earlier_end, earlier), (later_start, _, later) in pairwise(valid):
        if later_start < earlier_end:
            problems.append(f"{earlier} overlaps {later}.")
    return problems


def validate_working_hours(value) -> None:
    """Model-field validator: every problem, each message naming its day."""
    errors = working_hours_errors(value)
    if errors:
        raise ValidationError(
            [
                message if day is None else f"{WEEKDAY_NAMES[day]}: {message}"
                for day, messages in errors.items()
                for message in messages
            ]
        )


def normalize_working_hours(value: dict) -> dict[str, list[list[str]]]:
    """A valid value in its stored form: the seven days in order, intervals sorted."""
    return {
        day: sorted(([start, end] for start, end in value[day]), key=lambda i: clock_minutes(i[0]))
        for day in WEEKDAYS
    }


def zone_of(profile) -> tzinfo:
    return ZoneInfo(profile.time_zone)


def local_time(profile, at: datetime) -> datetime:
    """`at` (an aware datetime) on the assistant's own clock."""
    if timezone.is_naive(at):
        raise ValueError("Pass an aware datetime; naive times have no meaning across zones.")
    return at.astimezone(zone_of(profile))


def local_now(profile) -> datetime:
    """The assistant's local time right now."""
    return local_time(profile, timezone.now())


def hours_on(profile, at: datetime) -> list[list[str]]:
    """The intervals of the assistant's local weekday at `at`."""
    day = WEEKDAYS[local_time(profile, at).weekday()]
    return (profile.working_hours or {}).get(day, [])


def is_on_shift(profile, at: datetime) -> bool:
    """Whether `at` (aware, normally UTC) falls in the assistant's working hours.

    `at` is moved onto the assistant's clock with zoneinfo, so the weekday and the wall
    time are theirs, DST included; intervals include their start and exclude their end.
    Only the schedule is consulted: callers decide what an inactive profile means.
    """
    local = local_time(profile, at)
    day = WEEKDAYS[local.weekday()]
    seconds = local.hour * 3600 + local.minute * 60 + local.second
    return any(
        clock_minutes(start) * 60 <= seconds < clock_minutes(end) * 60
        for start, end in (profile.working_hours or {}).get(day, [])
    )


def format_intervals(intervals) -> str:
    """[["09:00", "13:00"], ["14:00", "17:00"]] -> "09:00-13:00, 14:00-17:00" (en dashes);
    [] -> "off"."""
    return ", ".join(f"{start}{DASH}{end}" for start, end in intervals) or "off"
