"""The task page's history in sentences, the summary of work sent back, and the wording of
the client's panel (tasks.history, templates/tasks/task_detail.html)."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.roles import Role
from core.tenancy import agency_scope, scopes_disabled
from tasks import services
from tasks.models import Task
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import CategoryFactory, ContractFactory, LineFactory, ServiceFactory
from tests.factories import ClientFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def named(membership, name):
    with scopes_disabled():
        membership.user.full_name = name
        membership.user.save()
    return membership


@pytest.fixture
def cedar(agency, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    category = CategoryFactory(agency=agency)
    service = ServiceFactory(agency=agency, name="Travel booking", category=category)
    client = ClientFactory(agency=agency, name="Cedar Legal")
    contract = ContractFactory(agency=agency, client=client, status="active")
    LineFactory(agency=agency, contract=contract, service=service)
    return {
        "service": service,
        "client": client,
        "carla": named(
            MembershipFactory(agency=agency, role=Role.CLIENT, client=client), "Carla Cruz"
        ),
        "sam": named(MembershipFactory(agency=agency, role=Role.ADMIN), "Sam Lee"),
        "dana": named(
            AssistantProfileFactory(agency=agency, skills=[category], capacity=50).membership,
            "Dana Ortiz",
        ),
        "joao": named(
            AssistantProfileFactory(agency=agency, skills=[category], capacity=50).membership,
            "Joao Pinto",
        ),
    }


def request(agency, cedar, title="Book Lisbon") -> Task:
    with agency_scope(agency):
        return services.task_request(
            agency=agency,
            actor=cedar["carla"].user,
            client=cedar["client"],
            service=cedar["service"],
            title=title,
        )


def pdf(name="brief.pdf"):
    return SimpleUploadedFile(name, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")


def page(signed_in, membership, task):
    http = signed_in(membership.user)
    return http.get(reverse("task_detail", args=[membership.agency.slug, task.pk]))


def history_of(response) -> list[str]:
    return [entry.text for entry in response.context["history"]]


def test_every_event_of_a_task_reads_as_a_sentence(agency, cedar, signed_in):
    sam, dana, joao, carla = (cedar[k] for k in ("sam", "dana", "joao", "carla"))
    task = request(agency, cedar)
    with agency_scope(agency):
        services.task_assign(agency=agency, actor=sam.user, task=task, assignee=dana)
        services.task_assign(agency=agency, actor=sam.user, task=task, assignee=joao)
        services.task_start(agency=agency, actor=joao.user, membership=joao, task=task)
        services.attachment_add(agency=agency, actor=joao.user, task=task, upload=pdf())
        services.time_entry_add(
            agency=agency, actor=joao.user, membership=joao, task=task, minutes=90
        )
        services.task_ask_client(
            agency=agency, actor=joao.user, membership=joao, task=task, question="Aisle?"
        )
        services.task_answer(agency=agency, actor=carla.user, task=task, answer="Aisle.")
        services.comment_add(
            agency=agency, actor=sam.user, membership=sam, task=task, body="Thanks"
        )
        services.task_complete(
            agency=agency, actor=joao.user, membership=joao, task=task, summary="Booked"
        )
        services.task_send_back(agency=agency, actor=carla.user, task=task, reason="Wrong day")
        services.task_release(agency=agency, actor=joao.user, membership=joao, task=task)
        services.task_take(agency=agency, actor=dana.user, membership=dana, task=task)
        services.task_cancel(
            agency=agency, actor=sam.user, membership=sam, task=task, reason="Trip called off"
        )

    response = page(signed_in, sam, task)
    assert history_of(response) == [
        "Carla Cruz requested it.",
        "Sam Lee assigned it to Dana Ortiz. Moved from Queued to Assigned.",
        "Sam Lee reassigned it from Dana Ortiz to Joao Pinto.",
        "Joao Pinto started work. Moved from Assigned to In progress.",
        "Joao Pinto attached brief.pdf.",
        "Joao Pinto logged 1 h 30 min of work.",
        "Joao Pinto asked Cedar Legal a question. Waiting on Cedar Legal's answer. "
        "Moved from In progress to Waiting on client.",
        "Carla Cruz answered for Cedar Legal; the work carries on. "
        "Moved from Waiting on client to In progress.",
        "Sam Lee commented.",
        "Joao Pinto completed it and wrote what was done. Moved from In progress to Completed.",
        "Carla Cruz sent the work back to be done again. Moved from Completed to In progress.",
        "Joao Pinto handed it back to the pool. Moved from In progress to Queued.",
        "Dana Ortiz took it from the pool. Moved from Queued to Assigned.",
        "Sam Lee cancelled it: Trip called off. Moved from Assigned to Cancelled.",
    ]
    html = response.content.decode()
    section = html[html.index('id="history"') :]
    section = section[: section.index("</section>")]
    assert "Waiting on Cedar Legal&#x27;s answer" in section
    # None of the codes the rows are stored with reach the page.
    for code in ("fileattached", "waitingonclient", "task.", "sent_back", "timelogged"):
        assert code not in section


def test_approval_and_an_unknown_kind_of_event_read_as_words(agency, cedar, signed_in):
    from core.audit import audit_record

    sam, joao, carla = cedar["sam"], cedar["joao"], cedar["carla"]
    task = request(agency, cedar)
    with agency_scope(agency):
        services.task_assign(agency=agency, actor=sam.user, task=task, assignee=joao)
        services.task_complete(
            agency=agency, actor=joao.user, membership=joao, task=task, summary="Booked"
        )
        services.task_approve(agency=agency, actor=carla.user, task=task)
        # time corrected and deleted, as the time services record them
        audit_record(
            agency=agency, actor=sam.user, action="task.time_edited", target=task,
            entry=1, assistant=joao.pk,
            before={"seconds": 5400, "note": "calls"}, after={"seconds": 7200, "note": "Calls"},
        )  # fmt: skip
        audit_record(
            agency=agency, actor=joao.user, action="task.time_deleted", target=task,
            entry=2, assistant=joao.pk, before={"seconds": 900, "minutes": 15}, after=None,
        )  # fmt: skip
        audit_record(agency=agency, actor=None, action="task.due_moved", target=task)
    texts = history_of(page(signed_in, sam, task))
    assert texts[-4:] == [
        "Carla Cruz approved the work.",
        "Sam Lee corrected Joao Pinto's time entry: from 1 h 30 min to 2 h, its note.",
        "Joao Pinto deleted their own time entry of 15 min.",
        "The system: due moved.",
    ]


def test_the_history_costs_the_same_queries_at_3_and_at_30_events(
    agency, cedar, signed_in, count_queries
):
    sam, dana, joao = cedar["sam"], cedar["dana"], cedar["joao"]

    def task_with(rounds: int) -> Task:
        task = request(agency, cedar, title=f"{rounds} rounds")
        with agency_scope(agency):
            for turn in range(rounds):
                who = dana if turn % 2 == 0 else joao
                services.task_assign(agency=agency, actor=sam.user, task=task, assignee=who)
                services.attachment_add(
                    agency=agency, actor=sam.user, task=task, upload=pdf(f"file-{turn}.pdf")
                )
        return task

    few, many = task_with(1), task_with(15)
    http = signed_in(sam.user)
    page(signed_in, sam, few)  # warm any per-process caches

    def get(task):
        def call():
            response = http.get(reverse("task_detail", args=[agency.slug, task.pk]))
            assert response.status_code == 200
            get.history = history_of(response)

        return call

    at_few = count_queries(get(few))
    assert len(get.history) == 3
    at_many = count_queries(get(many))
    assert len(get.history) == 31
    assert "Sam Lee reassigned it from Dana Ortiz to Joao Pinto." in get.history
    assert "Sam Lee attached file-14.pdf." in get.history
    assert at_many == at_few


def test_work_sent_back_shows_its_summary_as_the_earlier_attempt(agency, cedar, signed_in):
    sam, joao, carla = cedar["sam"], cedar["joao"], cedar["carla"]
    task = request(agency, cedar)
    with agency_scope(agency):
        services.task_assign(agency=agency, actor=sam.user, task=task, assignee=joao)
        services.task_complete(
            agency=agency, actor=joao.user, membership=joao, task=task, summary="Booked the 3rd"
        )
    done = page(signed_in, carla, task).content.decode()
    assert 'data-testid="summary">Booked the 3rd' in done

    with agency_scope(agency):
        services.task_send_back(agency=agency, actor=carla.user, task=task, reason="The 4th")
    for viewer in (carla, joao):
        html = page(signed_in, viewer, task).content.decode()
        assert 'data-testid="summary"' not in html
        assert "<h3>What was done</h3>" not in html
        earlier = html[html.index('data-testid="earlier-summary"') :]
        assert "The earlier attempt, sent back" in earlier and "Booked the 3rd" in earlier

    with agency_scope(agency):
        services.task_complete(
            agency=agency, actor=joao.user, membership=joao, task=task, summary="Booked the 4th"
        )
    html = page(signed_in, carla, task).content.decode()
    assert 'data-testid="summary">Booked the 4th' in html
    assert 'data-testid="earlier-summary"' not in html


def test_the_waiting_client_is_pointed_at_the_conversation_wherever_it_is(agency, cedar, signed_in):
    sam, joao, carla = cedar["sam"], cedar["joao"], cedar["carla"]
    task = request(agency, cedar)
    with agency_scope(agency):
        services.task_assign(agency=agency, actor=sam.user, task=task, assignee=joao)
        services.task_start(agency=agency, actor=joao.user, membership=joao, task=task)
        services.task_ask_client(
            agency=agency, actor=joao.user, membership=joao, task=task, question="Aisle?"
        )
    html = page(signed_in, carla, task).content.decode()
    explainer = html[html.index('data-testid="explainer"') :]
    explainer = re.sub(r"\s+", " ", explainer[: explainer.index("</p>")])
    assert "below" not in explainer and "above" not in explainer
    assert '<a href="#conversation">in the conversation</a>' in explainer
    assert 'id="conversation"' in html
