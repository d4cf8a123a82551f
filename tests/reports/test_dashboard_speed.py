"""What keeps the admin dashboard cheap on a large agency: its task figures are read once
in the view (none while the page renders), the queued work nobody may take is found from
the few categories and contracts it can be under, and the counts and bank sums read
columns an index holds. The figures are the same as before."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.models import Charge
from contracts.models import ContractAssistant
from core.roles import Role
from core.tenancy import agency_scope
from reports import selectors
from reports.dashboard import scheduled_minutes, staff_dashboard, weekday_counts
from tasks.models import Task
from tasks.queries import waiting_for_skill, work_counts
from tasks.selectors import tasks_nobody_can_take
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import (
    CategoryFactory,
    ContractFactory,
    LineFactory,
    ServiceFactory,
)
from tests.tasks.factories import TaskFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 4, 15, 12, tzinfo=dt.UTC)
RETAINER = {
    "terms__pricing_model": "retainer",
    "terms__hourly_rate": None,
    "terms__minimum_minutes": None,
    "terms__retainer_fee": 80000,
    "terms__included_minutes": 600,
    "terms__rollover_cap_minutes": 120,
    "terms__overage_rate": 5000,
}
COLUMN = re.compile(r'"(?:tasks_task|billing_charge)"\."(\w+)"')


@pytest.fixture
def shop(agency, member):
    staffed = CategoryFactory(agency=agency, name="Bookkeeping")
    orphan = CategoryFactory(agency=agency, name="Legal admin")
    AssistantProfileFactory(agency=agency, skills=[staffed])
    contract = ContractFactory(agency=agency, status="active")
    # a contract whose only dedicated assistant has left: its work waits whatever the skill
    dedicated = ContractFactory(agency=agency, status="active")
    gone = AssistantProfileFactory(agency=agency, skills=[staffed], is_active=False)
    ContractAssistant.objects.create(agency=agency, contract=dedicated, membership=gone.membership)
    books = ServiceFactory(agency=agency, name="Books", category=staffed)
    legal = ServiceFactory(agency=agency, name="Court filings", category=orphan)
    return {
        "agency": agency,
        "admin": member(Role.ADMIN).user,
        "orphan": orphan,
        "books_line": LineFactory(agency=agency, contract=contract, service=books),
        "legal_line": LineFactory(agency=agency, contract=contract, service=legal),
        "dedicated_line": LineFactory(agency=agency, contract=dedicated, service=books),
    }


def add_work(shop, n: int):
    agency = shop["agency"]
    for i in range(n):
        TaskFactory(agency=agency, contract_line=shop["books_line"], title=f"Books {i}")
        TaskFactory(agency=agency, contract_line=shop["legal_line"], title=f"Legal {i}")
        TaskFactory(agency=agency, contract_line=shop["dedicated_line"], title=f"Kept {i}")
        TaskFactory(
            agency=agency,
            contract_line=shop["legal_line"],
            title=f"Taken {i}",
            status="assigned",
            assignee=AssistantProfileFactory(agency=agency).membership,
        )


@pytest.mark.parametrize("n", [1, 7])
def test_waiting_work_is_what_the_pool_rule_says(shop, n):
    add_work(shop, n)
    agency = shop["agency"]
    with agency_scope(agency):
        expected = list(tasks_nobody_can_take(agency=agency))
        waiting = waiting_for_skill(agency=agency, limit=10)
    assert [task.pk for task in waiting["tasks"]] == [task.pk for task in expected[:10]]
    assert waiting["count"] == len(expected) == 2 * n
    first = waiting["tasks"][0]
    assert first.client.name and first.service.name and first.category.name


def test_nothing_waits_once_every_category_and_contract_has_someone(shop):
    add_work(shop, 2)
    agency = shop["agency"]
    AssistantProfileFactory(agency=agency, skills=[shop["orphan"]])
    with agency_scope(agency):
        ContractAssistant.objects.filter(agency=agency).delete()
        assert list(tasks_nobody_can_take(agency=agency)) == []
        assert waiting_for_skill(agency=agency) == {"tasks": [], "count": 0}


def test_the_page_reads_its_task_figures_in_the_view_not_while_rendering(shop, signed_in):
    """The dashboard asked the template for the waiting tasks and counted them apart, two
    scans of the queued work while the page rendered."""
    add_work(shop, 3)
    http = signed_in(shop["admin"])
    url = reverse("dashboard", args=[shop["agency"].slug])
    with CaptureQueriesContext(connection) as captured:
        html = http.get(url).content.decode()
    assert "of 6" not in html and "Legal 0" in html and "Kept 2" in html
    task_queries = [q["sql"] for q in captured if 'FROM "tasks_task"' in q["sql"]]
    assert not [sql for sql in task_queries if 'COUNT(*) AS "__count"' in sql]
    # on-time figures, open and at-risk counts, and one list of waiting work
    assert len([sql for sql in task_queries if "LIMIT" in sql]) == 1


def test_dashboard_queries_stay_flat_from_one_to_many_tasks_and_lines(shop, signed_in):
    http = signed_in(shop["admin"])
    url = reverse("dashboard", args=[shop["agency"].slug])
    agency = shop["agency"]

    def retainer_line():
        LineFactory(
            agency=agency,
            contract=ContractFactory(agency=agency, status="active"),
            service=ServiceFactory(agency=agency, category=shop["orphan"]),
            **RETAINER,
        )

    add_work(shop, 1)
    retainer_line()
    http.get(url)
    with CaptureQueriesContext(connection) as few:
        assert http.get(url).status_code == 200
    add_work(shop, 12)
    for _ in range(5):
        retainer_line()
    with CaptureQueriesContext(connection) as many:
        html = http.get(url).content.decode()
    assert "of 26" in html
    assert len(many) == len(few)


def columns_of(sql: str) -> set[str]:
    return set(COLUMN.findall(sql))


def index_named(model, name):
    (index,) = [index for index in model._meta.indexes if index.name == name]
    fields = [model._meta.get_field(f.lstrip("-")) for f in [*index.fields, *index.include]]
    return index, {field.column for field in fields}


def test_open_and_at_risk_counts_read_only_columns_of_one_partial_index(agency):
    """Counting the ids read every open row from the table; the counts now read only
    columns of task_open_counts, whose condition is the query's own."""
    TaskFactory(agency=agency, status="queued", due_at=NOW)
    with agency_scope(agency), CaptureQueriesContext(connection) as captured:
        work_counts(agency=agency, now=NOW)
    (query,) = captured
    index, covered = index_named(Task, "task_open_counts")
    assert columns_of(query["sql"]) <= covered
    assert index.condition.children == [("status__in", index.condition.children[0][1])]
    assert set(index.condition.children[0][1]) == {
        "requested",
        "queued",
        "assigned",
        "in_progress",
        "waiting_on_client",
    }


def test_retainer_bank_use_is_summed_from_one_covering_index(shop):
    agency = shop["agency"]
    line = LineFactory(
        agency=agency,
        contract=ContractFactory(agency=agency, status="active"),
        **RETAINER,
    )
    with agency_scope(agency):
        line = next(found for found in selectors.usage_lines(agency=agency) if found.pk == line.pk)
        with CaptureQueriesContext(connection) as captured:
            selectors.retainer_rows(agency=agency, lines=[line], months=[dt.date(2026, 4, 1)])
    (bank,) = [q["sql"] for q in captured if "minutes_from_bank" in q["sql"]]
    index, covered = index_named(Charge, "charge_task_bank_use")
    assert columns_of(bank) <= covered | {"kind"}
    assert dict(index.condition.children) == {"kind": "task", "period_start__isnull": False}


@pytest.mark.parametrize(
    ("first", "last"),
    [
        (dt.date(2026, 4, 1), dt.date(2026, 4, 1)),
        (dt.date(2026, 4, 1), dt.date(2026, 4, 15)),
        (dt.date(2026, 2, 1), dt.date(2026, 2, 28)),
        (dt.date(2026, 3, 30), dt.date(2026, 4, 12)),
        (dt.date(2026, 4, 2), dt.date(2026, 4, 1)),
    ],
)
def test_working_minutes_counted_by_weekday_match_a_walk_day_by_day(first, last):
    hours = {"mon": [["09:00", "12:00"], ["13:00", "17:00"]], "sat": [["10:00", "11:30"]]}
    walked, day = 0, first
    while day <= last:
        for start, end in hours.get(day.strftime("%a").lower(), []):
            walked += (int(end[:2]) * 60 + int(end[3:])) - (int(start[:2]) * 60 + int(start[3:]))
        day += dt.timedelta(days=1)
    assert scheduled_minutes(hours, first, last) == walked
    days = weekday_counts(first, last)
    assert scheduled_minutes(hours, first, last, days=days) == walked


def test_utilisation_names_people_as_their_user_does(shop):
    agency = shop["agency"]
    nameless = AssistantProfileFactory(agency=agency)
    user = nameless.membership.user
    user.full_name = ""
    user.save()
    with agency_scope(agency):
        names = {
            row["name"]
            for row in staff_dashboard(agency=agency, now=NOW)["utilisation_chart"].table
        }
    assert user.email in names
