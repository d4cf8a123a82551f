"""The assistant's queue page and the work actions on the task page (tasks.views.work)."""

import datetime as dt

import pytest
from django.urls import reverse

from contracts.models import ContractAssistant
from core.roles import Role
from core.tenancy import agency_scope, scopes_disabled
from tasks.models import Comment, Task, TimeEntry
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import CategoryFactory, ContractFactory, LineFactory, ServiceFactory
from tests.factories import ClientFactory
from tests.tasks.factories import TaskFactory

MONDAY_NOON_NEW_YORK = "2026-03-02 17:00Z"  # 12:00 EST; 02:00 on Tuesday in Tokyo


@pytest.fixture
def world(agency):
    """A client in New York with a contract for one service; an assistant in Tokyo skilled
    in that service's category; a second assistant; a service of another category."""
    category = CategoryFactory(agency=agency)
    service = ServiceFactory(agency=agency, category=category, name="Inbox care")
    client = ClientFactory(agency=agency, name="Acme", time_zone="America/New_York")
    contract = ContractFactory(agency=agency, client=client, status="active")
    line = LineFactory(agency=agency, contract=contract, service=service)
    me = AssistantProfileFactory(
        agency=agency, skills=[category], time_zone="Asia/Tokyo", capacity=3
    ).membership
    colleague = AssistantProfileFactory(agency=agency, skills=[category]).membership
    other_line = LineFactory(
        agency=agency,
        contract=contract,
        service=ServiceFactory(agency=agency, category=CategoryFactory(agency=agency)),
    )
    return {"line": line, "other_line": other_line, "me": me, "colleague": colleague}


def make(world, key="line", **kwargs):
    return TaskFactory(agency=world["line"].agency, contract_line=world[key], **kwargs)


def url(agency, name, **kwargs):
    return reverse(name, kwargs={"agency_slug": agency.slug, **kwargs})


def messages_of(response):
    return [str(m) for m in response.wsgi_request._messages]


# -- access --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["assistant_queue", "assistant_pool_partial"])
def test_only_assistants_open_the_queue(agency, member, signed_in, world, name):
    assert signed_in(world["me"].user).get(url(agency, name)).status_code == 200
    for role in (Role.OWNER, Role.ADMIN, Role.CLIENT):
        assert signed_in(member(role).user).get(url(agency, name)).status_code == 403


def test_an_assistant_without_a_profile_gets_an_empty_queue(agency, member, signed_in, world):
    make(world)
    response = signed_in(member(Role.ASSISTANT).user).get(url(agency, "assistant_queue"))
    assert response.status_code == 200
    assert response.context["mine"] == [] and response.context["pool"] == []


# -- what the queue shows ------------------------------------------------------------------


def test_own_tasks_first_then_only_the_eligible_pool(agency, signed_in, world):
    me, colleague = world["me"], world["colleague"]
    mine = make(world, title="Mine", status="assigned", assignee=me)
    make(world, title="Colleague's", status="assigned", assignee=colleague)
    later = make(world, title="Pool later", due_at=mine.due_at + dt.timedelta(hours=5))
    sooner = make(world, title="Pool sooner", due_at=mine.due_at + dt.timedelta(hours=1))
    make(world, key="other_line", title="Other category")
    # A contract dedicated to the colleague: its work is theirs alone.
    theirs = LineFactory(agency=agency, service=world["line"].service)
    with scopes_disabled():
        ContractAssistant.objects.create(
            agency=agency, contract=theirs.contract, membership=colleague
        )
    make(world | {"theirs": theirs}, key="theirs", title="Dedicated to the colleague")
    # A contract dedicated to me brings any category.
    ours = LineFactory(agency=agency, service=world["other_line"].service)
    with scopes_disabled():
        ContractAssistant.objects.create(agency=agency, contract=ours.contract, membership=me)
    dedicated = make(
        world | {"ours": ours},
        key="ours",
        title="Dedicated to me",
        due_at=mine.due_at + dt.timedelta(hours=10),
    )

    response = signed_in(me.user).get(url(agency, "assistant_queue"))

    assert [row.task.pk for row in response.context["mine"]] == [mine.pk]
    pool = [row.task.pk for row in response.context["pool"]]
    assert pool == [sooner.pk, later.pk, dedicated.pk]  # by due time
    html = response.content.decode()
    assert html.index("Mine") < html.index('id="queue-pool"') < html.index("Pool sooner")
    for hidden in ("Colleague&#x27;s", "Other category", "Dedicated to the colleague"):
        assert hidden not in html


def test_pool_ties_on_due_time_go_to_the_higher_priority(agency, signed_in, world):
    due = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)
    normal = make(world, due_at=due, priority=1)
    urgent = make(world, due_at=due, priority=3)
    response = signed_in(world["me"].user).get(url(agency, "assistant_queue"))
    assert [row.task.pk for row in response.context["pool"]] == [urgent.pk, normal.pk]


def test_overdue_at_risk_and_due_time_in_the_assistants_zone(
    agency, signed_in, world, time_machine
):
    time_machine.move_to(MONDAY_NOON_NEW_YORK, tick=False)
    now = dt.datetime(2026, 3, 2, 17, tzinfo=dt.UTC)
    me = world["me"]
    overdue = make(
        world, title="Late", status="assigned", assignee=me, due_at=now - dt.timedelta(hours=1)
    )
    started = make(
        world, title="Going", status="in_progress", assignee=me, due_at=now + dt.timedelta(hours=1)
    )
    risky = make(world, title="Risky", due_at=now + dt.timedelta(hours=3))
    calm = make(world, title="Calm", due_at=now + dt.timedelta(hours=5))

    response = signed_in(me.user).get(url(agency, "assistant_queue"))

    rows = {row.task.pk: row for row in response.context["mine"] + response.context["pool"]}
    assert rows[overdue.pk].overdue and not rows[overdue.pk].at_risk
    assert not rows[started.pk].overdue and not rows[started.pk].at_risk  # someone is on it
    assert rows[risky.pk].at_risk and not rows[risky.pk].overdue
    assert not rows[calm.pk].at_risk and not rows[calm.pk].overdue
    html = response.content.decode()
    assert html.count('data-testid="overdue"') == 1 and html.count('data-testid="at-risk"') == 1
    # 20:00 UTC is 05:00 on Tuesday in Tokyo, where the assistant is.
    assert "Tue 3 Mar, 05:00" in html  # Risky
    assert "Asia/Tokyo" in html


@pytest.mark.parametrize(
    ("at", "working"),
    [
        ("2026-03-02 14:00Z", True),  # Monday 09:00 in New York
        ("2026-03-02 13:59Z", False),  # 08:59
        ("2026-03-02 21:59Z", True),  # 16:59
        ("2026-03-02 22:00Z", False),  # 17:00: the day is over
        ("2026-03-07 17:00Z", False),  # Saturday noon
    ],
)
def test_the_clients_working_day_is_marked(agency, signed_in, world, time_machine, at, working):
    time_machine.move_to(at, tick=False)
    make(world, due_at=dt.datetime(2026, 4, 1, tzinfo=dt.UTC))
    response = signed_in(world["me"].user).get(url(agency, "assistant_queue"))
    assert response.context["pool"][0].client_working is working
    assert ('data-testid="client-working"' in response.content.decode()) is working


def test_the_pool_partial_refreshes_itself(agency, signed_in, world):
    make(world, title="Fresh")
    response = signed_in(world["me"].user).get(url(agency, "assistant_pool_partial"))
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="queue-pool"')
    assert 'hx-trigger="every 60s"' in html and "Fresh" in html
    assert "<html" not in html and "hx-swap-oob" not in html


# -- take next -----------------------------------------------------------------------------


def test_take_next_claims_the_most_urgent_and_opens_it(agency, signed_in, world):
    soon = make(world, due_at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC))
    make(world, due_at=dt.datetime(2026, 5, 2, tzinfo=dt.UTC))
    response = signed_in(world["me"].user).post(url(agency, "assistant_take_next"))
    assert response.status_code == 302
    assert response["Location"] == url(agency, "task_detail", pk=soon.pk)
    with agency_scope(agency):
        soon.refresh_from_db()
    assert soon.status == "assigned" and soon.assignee == world["me"]
    assert any("is yours now" in m for m in messages_of(response))


def test_take_next_on_an_empty_pool(agency, signed_in, world):
    response = signed_in(world["me"].user).post(url(agency, "assistant_take_next"))
    assert response["Location"] == url(agency, "assistant_queue")
    assert messages_of(response) == ["Nothing for you right now."]


def test_take_next_at_capacity_says_why(agency, signed_in, world):
    for _ in range(3):
        make(world, status="assigned", assignee=world["me"])
    waiting = make(world)
    response = signed_in(world["me"].user).post(url(agency, "assistant_take_next"), follow=True)
    assert response.status_code == 200
    assert "your capacity" in response.content.decode()
    with agency_scope(agency):
        assert Task.objects.get(pk=waiting.pk).status == "queued"


def test_take_next_under_htmx_swaps_both_blocks(agency, signed_in, world):
    task = make(world, title="Swap me")
    response = signed_in(world["me"].user).post(
        url(agency, "assistant_take_next"), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="queue-mine"')
    mine, pool = html.split('<section id="queue-pool"')
    assert "Swap me" in mine and "Swap me" not in pool.split('id="queue-messages"')[0]
    assert 'hx-swap-oob="true"' in pool  # the pool and the messages arrive out of band
    assert "is yours now" in html and "<html" not in html
    with agency_scope(agency):
        assert Task.objects.get(pk=task.pk).assignee == world["me"]


def test_take_next_under_htmx_with_nothing_to_take(agency, signed_in, world):
    response = signed_in(world["me"].user).post(
        url(agency, "assistant_take_next"), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert "Nothing for you right now." in response.content.decode()


# -- timers --------------------------------------------------------------------------------


def test_timers_from_the_queue_one_at_a_time(agency, signed_in, world, time_machine):
    time_machine.move_to("2026-03-02 09:00Z", tick=False)
    me = world["me"]
    first = make(world, status="assigned", assignee=me)
    second = make(world, status="assigned", assignee=me)
    http = signed_in(me.user)

    response = http.post(url(agency, "task_timer_start", pk=first.pk))
    assert response["Location"] == url(agency, "assistant_queue")
    time_machine.shift(dt.timedelta(minutes=10))
    http.post(url(agency, "task_timer_start", pk=second.pk))  # stops the first
    time_machine.shift(dt.timedelta(minutes=5, seconds=30))

    page = http.get(url(agency, "assistant_queue"))
    rows = {row.task.pk: row for row in page.context["mine"]}
    assert rows[second.pk].timer is not None and rows[first.pk].timer is None
    assert rows[second.pk].timer_seconds == 330
    assert "0:05:30" in page.content.decode() and "since 18:10" in page.content.decode()

    response = http.post(url(agency, "assistant_timer_stop"))
    assert response["Location"] == url(agency, "assistant_queue")
    with agency_scope(agency):
        assert not TimeEntry.objects.filter(assistant=me, ended_at=None).exists()
        assert Task.objects.get(pk=first.pk).minutes_logged == 10
        assert Task.objects.get(pk=second.pk).minutes_logged == 6  # a started minute counts
        assert Task.objects.get(pk=first.pk).status == "in_progress"
    assert any("6 min" in m for m in messages_of(response))


def test_timers_under_htmx_return_the_blocks(agency, signed_in, world, time_machine):
    time_machine.move_to("2026-03-02 09:00Z", tick=False)
    task = make(world, status="assigned", assignee=world["me"])
    http = signed_in(world["me"].user)
    response = http.post(
        url(agency, "task_timer_start", pk=task.pk), headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="queue-mine"')
    assert 'data-testid="timer-elapsed"' in html and 'data-testid="timer-stop"' in html
    response = http.post(url(agency, "assistant_timer_stop"), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert 'data-testid="timer-start"' in html and 'data-testid="timer-elapsed"' not in html


def test_timer_buttons_on_the_task_page_come_back_to_it(agency, signed_in, world):
    task = make(world, status="in_progress", assignee=world["me"])
    http = signed_in(world["me"].user)
    page = url(agency, "task_detail", pk=task.pk)
    assert (
        http.post(url(agency, "task_timer_start", pk=task.pk), {"next": page})["Location"] == page
    )
    assert 'data-testid="timer-elapsed"' in http.get(page).content.decode()
    assert http.post(url(agency, "assistant_timer_stop"), {"next": page})["Location"] == page
    # Never off the site.
    response = http.post(url(agency, "assistant_timer_stop"), {"next": "https://evil.test/"})
    assert response["Location"] == url(agency, "assistant_queue")
    assert messages_of(response)[-1] == "No timer was running."


def test_no_timer_on_a_task_waiting_for_the_client(agency, signed_in, world):
    task = make(world, status="waiting_on_client", assignee=world["me"])
    response = signed_in(world["me"].user).post(
        url(agency, "task_timer_start", pk=task.pk), follow=True
    )
    assert response.status_code == 200
    assert "cannot run on a task that is waiting on client" in response.content.decode()


def test_queue_query_count_does_not_grow_with_tasks(agency, signed_in, world, count_queries):
    me = world["me"]
    http = signed_in(me.user)
    mine = make(world, status="in_progress", assignee=me)
    make(world)
    with scopes_disabled():
        TimeEntry.objects.create(agency=agency, task=mine, assistant=me, started_at=mine.due_at)
    http.get(url(agency, "assistant_queue"))  # warm the session
    few = count_queries(lambda: http.get(url(agency, "assistant_queue")))

    clients = [ClientFactory(agency=agency) for _ in range(3)]
    lines = [
        LineFactory(
            agency=agency,
            service=world["line"].service,
            contract=ContractFactory(agency=agency, client=client, status="active"),
        )
        for client in clients
    ]
    for n in range(99):
        line = lines[n % 3]
        TaskFactory(agency=agency, contract_line=line, status="assigned", assignee=me)
        TaskFactory(agency=agency, contract_line=line)
    response = http.get(url(agency, "assistant_queue"))
    assert len(response.context["mine"]) == 100 and len(response.context["pool"]) == 50
    many = count_queries(lambda: http.get(url(agency, "assistant_queue")))
    assert few == many


# -- the work panel and its actions -----------------------------------------------------------


def test_the_work_panel_offers_what_the_assignee_may_do(agency, signed_in, world):
    task = make(world, status="assigned", assignee=world["me"])
    html = signed_in(world["me"].user).get(url(agency, "task_detail", pk=task.pk)).content.decode()
    assert 'data-testid="task-start"' in html and 'data-testid="timer-start"' in html
    for action in ("task_log_time", "task_complete", "task_release"):
        assert url(agency, action, pk=task.pk) in html
    assert url(agency, "task_ask", pk=task.pk) not in html  # only once the work has started
    assert url(agency, "task_assign", pk=task.pk) not in html  # staff only


def test_a_pool_task_offers_take_next_not_a_claim(agency, signed_in, world):
    task = make(world)
    html = signed_in(world["me"].user).get(url(agency, "task_detail", pk=task.pk)).content.decode()
    assert "In your pool" in html and url(agency, "assistant_take_next") in html
    assert url(agency, "task_start", pk=task.pk) not in html


def test_start_ask_log_complete_through_the_endpoints(agency, signed_in, world, time_machine):
    time_machine.move_to("2026-03-02 09:00Z", tick=False)
    me = world["me"]
    task = make(world, status="assigned", assignee=me)
    http = signed_in(me.user)
    page = url(agency, "task_detail", pk=task.pk)

    def status():
        with agency_scope(agency):
            return Task.objects.get(pk=task.pk).status

    assert http.post(url(agency, "task_start", pk=task.pk))["Location"] == page
    assert status() == "in_progress"

    response = http.post(
        url(agency, "task_log_time", pk=task.pk), {"minutes": "45", "note": "Sorted"}
    )
    assert response["Location"] == page and messages_of(response)[-1] == "Logged 45 min."

    http.post(url(agency, "task_ask", pk=task.pk), {"question": "Which folder?"})
    assert status() == "waiting_on_client"
    with agency_scope(agency):
        assert task.comments.get().kind == Comment.Kind.QUESTION

    with scopes_disabled():  # the client answers
        Task.objects.filter(pk=task.pk).update(status="in_progress")
    http.post(url(agency, "task_complete", pk=task.pk), {"summary": "Inbox at zero."})
    with agency_scope(agency):
        done = Task.objects.get(pk=task.pk)
    assert done.status == "completed" and done.minutes_logged == 45
    assert done.completion_summary == "Inbox at zero."
    html = http.get(page).content.decode()
    assert "Sorted" in html and 'data-testid="time-entries"' in html


def test_hand_back_to_the_pool_with_a_note(agency, signed_in, world):
    task = make(world, status="in_progress", assignee=world["me"])
    response = signed_in(world["me"].user).post(
        url(agency, "task_release", pk=task.pk), {"note": "Drafts are in the shared folder."}
    )
    assert response["Location"] == url(agency, "assistant_queue")
    with agency_scope(agency):
        task.refresh_from_db()
        note = task.comments.get()
    assert task.status == "queued" and task.assignee is None
    assert note.kind == Comment.Kind.HANDOVER and note.internal


@pytest.mark.parametrize(
    ("status", "action", "data", "message"),
    [
        ("assigned", "task_ask", {"question": "Hm?"}, "cannot become waiting on client"),
        ("in_progress", "task_ask", {"question": " "}, "Write the question"),
        ("in_progress", "task_complete", {"summary": ""}, "Tell the client what was done"),
        ("in_progress", "task_log_time", {"minutes": "lots"}, "whole number of minutes"),
        ("in_progress", "task_log_time", {"minutes": "0"}, "between 1 minute and 12 hours"),
        ("completed", "task_start", {}, "Only an assigned task can be started"),
        ("completed", "task_log_time", {"minutes": "5"}, "work in hand"),
        ("completed", "task_release", {}, "cannot become queued"),
    ],
)
def test_an_illegal_action_is_a_message_not_a_500(
    agency, signed_in, world, status, action, data, message
):
    task = make(world, status=status, assignee=world["me"])
    response = signed_in(world["me"].user).post(url(agency, action, pk=task.pk), data, follow=True)
    assert response.status_code == 200
    assert message in response.content.decode()
    with agency_scope(agency):
        assert Task.objects.get(pk=task.pk).status == status


def test_someone_elses_task_is_not_there(agency, signed_in, world):
    task = make(world, status="in_progress", assignee=world["colleague"])
    http = signed_in(world["me"].user)
    for action in ("task_start", "task_complete", "task_release", "task_timer_start"):
        assert http.post(url(agency, action, pk=task.pk)).status_code == 404


def test_a_pool_task_cannot_be_worked_before_it_is_taken(agency, signed_in, world):
    task = make(world)
    response = signed_in(world["me"].user).post(url(agency, "task_start", pk=task.pk), follow=True)
    assert "Only an assigned task can be started" in response.content.decode()
    response = signed_in(world["me"].user).post(
        url(agency, "task_complete", pk=task.pk), {"summary": "Done"}, follow=True
    )
    assert "not assigned to you" in response.content.decode()


def test_work_actions_answer_htmx_with_a_client_redirect(agency, signed_in, world):
    task = make(world, status="assigned", assignee=world["me"])
    response = signed_in(world["me"].user).post(
        url(agency, "task_start", pk=task.pk), headers={"HX-Request": "true"}
    )
    assert response["HX-Redirect"] == url(agency, "task_detail", pk=task.pk)


def test_the_assistant_dashboard_counts_active_tasks(agency, signed_in, world):
    make(world, status="assigned", assignee=world["me"])
    make(world, status="waiting_on_client", assignee=world["me"])
    make(world, status="completed", assignee=world["me"])
    html = signed_in(world["me"].user).get(url(agency, "dashboard")).content.decode()
    assert "<strong>2</strong> tasks in hand" in html
    assert f'href="{url(agency, "assistant_queue")}"' in html
    nav = html.split('class="mainnav"')[1]
    assert nav.index("Dashboard") < nav.index(">Queue<") < nav.index("Client manuals")
