"""An assistant takes the pool task they are looking at (tasks.services.task_take), from
its page, from the queue's pool and through the API, within their capacity."""

import pytest
from django.urls import reverse

from core.errors import ApplicationError
from core.models import AuditEvent
from core.tenancy import agency_scope
from tasks import services
from tasks.models import Task
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import CategoryFactory, ContractFactory, LineFactory, ServiceFactory
from tests.factories import ClientFactory
from tests.tasks.factories import TaskFactory


@pytest.fixture
def pool(agency):
    """Two queued tasks of one service, the sooner due first; an assistant skilled in it
    (capacity 1), a colleague, and a task of a category neither is skilled in."""
    category = CategoryFactory(agency=agency)
    contract = ContractFactory(agency=agency, client=ClientFactory(agency=agency), status="active")
    line = LineFactory(
        agency=agency, contract=contract, service=ServiceFactory(agency=agency, category=category)
    )
    other_line = LineFactory(
        agency=agency, contract=contract, service=ServiceFactory(agency=agency)
    )
    urgent = TaskFactory(agency=agency, contract_line=line, title="Urgent one")
    wanted = TaskFactory(
        agency=agency,
        contract_line=line,
        title="The one I read",
        due_at=urgent.due_at.replace(year=urgent.due_at.year + 1),
    )
    return {
        "urgent": urgent,
        "wanted": wanted,
        "elsewhere": TaskFactory(agency=agency, contract_line=other_line),
        "me": AssistantProfileFactory(agency=agency, skills=[category], capacity=1).membership,
        "colleague": AssistantProfileFactory(agency=agency, skills=[category]).membership,
    }


def take(agency, membership, task):
    with agency_scope(agency):
        return services.task_take(
            agency=agency, actor=membership.user, membership=membership, task=task
        )


def refusal(agency, membership, task) -> str:
    with pytest.raises(ApplicationError) as refused:
        take(agency, membership, task)
    return refused.value.code


def holder(agency, task):
    with agency_scope(agency):
        return Task.objects.get(pk=task.pk).assignee_id


def test_the_task_taken_is_the_one_looked_at_not_the_most_urgent(agency, pool):
    taken = take(agency, pool["me"], pool["wanted"])
    assert (taken.pk, taken.status, taken.assignee_id) == (
        pool["wanted"].pk,
        "assigned",
        pool["me"].pk,
    )
    assert holder(agency, pool["urgent"]) is None
    with agency_scope(agency):
        audit = AuditEvent.objects.get(action="task.taken", target_id=str(pool["wanted"].pk))
    assert audit.details["assignee"] == pool["me"].pk


def test_taking_stays_within_capacity(agency, pool):
    take(agency, pool["me"], pool["wanted"])
    assert refusal(agency, pool["me"], pool["urgent"]) == "task_capacity_reached"
    assert holder(agency, pool["urgent"]) is None


def test_a_task_outside_the_pool_or_already_taken_is_refused(agency, pool):
    assert refusal(agency, pool["me"], pool["elsewhere"]) == "task_not_in_pool"
    take(agency, pool["colleague"], pool["wanted"])
    # The page was open before the colleague took it.
    assert refusal(agency, pool["me"], pool["wanted"]) == "task_already_taken"
    assert holder(agency, pool["wanted"]) == pool["colleague"].pk


def test_the_task_page_offers_to_take_it_and_takes_it(agency, pool, signed_in):
    http = signed_in(pool["me"].user)
    page = reverse("task_detail", args=[agency.slug, pool["wanted"].pk])
    assert b'data-testid="take-this"' in http.get(page).content
    response = http.post(reverse("task_take", args=[agency.slug, pool["wanted"].pk]))
    assert response.status_code == 302 and response["Location"] == page
    assert holder(agency, pool["wanted"]) == pool["me"].pk
    shown = http.get(page)
    assert [str(m) for m in shown.context["messages"]] == ["“The one I read” is yours now."]
    # At capacity: told why, nothing taken.
    other_page = reverse("task_detail", args=[agency.slug, pool["urgent"].pk])
    refused = http.post(
        reverse("task_take", args=[agency.slug, pool["urgent"].pk]), {"next": other_page}
    )
    assert refused.status_code == 302 and refused["Location"] == other_page
    (told,) = http.get(other_page).context["messages"]
    assert "your capacity" in str(told)
    assert holder(agency, pool["urgent"]) is None


def test_a_pool_row_takes_its_task_in_place(agency, pool, signed_in):
    http = signed_in(pool["me"].user)
    queue = http.get(reverse("assistant_queue", args=[agency.slug])).content.decode()
    take_url = reverse("task_take", args=[agency.slug, pool["wanted"].pk])
    assert f'hx-post="{take_url}"' in queue
    swap = http.post(take_url, HTTP_HX_REQUEST="true")
    assert swap.status_code == 200
    assert swap.context["mine"][0].task.pk == pool["wanted"].pk
    assert "The one I read" in swap.content.decode().split('id="queue-pool"')[0]


def test_the_api_takes_this_task(agency, pool, api, member):
    endpoint = reverse("api:task-take", args=[agency.slug, pool["wanted"].pk])
    response = api(pool["me"].user).post(endpoint)
    assert response.status_code == 201, response.content
    assert (response.json()["id"], response.json()["assignee"]) == (
        pool["wanted"].pk,
        pool["me"].pk,
    )
    again = api(pool["me"].user).post(
        reverse("api:task-take", args=[agency.slug, pool["urgent"].pk])
    )
    assert (again.status_code, again.json()["code"]) == (400, "task_capacity_reached")
    # A task outside their pool is not theirs to see.
    outside = reverse("api:task-take", args=[agency.slug, pool["elsewhere"].pk])
    assert api(pool["colleague"].user).post(outside).status_code == 404
