"""Working-hours rules and being on shift, in the assistant's own zone and across DST."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError

from assistants.schedule import (
    default_working_hours,
    format_intervals,
    hours_on,
    is_on_shift,
    local_now,
    normalize_working_hours,
    validate_working_hours,
    working_hours_errors,
)


def week(**days):
    return {**{day: [] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}, **days}


def utc(text):
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def profile(time_zone, **days):
    return SimpleNamespace(time_zone=time_zone, working_hours=week(**days))


@pytest.mark.parametrize(
    "hours",
    [
        default_working_hours(),
        week(),  # every day off
        week(mon=[["00:00", "24:00"]]),  # "24:00" ends the day
        week(tue=[["09:00", "12:00"], ["12:00", "17:00"]]),  # touching is not overlapping
        week(wed=[["14:00", "18:00"], ["08:00", "12:00"]]),  # any order
        week(fri=[["22:00", "24:00"]], sat=[["00:00", "02:00"]]),  # a night shift
    ],
)
def test_valid_working_hours(hours):
    assert working_hours_errors(hours) == {}
    validate_working_hours(hours)


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        (week(mon=[["9:00", "17:00"]]), "Monday: “9:00” is not a time in HH:MM"),
        (week(tue=[["09:00", "25:00"]]), "Tuesday: “25:00” is not a time in HH:MM"),
        (week(wed=[["09:60", "17:00"]]), "Wednesday: “09:60” is not a time in HH:MM"),
        (week(thu=[["24:00", "24:00"]]), "Thursday: “24:00” is not a time in HH:MM"),
        (week(fri=[["nine", "five"]]), "Friday: “nine” is not a time in HH:MM"),
        (week(sat=[["09:00"]]), "Saturday: ['09:00'] is not a [from, to] pair of times."),
        (week(sun=[[9, 17]]), "Sunday: [9, 17] is not a [from, to] pair of times."),
        (week(mon="09:00-17:00"), "Monday: Give a list of [from, to] intervals"),
        (week(mon=[["17:00", "09:00"]]), "Monday: 17:00\u201309:00 must start before it ends."),
        (week(mon=[["09:00", "09:00"]]), "Monday: 09:00\u201309:00 must start before it ends."),
        (
            week(mon=[["12:00", "17:00"], ["09:00", "13:00"]]),
            "Monday: 09:00\u201313:00 overlaps 12:00\u201317:00.",
        ),
        (week(mon=[["09:00", "17:00"], ["10:00", "11:00"]]), "Monday: 09:00\u201317:00 overlaps"),
        ({"mon": []}, "Working hours must name every day; missing tue, wed"),
        ({**week(), "caturday": []}, "Unknown day caturday"),
        (["09:00", "17:00"], "Working hours must be an object"),
    ],
)
def test_invalid_working_hours_say_what_and_where(hours, message):
    with pytest.raises(ValidationError) as error:
        validate_working_hours(hours)
    assert any(m.startswith(message) for m in error.value.messages), error.value.messages


def test_every_problem_is_reported_by_day():
    errors = working_hours_errors(
        week(mon=[["17:00", "09:00"]], fri=[["09:00", "13:00"], ["12:00", "14:00"]])
    )
    assert set(errors) == {"mon", "fri"}


def test_normalized_hours_name_each_day_in_order_with_sorted_intervals():
    hours = normalize_working_hours(week(wed=[["14:00", "18:00"], ["08:00", "12:00"]]))
    assert list(hours) == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert hours["wed"] == [["08:00", "12:00"], ["14:00", "18:00"]]
    assert format_intervals(hours["wed"]) == "08:00\u201312:00, 14:00\u201318:00"
    assert format_intervals([]) == "off"


def test_east_of_utc_the_local_day_starts_before_utcs():
    manila = profile("Asia/Manila", mon=[["09:00", "17:00"]])  # UTC+8, no DST
    assert is_on_shift(manila, utc("2026-03-02T01:00"))  # Mon 09:00 in Manila
    assert not is_on_shift(manila, utc("2026-03-02T00:59"))  # Mon 08:59
    assert is_on_shift(manila, utc("2026-03-02T08:59"))  # Mon 16:59
    assert not is_on_shift(manila, utc("2026-03-02T09:00"))  # Mon 17:00: the end is excluded
    assert not is_on_shift(manila, utc("2026-03-01T23:30"))  # Sunday in UTC, Mon 07:30 there


def test_west_of_utc_the_local_day_ends_after_utcs():
    los_angeles = profile("America/Los_Angeles", fri=[["21:00", "24:00"]])
    assert is_on_shift(los_angeles, utc("2026-03-07T05:30"))  # Saturday in UTC, Fri 21:30 PST
    assert not is_on_shift(los_angeles, utc("2026-03-07T08:00"))  # Sat 00:00 there
    assert hours_on(los_angeles, utc("2026-03-07T05:30")) == [["21:00", "24:00"]]


def test_a_spring_forward_moves_the_utc_hours_not_the_local_ones():
    new_york = profile("America/New_York", **{d: [["09:00", "17:00"]] for d in ("fri", "mon")})
    # Friday 6 March: EST (UTC-5). Monday 9 March: EDT (UTC-4), clocks went forward on the 8th.
    assert not is_on_shift(new_york, utc("2026-03-06T13:30"))  # 08:30 EST
    assert is_on_shift(new_york, utc("2026-03-06T14:00"))  # 09:00 EST
    assert is_on_shift(new_york, utc("2026-03-06T21:59"))  # 16:59 EST
    assert is_on_shift(new_york, utc("2026-03-09T13:30"))  # 09:30 EDT: same UTC, now on shift
    assert is_on_shift(new_york, utc("2026-03-09T20:59"))  # 16:59 EDT
    assert not is_on_shift(new_york, utc("2026-03-09T21:00"))  # 17:00 EDT: the shift ended


def test_on_the_night_clocks_jump_the_wall_clock_interval_still_holds():
    lisbon = profile("Europe/Lisbon", sun=[["00:00", "03:00"]])
    # Sunday 29 March 2026, 01:00 UTC: Lisbon jumps from 01:00 WET to 02:00 WEST.
    assert is_on_shift(lisbon, utc("2026-03-29T00:30"))  # 00:30 WET
    assert is_on_shift(lisbon, utc("2026-03-29T01:30"))  # 02:30 WEST
    assert not is_on_shift(lisbon, utc("2026-03-29T02:00"))  # 03:00 WEST: two real hours


def test_on_the_night_clocks_fall_back_the_repeated_hour_counts_twice():
    lisbon = profile("Europe/Lisbon", sun=[["01:00", "02:00"]])
    # Sunday 25 October 2026: 01:00-02:00 happens in WEST and again in WET.
    assert is_on_shift(lisbon, utc("2026-10-25T00:30"))  # 01:30 WEST
    assert is_on_shift(lisbon, utc("2026-10-25T01:30"))  # 01:30 WET
    assert not is_on_shift(lisbon, utc("2026-10-25T02:00"))  # 02:00 WET


def test_the_southern_hemisphere_falls_back_in_april():
    sydney = profile("Australia/Sydney", sat=[["20:00", "23:00"]], sun=[["20:00", "23:00"]])
    assert is_on_shift(sydney, utc("2026-04-04T11:00"))  # Sat 22:00 AEDT (UTC+11)
    assert not is_on_shift(sydney, utc("2026-04-05T13:00"))  # Sun 23:00 AEST (UTC+10)
    assert is_on_shift(sydney, utc("2026-04-05T11:00"))  # Sun 21:00 AEST


def test_a_naive_time_is_refused():
    with pytest.raises(ValueError):
        is_on_shift(profile("UTC", mon=[["00:00", "24:00"]]), datetime(2026, 3, 2, 9))


def test_local_now_is_the_assistants_clock(time_machine):
    time_machine.move_to(utc("2026-07-01T12:00"), tick=False)
    now = local_now(profile("Asia/Manila"))
    assert (now.hour, now.minute, now.tzname()) == (20, 0, "PST")
