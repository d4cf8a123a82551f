"""The dashboard's open and at-risk figures (tasks.queries.work_counts) count what the
at-risk list shows, in one query whatever the number of tasks."""

import datetime as dt

import pytest

from core.tenancy import agency_scope
from tasks.queries import tasks_at_risk, work_counts
from tests.tasks.factories import TaskFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 4, 15, 12, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def make(agency, many: int):
    for _ in range(many):
        TaskFactory(agency=agency, status="queued", due_at=NOW + 72 * HOUR, queued_at=NOW)
        TaskFactory(agency=agency, status="requested", due_at=NOW - HOUR)  # overdue
        TaskFactory(agency=agency, status="queued", due_at=NOW + HOUR, queued_at=NOW)  # soon
        TaskFactory(  # waiting in the pool too long
            agency=agency, status="requested", due_at=NOW + 72 * HOUR, queued_at=NOW - 5 * HOUR
        )
        TaskFactory(agency=agency, status="completed", due_at=NOW - HOUR)
        TaskFactory(agency=agency, status="cancelled", due_at=NOW - HOUR)


@pytest.mark.parametrize("many", [1, 4])
def test_work_counts_match_the_at_risk_list_in_one_query(agency, count_queries, many):
    make(agency, many)
    with agency_scope(agency):
        counts = {}
        queries = count_queries(lambda: counts.update(work_counts(agency=agency, now=NOW)))
        assert counts["at_risk"] == tasks_at_risk(agency=agency, now=NOW).count()
        assert counts == {"open": 4 * many, "at_risk": counts["at_risk"]}
    assert queries == 1
