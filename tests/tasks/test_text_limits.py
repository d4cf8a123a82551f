"""What people write has a limit that says so: a comment, note, question, summary, reason or
title over its limit is refused with the limit named (a form's message, the API's 400),
never cut short in silence."""

import datetime as dt

import pytest
from django.urls import reverse

from assistants.models import Payout
from billing.payouts import PAYOUT_NOTE_MAX_CHARS, payout_record
from core.errors import ApplicationError
from core.roles import Role
from core.tenancy import agency_scope
from tasks import recurring, services
from tasks.models import (
    MESSAGE_MAX_CHARS,
    TIME_NOTE_MAX_CHARS,
    TITLE_MAX_CHARS,
    Comment,
    Task,
    TimeEntry,
)
from tests.assistants.factories import AssistantProfileFactory
from tests.contracts.factories import CategoryFactory, ContractFactory, LineFactory, ServiceFactory
from tests.factories import ClientFactory, MembershipFactory
from tests.tasks.factories import TaskFactory


@pytest.fixture
def desk(agency):
    category = CategoryFactory(agency=agency)
    service = ServiceFactory(agency=agency, category=category)
    client = ClientFactory(agency=agency)
    line = LineFactory(
        agency=agency,
        contract=ContractFactory(agency=agency, client=client, status="active"),
        service=service,
    )
    me = AssistantProfileFactory(agency=agency, skills=[category]).membership
    task = TaskFactory(agency=agency, contract_line=line, status="in_progress", assignee=me)
    return {
        "service": service,
        "client": client,
        "task": task,
        "me": me,
        "person": MembershipFactory(agency=agency, role=Role.CLIENT, client=client),
    }


def refused(call) -> ApplicationError:
    with pytest.raises(ApplicationError) as error:
        call()
    return error.value


def test_a_time_note_over_its_limit_is_refused_not_cut(agency, desk):
    note = "n" * (TIME_NOTE_MAX_CHARS + 1)
    with agency_scope(agency):
        error = refused(
            lambda: services.time_entry_add(
                agency=agency,
                actor=desk["me"].user,
                membership=desk["me"],
                task=desk["task"],
                minutes=30,
                note=note,
            )
        )
        assert Task.objects.get(pk=desk["task"].pk).minutes_logged == 0
    assert error.code == "text_too_long"
    assert error.extra == {"field": "note", "limit": 500, "length": 501}
    assert error.message == "A note can be at most 500 characters; this one has 501."
    with agency_scope(agency):
        entry = services.time_entry_add(
            agency=agency,
            actor=desk["me"].user,
            membership=desk["me"],
            task=desk["task"],
            minutes=30,
            note="n" * TIME_NOTE_MAX_CHARS,
        )
    assert len(entry.note) == TIME_NOTE_MAX_CHARS


def test_a_comment_over_its_limit_is_refused_on_the_page_with_the_limit(agency, desk, signed_in):
    http = signed_in(desk["person"].user)
    page = reverse("task_detail", args=[agency.slug, desk["task"].pk])
    response = http.post(
        reverse("task_comment", args=[agency.slug, desk["task"].pk]),
        {"body": "c" * (MESSAGE_MAX_CHARS + 1)},
    )
    assert response.status_code == 302
    (told,) = http.get(page).context["messages"]
    assert str(told) == "A comment can be at most 10,000 characters; this one has 10,001."
    with agency_scope(agency):
        assert not Comment.objects.filter(task=desk["task"]).exists()


@pytest.mark.parametrize(
    "endpoint, field",
    [
        ("task-comments", "body"),
        ("task-ask", "question"),
        ("task-complete", "summary"),
        ("task-release", "note"),
    ],
)
def test_the_api_refuses_long_text_with_the_limit_named(agency, desk, api, endpoint, field):
    who = desk["me"].user
    response = api(who).post(
        reverse(f"api:{endpoint}", args=[agency.slug, desk["task"].pk]),
        {field: "x" * (MESSAGE_MAX_CHARS + 1)},
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"message", "code", "extra"}
    assert "10000 characters" in str(body["extra"]["fields"][field])
    with agency_scope(agency):
        task = Task.objects.get(pk=desk["task"].pk)
        assert (task.status, task.assignee_id) == ("in_progress", desk["me"].pk)
        assert not Comment.objects.filter(task=task).exists()


@pytest.mark.parametrize(
    "move, words",
    [
        ("task_ask_client", {"question": "q"}),
        ("task_complete", {"summary": "s"}),
        ("task_release", {"note": "n"}),
        ("comment_add", {"body": "b"}),
    ],
)
def test_each_kind_of_message_has_the_limit(agency, desk, move, words):
    ((field, letter),) = words.items()
    with agency_scope(agency):
        error = refused(
            lambda: getattr(services, move)(
                agency=agency,
                actor=desk["me"].user,
                membership=desk["me"],
                task=desk["task"],
                **{field: letter * (MESSAGE_MAX_CHARS + 1)},
            )
        )
        task = Task.objects.get(pk=desk["task"].pk)
        assert (task.status, task.completion_summary) == ("in_progress", "")
        assert not Comment.objects.filter(task=task).exists()
    assert (error.code, error.extra["field"], error.extra["limit"]) == (
        "text_too_long",
        field,
        MESSAGE_MAX_CHARS,
    )


def test_a_client_answer_send_back_and_cancel_reason_have_the_limit(agency, desk):
    long = "a" * (MESSAGE_MAX_CHARS + 1)
    task = desk["task"]
    with agency_scope(agency):
        Task.objects.filter(pk=task.pk).update(status="waiting_on_client")
        task.refresh_from_db()
        actor = desk["person"].user
        assert (
            refused(
                lambda: services.task_answer(agency=agency, actor=actor, task=task, answer=long)
            ).extra["field"]
            == "answer"
        )
        Task.objects.filter(pk=task.pk).update(status="completed")
        task.refresh_from_db()
        assert (
            refused(
                lambda: services.task_send_back(agency=agency, actor=actor, task=task, reason=long)
            ).extra["field"]
            == "reason"
        )
        assert (
            refused(
                lambda: services.task_cancel(
                    agency=agency, actor=actor, membership=desk["person"], task=task, reason=long
                )
            ).extra["field"]
            == "reason"
        )
        assert not Comment.objects.filter(task=task).exists()


def test_a_title_over_its_limit_is_refused_not_cut(agency, desk):
    long = "t" * (TITLE_MAX_CHARS + 1)
    with agency_scope(agency):
        error = refused(
            lambda: services.task_request(
                agency=agency,
                actor=desk["person"].user,
                client=desk["client"],
                service=desk["service"],
                title=long,
            )
        )
        assert error.extra["field"] == "title" and "at most 200 characters" in error.message
        error = refused(
            lambda: recurring.recurring_create(
                agency=agency,
                actor=desk["person"].user,
                client=desk["client"],
                service=desk["service"],
                title=long,
                frequency="weekly",
                weekday=0,
                time_of_day=dt.time(9),
            )
        )
        assert error.extra["field"] == "title"
        assert Task.objects.filter(title__startswith="ttt").count() == 0


def test_a_payout_note_over_its_limit_is_refused_not_cut(agency, desk, member, time_machine):
    time_machine.move_to("2026-05-10 12:00Z", tick=False)
    owner = member(Role.OWNER)
    with agency_scope(agency):
        worked = dt.datetime(2026, 4, 14, 10, tzinfo=dt.UTC)
        TimeEntry.objects.create(
            agency=agency,
            task=desk["task"],
            assistant=desk["me"],
            started_at=worked,
            ended_at=worked + dt.timedelta(hours=1),
            minutes=60,
        )
        error = refused(
            lambda: payout_record(
                agency=agency,
                actor=owner.user,
                membership=desk["me"],
                month=dt.date(2026, 4, 1),
                note="p" * (PAYOUT_NOTE_MAX_CHARS + 1),
            )
        )
    assert (error.code, error.extra["field"], error.extra["limit"]) == (
        "text_too_long",
        "note",
        500,
    )
    with agency_scope(agency):
        assert not Payout.objects.exists()
