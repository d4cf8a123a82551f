"""Months on the client's calendar."""

import datetime as dt

import pytest

from core.periods import month_start, months_between

PERIODS = [
    # (moment in UTC, client's zone, month it counts in)
    ("2026-03-31T23:30:00+00:00", "Asia/Tokyo", dt.date(2026, 4, 1)),  # 08:30 on 1 Apr there
    ("2026-03-31T23:30:00+00:00", "America/New_York", dt.date(2026, 3, 1)),  # 19:30 on 31 Mar
    ("2026-03-31T14:59:00+00:00", "Asia/Tokyo", dt.date(2026, 3, 1)),  # 23:59 on 31 Mar
    ("2026-01-01T03:00:00+00:00", "America/Los_Angeles", dt.date(2025, 12, 1)),  # New Year's Eve
]


@pytest.mark.parametrize(("moment", "zone", "period"), PERIODS)
def test_a_period_is_a_calendar_month_in_the_clients_zone(moment, zone, period):
    assert month_start(dt.datetime.fromisoformat(moment), zone) == period


def test_periods_between_cross_the_year():
    assert months_between(dt.date(2025, 11, 1), dt.date(2026, 2, 1)) == [
        dt.date(2025, 11, 1),
        dt.date(2025, 12, 1),
        dt.date(2026, 1, 1),
    ]
    assert months_between(dt.date(2026, 2, 1), dt.date(2026, 2, 1)) == []
