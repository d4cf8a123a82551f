"""The long task lists at any size: keyset pages (stable under ties, filters kept, deep
pages without OFFSET or a full count, tampered cursors), bounded counts, the task page's
long parts, the assign form's load and the queue's links, each in a fixed number of
queries from 1 row to 200."""

import base64
import datetime as dt
import json
import re
from unittest import mock

import django.urls as django_urls
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent
from core.pagination import BACKWARD, FORWARD, KeysetPaginator, bounded_count, encode_cursor
from core.roles import Role
from core.tenancy import agency_scope, scopes_disabled
from tasks import queries
from tasks.models import Attachment, Comment, Task, TimeEntry
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import CategoryFactory, ContractFactory, LineFactory, ServiceFactory
from tests.factories import ClientFactory

NOW = dt.datetime(2026, 3, 4, 12, tzinfo=dt.UTC)  # a Wednesday


@pytest.fixture
def world(agency, member):
    category = CategoryFactory(agency=agency)
    acme = ClientFactory(agency=agency, name="Acme")
    globex = ClientFactory(agency=agency, name="Globex")
    service = ServiceFactory(agency=agency, category=category, name="Inbox care")
    lines = {}
    for client in (acme, globex):
        contract = ContractFactory(agency=agency, client=client, status="active")
        lines[client.name] = LineFactory(agency=agency, contract=contract, service=service)
    ann = AssistantProfileFactory(agency=agency, skills=[category], capacity=300)
    return {
        "agency": agency,
        "lines": lines,
        "acme": acme,
        "ann": ann.membership,
        "owner": member(Role.OWNER),
        "acme_person": member(Role.CLIENT, client=acme),
    }


def add_tasks(world, n, client="Acme", start=0, **fields):
    """`n` tasks in one insert: due one minute apart unless `due_at` is given."""
    line = world["lines"][client]
    agency = world["agency"]
    with agency_scope(agency):
        return Task.objects.bulk_create(
            Task(
                agency=agency,
                contract_line=line,
                contract=line.contract,
                client=line.contract.client,
                service=line.service,
                category=line.service.category,
                currency=line.contract.currency,
                title=f"T{start + i:03d}",
                **{"due_at": NOW + dt.timedelta(minutes=start + i), **fields},
            )
            for i in range(n)
        )


def url(agency, name, **kwargs):
    return reverse(name, kwargs={"agency_slug": agency.slug, **kwargs})


def listed(response):
    return [row.task.title for row in response.context["rows"]]


def walk(http, first_url, params=None, key="next_url"):
    """Every page from the first, following the pager's links: the titles of each."""
    pages = []
    response = http.get(first_url, params or {})
    while True:
        assert response.status_code == 200
        pages.append(listed(response))
        link = getattr(response.context["page"], key)
        if link is None:
            return pages, response
        response = http.get(first_url + link)


# -- keyset pages ----------------------------------------------------------------------------


def test_pages_keep_one_order_when_every_row_ties(world, signed_in):
    # Same due time and priority for all: only the id orders them, and no row may be shown
    # twice or skipped between pages, forward or back.
    add_tasks(world, 120, due_at=NOW, status="queued")
    http = signed_in(world["owner"].user)
    pages, last = walk(http, url(world["agency"], "task_list"))
    assert [len(page) for page in pages] == [50, 50, 20]
    titles = [title for page in pages for title in page]
    assert titles == [f"T{i:03d}" for i in range(120)]
    back, _ = walk(
        http,
        url(world["agency"], "task_list") + last.context["page"].previous_url,
        key="previous_url",
    )
    assert back == [pages[1], pages[0]]


def test_pages_keep_the_filters_and_reach_the_end_without_offset_or_count(
    world, signed_in, count_queries
):
    add_tasks(world, 130, status="queued")
    add_tasks(world, 20, client="Globex", start=500, status="queued")
    http = signed_in(world["owner"].user)
    params = {"client": world["acme"].pk, "status": "all"}
    first = http.get(url(world["agency"], "task_list"), params)
    next_url = first.context["page"].next_url
    assert f"client={world['acme'].pk}" in next_url and "status=all" in next_url
    assert "cursor=" in next_url and "page=" not in next_url
    pages, _ = walk(http, url(world["agency"], "task_list"), params)
    assert [len(page) for page in pages] == [50, 50, 30]
    assert all(title < "T500" for page in pages for title in page)  # Globex never shows
    with CaptureQueriesContext(connection) as captured:
        http.get(url(world["agency"], "task_list") + first.context["page"].next_url)
    sql = " ".join(q["sql"].upper() for q in captured)
    assert "OFFSET" not in sql
    # the one count beside the list stops at its bound
    counts = [q["sql"].upper() for q in captured if "COUNT(" in q["sql"].upper()]
    assert any("LIMIT 10001" in q for q in counts if "TASKS_TASK" in q)
    # the last page, straight from the first by the "last" link: the final 50 rows
    from_the_end = http.get(url(world["agency"], "task_list") + first.context["page"].last_url)
    assert listed(from_the_end) == [f"T{i:03d}" for i in range(80, 130)]
    assert from_the_end.context["page"].next_url is None
    assert from_the_end.context["page"].previous_url is not None


def test_a_deep_page_costs_the_queries_of_the_first(world, signed_in, count_queries):
    add_tasks(world, 200, status="queued")
    http = signed_in(world["owner"].user)
    pages_url = url(world["agency"], "task_list")
    first = count_queries(lambda: http.get(pages_url))
    response = http.get(pages_url)
    for _ in range(3):
        response = http.get(pages_url + response.context["page"].next_url)
    deep_link = pages_url + response.context["page"].previous_url
    assert count_queries(lambda: http.get(deep_link)) == first


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


TAMPERED = [
    "zzz",
    "%%%",
    "a" * 5000,
    _b64(b"not json"),
    _b64(b"[1,2,3]"),
    _b64(json.dumps({"d": "x", "v": [1]}).encode()),
    _b64(json.dumps({"d": FORWARD, "v": None}).encode()),
    _b64(json.dumps({"d": FORWARD, "v": "2026"}).encode()),
    _b64(json.dumps({"d": FORWARD, "v": [1, 2]}).encode()),  # another list's shape
    _b64(json.dumps({"d": FORWARD, "v": ["soon", 1, 1]}).encode()),
    _b64(json.dumps({"d": FORWARD, "v": ["2026-03-04T12:00:00", 1, 1]}).encode()),  # no zone
    _b64(json.dumps({"d": FORWARD, "v": ["2026-03-04T12:00:00+00:00", 1, 10**30]}).encode()),
    _b64(json.dumps({"d": FORWARD, "v": ["2026-03-04T12:00:00+00:00", "x\x00", 1]}).encode()),
    _b64(json.dumps({"d": BACKWARD, "v": [{"a": 1}, [], None]}).encode()),
    _b64(b'{"d": "n", "v": [NaN, 1, 1]}'),
]


@pytest.mark.parametrize("cursor", TAMPERED)
def test_a_tampered_cursor_is_the_first_page_on_the_pages(world, signed_in, cursor):
    add_tasks(world, 60, status="queued")
    http = signed_in(world["owner"].user)
    response = http.get(url(world["agency"], "task_list"), {"cursor": cursor})
    assert response.status_code == 200
    assert listed(response)[:2] == ["T000", "T001"]
    person = signed_in(world["acme_person"].user)
    assert (
        person.get(url(world["agency"], "client_task_list"), {"cursor": cursor}).status_code == 200
    )


@pytest.mark.parametrize("cursor", TAMPERED)
def test_a_tampered_cursor_is_a_400_on_the_api(world, api, cursor):
    add_tasks(world, 3, status="queued")
    response = api(world["owner"].user).get(
        url(world["agency"], "api:task-list"), {"cursor": cursor}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "cursor_invalid"


def test_the_api_pages_by_cursor_with_its_filters_and_no_count(world, api):
    add_tasks(world, 120, due_at=NOW, status="queued")  # all tied on due time
    add_tasks(world, 5, client="Globex", start=500, status="queued")
    http = api(world["owner"].user)
    seen = []
    link = url(world["agency"], "api:task-list") + f"?client={world['acme'].pk}&page_size=50"
    while link:
        body = http.get(link).json()
        assert set(body) == {"next", "previous", "results"}
        seen += [row["title"] for row in body["results"]]
        link = body["next"]
        if link:
            assert f"client={world['acme'].pk}" in link and "page_size=50" in link
    assert seen == [f"T{i:03d}" for i in range(120)]
    newest = http.get(url(world["agency"], "api:task-list"), {"ordering": "-created_at"}).json()
    assert newest["results"][0]["title"] == "T504"


# -- bounded counts --------------------------------------------------------------------------


def test_a_count_stops_at_its_bound(world):
    add_tasks(world, 12, status="queued")
    with agency_scope(world["agency"]):
        tasks = Task.objects.filter(agency=world["agency"])
        assert str(bounded_count(tasks, limit=10)) == "10+"
        assert str(bounded_count(tasks, limit=12)) == "12"
        assert bounded_count(tasks, limit=100).value == 12


def test_the_keyset_paginator_refuses_strictly_when_asked(world):
    from core.pagination import InvalidCursor

    with agency_scope(world["agency"]):
        paginator = KeysetPaginator(Task.objects.filter(agency=world["agency"]), ordering=["pk"])
        with pytest.raises(InvalidCursor):
            paginator.page("zzz", strict=True)
        assert paginator.page(encode_cursor(BACKWARD, None)).object_list == []


def test_the_client_list_counts_only_what_asks_for_them(world, signed_in):
    add_tasks(world, 3, status="queued")
    add_tasks(world, 2, start=10, status="completed", completed_at=NOW)
    add_tasks(world, 4, start=20, status="completed", completed_at=NOW, approved_at=NOW)
    response = signed_in(world["acme_person"].user).get(url(world["agency"], "client_task_list"))
    tabs = {key: count for key, _, count in response.context["tabs"]}
    assert {key: str(count) for key, count in tabs.items() if count is not None} == {
        "open": "3",
        "waiting": "0",
        "approval": "2",
    }
    assert tabs["all"] is None and tabs["done"] is None


def test_the_client_list_pages_newest_first_and_keeps_its_tab(world, signed_in):
    add_tasks(world, 70, status="queued")
    with scopes_disabled():
        for task in Task.objects.all():  # created together: the id orders them
            task.created_at = NOW
            task.save(update_fields=["created_at"])
    http = signed_in(world["acme_person"].user)
    first = http.get(url(world["agency"], "client_task_list"), {"show": "open"})
    link = first.context["page"].next_url
    assert "show=open" in link
    second = http.get(url(world["agency"], "client_task_list") + link)
    titles = [t.title for t in first.context["page"]] + [t.title for t in second.context["page"]]
    assert titles == [f"T{i:03d}" for i in reversed(range(70))]


# -- a fixed number of queries from 1 row to 200 --------------------------------------------


@pytest.mark.parametrize(
    "who, name, params",
    [
        ("owner", "task_list", {}),
        ("owner", "task_list", {"status": "all"}),
        ("owner", "task_at_risk", {}),
        ("acme_person", "client_task_list", {}),
        ("acme_person", "client_task_list", {"show": "approval"}),
        ("ann", "assistant_queue", {}),
    ],
)
def test_the_lists_cost_the_same_queries_for_1_and_200_rows(
    world, signed_in, count_queries, time_machine, who, name, params
):
    time_machine.move_to(NOW, tick=False)
    http = signed_in(world[who].user)
    target = url(world["agency"], name)

    def make(n, start):
        # the assigned work last: the newest rows (the client's first page) have assignees
        add_tasks(world, n, start=start + 1000, status="queued")
        add_tasks(world, n, start=start + 2000, status="completed", completed_at=NOW)
        add_tasks(
            world,
            n,
            start=start,
            status="assigned",
            assignee=world["ann"],
            due_at=NOW - dt.timedelta(minutes=5),
        )

    make(1, 0)
    http.get(target, params)
    few = count_queries(lambda: http.get(target, params))
    make(200, 10)
    many = count_queries(lambda: http.get(target, params))
    assert few == many


def test_the_api_list_costs_the_same_queries_for_1_and_200_rows(world, api, count_queries):
    http = api(world["owner"].user)
    target = url(world["agency"], "api:task-list") + "?page_size=200"
    add_tasks(world, 1, status="assigned", assignee=world["ann"])
    few = count_queries(lambda: http.get(target))
    add_tasks(world, 199, start=10, status="assigned", assignee=world["ann"])
    assert len(http.get(target).json()["results"]) == 200
    assert count_queries(lambda: http.get(target)) == few


@pytest.mark.parametrize("who", ["owner", "ann", "acme_person"])
def test_the_task_page_is_bounded_however_long_the_task_ran(world, signed_in, count_queries, who):
    (task,) = add_tasks(world, 1, status="in_progress", assignee=world["ann"])
    http = signed_in(world[who].user)
    page = url(world["agency"], "task_detail", pk=task.pk)
    agency = world["agency"]

    def grow(n, start):
        with agency_scope(agency):
            author = world["owner"].user
            Comment.objects.bulk_create(
                Comment(agency=agency, task=task, author=author, body=f"Note {i}")
                for i in range(start, start + n)
            )
            Attachment.objects.bulk_create(
                Attachment(
                    agency=agency,
                    task=task,
                    uploaded_by=author,
                    file=f"x/{i}",
                    name=f"file-{i}.pdf",
                    size=10,
                    content_type="application/pdf",
                )
                for i in range(n)
            )
            start = timezone.now() - dt.timedelta(days=30)
            TimeEntry.objects.bulk_create(
                TimeEntry(
                    agency=agency,
                    task=task,
                    assistant=world["ann"],
                    started_at=start + dt.timedelta(hours=i),
                    ended_at=start + dt.timedelta(hours=i, minutes=5),
                    minutes=5,
                )
                for i in range(n)
            )
            AuditEvent.objects.bulk_create(
                AuditEvent(
                    agency=agency,
                    actor=author,
                    action="task.commented",
                    target_type="tasks.task",
                    target_id=str(task.pk),
                )
                for i in range(n)
            )

    grow(1, 0)
    http.get(page)
    few = count_queries(lambda: http.get(page))
    grow(199, 1)
    response = http.get(page)
    many = count_queries(lambda: http.get(page))
    assert few == many
    html = response.content.decode()
    assert len(response.context["comments"]) == 50 and 'data-testid="all-comments"' in html
    assert len(response.context["attachments"]) == 50 and 'data-testid="all-files"' in html
    assert "Note 199" in html and "Note 149" not in html  # the latest ones
    if who != "acme_person":
        assert len(response.context["history"]) == 50 and 'data-testid="all-history"' in html
        assert 'data-testid="all-time"' in html
        assert html.count('data-testid="time-entry-') == 3 * 50  # 50 rows, each with its forms
    everything = http.get(page, {"all": "comments"})
    assert len(everything.context["comments"]) == 200


# -- the assign form --------------------------------------------------------------------------


def test_the_assign_form_counts_only_active_work_without_joining_all_tasks(world, signed_in):
    ann = world["ann"]
    add_tasks(world, 2, status="assigned", assignee=ann)
    add_tasks(world, 1, start=10, status="waiting_on_client", assignee=ann)
    add_tasks(world, 5, start=20, status="completed", assignee=ann, completed_at=NOW)
    add_tasks(world, 3, start=30, status="cancelled", assignee=ann)
    with agency_scope(world["agency"]), CaptureQueriesContext(connection) as captured:
        profiles = queries.assistants_for_assignment(agency=world["agency"], now=NOW)
    assert [p.load for p in profiles if p.membership_id == ann.pk] == [3]
    for query in captured:
        sql = query["sql"]
        # finished work is never read: the count asks for active statuses only, on the
        # task table alone (the partial index task_active_by_assignee answers it)
        if "tasks_task" in sql:
            assert "JOIN" not in sql.upper()
            assert re.search(r'"tasks_task"\."status" IN', sql)
            assert "'completed'" not in sql and "'cancelled'" not in sql


def test_the_assign_form_on_the_task_page_shows_that_load(world, signed_in):
    (task,) = add_tasks(world, 1, status="queued")
    add_tasks(world, 2, start=10, status="assigned", assignee=world["ann"])
    add_tasks(world, 4, start=20, status="completed", assignee=world["ann"], completed_at=NOW)
    with scopes_disabled():
        user = world["ann"].user
        user.full_name = "Ann Able"
        user.save()
    html = signed_in(world["owner"].user).get(url(world["agency"], "task_detail", pk=task.pk))
    assert "Ann Able · 2/300 active" in html.content.decode()


# -- the queue's links and the session ----------------------------------------------------------


def test_the_queue_reverses_no_url_per_row_and_links_where_reverse_does(
    world, signed_in, time_machine
):
    time_machine.move_to(NOW, tick=False)
    http = signed_in(world["ann"].user)
    target = url(world["agency"], "assistant_queue")
    add_tasks(world, 1, status="assigned", assignee=world["ann"])
    add_tasks(world, 1, start=100, status="queued")

    def reverses():
        with mock.patch.object(django_urls, "reverse", wraps=django_urls.reverse) as spy:
            response = http.get(target)
        return spy.call_count, response.content.decode()

    few, html = reverses()
    agency = world["agency"]
    mine, pooled = _two(agency)
    for expected in (
        url(agency, "task_detail", pk=mine.pk),
        url(agency, "task_timer_start", pk=mine.pk),
        url(agency, "task_detail", pk=pooled.pk),
        url(agency, "task_take", pk=pooled.pk),
    ):
        assert f'"{expected}"' in html
    add_tasks(world, 40, start=1, status="assigned", assignee=world["ann"])
    add_tasks(world, 40, start=200, status="queued")
    many, html = reverses()
    assert html.count('data-testid="queue-row"') == 41 + 41
    assert many == few


def _two(agency):
    with agency_scope(agency):
        return (
            Task.objects.get(agency=agency, title="T000"),
            Task.objects.get(agency=agency, title="T100"),
        )


@pytest.mark.parametrize(
    "who, name",
    [("owner", "task_list"), ("acme_person", "client_task_list"), ("ann", "assistant_queue")],
)
def test_reading_a_page_writes_nothing(world, signed_in, who, name):
    add_tasks(world, 3, status="assigned", assignee=world["ann"])
    http = signed_in(world[who].user)
    http.get(url(world["agency"], name))  # the first visit may note the agency
    with CaptureQueriesContext(connection) as captured:
        assert http.get(url(world["agency"], name)).status_code == 200
    writes = [
        q["sql"]
        for q in captured
        if q["sql"].lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE", "COMMIT"))
    ]
    assert writes == []
