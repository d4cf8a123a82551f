"""The task life in services: request, take, work, ask, answer, complete, approve."""

import datetime as dt

import pytest
from django.core import mail

from core.errors import ApplicationError
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope
from tasks import services
from tasks.models import Task, TimeEntry
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import CategoryFactory, ContractFactory, LineFactory, ServiceFactory
from tests.factories import ClientFactory, MembershipFactory
from tests.tasks.factories import TaskFactory


@pytest.fixture
def setup(agency):
    """A client with an active contract for one service, a client member, and an assistant
    skilled in that service's category."""
    category = CategoryFactory(agency=agency)
    service = ServiceFactory(
        agency=agency,
        category=category,
        request_template=[
            {
                "name": "destination",
                "label": "Destination",
                "type": "text",
                "required": True,
                "choices": [],
            },
        ],
    )
    client = ClientFactory(agency=agency)
    contract = ContractFactory(agency=agency, client=client, status="active")
    line = LineFactory(agency=agency, contract=contract, service=service)
    person = MembershipFactory(agency=agency, role=Role.CLIENT, client=client)
    assistant = AssistantProfileFactory(agency=agency, skills=[category], capacity=2).membership
    with agency_scope(agency):
        yield {
            "service": service,
            "client": client,
            "line": line,
            "person": person,
            "assistant": assistant,
        }


def request(agency, s, **kwargs):
    data = {"title": "Book flights", "template_data": {"destination": "Lisbon"}, **kwargs}
    return services.task_request(
        agency=agency, actor=s["person"].user, client=s["client"], service=s["service"], **data
    )


def test_the_whole_life_of_a_task(agency, setup, django_capture_on_commit_callbacks, time_machine):
    s = setup
    time_machine.move_to("2026-03-02 14:00Z", tick=False)
    task = request(agency, s)
    assert task.status == "queued" and task.contract_line == s["line"]
    assert task.due_at == dt.datetime(2026, 3, 3, 14, tzinfo=dt.UTC)  # 24 h turnaround

    me = s["assistant"]
    taken = services.task_take_next(agency=agency, actor=me.user, membership=me)
    assert taken.pk == task.pk and taken.status == "assigned"
    services.timer_start(agency=agency, actor=me.user, membership=me, task=taken)
    time_machine.shift(dt.timedelta(minutes=25, seconds=10))
    services.task_ask_client(
        agency=agency, actor=me.user, membership=me, task=taken, question="Aisle or window?"
    )
    taken.refresh_from_db()
    assert taken.status == "waiting_on_client" and taken.minutes_logged == 26
    services.comment_add(
        agency=agency,
        actor=s["person"].user,
        membership=s["person"],
        task=taken,
        body="Aisle, please.",
    )
    taken.refresh_from_db()
    assert taken.status == "in_progress"
    services.time_entry_add(
        agency=agency, actor=me.user, membership=me, task=taken, minutes=10, note="Compared fares"
    )
    with django_capture_on_commit_callbacks(execute=True) as hooks:
        services.task_complete(
            agency=agency,
            actor=me.user,
            membership=me,
            task=taken,
            summary="Booked TAP 201, aisle seat.",
        )
    assert len(hooks) == 1  # exactly one job on completion
    assert mail.outbox[-1].to == [s["person"].user.email]
    services.task_approve(agency=agency, actor=s["person"].user, task=taken)
    taken.refresh_from_db()
    assert taken.approved_at is not None and taken.minutes_logged == 36
    actions = list(
        AuditEvent.objects.filter(target_id=str(taken.pk), target_type="tasks.task")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == [
        "task.requested",
        "task.taken",
        "task.started",
        "task.waiting_on_client",
        "task.answered",
        "task.time_logged",
        "task.completed",
        "task.approved",
    ]


def test_only_contracted_services_and_valid_fields(agency, setup, other_agency):
    s = setup
    other = ServiceFactory(agency=agency)
    with pytest.raises(ApplicationError) as error:
        services.task_request(
            agency=agency, actor=None, client=s["client"], service=other, title="X"
        )
    assert error.value.code == "task_service_not_contracted"
    with pytest.raises(ApplicationError) as error:
        request(agency, s, template_data={})
    assert (error.value.code, error.value.extra["field"]) == (
        "task_template_invalid",
        "destination",
    )
    with pytest.raises(ApplicationError) as error:
        request(agency, s, due_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    assert error.value.code == "task_due_in_past"
    assert not Task.objects.exists()


def test_illegal_moves_are_clear_errors(agency, setup):
    s = setup
    task = request(agency, s)
    with pytest.raises(ApplicationError) as error:
        services.task_approve(agency=agency, actor=None, task=task)
    assert error.value.code == "task_not_awaiting_approval"
    with pytest.raises(ApplicationError) as error:
        services.task_complete(
            agency=agency, actor=None, membership=s["assistant"], task=task, summary="done"
        )
    assert error.value.code == "task_not_yours"


def test_take_next_respects_skills_dedication_and_capacity(agency, setup):
    s = setup
    me = s["assistant"]
    unskilled = TaskFactory(agency=agency)  # another category
    dedicated_elsewhere = TaskFactory(agency=agency, contract_line=s["line"])
    colleague = MembershipFactory(agency=agency, role=Role.ASSISTANT)
    dedicated_elsewhere.contract.dedicated.create(agency=agency, membership=colleague)
    assert services.task_take_next(agency=agency, actor=me.user, membership=me) is None

    dedicated_elsewhere.contract.dedicated.all().delete()
    urgent = TaskFactory(
        agency=agency, contract_line=s["line"], priority=3, due_at=dedicated_elsewhere.due_at
    )
    first = services.task_take_next(agency=agency, actor=me.user, membership=me)
    second = services.task_take_next(agency=agency, actor=me.user, membership=me)
    assert [first.pk, second.pk] == [urgent.pk, dedicated_elsewhere.pk]
    TaskFactory(agency=agency, contract_line=s["line"])
    with pytest.raises(ApplicationError) as error:  # capacity 2
        services.task_take_next(agency=agency, actor=me.user, membership=me)
    assert error.value.code == "task_capacity_reached"
    unskilled.refresh_from_db()
    assert unskilled.status == "queued"


def test_one_running_timer_per_assistant(agency, setup, time_machine):
    s = setup
    me = s["assistant"]
    time_machine.move_to("2026-03-02 09:00Z", tick=False)
    one = TaskFactory(agency=agency, contract_line=s["line"], status="assigned", assignee=me)
    two = TaskFactory(agency=agency, contract_line=s["line"], status="assigned", assignee=me)
    services.timer_start(agency=agency, actor=me.user, membership=me, task=one)
    time_machine.shift(dt.timedelta(minutes=30))
    services.timer_start(agency=agency, actor=me.user, membership=me, task=two)
    running = TimeEntry.objects.filter(ended_at__isnull=True)
    assert [e.task_id for e in running] == [two.pk]
    one.refresh_from_db()
    assert one.minutes_logged == 30


def test_a_client_cancels_only_before_work_starts(agency, setup):
    s = setup
    task = request(agency, s)
    me = s["assistant"]
    services.task_take_next(agency=agency, actor=me.user, membership=me)
    with pytest.raises(ApplicationError) as error:
        services.task_cancel(
            agency=agency, actor=s["person"].user, membership=s["person"], task=task
        )
    assert error.value.code == "task_cancel_too_late"


def test_send_back_reopens_the_work_with_the_reason(agency, setup):
    s = setup
    me = s["assistant"]
    task = TaskFactory(agency=agency, contract_line=s["line"], status="in_progress", assignee=me)
    services.task_complete(agency=agency, actor=me.user, membership=me, task=task, summary="Done")
    services.task_send_back(agency=agency, actor=s["person"].user, task=task, reason="Wrong date")
    task.refresh_from_db()
    assert task.status == "in_progress" and task.completed_at is None
    assert task.comments.get().kind == "send_back"
