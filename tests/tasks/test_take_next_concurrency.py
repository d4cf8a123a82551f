"""Take-next under real concurrency: threads with their own PostgreSQL connections press at
the same moment, round after round, until the pool is empty. SQLite serialises every writer,
so the race only exists on PostgreSQL; CI runs this there."""

import threading
from collections import Counter

import pytest
from django.db import connection, connections

from core.errors import ApplicationError
from core.models import AuditEvent
from core.roles import Role
from core.tenancy import agency_scope
from tasks import services
from tasks.models import Task
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import CategoryFactory, ContractFactory, LineFactory, ServiceFactory
from tests.factories import ClientFactory
from tests.tasks.factories import TaskFactory

pytestmark = pytest.mark.django_db(transaction=True)

TASKS = 60
ASSISTANTS = 6


@pytest.fixture(autouse=True)
def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the race needs PostgreSQL's row locks (set DATABASE_URL)")


@pytest.fixture
def line(agency):
    category = CategoryFactory(agency=agency)
    contract = ContractFactory(agency=agency, client=ClientFactory(agency=agency), status="active")
    return LineFactory(
        agency=agency, contract=contract, service=ServiceFactory(agency=agency, category=category)
    )


def assistants(agency, line, count, capacity):
    memberships = []
    for _ in range(count):
        profile = AssistantProfileFactory(
            agency=agency, skills=[line.service.category], capacity=capacity
        )
        memberships.append(profile.membership)
    for membership in memberships:
        assert membership.role == Role.ASSISTANT
        _ = membership.user  # loaded here, so no thread queries for it
    return memberships


def press_together(agency, memberships):
    """One round: a thread per membership, released by one barrier, each calling take-next
    once on its own connection. Returns (membership pk, task pk | None | error code)."""
    barrier = threading.Barrier(len(memberships), timeout=60)
    results, failures = [], []

    def press(membership):
        try:
            barrier.wait()
            with agency_scope(agency):
                try:
                    task = services.task_take_next(
                        agency=agency, actor=membership.user, membership=membership
                    )
                    results.append((membership.pk, task.pk if task else None))
                except ApplicationError as error:
                    results.append((membership.pk, error.code))
        except BaseException as error:  # surfaced in the main thread below
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=press, args=(m,)) for m in memberships]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return results


def test_concurrent_assistants_never_claim_the_same_task(agency, line):
    tasks = [TaskFactory(agency=agency, contract_line=line) for _ in range(TASKS)]
    team = assistants(agency, line, ASSISTANTS, capacity=TASKS)

    claims = []  # (membership pk, task pk) for every call that returned a task
    rounds = 0
    while True:
        with agency_scope(agency):
            if not Task.objects.filter(status="queued").exists():
                break
        rounds += 1
        assert rounds <= TASKS, "the pool stopped draining"
        for membership_pk, outcome in press_together(agency, team):
            assert not isinstance(outcome, str), f"take-next refused: {outcome}"
            if outcome is not None:
                claims.append((membership_pk, outcome))

    claimed = Counter(task_pk for _, task_pk in claims)
    assert not [pk for pk, times in claimed.items() if times > 1], "a task was claimed twice"
    assert set(claimed) == {t.pk for t in tasks}, "every task is claimed"
    with agency_scope(agency):
        holders = dict(Task.objects.values_list("pk", "assignee_id"))
        assert set(Task.objects.values_list("status", flat=True)) == {"assigned"}
        taken = list(
            AuditEvent.objects.filter(action="task.taken").values_list("target_id", "details")
        )
    # the task's assignee is exactly the assistant whose call returned it
    assert holders == {task_pk: membership_pk for membership_pk, task_pk in claims}
    # one audit row per claim, naming the same assistant
    assert Counter(target for target, _ in taken) == Counter(str(t.pk) for t in tasks)
    assert {int(target): details["assignee"] for target, details in taken} == holders
    assert rounds >= TASKS // ASSISTANTS  # nobody claimed more than one task per call


def test_one_assistant_pressing_from_many_threads_stays_within_capacity(agency, line):
    capacity, threads = 3, 8
    for _ in range(4):  # several fresh assistants: several chances for the race to show
        for _ in range(threads):
            TaskFactory(agency=agency, contract_line=line)
        (me,) = assistants(agency, line, 1, capacity=capacity)

        outcomes = [outcome for _, outcome in press_together(agency, [me] * threads)]

        won = [o for o in outcomes if isinstance(o, int)]
        refused = [o for o in outcomes if isinstance(o, str)]
        assert len(won) == capacity and len(set(won)) == capacity
        assert refused == ["task_capacity_reached"] * (threads - capacity)
        with agency_scope(agency):
            held = set(Task.objects.filter(assignee=me).values_list("pk", flat=True))
        assert held == set(won)


def test_nobody_is_told_the_pool_is_empty_while_enough_work_is_queued(agency, line):
    for _ in range(TASKS):
        TaskFactory(agency=agency, contract_line=line)
    team = assistants(agency, line, ASSISTANTS, capacity=TASKS)
    told_empty = 0
    for _ in range(TASKS // ASSISTANTS):  # each round starts with at least one task a thread
        outcomes = [outcome for _, outcome in press_together(agency, team)]
        told_empty += outcomes.count(None)
    assert told_empty == 0


def take_together(agency, memberships, tasks):
    """A thread per (membership, task), released by one barrier, each taking that task."""
    barrier = threading.Barrier(len(memberships), timeout=60)
    results, failures = [], []

    def press(membership, task):
        try:
            barrier.wait()
            with agency_scope(agency):
                try:
                    services.task_take(
                        agency=agency, actor=membership.user, membership=membership, task=task
                    )
                    results.append((membership.pk, task.pk))
                except ApplicationError as error:
                    results.append((membership.pk, error.code))
        except BaseException as error:  # surfaced in the main thread below
            failures.append(error)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=press, args=pair) for pair in zip(memberships, tasks, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return results


def test_assistants_taking_the_same_task_at_once_one_gets_it(agency, line):
    for _ in range(5):
        task = TaskFactory(agency=agency, contract_line=line)
        team = assistants(agency, line, ASSISTANTS, capacity=5)
        outcomes = [outcome for _, outcome in take_together(agency, team, [task] * ASSISTANTS)]
        assert outcomes.count(task.pk) == 1
        assert sorted(o for o in outcomes if o != task.pk) == ["task_already_taken"] * (
            ASSISTANTS - 1
        )
        with agency_scope(agency):
            assert (
                AuditEvent.objects.filter(action="task.taken", target_id=str(task.pk)).count() == 1
            )


def test_one_assistant_taking_many_tasks_at_once_stays_within_capacity(agency, line):
    capacity, threads = 2, 6
    tasks = [TaskFactory(agency=agency, contract_line=line) for _ in range(threads)]
    (me,) = assistants(agency, line, 1, capacity=capacity)
    outcomes = [outcome for _, outcome in take_together(agency, [me] * threads, tasks)]
    assert len([o for o in outcomes if isinstance(o, int)]) == capacity
    assert [o for o in outcomes if isinstance(o, str)] == ["task_capacity_reached"] * (
        threads - capacity
    )
    with agency_scope(agency):
        assert Task.objects.filter(assignee=me).count() == capacity
