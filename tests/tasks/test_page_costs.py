"""What the staff task page, the assistant's queue and the task API cost at agency size,
and that making them cheap changed nothing a person or a program reads: the assign form
offers those who may do the task and reaches anyone else by search, the queue's forms share
one CSRF token, and the API writes the same rows without DRF's per-cell machinery."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.template.base import Variable
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers

from contracts.models import ContractAssistant
from core.tenancy import agency_scope, scopes_disabled
from tasks import queries
from tasks.api.serializers import TaskSerializer
from tasks.models import Task
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import CategoryFactory
from tests.tasks.test_list_speed import NOW, add_tasks, url
from tests.tasks.test_list_speed import world as world  # a fixture


def named(membership, name):
    with scopes_disabled():
        membership.user.full_name = name
        membership.user.save()
    return membership


@pytest.fixture
def crew(world):
    """Beside Ann (skilled, room for 300): Bea, skilled with room for one task and holding
    it; Cy, skilled in another category only; Dee, skilled but inactive."""
    agency = world["agency"]
    other = CategoryFactory(agency=agency)
    category = world["lines"]["Acme"].service.category
    named(world["ann"], "Ann Able")
    bea = AssistantProfileFactory(agency=agency, skills=[category], capacity=1).membership
    cy = AssistantProfileFactory(agency=agency, skills=[other], capacity=9).membership
    dee = AssistantProfileFactory(
        agency=agency, skills=[category], capacity=9, is_active=False
    ).membership
    add_tasks(world, 1, start=500, status="assigned", assignee=bea)
    return {
        "bea": named(bea, "Bea Busy"),
        "cy": named(cy, "Cy Other"),
        "dee": named(dee, "Dee Away"),
    }


def assign_options(html: str) -> list[str]:
    select = re.search(r'<select id="assign-to".*?</select>', html, re.S).group(0)
    return re.findall(r'<option value="\d+"[^>]*>([^<·]+?) ·', select)


def test_the_assign_form_offers_only_who_may_do_the_task_and_has_room(world, crew, signed_in):
    (task,) = add_tasks(world, 1, status="queued")
    html = signed_in(world["owner"].user).get(url(world["agency"], "task_detail", pk=task.pk))
    html = html.content.decode()
    # Bea is full, Cy lacks the skill, Dee is not working: none of them is offered.
    assert assign_options(html) == ["Ann Able"]
    # ... but anyone is one search away.
    search = url(world["agency"], "assistant_search")
    assert 'data-testid="assign-other"' in html and f'hx-get="{search}?list=' in html


def test_a_contract_that_dedicates_assistants_offers_those_alone(world, crew, signed_in):
    (task,) = add_tasks(world, 1, status="queued")
    with agency_scope(world["agency"]):
        ContractAssistant.objects.create(
            agency=world["agency"], contract=task.contract, membership=crew["cy"]
        )
    html = signed_in(world["owner"].user).get(url(world["agency"], "task_detail", pk=task.pk))
    assert assign_options(html.content.decode()) == ["Cy Other"]


def test_least_loaded_come_first_and_the_assignee_stays_offered(world, crew, signed_in):
    agency = world["agency"]
    category = world["lines"]["Acme"].service.category
    eve = AssistantProfileFactory(agency=agency, skills=[category], capacity=9).membership
    named(eve, "Eve Early")
    add_tasks(world, 2, start=600, status="assigned", assignee=world["ann"])
    # Bea holds it and is full (this task and the other): still listed, and chosen.
    (task,) = add_tasks(world, 1, status="assigned", assignee=crew["bea"], start=700)
    with agency_scope(agency):
        offered = queries.assistants_for_task(agency=agency, task=task, now=NOW)
    assert [(p.membership_id, p.load) for p in offered] == [
        (eve.pk, 0),
        (world["ann"].pk, 2),
        (crew["bea"].pk, 2),
    ]
    html = signed_in(world["owner"].user).get(url(agency, "task_detail", pk=task.pk))
    assert f'<option value="{crew["bea"].pk}" selected>Bea Busy' in html.content.decode()


def test_the_assign_form_costs_one_query_however_many_assistants(world, crew):
    agency = world["agency"]
    category = world["lines"]["Acme"].service.category
    (task,) = add_tasks(world, 1, status="queued")

    def offered_with_queries():
        with agency_scope(agency), CaptureQueriesContext(connection) as captured:
            offered = queries.assistants_for_task(agency=agency, task=task, now=NOW)
        return offered, len(captured)

    few, few_queries = offered_with_queries()
    for _ in range(30):
        AssistantProfileFactory(agency=agency, skills=[category], capacity=3)
    many, many_queries = offered_with_queries()
    assert len(many) == queries.ASSIGN_SHOWN > len(few)
    assert few_queries == many_queries == 1


@pytest.mark.parametrize("how", ["picked", "typed"])
def test_staff_assign_anyone_through_the_search_field(world, crew, signed_in, how):
    """Cy may not take this work from the pool, but staff may still give it to him: picked
    from the search's list (its id), or typed with no script to pick it (the name)."""
    (task,) = add_tasks(world, 1, status="queued")
    http = signed_in(world["owner"].user)
    data = {"assignee": "", "note": "Cover for Ann"}
    if how == "picked":
        data |= {"other_assignee": crew["cy"].pk, "other_assignee_search": "Cy Other"}
    else:
        data |= {"other_assignee_search": "cy oth"}
    response = http.post(url(world["agency"], "task_assign", pk=task.pk), data)
    assert response.status_code == 302
    with agency_scope(world["agency"]):
        task.refresh_from_db()
    assert task.assignee_id == crew["cy"].pk and task.status == "assigned"


def test_a_search_that_finds_nobody_is_a_message_not_an_assignment(world, crew, signed_in):
    (task,) = add_tasks(world, 1, status="queued")
    http = signed_in(world["owner"].user)
    response = http.post(
        url(world["agency"], "task_assign", pk=task.pk),
        {"assignee": world["ann"].pk, "other_assignee_search": "nobody by this name"},
        follow=True,
    )
    assert response.status_code == 200
    assert "Nothing matches" in response.content.decode()
    with agency_scope(world["agency"]):
        task.refresh_from_db()
    assert task.assignee_id is None


def test_a_client_never_sees_the_assign_form(world, crew, signed_in):
    (task,) = add_tasks(world, 1, status="queued")
    html = signed_in(world["acme_person"].user).get(url(world["agency"], "task_detail", pk=task.pk))
    html = html.content.decode()
    assert 'data-testid="staff-panel"' not in html and "assign-other" not in html
    assert "Ann Able" not in html


# -- the queue -------------------------------------------------------------------------------


def test_the_queue_renders_its_rows_without_template_lookups_per_row(
    world, signed_in, time_machine, monkeypatch
):
    """Like its queries, the template work a queue costs stays flat however many rows it
    shows: the rows are written in one pass, not a dozen variable lookups per cell."""
    time_machine.move_to(NOW, tick=False)
    lookups = []
    original = Variable._resolve_lookup

    def counted(variable, context):
        lookups.append(variable.var)
        return original(variable, context)

    monkeypatch.setattr(Variable, "_resolve_lookup", counted)
    http = signed_in(world["ann"].user)
    page = url(world["agency"], "assistant_queue")

    def lookups_for_page():
        lookups.clear()
        assert http.get(page).status_code == 200
        return len(lookups)

    add_tasks(world, 1, status="assigned", assignee=world["ann"])
    add_tasks(world, 1, start=100, status="queued")
    few = lookups_for_page()
    add_tasks(world, 30, start=200, status="assigned", assignee=world["ann"])
    add_tasks(world, 30, start=300, status="queued")
    assert lookups_for_page() == few


def test_the_queue_forms_share_one_csrf_token_and_each_has_its_own_key(
    world, signed_in, time_machine
):
    time_machine.move_to(NOW, tick=False)
    add_tasks(world, 3, status="assigned", assignee=world["ann"])
    add_tasks(world, 4, start=100, status="queued")
    response = signed_in(world["ann"].user).get(url(world["agency"], "assistant_queue"))
    html = response.content.decode()
    rows = "".join(re.findall(r'<tr class="queue-row.*?</tr>', html, re.S))
    tokens = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', rows)
    keys = re.findall(r'name="idempotency_key" value="([^"]+)"', rows)
    assert len(tokens) == 7  # three "Start timer", four "Take"
    assert len(set(tokens)) == 1
    assert len(set(keys)) == len(keys) == 7


def test_a_queue_row_reads_as_before(world, signed_in, time_machine):
    time_machine.move_to(NOW, tick=False)
    (mine,) = add_tasks(
        world, 1, status="assigned", assignee=world["ann"], priority=2, minutes_logged=95
    )
    (pooled,) = add_tasks(world, 1, start=100, status="queued")
    with agency_scope(world["agency"]):
        Task.objects.filter(pk=pooled.pk).update(title="Fix <this> & that")
    html = signed_in(world["ann"].user).get(url(world["agency"], "assistant_queue"))
    html = html.content.decode()
    prefix = url(world["agency"], "task_detail", pk=mine.pk).removesuffix(f"{mine.pk}/")
    assert f'<a href="{prefix}{mine.pk}/">T000</a>' in html
    assert '<span class="badge assigned">Assigned</span>' in html
    assert '<span class="priority p2">High</span>' in html
    assert "Wed 4 Mar, 12:00" in html  # due, in Ann's zone (Lisbon: UTC in March)
    assert "<td>1 h 35 min</td>" in html
    assert f'action="{prefix}{mine.pk}/timer/start/"' in html
    assert f'hx-post="{prefix}{pooled.pk}/take/"' in html
    assert "Fix &lt;this&gt; &amp; that" in html


# -- the API list --------------------------------------------------------------------------------


def test_the_api_rows_are_what_drf_fields_would_write(world, api):
    add_tasks(world, 2, status="queued", template_data={"room": "12"})
    add_tasks(
        world,
        2,
        start=10,
        status="completed",
        assignee=world["ann"],
        started_at=NOW,
        completed_at=NOW + dt.timedelta(hours=1),
        approved_at=NOW + dt.timedelta(hours=2),
        max_budget=5000,
    )
    rows = api(world["owner"].user).get(url(world["agency"], "api:task-list")).json()["results"]
    with agency_scope(world["agency"]):
        tasks = {task.pk: task for task in Task.objects.filter(agency=world["agency"])}
        serializer = TaskSerializer(context={"hide_prices": False})
        for row in rows:
            task = tasks[row["id"]]
            generic = serializers.ModelSerializer.to_representation(serializer, task)
            assert list(row) == list(generic) and row == generic


def test_the_api_list_writes_its_times_without_a_field_per_cell(world, api, monkeypatch):
    add_tasks(world, 20, status="queued")
    calls = []
    original = serializers.DateTimeField.to_representation

    def counted(field, value):
        calls.append(field.field_name)
        return original(field, value)

    monkeypatch.setattr(serializers.DateTimeField, "to_representation", counted)
    body = api(world["owner"].user).get(url(world["agency"], "api:task-list")).json()
    assert len(body["results"]) == 20 and body["results"][0]["due_at"].endswith("Z")
    assert calls == []


def test_assistants_get_no_estimate_in_the_rows(world, api):
    add_tasks(world, 1, status="assigned", assignee=world["ann"])
    (row,) = api(world["ann"].user).get(url(world["agency"], "api:task-list")).json()["results"]
    assert "estimate" not in row and row["assignee"] == world["ann"].pk


def test_the_api_page_reads_its_rows_terms_and_forms_by_id(world, api):
    """A page's shared reads go straight to the terms and the services by the rows' ids:
    no contract line is read, and no query joins the task table."""
    add_tasks(world, 30, status="assigned", assignee=world["ann"], minutes_logged=30)
    http = api(world["owner"].user)
    target = url(world["agency"], "api:task-list")
    with CaptureQueriesContext(connection) as captured:
        rows = http.get(target).json()["results"]
    assert len(rows) == 30 and all(row["estimate"] is not None for row in rows)
    tables = " ".join(query["sql"] for query in captured)
    assert '"billing_contractline"' not in tables
    assert sum('FROM "billing_contractterms"' in query["sql"] for query in captured) == 1
