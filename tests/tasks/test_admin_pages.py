"""The staff's task pages: the list with its filters, the at-risk view, assignment and
cancellation from the task page, and the dashboard's work card (tasks.views.work)."""

import datetime as dt

import pytest
from django.urls import reverse

from core.roles import Role
from core.tenancy import agency_scope, scopes_disabled
from tasks.models import Comment, Task, TimeEntry
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import CategoryFactory, ContractFactory, LineFactory, ServiceFactory
from tests.factories import ClientFactory, MembershipFactory
from tests.tasks.factories import TaskFactory

NOW = dt.datetime(2026, 3, 4, 12, tzinfo=dt.UTC)  # a Wednesday; noon in London too


@pytest.fixture
def world(agency, member):
    category = CategoryFactory(agency=agency)
    acme = ClientFactory(agency=agency, name="Acme")
    globex = ClientFactory(agency=agency, name="Globex")
    inbox = ServiceFactory(agency=agency, category=category, name="Inbox care")
    travel = ServiceFactory(agency=agency, category=category, name="Travel")
    lines = {}
    for client in (acme, globex):
        contract = ContractFactory(agency=agency, client=client, status="active")
        for service in (inbox, travel):
            lines[client.name, service.name] = LineFactory(
                agency=agency, contract=contract, service=service
            )
    ann = AssistantProfileFactory(agency=agency, skills=[category], capacity=4)
    bob = AssistantProfileFactory(agency=agency, skills=[category])
    with scopes_disabled():
        for profile, name in ((ann, "Ann Able"), (bob, "Bob Baker")):
            profile.membership.user.full_name = name
            profile.membership.user.save()
    return {
        "lines": lines,
        "acme": acme,
        "globex": globex,
        "ann": ann.membership,
        "bob": bob.membership,
        "owner": member(Role.OWNER),
    }


def make(world, client="Acme", service="Inbox care", **kwargs):
    line = world["lines"][client, service]
    return TaskFactory(agency=line.agency, contract_line=line, **kwargs)


def url(agency, name, **kwargs):
    return reverse(name, kwargs={"agency_slug": agency.slug, **kwargs})


def listed(response):
    return [row.task.title for row in response.context["rows"]]


# -- access --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["task_list", "task_at_risk"])
def test_only_staff_open_the_task_pages(agency, member, signed_in, name):
    for role in (Role.OWNER, Role.ADMIN):
        assert signed_in(member(role).user).get(url(agency, name)).status_code == 200
    for role in (Role.ASSISTANT, Role.CLIENT):
        assert signed_in(member(role).user).get(url(agency, name)).status_code == 403


# -- the list and its filters ----------------------------------------------------------------


@pytest.fixture
def spread(world, time_machine):
    """Tasks across clients, services, people, states and due times, seen at NOW."""
    time_machine.move_to(NOW, tick=False)
    ann, bob = world["ann"], world["bob"]
    h = dt.timedelta(hours=1)
    make(world, title="Late", status="assigned", assignee=ann, due_at=NOW - 2 * h)
    make(world, title="Tonight", client="Globex", due_at=NOW + 8 * h)
    make(
        world,
        title="Friday",
        service="Travel",
        status="in_progress",
        assignee=bob,
        due_at=NOW + 50 * h,
    )
    make(world, title="Next week", client="Globex", service="Travel", due_at=NOW + 150 * h)
    make(world, title="Done late", status="completed", assignee=ann, due_at=NOW - 30 * h)
    make(world, title="Dropped", status="cancelled", due_at=NOW + 3 * h)
    return world


@pytest.mark.parametrize(
    ("query", "titles"),
    [
        ({}, ["Late", "Tonight", "Friday", "Next week"]),  # open work by default
        ({"status": "all"}, ["Done late", "Late", "Dropped", "Tonight", "Friday", "Next week"]),
        ({"status": "completed"}, ["Done late"]),
        ({"status": "queued"}, ["Tonight", "Next week"]),
        ({"client": "globex"}, ["Tonight", "Next week"]),
        ({"service": "travel"}, ["Friday", "Next week"]),
        ({"assignee": "ann", "status": "all"}, ["Done late", "Late"]),
        ({"due": "overdue", "status": "all"}, ["Late"]),  # finished work is never overdue
        ({"due": "today"}, ["Late", "Tonight"]),
        ({"due": "week"}, ["Late", "Tonight", "Friday"]),  # Monday to Sunday
        ({"due": "week", "client": "acme", "status": "in_progress"}, ["Friday"]),
        (
            {"status": "nonsense", "due": "whenever", "client": "999"},
            ["Late", "Tonight", "Friday", "Next week"],
        ),
    ],
)
def test_the_filters(agency, signed_in, spread, query, titles):
    ids = {
        "globex": spread["globex"].pk,
        "acme": spread["acme"].pk,
        "ann": spread["ann"].pk,
        "travel": spread["lines"]["Acme", "Travel"].service_id,
    }
    query = {key: ids.get(value, value) for key, value in query.items()}
    response = signed_in(spread["owner"].user).get(url(agency, "task_list"), query)
    assert response.status_code == 200
    assert listed(response) == titles


def test_due_today_follows_the_agencys_zone(agency, signed_in, world, time_machine):
    time_machine.move_to("2026-03-04 23:30Z", tick=False)
    with scopes_disabled():
        agency.time_zone = "Asia/Tokyo"  # already Thursday 08:30 there
        agency.save()
    make(world, title="Thursday morning Tokyo", due_at=dt.datetime(2026, 3, 5, 1, tzinfo=dt.UTC))
    make(world, title="Wednesday Tokyo", due_at=dt.datetime(2026, 3, 4, 14, 30, tzinfo=dt.UTC))
    response = signed_in(world["owner"].user).get(url(agency, "task_list"), {"due": "today"})
    assert listed(response) == ["Thursday morning Tokyo"]
    assert "Thu 5 Mar, 10:00" in response.content.decode()


def test_rows_show_the_marks_people_and_time(agency, signed_in, spread):
    with scopes_disabled():
        Task.objects.filter(title="Friday").update(minutes_logged=90)
    make(spread, title="Soon", due_at=NOW + dt.timedelta(hours=3))
    response = signed_in(spread["owner"].user).get(url(agency, "task_list"))
    rows = {row.task.title: row for row in response.context["rows"]}
    assert rows["Late"].overdue and rows["Soon"].at_risk and not rows["Tonight"].at_risk
    html = response.content.decode()
    assert "Ann Able" in html and "Bob Baker" in html and "1 h 30 min" in html
    assert html.count('data-testid="overdue"') == 1 and html.count('data-testid="at-risk"') == 1
    assert "Wed 4 Mar, 10:00" in html  # Late, in the agency's zone (London, GMT in March)


def test_fifty_a_page(agency, signed_in, world):
    for n in range(51):
        make(world, title=f"T{n:02d}", due_at=NOW + dt.timedelta(days=1, minutes=n))
    http = signed_in(world["owner"].user)
    first = http.get(url(agency, "task_list"))
    assert len(first.context["rows"]) == 50 and 'rel="next"' in first.content.decode()
    filtered = http.get(url(agency, "task_list"), {"client": world["acme"].pk})
    second = http.get(url(agency, "task_list") + filtered.context["page"].next_url)
    assert listed(second) == ["T50"]
    assert f"client={world['acme'].pk}" in second.content.decode()  # the filters stay on


# -- at risk -------------------------------------------------------------------------------


def test_the_at_risk_view(agency, signed_in, world, time_machine):
    h = dt.timedelta(hours=1)
    time_machine.move_to(NOW - 3 * h, tick=False)
    make(world, title="Waiting long", due_at=NOW + 48 * h)
    time_machine.move_to(NOW - h, tick=False)
    make(world, title="Waiting briefly", due_at=NOW + 48 * h)
    make(
        world, title="Taken long ago", status="assigned", assignee=world["ann"], due_at=NOW + 48 * h
    )
    time_machine.move_to(NOW, tick=False)
    make(
        world,
        title="Overdue, in progress",
        status="in_progress",
        assignee=world["bob"],
        due_at=NOW - h,
    )
    make(
        world,
        title="Due soon, assigned",
        status="assigned",
        assignee=world["ann"],
        due_at=NOW + 3 * h,
    )
    make(
        world,
        title="Due soon, in progress",
        status="in_progress",
        assignee=world["bob"],
        due_at=NOW + 3 * h,
    )
    make(world, title="Due later", due_at=NOW + 5 * h)
    make(world, title="Finished late", status="completed", assignee=world["ann"], due_at=NOW - h)
    make(world, title="Cancelled late", status="cancelled", due_at=NOW - h)

    response = signed_in(world["owner"].user).get(url(agency, "task_at_risk"))

    assert listed(response) == ["Overdue, in progress", "Due soon, assigned", "Waiting long"]
    html = response.content.decode()
    assert 'data-testid="waiting"' in html and 'data-testid="task-filters"' not in html


def test_the_staff_dashboard_counts_open_and_at_risk_work(agency, signed_in, world, time_machine):
    time_machine.move_to(NOW, tick=False)
    make(world, due_at=NOW - dt.timedelta(hours=1))
    make(world, due_at=NOW + dt.timedelta(days=3))
    make(world, status="completed", assignee=world["ann"])
    html = signed_in(world["owner"].user).get(url(agency, "dashboard")).content.decode()
    card = html.split('data-testid="work-card"')[1].split("</section>")[0]
    assert "<strong>2</strong> open tasks" in card and ">1</strong> at risk" in card
    assert url(agency, "task_list") in card and url(agency, "task_at_risk") in card
    nav = html.split('aria-label="Agency"')[1]
    assert nav.index("Dashboard") < nav.index(">Tasks<") < nav.index(">Clients<")


@pytest.mark.parametrize("name", ["task_list", "task_at_risk"])
def test_query_count_does_not_grow_with_tasks(
    agency, signed_in, world, count_queries, name, time_machine
):
    time_machine.move_to(NOW, tick=False)
    http = signed_in(world["owner"].user)
    make(world, due_at=NOW - dt.timedelta(hours=1), status="assigned", assignee=world["ann"])
    http.get(url(agency, name))
    few = count_queries(lambda: http.get(url(agency, name)))
    combos = list(world["lines"])
    for n in range(199):
        client, service = combos[n % len(combos)]
        person = (world["ann"], world["bob"], None)[n % 3]
        make(
            world,
            client=client,
            service=service,
            status="in_progress" if person else "queued",
            assignee=person,
            due_at=NOW + dt.timedelta(minutes=n - 100),
        )
    response = http.get(url(agency, name))
    assert len(response.context["rows"]) == 50
    many = count_queries(lambda: http.get(url(agency, name)))
    assert few == many
    filtered = {"client": world["acme"].pk, "assignee": world["ann"].pk, "due": "week"}
    assert count_queries(lambda: http.get(url(agency, name), filtered)) == few + (
        2 if name == "task_list" else 0  # the chosen client and assistant are looked up
    )


# -- assignment and cancellation on the task page ----------------------------------------------


def test_staff_assign_with_a_handover_note_the_client_never_sees(
    agency, signed_in, world, time_machine
):
    time_machine.move_to(NOW, tick=False)  # Wednesday noon: Lisbon assistants on shift
    task = make(world, status="in_progress", assignee=world["ann"])
    with scopes_disabled():
        TimeEntry.objects.create(
            agency=agency,
            task=task,
            assistant=world["ann"],
            started_at=NOW - dt.timedelta(minutes=20),
        )
    http = signed_in(world["owner"].user)
    page = url(agency, "task_detail", pk=task.pk)

    form = http.get(page).content.decode()
    assert "Ann Able · 1/4 active · on shift" in form and "Bob Baker · 0/5 active" in form

    response = http.post(
        url(agency, "task_assign", pk=task.pk),
        {"assignee": world["bob"].pk, "note": "Ann drafted replies; send them after 3pm."},
    )
    assert response["Location"] == page
    with agency_scope(agency):
        task.refresh_from_db()
        note = task.comments.get()
        assert not TimeEntry.objects.filter(ended_at=None).exists()  # Ann's clock stopped
    assert task.assignee == world["bob"] and task.status == "assigned"
    assert task.minutes_logged == 20
    assert note.kind == Comment.Kind.HANDOVER and note.internal

    assert "send them after 3pm" in http.get(page).content.decode()
    person = MembershipFactory(agency=agency, role=Role.CLIENT, client=world["acme"])
    client_view = signed_in(person.user).get(page)
    assert client_view.status_code == 200
    assert "send them after 3pm" not in client_view.content.decode()


@pytest.mark.parametrize("assignee", ["", "abc", "999999", "client", "owner"])
def test_assigning_to_someone_who_is_not_an_assistant_is_refused(
    agency, signed_in, world, assignee
):
    task = make(world)
    others = {
        "client": MembershipFactory(agency=agency, role=Role.CLIENT, client=world["acme"]).pk,
        "owner": world["owner"].pk,
    }
    response = signed_in(world["owner"].user).post(
        url(agency, "task_assign", pk=task.pk),
        {"assignee": others.get(assignee, assignee)},
        follow=True,
    )
    assert response.status_code == 200
    assert "Choose an assistant of the agency." in response.content.decode()
    with agency_scope(agency):
        assert Task.objects.get(pk=task.pk).status == "queued"


def test_assistants_cannot_assign_or_cancel(agency, signed_in, world):
    task = make(world, status="assigned", assignee=world["ann"])
    http = signed_in(world["ann"].user)
    assert (
        http.post(url(agency, "task_assign", pk=task.pk), {"assignee": world["ann"].pk}).status_code
        == 403
    )
    assert http.post(url(agency, "task_cancel", pk=task.pk)).status_code == 403


def test_staff_cancel_with_a_reason_and_not_twice(agency, signed_in, world):
    task = make(world, status="in_progress", assignee=world["ann"])
    http = signed_in(world["owner"].user)
    response = http.post(url(agency, "task_cancel", pk=task.pk), {"reason": "Client withdrew."})
    assert response["Location"] == url(agency, "task_detail", pk=task.pk)
    with agency_scope(agency):
        task.refresh_from_db()
    assert task.status == "cancelled" and task.cancel_reason == "Client withdrew."
    again = http.post(url(agency, "task_cancel", pk=task.pk), {"reason": "Again"}, follow=True)
    assert again.status_code == 200 and "cannot become cancelled" in again.content.decode()
    # a closed task offers no assignment
    assert 'data-testid="staff-panel"' not in again.content.decode()
